import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ValidationError } from '../errors.js';
import { parseStoreLocation } from '../store/store.js';
import type { ConfigValues, SarbridgeConfig, SettingKey, SettingSource } from './schema.js';
import { configSchema, shown } from './schema.js';

/**
 * Where each setting is read: its flag (and the commander attribute that holds it), its environment
 * variable, its member in the config file, and how a string (flag or variable) becomes a value.
 * Secrets have no flag: a command line is visible to every user of the machine (`ps`).
 */
export const SETTINGS: {
  key: SettingKey;
  flag: string | null;
  env: string;
  /** Member path in the config file. */
  file: string[];
  kind: 'string' | 'int' | 'bool' | 'list' | 'json';
  /** A file path: relative values are taken from the config file's folder (or the working folder). */
  path?: boolean;
  secret?: boolean;
}[] = [
  {
    key: 'dataDir',
    flag: '--data-dir',
    env: 'SARBRIDGE_DATA_DIR',
    file: ['dataDir'],
    kind: 'string',
    path: true,
  },
  { key: 'db', flag: '--db', env: 'SARBRIDGE_DB', file: ['db'], kind: 'string', path: true },
  { key: 'queue', flag: '--queue', env: 'SARBRIDGE_QUEUE', file: ['queue'], kind: 'string', path: true },
  { key: 'store', flag: '--store', env: 'SARBRIDGE_STORE', file: ['store'], kind: 'string', path: true },
  {
    key: 's3Endpoint',
    flag: '--s3-endpoint',
    env: 'SARBRIDGE_S3_ENDPOINT',
    file: ['s3', 'endpoint'],
    kind: 'string',
  },
  {
    key: 's3Region',
    flag: '--s3-region',
    env: 'SARBRIDGE_S3_REGION',
    file: ['s3', 'region'],
    kind: 'string',
  },
  {
    key: 's3AccessKeyId',
    flag: null,
    env: 'SARBRIDGE_S3_ACCESS_KEY_ID',
    file: ['s3', 'accessKeyId'],
    kind: 'string',
    secret: true,
  },
  {
    key: 's3SecretAccessKey',
    flag: null,
    env: 'SARBRIDGE_S3_SECRET_ACCESS_KEY',
    file: ['s3', 'secretAccessKey'],
    kind: 'string',
    secret: true,
  },
  {
    key: 's3ForcePathStyle',
    flag: '--s3-force-path-style',
    env: 'SARBRIDGE_S3_FORCE_PATH_STYLE',
    file: ['s3', 'forcePathStyle'],
    kind: 'bool',
  },
  { key: 'host', flag: '--host', env: 'SARBRIDGE_HOST', file: ['host'], kind: 'string' },
  { key: 'port', flag: '--port', env: 'SARBRIDGE_PORT', file: ['port'], kind: 'int' },
  {
    key: 'publicUrl',
    flag: '--public-url',
    env: 'SARBRIDGE_PUBLIC_URL',
    file: ['publicUrl'],
    kind: 'string',
  },
  {
    key: 'corsOrigins',
    flag: '--cors-origin',
    env: 'SARBRIDGE_CORS_ORIGINS',
    file: ['corsOrigins'],
    kind: 'list',
  },
  {
    key: 'accessDir',
    flag: '--access-dir',
    env: 'SARBRIDGE_ACCESS_DIR',
    file: ['accessDir'],
    kind: 'string',
    path: true,
  },
  {
    key: 'rateLimitPerS',
    flag: '--rate-limit',
    env: 'SARBRIDGE_RATE_LIMIT',
    file: ['rateLimitPerS'],
    kind: 'int',
  },
  {
    key: 'maxUploadMiB',
    flag: '--max-upload-mib',
    env: 'SARBRIDGE_MAX_UPLOAD_MIB',
    file: ['maxUploadMiB'],
    kind: 'int',
  },
  {
    key: 'workerConcurrency',
    flag: '--concurrency',
    env: 'SARBRIDGE_WORKER_CONCURRENCY',
    file: ['workerConcurrency'],
    kind: 'int',
  },
  { key: 'dropFolders', flag: null, env: 'SARBRIDGE_DROP_FOLDERS', file: ['dropFolders'], kind: 'json' },
];

/** The variable and flag that name the config file. */
export const CONFIG_ENV = 'SARBRIDGE_CONFIG';
export const CONFIG_FLAG = '--config';

export const DEFAULTS = {
  dataDir: 'data',
  host: '127.0.0.1',
  port: 8080,
  s3Region: 'us-east-1',
  s3ForcePathStyle: false,
  rateLimitPerS: 100,
  maxUploadMiB: 65_536,
  workerConcurrency: 1,
} as const;

/** One or more settings were bad; `issues` holds one line per setting, each naming it and its source. */
export class ConfigError extends ValidationError {
  override readonly code: string = 'ConfigError';
  constructor(readonly issues: string[]) {
    super(issues.join('; '));
  }
}

export interface ConfigSources {
  /** Flag values by commander attribute name (camelCase of the flag: `dataDir`, `s3Endpoint` ...). */
  flags?: Record<string, unknown>;
  /** The environment (the CLI passes process.env; nothing below the CLI reads it). */
  env?: Record<string, string | undefined>;
  /** The config file (JSON); else `flags.config`, else the environment's SARBRIDGE_CONFIG. */
  file?: string;
  /** Folder that relative flag and environment paths are taken from (default: process.cwd()). */
  cwd?: string;
}

/** commander's attribute name of a flag: --s3-force-path-style -> s3ForcePathStyle. */
export function flagAttribute(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** A string from a flag or a variable as the setting's kind; left as it is when it does not parse. */
function coerce(
  kind: (typeof SETTINGS)[number]['kind'],
  v: unknown,
  label: string,
  issues: string[],
): unknown {
  if (typeof v !== 'string' && !(Array.isArray(v) && kind === 'list')) return v;
  switch (kind) {
    case 'int':
      return /^\s*[+-]?\d+\s*$/.test(v as string) ? Number(v) : v;
    case 'bool': {
      const s = (v as string).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      return v;
    }
    case 'list':
      return (Array.isArray(v) ? v : [v])
        .flatMap((x) => String(x).split(','))
        .map((x) => x.trim())
        .filter((x) => x !== '');
    case 'json':
      try {
        return JSON.parse(v as string);
      } catch (err) {
        issues.push(`${label}: expected JSON, ${(err as Error).message}`);
        return undefined;
      }
    default:
      return v;
  }
}

function readConfigFile(file: string, label: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([
      `${label}: cannot read the config file '${file}' (${code === 'ENOENT' ? 'no such file' : code})`,
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${file}: not valid JSON (${(err as Error).message})`]);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new ConfigError([`${file}: expected a JSON object of settings`]);
  return json as Record<string, unknown>;
}

/** The members of a config file that no setting reads. */
function unknownMembers(doc: Record<string, unknown>): string[] {
  const top = new Set(SETTINGS.map((s) => s.file[0]));
  const s3 = new Set(SETTINGS.filter((s) => s.file[0] === 's3').map((s) => s.file[1]));
  const out = Object.keys(doc).filter((k) => !top.has(k));
  const inner = doc.s3;
  if (inner !== undefined && (inner === null || typeof inner !== 'object' || Array.isArray(inner)))
    out.push('s3 (expected an object {endpoint, region, accessKeyId, secretAccessKey, forcePathStyle})');
  else if (inner) for (const k of Object.keys(inner)) if (!s3.has(k)) out.push(`s3.${k}`);
  return out;
}

/**
 * Read, merge and validate the configuration once, at start-up: flags over environment over the
 * config file over defaults, each setting on its own. Paths are made absolute (a relative path in the
 * config file is taken from the file's folder); `db`, `queue`, `store` and `accessDir` default to
 * `catalog.db`, `queue.db`, `assets/` and `access/` in the data folder, `publicUrl` to
 * http://host:port. Throws one ConfigError listing every bad setting, each line naming the setting's
 * source ("SARBRIDGE_PORT: expected an integer port from 0 to 65535, got '80a'").
 * @example loadConfig({ flags: { db: 'postgres://u@db/sar' }, env: process.env })
 */
export function loadConfig(sources: ConfigSources = {}): SarbridgeConfig {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const cwd = sources.cwd ?? process.cwd();
  const issues: string[] = [];
  const fileName =
    sources.file ?? (typeof flags.config === 'string' ? flags.config : undefined) ?? env[CONFIG_ENV];
  const fileLabel = sources.file ? 'config' : typeof flags.config === 'string' ? CONFIG_FLAG : CONFIG_ENV;
  const file = fileName ? resolve(cwd, fileName) : null;
  const doc = file ? readConfigFile(file, fileLabel) : {};
  for (const k of file ? unknownMembers(doc) : [])
    issues.push(`${file}: unknown setting ${k} (known: ${SETTINGS.map((s) => s.file.join('.')).join(', ')})`);

  const raw: Record<string, unknown> = {};
  const from = {} as SarbridgeConfig['sources'];
  const labels = {} as Record<SettingKey, string>;
  for (const s of SETTINGS) {
    const flagValue = s.flag ? flags[flagAttribute(s.flag)] : undefined;
    const envValue = env[s.env] === '' ? undefined : env[s.env];
    let fileValue: unknown = doc;
    for (const p of s.file) fileValue = (fileValue as Record<string, unknown> | undefined)?.[p];
    let source: SettingSource = 'default';
    let name = 'default';
    let v: unknown;
    if (flagValue !== undefined && s.flag) [source, name, v] = ['flag', s.flag, flagValue];
    else if (envValue !== undefined) [source, name, v] = ['env', s.env, envValue];
    else if (fileValue !== undefined && file)
      [source, name, v] = ['file', `${file}: ${s.file.join('.')}`, fileValue];
    from[s.key] = { source, name };
    labels[s.key] = name;
    if (source === 'default') continue;
    raw[s.key] = source === 'file' ? v : coerce(s.kind, v, name, issues);
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0] as SettingKey;
      const s = SETTINGS.find((x) => x.key === key);
      const rest = issue.path
        .slice(1)
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('');
      let msg = `${labels[key] ?? 'config'}${rest}: ${issue.message}`;
      if (
        !/, got /.test(issue.message) &&
        !issue.message.includes(String(raw[key])) &&
        !s?.secret &&
        issue.path.length === 1
      )
        msg += `, got '${shown(raw[key])}'`;
      issues.push(msg);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const v = (parsed.data ?? {}) as ConfigValues;

  // Relative paths: from the config file's folder when the file gave them, else from `cwd`.
  const base = (key: SettingKey) => (from[key].source === 'file' && file ? dirname(file) : cwd);
  const abs = (key: SettingKey, p: string) => (isAbsolute(p) ? p : resolve(base(key), p));
  const dataDir = abs('dataDir', v.dataDir ?? DEFAULTS.dataDir);
  const location = (key: 'db' | 'queue' | 'store', fallback: string) => {
    const given = v[key];
    if (given === undefined) return fallback;
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(given) ? given : abs(key, given);
  };
  const db = location('db', join(dataDir, 'catalog.db'));
  const queue = location('queue', join(dataDir, 'queue.db'));
  let store: SarbridgeConfig['store'] = { kind: 'local', root: join(dataDir, 'assets') };
  try {
    store = parseStoreLocation(location('store', join(dataDir, 'assets')), labels.store);
  } catch (err) {
    issues.push((err as Error).message);
  }
  const keyId = v.s3AccessKeyId ?? null;
  const secret = v.s3SecretAccessKey ?? null;
  if ((keyId === null) !== (secret === null))
    issues.push(
      keyId === null
        ? `${labels.s3SecretAccessKey}: a secret access key needs an access key id (SARBRIDGE_S3_ACCESS_KEY_ID or s3.accessKeyId)`
        : `${labels.s3AccessKeyId}: an access key id needs a secret access key (SARBRIDGE_S3_SECRET_ACCESS_KEY or s3.secretAccessKey)`,
    );
  const host = v.host ?? DEFAULTS.host;
  const port = v.port ?? DEFAULTS.port;
  const dropFolders = (v.dropFolders ?? []).map((d) => ({
    path: isAbsolute(d.path) ? d.path : resolve(base('dropFolders'), d.path),
    label: d.label,
    collection: d.collection ?? null,
  }));
  const seen = new Set<string>();
  for (const d of dropFolders) {
    if (seen.has(d.path)) issues.push(`${labels.dropFolders}: the drop folder ${d.path} is listed twice`);
    seen.add(d.path);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    dataDir,
    db: /^postgres(ql)?:\/\//.test(db) ? { kind: 'postgres', url: db } : { kind: 'sqlite', path: db },
    queue: /^rediss?:\/\//.test(queue) ? { kind: 'redis', url: queue } : { kind: 'sqlite', path: queue },
    store,
    s3: {
      endpoint: v.s3Endpoint ?? null,
      region: v.s3Region ?? DEFAULTS.s3Region,
      accessKeyId: keyId,
      secretAccessKey: secret,
      forcePathStyle: v.s3ForcePathStyle ?? DEFAULTS.s3ForcePathStyle,
    },
    host,
    port,
    publicUrl: v.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    corsOrigins: (v.corsOrigins ?? []).map((o) => new URL(o).origin),
    accessDir: v.accessDir === undefined ? join(dataDir, 'access') : abs('accessDir', v.accessDir),
    rateLimitPerS: v.rateLimitPerS ?? DEFAULTS.rateLimitPerS,
    maxUploadMiB: v.maxUploadMiB ?? DEFAULTS.maxUploadMiB,
    workerConcurrency: v.workerConcurrency ?? DEFAULTS.workerConcurrency,
    dropFolders,
    sources: from,
  };
}

/** The configuration as it may be printed or logged: URL passwords and S3 secrets masked. */
export function redactedConfig(c: SarbridgeConfig): Record<string, unknown> {
  const url = (u: string) => shown(u);
  return {
    ...c,
    db: c.db.kind === 'postgres' ? { kind: 'postgres', url: url(c.db.url) } : c.db,
    queue: c.queue.kind === 'redis' ? { kind: 'redis', url: url(c.queue.url) } : c.queue,
    s3: { ...c.s3, secretAccessKey: c.s3.secretAccessKey === null ? null : '***' },
  };
}
