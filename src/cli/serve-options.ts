import { dirname } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { loadConfig } from '../config/load.js';
import type { SarbridgeConfig } from '../config/schema.js';
import { parseCorsOrigins } from '../server/cors.js';
import { intArg } from './args.js';

/** Resolves on SIGINT or SIGTERM. */
export const stopSignal = () =>
  new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });

/**
 * The settings flags of `serve` and `start` (no commander defaults: a flag not given leaves the
 * setting to SARBRIDGE_* variables, the --config file, then the defaults; see src/config/load.ts).
 */
export function addServeOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--config <file>', 'JSON settings file (also SARBRIDGE_CONFIG)'))
    .addOption(
      new Option(
        '--data-dir <dir>',
        'folder of the catalog, queue, assets, pipeline registry and identity store (also SARBRIDGE_DATA_DIR)',
      ),
    )
    .addOption(
      new Option(
        '--db <file|url>',
        'catalog: an SQLite file (created when missing) or postgres://user:pw@host/db (default <data-dir>/catalog.db)',
      ),
    )
    .addOption(new Option('--catalog <file>', 'SQLite catalog file (same as --db <file>)').conflicts('db'))
    .addOption(
      new Option(
        '--queue <file|url>',
        'job queue: an SQLite file or redis://host:port (BullMQ) (default <data-dir>/queue.db)',
      ),
    )
    .addOption(
      new Option(
        '--store <dir|s3://bucket/prefix>',
        'the asset store: a folder or S3-compatible storage (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) (default <data-dir>/assets)',
      ).conflicts('assetRoot'),
    )
    .addOption(new Option('--asset-root <dir>', 'the asset store as a folder (same as --store <dir>)'))
    .addOption(
      new Option(
        '--s3-endpoint <url>',
        'S3 endpoint, e.g. http://127.0.0.1:9000 (default AWS_ENDPOINT_URL_S3)',
      ),
    )
    .addOption(new Option('--s3-region <name>', 'S3 region (default AWS_REGION, else us-east-1)'))
    .addOption(new Option('--s3-path-style', 'path-style S3 URLs (default: on with an endpoint)'))
    .addOption(new Option('--host <host>', 'address to listen on (default 127.0.0.1)'))
    .addOption(new Option('--port <n>', 'port (default 8080)').argParser(intArg('--port', 0, 65535)))
    .addOption(
      new Option('--public-url <url>', 'public base URL of every link (default http://<host>:<port>)'),
    )
    .addOption(
      new Option(
        '--access-dir <dir>',
        'folder of the identity store and the audit log (default: beside an SQLite catalog given, else <data-dir>/access)',
      ),
    )
    .addOption(
      new Option(
        '--rate-limit <n>',
        'requests per second per credential, bursts of 4x (0: no limit; default 100)',
      ).argParser(intArg('--rate-limit', 0, 1_000_000)),
    )
    .addOption(
      new Option(
        '--cors-origin <origins...>',
        'origins (scheme://host[:port], space- or comma-separated) whose browser scripts may use the API (CORS; default none)',
      ),
    )
    .addOption(
      new Option(
        '--concurrency <n>',
        'pipeline jobs the in-process workers run at once (default 1)',
      ).argParser(intArg('--concurrency', 1, 64)),
    )
    .addOption(
      new Option(
        '--land-mask <geojson|none>',
        'land for vessel detection (default Natural Earth 1:10m land)',
      ),
    );
}

/**
 * The configuration of `serve` from its flags and the environment. `--catalog` and `--asset-root`
 * are the older names of `--db` and `--store <dir>`. When no data folder is set anywhere, the data
 * stays where the server was pointed: beside an SQLite catalog given on the command line (with the
 * identity store beside it, as before the configuration module), else in the access folder given,
 * else the configuration's default (./data). `--cors-origin` is checked first, before anything is
 * opened, with the CORS module's own message.
 */
export function serveConfig(
  o: Record<string, unknown>,
  env: Record<string, string | undefined>,
  defaults: { dataDir?: string; workerConcurrency?: number } = {},
): SarbridgeConfig {
  const cors = ((o.corsOrigin as string[] | undefined) ?? [])
    .flatMap((v) => v.split(','))
    .filter((v) => v.trim() !== '');
  parseCorsOrigins(cors, '--cors-origin');
  const flags: Record<string, unknown> = {
    config: o.config,
    dataDir: o.dataDir,
    db: o.db ?? o.catalog,
    queue: o.queue,
    store: o.store ?? o.assetRoot,
    s3Endpoint: o.s3Endpoint,
    s3Region: o.s3Region,
    s3ForcePathStyle: o.s3PathStyle,
    host: o.host,
    port: o.port,
    publicUrl: o.publicUrl,
    corsOrigin: cors.length > 0 ? cors : undefined,
    accessDir: o.accessDir,
    rateLimit: o.rateLimit,
    concurrency: o.concurrency,
  };
  const first = loadConfig({ flags, env });
  const again: Record<string, unknown> = {};
  if (first.sources.dataDir.source === 'default') {
    if (defaults.dataDir !== undefined) again.dataDir = defaults.dataDir;
    else if (first.db.kind === 'sqlite' && first.sources.db.source !== 'default') {
      again.dataDir = dirname(first.db.path);
      if (first.sources.accessDir.source === 'default') again.accessDir = dirname(first.db.path);
    } else if (first.sources.accessDir.source !== 'default') again.dataDir = first.accessDir;
  }
  if (first.sources.workerConcurrency.source === 'default' && defaults.workerConcurrency !== undefined)
    again.concurrency = defaults.workerConcurrency;
  return Object.keys(again).length === 0 ? first : loadConfig({ flags: { ...flags, ...again }, env });
}
