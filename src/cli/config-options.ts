import type { Command } from 'commander';
import { Option } from 'commander';
import type { ConfigSources } from '../config/load.js';
import { CONFIG_FLAG, loadConfig, SETTINGS } from '../config/load.js';
import type { SarbridgeConfig } from '../config/schema.js';

/** What each setting's flag says in --help (the variable and the file member are added to it). */
const HELP: Record<string, [string, string]> = {
  dataDir: ['<dir>', 'folder of the catalog, queue, assets and identity store (default ./data)'],
  db: ['<file|url>', 'catalog: an SQLite file or postgres://user:pw@host/db (default <data-dir>/catalog.db)'],
  queue: ['<file|url>', 'job queue: an SQLite file or redis://host:port (default <data-dir>/queue.db)'],
  store: ['<dir|url>', 'asset store: a folder or s3://bucket/prefix (default <data-dir>/assets)'],
  s3Endpoint: ['<url>', 'S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS)'],
  s3Region: ['<region>', 'S3 region (default us-east-1)'],
  s3ForcePathStyle: ['[bool]', 'path-style S3 requests, as most S3-compatible servers need'],
  host: ['<host>', 'address to listen on (default 127.0.0.1)'],
  port: ['<n>', 'port to listen on (default 8080)'],
  publicUrl: ['<url>', 'public base URL of every link (default http://<host>:<port>)'],
  corsOrigins: ['<origins...>', 'origins whose browser scripts may use the API (default none)'],
  accessDir: ['<dir>', 'identity store and audit log (default <data-dir>/access)'],
  rateLimitPerS: ['<n>', 'requests per second per credential, bursts of 4x; 0 for none (default 100)'],
  maxUploadMiB: ['<n>', 'largest product a provider may upload through /uploads, MiB (default 65536)'],
  workerConcurrency: ['<n>', 'jobs a worker runs at once (default 1)'],
};

/**
 * The configuration's flags on a command (`sarbridge serve`, `sarbridge worker`), with no commander
 * defaults, so that a flag not given leaves the setting to the environment, the file or the default.
 * Secrets (S3 keys) have no flag. `only` limits the flags to some settings.
 */
export function addConfigOptions(cmd: Command, only?: string[]): Command {
  cmd.addOption(new Option(`${CONFIG_FLAG} <file>`, 'JSON config file (also SARBRIDGE_CONFIG)'));
  for (const s of SETTINGS) {
    if (!s.flag || (only && !only.includes(s.key))) continue;
    const [arg, help] = HELP[s.key] ?? ['<value>', s.key];
    cmd.addOption(new Option(`${s.flag} ${arg}`, `${help}; also ${s.env}`));
  }
  return cmd;
}

/**
 * The validated configuration of a command's parsed options and the environment (the one place
 * process.env is read for settings); throws a ConfigError (exit code 2) naming each bad setting.
 * @example const config = configFromOptions(cmd.opts());
 */
export function configFromOptions(
  opts: Record<string, unknown>,
  env: ConfigSources['env'] = process.env,
  cwd?: string,
): SarbridgeConfig {
  return loadConfig({ flags: opts, env, cwd });
}
