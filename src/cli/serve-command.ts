import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { openAccess } from '../access/index.js';
import { PostgresCatalog } from '../catalog/postgres/store.js';
import { SqliteCatalog } from '../catalog/sqlite/store.js';
import type { CatalogStore } from '../catalog/store.js';
import { ValidationError } from '../errors.js';
import { AssetStorage } from '../io/asset-storage.js';
import { buildServer } from '../server/app.js';
import { parseCorsOrigins } from '../server/cors.js';
import { loadDemo } from '../server/demo.js';
import { type S3Flags, s3SettingsFrom } from '../store/s3-settings.js';
import { type AssetStore, openStore, parseStoreLocation } from '../store/store.js';
import { intArg, write } from './args.js';

/** The catalog a `--db` names: a postgres:// URL or an SQLite file. */
export function openCatalog(db: string): CatalogStore {
  if (/^postgres(ql)?:\/\//.test(db)) return new PostgresCatalog(db);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db))
    throw new ValidationError(`--db: expected an SQLite file or a postgres:// URL, got '${db}'`);
  return new SqliteCatalog(db);
}

/** The S3 store of `--store s3://...`, its settings from the flags and the AWS_* variables. */
async function openS3(location: string, flags: S3Flags): Promise<AssetStore> {
  const s3 = s3SettingsFrom(process.env, flags);
  if (!s3.credentials)
    throw new ValidationError(
      `--store ${location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the S3 credentials`,
    );
  return openStore(location, { s3 });
}

/** `sarbridge serve` and `sarbridge demo`. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the STAC API, map tiles and assets over HTTP, to authenticated partners')
    .addOption(
      new Option(
        '--db <file|url>',
        'catalog: an SQLite file (created when missing) or postgres://user:pw@host/db',
      ),
    )
    .addOption(
      new Option('--catalog <file>', 'SQLite catalog file (same as --db <file>)').default('catalog.db'),
    )
    .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'port').default(8080).argParser(intArg('--port', 0, 65535)))
    .addOption(
      new Option('--public-url <url>', 'public base URL of every link (default http://<host>:<port>)'),
    )
    .addOption(
      new Option('--asset-root <dir>', 'the asset storage: the only folder asset files are read from'),
    )
    .addOption(
      new Option(
        '--store <dir|s3://bucket/prefix>',
        'the asset store: a folder (as --asset-root) or S3-compatible storage (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
      ).conflicts('assetRoot'),
    )
    .addOption(
      new Option(
        '--s3-endpoint <url>',
        'S3 endpoint, e.g. http://127.0.0.1:9000 (default AWS_ENDPOINT_URL_S3)',
      ),
    )
    .addOption(new Option('--s3-region <name>', 'S3 region (default AWS_REGION, else us-east-1)'))
    .addOption(new Option('--s3-path-style', 'path-style S3 URLs (default: on with an endpoint)'))
    .addOption(
      new Option(
        '--access-dir <dir>',
        'folder of the identity store and the audit log (default: beside the catalog)',
      ),
    )
    .addOption(new Option('--static <dir>', 'a folder served as-is under /static/{name}'))
    .addOption(
      new Option('--rate-limit <n>', 'requests per second per credential, bursts of 4x (0: no limit)')
        .default(100)
        .argParser(intArg('--rate-limit', 0, 1_000_000)),
    )
    .addOption(
      new Option(
        '--trust-proxy <addresses>',
        'comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed',
      ),
    )
    .addOption(
      new Option(
        '--cors-origin <origins...>',
        'origins (scheme://host[:port], space- or comma-separated) whose browser scripts may use the API (CORS; default none)',
      ),
    )
    .action(async (o: Record<string, unknown>) => {
      const db = String(o.db ?? o.catalog);
      const port = o.port as number;
      const publicUrl = String(o.publicUrl ?? `http://${o.host}:${port}`);
      if (!/^https?:\/\/[^/]+$/.test(publicUrl.replace(/\/+$/, '')))
        throw new ValidationError(`--public-url: expected http(s)://host[:port], got '${publicUrl}'`);
      const corsOrigins = parseCorsOrigins(
        ((o.corsOrigin as string[] | undefined) ?? [])
          .flatMap((v) => v.split(','))
          .filter((v) => v.trim() !== ''),
        '--cors-origin',
      );
      const accessDir = resolve(String(o.accessDir ?? (db.includes('://') ? '.' : dirname(resolve(db)))));
      mkdirSync(accessDir, { recursive: true });
      // --store s3://... : downloads and tiles read from the bucket; a folder is the local asset storage.
      const loc = o.store === undefined ? null : parseStoreLocation(String(o.store), '--store');
      const assetRoot = loc?.kind === 'local' ? loc.root : (o.assetRoot as string | undefined);
      const assetStore: AssetStore | null =
        loc?.kind === 's3'
          ? await openS3(String(o.store), {
              endpoint: o.s3Endpoint as string | undefined,
              region: o.s3Region as string | undefined,
              pathStyle: o.s3PathStyle as boolean | undefined,
            })
          : null;
      const store = openCatalog(db);
      const rate = o.rateLimit as number;
      const access = openAccess({ dir: accessDir, publicUrl, auth: { ratePerS: rate, burst: rate * 4 } });
      const boot = access.identity.bootstrap();
      if (boot)
        process.stderr.write(
          `first start: provider-admin ${boot.principalId} created; its API key (shown once, keep it safe):\n${boot.key}\n`,
        );
      const app = await buildServer({
        store,
        access,
        publicUrl,
        assets: assetRoot ? new AssetStorage(assetRoot) : null,
        assetStore,
        staticDir: o.static as string | undefined,
        trustProxy: o.trustProxy
          ? String(o.trustProxy)
              .split(',')
              .map((a) => a.trim())
          : undefined,
        corsOrigins,
        logger: 'warn',
      });
      const url = await app.listen({ host: String(o.host), port });
      write({
        listening: url,
        publicUrl,
        catalog: db.replace(/\/\/[^@/]*@/, '//***@'),
        access: accessDir,
        store: assetStore?.location ?? assetRoot ?? null,
      });
      await new Promise<void>((done) => {
        process.once('SIGINT', () => done());
        process.once('SIGTERM', () => done());
      });
      await app.close();
      await store.close();
      await assetStore?.close();
      access.close();
    });

  program
    .command('demo')
    .description(
      'build a demonstration catalog: simulated scenes, vessel detections and change, ready to serve',
    )
    .argument('<outdir>', 'folder for the scenes (the asset storage to serve with --asset-root)')
    .addOption(new Option('--catalog <file>', 'SQLite catalog file').default('catalog.db'))
    .action(async (outDir: string, o: Record<string, unknown>) => {
      const store = new SqliteCatalog(String(o.catalog));
      try {
        const items = await loadDemo(store, outDir);
        write({ catalog: o.catalog, collection: 'demo', items: items.map((i) => i.id) });
      } finally {
        await store.close();
      }
    });
}
