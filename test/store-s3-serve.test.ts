import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import { ValidationError } from '../src/errors.js';
import { s3SettingsFrom } from '../src/store/s3-settings.js';
import { openStore } from '../src/store/store.js';
import { gdalCog } from './helpers/access-fixtures.js';
import { startCephRgw } from './helpers/ceph-rgw.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('store-serve-');
const COG = join(tmp.dir, 'a.tif');
const MAIN = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const TSX = join(import.meta.dirname, '..', 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
let s3: Awaited<ReturnType<typeof startCephRgw>>;

/** `sarbridge <args>` from the sources (tsx), with `env` added; resolves at exit or at its first stdout JSON. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{
  child: ChildProcess;
  code: number | null;
  first: Record<string, unknown> | null;
  stderr: string;
}> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd: tmp.dir,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`sarbridge ${args.join(' ')}: no answer in 60 s; stderr: ${stderr}`));
    }, 60_000);
    child.stderr?.on('data', (d) => (stderr += d));
    child.stdout?.on('data', (d) => {
      stdout += d;
      try {
        const first = JSON.parse(stdout);
        clearTimeout(timer);
        done({ child, code: null, first, stderr });
      } catch {
        // not a whole document yet
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ child, code, first: null, stderr });
    });
  });
}

/** The test user's credentials as the CLI reads them. */
const creds = () => ({
  AWS_ACCESS_KEY_ID: String(s3.settings.credentials?.accessKeyId),
  AWS_SECRET_ACCESS_KEY: String(s3.settings.credentials?.secretAccessKey),
});

beforeAll(async () => {
  s3 = await startCephRgw(['sar']);
  gdalCog(COG, 512, 3);
}, 300_000);
afterAll(async () => {
  await s3?.close();
  tmp.cleanup();
});

describe('sarbridge serve --store s3://', () => {
  it('serves an asset put by the pipeline into the bucket, with Range, over real HTTP', async () => {
    const put = await openStore('s3://sar/cli', { s3: s3.settings });
    await put.putFile('scenes/a.tif', COG, { contentType: 'image/tiff' });
    await put.close();
    const env = creds();
    const run = await cli(
      [
        'serve',
        '--db',
        join(tmp.dir, 'c.db'),
        '--store',
        's3://sar/cli',
        '--s3-endpoint',
        s3.endpoint,
        '--port',
        '0',
      ],
      env,
    );
    expect(run.first, run.stderr).not.toBeNull();
    try {
      expect(run.first?.store).toBe('s3://sar/cli');
      const key = /API key \(shown once, keep it safe\):\n(\S+)/.exec(run.stderr)?.[1];
      expect(key, run.stderr).toBeDefined();
      const base = String(run.first?.listening);
      const auth = { authorization: `Bearer ${key}` };
      const post = (path: string, body: object) =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await post('/collections', syntheticCollection('sar'))).status).toBe(201);
      const r = await post('/collections/sar/items', {
        type: 'Feature',
        stac_version: '1.0.0',
        id: 'scene-a',
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [3, 51],
              [3.1, 51],
              [3.1, 51.05],
              [3, 51.05],
              [3, 51],
            ],
          ],
        },
        properties: { datetime: '2026-06-01T06:00:00Z' },
        links: [],
        assets: { data: { href: 'scenes/a.tif', type: 'image/tiff; application=geotiff' } },
      });
      expect(r.status, await r.clone().text()).toBe(201);
      const file = readFileSync(COG);
      const part = await fetch(`${base}/collections/sar/items/scene-a/assets/data`, {
        headers: { ...auth, range: 'bytes=100-4195' },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 100-4195/${file.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(file.subarray(100, 4196))).toBe(true);
      const whole = await fetch(`${base}/collections/sar/items/scene-a/assets/data`, { headers: auth });
      expect(Buffer.from(await whole.arrayBuffer()).equals(file)).toBe(true);
    } finally {
      run.child.kill('SIGTERM');
      await new Promise((ok) => run.child.once('close', ok));
    }
  });

  it.each([
    [['--store', 's3://'], {}, /--store: 's3:\/\/' names no bucket/],
    [['--store', 's3://sar/../x'], {}, /--store: 's3:\/\/sar\/..\/x': '..\/x' is not a plain relative path/],
    [['--store', 's3://sar'], {}, /--store s3:\/\/sar: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
    [['--store', 's3://sar', '--asset-root', '.'], {}, /cannot be used with option '--asset-root/],
    [['--store', 's3://missing-bucket'], 'creds', /the bucket 'missing-bucket' does not exist/],
    [
      ['--store', 's3://sar', '--s3-endpoint', 'http://127.0.0.1:1'],
      'creds',
      /cannot reach the S3 service at http:\/\/127.0.0.1:1/,
    ],
  ] as [string[], Record<string, string> | 'creds', RegExp][])(
    'serve %j fails at start with a clear error',
    async (args, env, msg) => {
      const full = args.includes('--s3-endpoint') ? args : [...args, '--s3-endpoint', s3.endpoint];
      const run = await cli(
        ['serve', '--db', join(tmp.dir, 'bad.db'), '--port', '0', ...full],
        env === 'creds' ? creds() : env,
      );
      if (run.first) run.child.kill('SIGKILL');
      expect(run.first).toBeNull();
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(msg);
      expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
    },
  );
});

describe('S3 settings from variables and flags', () => {
  it('takes the AWS names; flags win', () => {
    expect(
      s3SettingsFrom(
        {
          AWS_ENDPOINT_URL: 'http://a:1',
          AWS_ENDPOINT_URL_S3: 'http://s3:2',
          AWS_DEFAULT_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'id',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_SESSION_TOKEN: 'tok',
        },
        { region: 'eu-central-1', pathStyle: false },
      ),
    ).toEqual({
      endpoint: 'http://s3:2',
      region: 'eu-central-1',
      forcePathStyle: false,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret', sessionToken: 'tok' },
    });
    expect(s3SettingsFrom({})).toEqual({});
  });

  it.each([
    [{ AWS_ACCESS_KEY_ID: 'id' }, 'AWS_SECRET_ACCESS_KEY: not set, but its partner is (set both)'],
    [{ AWS_SECRET_ACCESS_KEY: 's' }, 'AWS_ACCESS_KEY_ID: not set, but its partner is (set both)'],
  ])('%j is refused naming the variable', (vars, msg) => {
    expect(() => s3SettingsFrom(vars)).toThrow(ValidationError);
    expect(() => s3SettingsFrom(vars)).toThrow(msg);
  });
});
