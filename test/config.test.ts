import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { addConfigOptions, configFromOptions } from '../src/cli/config-options.js';
import { ConfigError, type ConfigSources, loadConfig, redactedConfig, SETTINGS } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { runCapture } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sarbridge-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config file in its own folder; returns its path. */
function configFile(name: string, body: unknown): string {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  const p = join(sub, 'sarbridge.json');
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
}

const NATO_GBR = {
  policy: 'NATO',
  classification: 'RESTRICTED',
  categories: [{ tagName: 'Releasable To', type: 'permissive', values: ['GBR'] }],
};

function errorOf(sources: ConfigSources): ConfigError {
  try {
    loadConfig({ cwd: dir, ...sources });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(sources)}`);
}

describe('loadConfig: bad settings name the setting, its source and what was expected', () => {
  const f = (name: string, body: unknown) => (): ConfigSources => ({ file: configFile(name, body) });
  const rows: { name: string; sources: () => ConfigSources; message: string | RegExp }[] = [
    {
      name: 'queue with a misspelt scheme, from the environment',
      sources: () => ({ env: { SARBRIDGE_QUEUE: 'htp://x' } }),
      message: "SARBRIDGE_QUEUE: expected a redis:// URL or a file path, got 'htp://x'",
    },
    {
      name: 'queue as a redis URL without a host, from a flag',
      sources: () => ({ flags: { queue: 'redis://' } }),
      message: "--queue: expected a redis:// URL or a file path, got 'redis://'",
    },
    {
      name: 'db of another engine',
      sources: () => ({ env: { SARBRIDGE_DB: 'mysql://h/sar' } }),
      message: "SARBRIDGE_DB: expected an SQLite file path or a postgres:// URL, got 'mysql://h/sar'",
    },
    {
      name: 'db URL with a password and no host: the password is masked',
      sources: () => ({ env: { SARBRIDGE_DB: 'postgres://sar:hunter2@' } }),
      message: "SARBRIDGE_DB: expected an SQLite file path or a postgres:// URL, got 'postgres://sar:***@'",
    },
    {
      name: 'store with no bucket',
      sources: () => ({ flags: { store: 's3://' } }),
      message: /^--store: 's3:\/\/' names no bucket/,
    },
    {
      name: 'store bucket in capitals',
      sources: () => ({ env: { SARBRIDGE_STORE: 's3://Sar/prod' } }),
      message: /^SARBRIDGE_STORE: 's3:\/\/Sar\/prod': 'Sar' is not a bucket name/,
    },
    {
      name: 'port that is not a number',
      sources: () => ({ env: { SARBRIDGE_PORT: '80a' } }),
      message: "SARBRIDGE_PORT: expected an integer port from 0 to 65535, got '80a'",
    },
    {
      name: 'port out of range, from a flag',
      sources: () => ({ flags: { port: 70000 } }),
      message: "--port: expected an integer port from 0 to 65535, got '70000'",
    },
    {
      name: 'port as a JSON string in the file',
      sources: () => ({ file: configFile('port-string', { port: '8080' }) }),
      message: /sarbridge\.json: port: expected an integer port from 0 to 65535, got '8080'$/,
    },
    {
      name: 'public URL with a path',
      sources: () => ({ env: { SARBRIDGE_PUBLIC_URL: 'https://sar.example.org/api' } }),
      message:
        "SARBRIDGE_PUBLIC_URL: expected an http(s)://host[:port] URL with no path, got 'https://sar.example.org/api'",
    },
    {
      name: 'CORS origin of another scheme',
      sources: () => ({ env: { SARBRIDGE_CORS_ORIGINS: 'https://a.example.org, ftp://b.example.org' } }),
      message:
        "SARBRIDGE_CORS_ORIGINS[1]: expected an origin such as https://app.example.org, got 'ftp://b.example.org'",
    },
    {
      name: 'worker concurrency 0',
      sources: () => ({ env: { SARBRIDGE_WORKER_CONCURRENCY: '0' } }),
      message: "SARBRIDGE_WORKER_CONCURRENCY: expected an integer from 1 to 64, got '0'",
    },
    {
      name: 'upload limit of zero MiB',
      sources: () => ({ flags: { maxUploadMib: '0' } }),
      // (No ", got '0'": the message already holds a '0'.)
      message: '--max-upload-mib: expected an integer from 1 to 1048576 (MiB)',
    },
    {
      name: 'a boolean that is neither',
      sources: () => ({ env: { SARBRIDGE_S3_FORCE_PATH_STYLE: 'maybe' } }),
      message: "SARBRIDGE_S3_FORCE_PATH_STYLE: expected true or false, got 'maybe'",
    },
    {
      name: 'S3 endpoint without a scheme',
      sources: () => ({ flags: { s3Endpoint: 'minio:9000' } }),
      message: "--s3-endpoint: expected an http(s):// URL, got 'minio:9000'",
    },
    {
      name: 'drop folders that are not JSON',
      sources: () => ({ env: { SARBRIDGE_DROP_FOLDERS: 'incoming/' } }),
      message: /^SARBRIDGE_DROP_FOLDERS: expected JSON, /,
    },
    {
      name: 'drop folder label with an unknown classification, in the file',
      sources: f('drop-label', {
        dropFolders: [{ path: 'in', label: { ...NATO_GBR, classification: 'SECRETISH' } }],
      }),
      message: /sarbridge\.json: dropFolders\[0\]\.label: classification: unknown classification 'SECRETISH'/,
    },
    {
      name: 'drop folder with no label',
      sources: () => ({ env: { SARBRIDGE_DROP_FOLDERS: '[{"path":"in"}]' } }),
      message: 'SARBRIDGE_DROP_FOLDERS[0].label: must be an object {policy, classification, categories}',
    },
    {
      name: 'drop folder with an unknown member',
      sources: () => ({
        env: { SARBRIDGE_DROP_FOLDERS: JSON.stringify([{ path: 'in', label: NATO_GBR, labels: 1 }]) },
      }),
      message: /^SARBRIDGE_DROP_FOLDERS\[0\]: Unrecognized key: "labels"/,
    },
    {
      name: 'the same drop folder twice',
      sources: () => ({
        env: {
          SARBRIDGE_DROP_FOLDERS: JSON.stringify([
            { path: 'in', label: NATO_GBR },
            { path: './in/', label: NATO_GBR },
          ]),
        },
      }),
      message: /^SARBRIDGE_DROP_FOLDERS: the drop folder .*\/in is listed twice$/,
    },
    {
      name: 'an unknown member of the file',
      sources: f('unknown', { prot: 8080 }),
      message: /sarbridge\.json: unknown setting prot \(known: dataDir, db, queue/,
    },
    {
      name: 'an unknown member of the file s3 object',
      sources: f('unknown-s3', { s3: { secret: 'x' } }),
      message: /sarbridge\.json: unknown setting s3\.secret /,
    },
    {
      name: 'a config file that is missing',
      sources: () => ({ flags: { config: join(dir, 'nowhere.json') } }),
      message: /^--config: cannot read the config file '.*nowhere\.json' \(no such file\)$/,
    },
    {
      name: 'a config file named by the environment that is not JSON',
      sources: () => ({ env: { SARBRIDGE_CONFIG: configFile('not-json', 'port = 80') } }),
      message: /sarbridge\.json: not valid JSON \(/,
    },
    {
      name: 'a config file that is a list',
      sources: f('list', [1, 2]),
      message: /sarbridge\.json: expected a JSON object of settings$/,
    },
    {
      name: 'an S3 secret without its key id (the secret is not shown)',
      sources: () => ({ env: { SARBRIDGE_S3_SECRET_ACCESS_KEY: 'verysecretvalue' } }),
      message:
        'SARBRIDGE_S3_SECRET_ACCESS_KEY: a secret access key needs an access key id (SARBRIDGE_S3_ACCESS_KEY_ID or s3.accessKeyId)',
    },
  ];
  for (const row of rows)
    it(row.name, () => {
      const err = errorOf(row.sources());
      expect(err.issues).toHaveLength(1);
      if (typeof row.message === 'string') expect(err.message).toBe(row.message);
      else expect(err.message).toMatch(row.message);
      expect(err.message).not.toContain('verysecretvalue');
      expect(err.message).not.toContain('hunter2');
    });

  it('every bad setting is reported at once, each with its source', () => {
    const err = errorOf({
      flags: { port: -1 },
      env: { SARBRIDGE_QUEUE: 'htp://x', SARBRIDGE_HOST: 'a b' },
      file: configFile('several', { workerConcurrency: 100 }),
    });
    expect(err.issues.map((i) => i.split(':')[0])).toEqual(
      expect.arrayContaining(['SARBRIDGE_QUEUE', 'SARBRIDGE_HOST', '--port', expect.stringMatching(/json$/)]),
    );
    expect(err.issues).toHaveLength(4);
  });
});

describe('loadConfig: precedence flags > environment > file > defaults, per setting', () => {
  const file = () =>
    configFile('layers', { port: 3000, host: '0.0.0.0', workerConcurrency: 3, db: 'cat.db' });
  // [flags, env, expected port, source of port, expected host, expected concurrency]
  const rows: [Record<string, unknown>, Record<string, string>, number, string, string, number][] = [
    [{}, {}, 3000, 'file', '0.0.0.0', 3],
    [{}, { SARBRIDGE_PORT: '4000' }, 4000, 'env', '0.0.0.0', 3],
    [{ port: 5000 }, { SARBRIDGE_PORT: '4000' }, 5000, 'flag', '0.0.0.0', 3],
    [{ port: '5001' }, {}, 5001, 'flag', '0.0.0.0', 3],
    [{}, { SARBRIDGE_HOST: '::1', SARBRIDGE_WORKER_CONCURRENCY: '2' }, 3000, 'file', '::1', 2],
    [
      { concurrency: 8 },
      { SARBRIDGE_WORKER_CONCURRENCY: '2', SARBRIDGE_PORT: '' },
      3000,
      'file',
      '0.0.0.0',
      8,
    ],
  ];
  for (const [flags, env, port, source, host, concurrency] of rows)
    it(`flags ${JSON.stringify(flags)} env ${JSON.stringify(env)}`, () => {
      const c = loadConfig({ flags, env, file: file(), cwd: dir });
      expect(c.port).toBe(port);
      expect(c.sources.port.source).toBe(source);
      expect(c.host).toBe(host);
      expect(c.workerConcurrency).toBe(concurrency);
    });

  it('defaults: everything in the data folder, the public URL from host and port', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    expect(c.dataDir).toBe(join(dir, 'data'));
    expect(c.db).toEqual({ kind: 'sqlite', path: join(dir, 'data', 'catalog.db') });
    expect(c.queue).toEqual({ kind: 'sqlite', path: join(dir, 'data', 'queue.db') });
    expect(c.store).toEqual({ kind: 'local', root: join(dir, 'data', 'assets') });
    expect(c.accessDir).toBe(join(dir, 'data', 'access'));
    expect(c.publicUrl).toBe('http://127.0.0.1:8080');
    expect(c.corsOrigins).toEqual([]);
    expect(c.dropFolders).toEqual([]);
    expect(c.s3).toEqual({
      endpoint: null,
      region: 'us-east-1',
      accessKeyId: null,
      secretAccessKey: null,
      forcePathStyle: false,
    });
    expect(Object.values(c.sources).every((s) => s.source === 'default')).toBe(true);
  });

  it('relative paths: from the config file folder for the file, from the working folder otherwise', () => {
    const p = configFile('paths', {
      dataDir: 'd',
      store: 'blobs',
      dropFolders: [{ path: 'in', label: NATO_GBR, collection: 'harbour' }],
    });
    const c = loadConfig({ file: p, env: { SARBRIDGE_DB: 'x/catalog.db' }, cwd: dir });
    expect(c.dataDir).toBe(join(dir, 'paths', 'd'));
    expect(c.store).toEqual({ kind: 'local', root: join(dir, 'paths', 'blobs') });
    expect(c.db).toEqual({ kind: 'sqlite', path: join(dir, 'x', 'catalog.db') });
    expect(c.queue).toEqual({ kind: 'sqlite', path: join(dir, 'paths', 'd', 'queue.db') });
    expect(c.dropFolders).toEqual([
      { path: join(dir, 'paths', 'in'), label: NATO_GBR, collection: 'harbour' },
    ]);
    expect(c.sources.db).toEqual({ source: 'env', name: 'SARBRIDGE_DB' });
    expect(c.sources.store).toEqual({ source: 'file', name: `${p}: store` });
  });

  it('scale-out locations, CORS origins normalised, S3 settings nested in the file', () => {
    const c = loadConfig({
      flags: { cors_origin: 'unused', corsOrigin: ['https://App.Example.org:443,http://b.example.org:81'] },
      env: {
        SARBRIDGE_DB: 'postgres://sar:pw@db.internal:5432/sar',
        SARBRIDGE_QUEUE: 'rediss://cache:6380',
        SARBRIDGE_S3_FORCE_PATH_STYLE: 'yes',
      },
      file: configFile('s3', {
        store: 's3://sar-assets/prod',
        s3: {
          endpoint: 'http://127.0.0.1:9000',
          region: 'eu-west-1',
          accessKeyId: 'AK',
          secretAccessKey: 'SK',
        },
      }),
      cwd: dir,
    });
    expect(c.db).toEqual({ kind: 'postgres', url: 'postgres://sar:pw@db.internal:5432/sar' });
    expect(c.queue).toEqual({ kind: 'redis', url: 'rediss://cache:6380' });
    expect(c.store).toEqual({
      kind: 's3',
      bucket: 'sar-assets',
      prefix: 'prod',
      url: 's3://sar-assets/prod',
    });
    expect(c.s3).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
      forcePathStyle: true,
    });
    expect(c.corsOrigins).toEqual(['https://app.example.org', 'http://b.example.org:81']);
    const shown = JSON.stringify(redactedConfig(c));
    expect(shown).not.toContain(':pw@');
    expect(shown).not.toContain('"SK"');
    expect(shown).toContain('postgres://sar:***@db.internal:5432/sar');
  });
});

describe('the configuration is one schema read in one place', () => {
  it('every setting of the schema has a source entry, and every variable is SARBRIDGE_*', () => {
    expect(SETTINGS.map((s) => s.key).sort()).toEqual(Object.keys(configSchema.shape).sort());
    for (const s of SETTINGS) expect(s.env).toMatch(/^SARBRIDGE_[A-Z0-9_]+$/);
  });

  it('no library code reads process.env (only the CLI passes it down)', () => {
    const root = join(import.meta.dirname, '..', 'src');
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) {
          if (p !== join(root, 'cli')) walk(p);
        } else if (p.endsWith('.ts')) {
          readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/process\.env\b/.test(line) && !/^\s*(\*|\/\/|\/\*)/.test(line))
                offenders.push(`${p}:${i + 1}`);
            });
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});

describe('the configuration flags on a command', () => {
  const parse = (args: string[]) => {
    const cmd = addConfigOptions(new Command('serve').exitOverride());
    cmd.parse(args, { from: 'user' });
    return cmd.opts();
  };

  it('flags as commander parses them win over the environment; unset flags leave it to the variables', () => {
    const c = configFromOptions(
      parse([
        '--port',
        '9000',
        '--cors-origin',
        'https://a.example.org',
        'https://b.example.org',
        '--s3-force-path-style',
      ]),
      { SARBRIDGE_PORT: '1', SARBRIDGE_QUEUE: 'redis://q:6379', SARBRIDGE_S3_FORCE_PATH_STYLE: 'false' },
      dir,
    );
    expect(c.port).toBe(9000);
    expect(c.corsOrigins).toEqual(['https://a.example.org', 'https://b.example.org']);
    expect(c.s3.forcePathStyle).toBe(true);
    expect(c.queue).toEqual({ kind: 'redis', url: 'redis://q:6379' });
    expect(c.sources.queue).toEqual({ source: 'env', name: 'SARBRIDGE_QUEUE' });
  });

  it('a bad flag value names the flag; --config names the file', () => {
    expect(() => configFromOptions(parse(['--port', '80a']), {}, dir)).toThrow(
      "--port: expected an integer port from 0 to 65535, got '80a'",
    );
    const file = configFile('from-flag', { queue: 'htp://x' });
    expect(() => configFromOptions(parse(['--config', file]), {}, dir)).toThrow(
      `${file}: queue: expected a redis:// URL or a file path, got 'htp://x'`,
    );
  });

  it('--help names each setting with its variable, and secrets have no flag', () => {
    const cmd = addConfigOptions(new Command('serve'));
    const help = cmd.helpInformation();
    for (const v of ['SARBRIDGE_DB', 'SARBRIDGE_QUEUE', 'SARBRIDGE_STORE', 'SARBRIDGE_WORKER_CONCURRENCY'])
      expect(help).toContain(v);
    expect(help).not.toMatch(/--s3-secret|--s3-access-key/);
  });
});

describe('sarbridge config', () => {
  it('prints the validated configuration with its sources, the password masked', async () => {
    const r = await runCapture([
      'config',
      '--json',
      '--db',
      'postgres://sar:pw@db.internal/sar',
      '--port',
      '9001',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.type).toBe('result');
    expect(c.db).toEqual({ kind: 'postgres', url: 'postgres://sar:***@db.internal/sar' });
    expect(c.port).toBe(9001);
    expect(c.sources.db).toEqual({ source: 'flag', name: '--db' });
    expect(r.stdout).not.toContain(':pw@');
  });

  it('a bad setting: exit 2, one line naming it, with a hint', async () => {
    const r = await runCapture(['config', '--port', '70000', '--queue', 'htp://x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^sarbridge: --queue: expected a redis:\/\/ URL or a file path, got 'htp:\/\/x'; --port: expected an integer port from 0 to 65535, got '70000' \(hint: fix the setting named/,
    );
    expect(r.stderr.trimEnd()).not.toContain('\n');
  });
});
