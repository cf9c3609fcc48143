import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { ConflictError, ValidationError } from '../src/errors.js';
import { transformPoint } from '../src/geo/crs.js';
import { webMercatorTileAt } from '../src/geo/tms.js';
import { StaleObjectError } from '../src/store/s3-reader.js';
import type { S3Store } from '../src/store/s3-store.js';
import { openStore, parseStoreLocation, type StoredObject } from '../src/store/store.js';
import { gdalCog } from './helpers/access-fixtures.js';
import { startCephRgw } from './helpers/ceph-rgw.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const tmp = tempDir('store-s3-');
const root = join(tmp.dir, 'assets');
const COG = join(root, 'scenes', 'a.tif');
const SIZE = 1024;
let s3: Awaited<ReturnType<typeof startCephRgw>>;
let store: S3Store;
/** Names of the S3 commands the store sent, in order. */
const sent: string[] = [];

const sha256sum = (path: string) =>
  `1220${execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]}`;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function collect(it: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const o of it) out.push(o);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** gdalinfo -json -stats of a raster, local or /vsis3/ (run asynchronously: the S3 server is in this process). */
async function gdalStats(path: string): Promise<Record<string, unknown>> {
  const { stdout } = await execFileAsync('gdalinfo', ['-json', '-stats', path], {
    env: { ...process.env, ...s3.gdalEnv, GDAL_PAM_ENABLED: 'NO', GDAL_HTTP_MAX_RETRY: '0' },
    timeout: 60_000,
  });
  const info = JSON.parse(stdout) as { bands: Record<string, unknown>[]; size: number[] };
  const b = info.bands[0];
  return {
    size: info.size,
    min: b.minimum,
    max: b.maximum,
    mean: b.mean,
    stdDev: b.stdDev,
    overviews: (b.overviews as unknown[]).length,
  };
}

beforeAll(async () => {
  s3 = await startCephRgw(['sar', 'other']);
  store = (await openStore('s3://sar/prod', { s3: { ...s3.settings, partSizeBytes: 5 * MIB } })) as S3Store;
  store.client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  gdalCog(COG, SIZE, 7);
}, 300_000);
afterAll(async () => {
  await store?.close();
  await s3?.close();
  tmp.cleanup();
});

describe('S3Store objects', () => {
  it('putBytes, head, ranged reads, list and delete: the planted bytes and sha256sum checksum come back', async () => {
    const bytes = randomBytes(300_000);
    const file = join(tmp.dir, 'planted.bin');
    writeFileSync(file, bytes);
    const put = await store.putBytes('x/planted.bin', bytes, { contentType: 'application/octet-stream' });
    expect(put.sizeBytes).toBe(bytes.length);
    expect(put.checksum).toBe(sha256sum(file));
    const head = await store.head('x/planted.bin');
    expect(head).toMatchObject({ key: 'x/planted.bin', sizeBytes: bytes.length, etag: put.etag });
    expect(head?.checksum).toBe(sha256sum(file));
    expect(head?.etag).toMatch(/^"[^"]+"$/);
    const r = await store.source('x/planted.bin');
    for (const [off, len] of [
      [0, 16],
      [262_140, 10],
      [299_990, 10],
      [1000, 200_000],
      [0, 300_000],
    ]) {
      expect(
        Buffer.from(await r.read(off, len)).equals(bytes.subarray(off, off + len)),
        `${off}+${len}`,
      ).toBe(true);
    }
    await expect(r.read(299_995, 10)).rejects.toThrow(/past the end of the 300000-byte file/);
    await store.putBytes('x/y/other.bin', Buffer.from('z'));
    await store.putBytes('xx.bin', Buffer.from('zz'));
    expect((await collect(store.list('x/'))).map((o) => o.key)).toEqual(['x/planted.bin', 'x/y/other.bin']);
    expect((await collect(store.list('x'))).map((o) => o.key)).toEqual([
      'x/planted.bin',
      'x/y/other.bin',
      'xx.bin',
    ]);
    await store.delete('x/planted.bin');
    await store.delete('x/planted.bin'); // twice: no error
    expect(await store.head('x/planted.bin')).toBeNull();
    await expect(store.source('x/planted.bin')).rejects.toThrow(/asset 'x\/planted.bin' not found/);
  });

  it('putFile of a 12 MiB file is a 3-part upload; an independent client reads back sha256sum-equal bytes', async () => {
    const file = join(tmp.dir, 'big.bin');
    writeFileSync(file, randomBytes(12 * MIB + 17));
    sent.length = 0;
    const put = await store.putFile('big/big.bin', file);
    expect(sent.filter((n) => n === 'UploadPartCommand')).toHaveLength(3);
    expect(sent).toContain('CompleteMultipartUploadCommand');
    expect(put.checksum).toBe(sha256sum(file));
    expect(put.sizeBytes).toBe(12 * MIB + 17);
    const other = new S3Client({ ...s3.settings, region: 'us-east-1' });
    const got = await other.send(new GetObjectCommand({ Bucket: 'sar', Key: 'prod/big/big.bin' }));
    const body = await got.Body?.transformToByteArray();
    other.destroy();
    expect(`1220${sha(body as Uint8Array)}`).toBe(sha256sum(file));
  });

  it('sweepTemporaries aborts the unfinished multipart uploads of killed puts under its prefix, not others', async () => {
    const c = store.client;
    const start = async (Key: string) =>
      (await c.send(new CreateMultipartUploadCommand({ Bucket: 'sar', Key }))).UploadId as string;
    const mine = await start('prod/killed/a.tif');
    const elsewhere = await start('other-prefix/b.tif');
    const open = async () =>
      ((await c.send(new ListMultipartUploadsCommand({ Bucket: 'sar' }))).Uploads ?? [])
        .map((u) => u.UploadId)
        .sort();
    expect(await open()).toEqual([mine, elsewhere].sort());
    // Younger than the limit: left alone (it may be a put still running).
    expect(await store.sweepTemporaries(3_600_000)).toBe(0);
    expect(await store.sweepTemporaries(0)).toBe(1);
    expect(await open()).toEqual([elsewhere]);
    await c.send(
      new AbortMultipartUploadCommand({ Bucket: 'sar', Key: 'other-prefix/b.tif', UploadId: elsewhere }),
    );
  });

  it("small reads are served from aligned blocks: the COG reader's reads cost a few requests", async () => {
    await store.putFile('scenes/a.tif', COG);
    const local = readFileSync(COG);
    const r = await store.source('scenes/a.tif');
    const before = store.reader.requests;
    // 200 reads of 1-64 bytes inside the first 256 KiB, as a TIFF header and IFD walk does.
    for (let i = 0; i < 200; i++) {
      const off = (i * 1297) % (256 * 1024 - 64);
      const len = 1 + (i % 64);
      expect(Buffer.from(await r.read(off, len)).equals(local.subarray(off, off + len))).toBe(true);
    }
    expect(store.reader.requests - before).toBe(1);
    // Concurrent reads of the same uncached block share one request.
    const b = store.reader.requests;
    const off = 2 * 256 * 1024 + 10;
    const all = await Promise.all([r.read(off, 8), r.read(off + 100, 8), r.read(off + 1000, 8)]);
    expect(store.reader.requests - b).toBe(1);
    expect(Buffer.from(all[2]).equals(local.subarray(off + 1000, off + 1008))).toBe(true);
  });

  it('a reader of a replaced object fails (409 StaleObject) rather than mix versions; a new reader sees the new bytes', async () => {
    await store.putBytes('swap.bin', Buffer.alloc(600_000, 1));
    const old = await store.source('swap.bin');
    expect((await old.read(0, 4))[0]).toBe(1);
    await store.putBytes('swap.bin', Buffer.alloc(600_000, 2));
    const err = await old.read(500_000, 4).catch((e) => e);
    expect(err).toBeInstanceOf(StaleObjectError);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toMatch(/s3:\/\/sar\/prod\/swap.bin was replaced while it was read/);
    expect((await (await store.source('swap.bin')).read(500_000, 4))[0]).toBe(2);
  });

  it('GDAL reads the COG the store put through /vsis3/: gdalinfo -stats equals that of the local file', async () => {
    await store.putFile('scenes/a.tif', COG);
    const [local, remote] = await Promise.all([gdalStats(COG), gdalStats('/vsis3/sar/prod/scenes/a.tif')]);
    expect(local.size).toEqual([SIZE, SIZE]);
    expect(local.overviews).toBeGreaterThan(0);
    expect(remote).toEqual(local);
  });
});

describe('S3 locations, settings and keys', () => {
  it.each([
    ['s3://', /names no bucket/],
    ['s3:///x', /names no bucket/],
    [
      's3://sar/../x',
      /^--store: 's3:\/\/sar\/..\/x': '..\/x' is not a plain relative path: it has a '..' segment/,
    ],
    ['s3://sar/a//b', /empty segment/],
    ['s3://sar/a/./b', /'.' segment/],
    ['s3://Sar_Bucket/x', /'Sar_Bucket' is not a bucket name/],
    ['s3://ab', /'ab' is not a bucket name/],
    ['s3://sar/a%2Fb', /'%'/],
    ['http://host/x', /has the scheme 'http:\/\/'/],
    ['file:///tmp/x', /give a directory path, not a file:\/\/ URL/],
    ['gs:bucket', /unknown scheme/],
    ['', /empty/],
  ])('location %j is refused: %s', (loc, msg) => {
    const err = (() => {
      try {
        parseStoreLocation(loc, '--store');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(/^--store: /);
    expect((err as Error).message).toMatch(msg);
  });

  it('good locations parse', () => {
    expect(parseStoreLocation('s3://sar')).toEqual({
      kind: 's3',
      bucket: 'sar',
      prefix: '',
      url: 's3://sar',
    });
    expect(parseStoreLocation('s3://sar/a/b/')).toEqual({
      kind: 's3',
      bucket: 'sar',
      prefix: 'a/b',
      url: 's3://sar/a/b',
    });
    expect(parseStoreLocation('./data')).toEqual({ kind: 'local', root: join(process.cwd(), 'data') });
  });

  it('a missing bucket, refused credentials and missing credentials are clear errors at open', async () => {
    await expect(openStore('s3://no-such-bucket/p', { s3: s3.settings })).rejects.toThrow(
      "store s3://no-such-bucket/p: the bucket 'no-such-bucket' does not exist",
    );
    await expect(
      openStore('s3://sar', {
        s3: { ...s3.settings, credentials: { accessKeyId: 'WRONG', secretAccessKey: 'x' } },
      }),
    ).rejects.toThrow(/store s3:\/\/sar: access to the bucket 'sar' is refused \(check the credentials\)/);
    await expect(openStore('s3://sar', { s3: { endpoint: s3.endpoint } })).rejects.toThrow(
      /store s3:\/\/sar: S3 credentials are required/,
    );
    await expect(
      openStore('s3://sar', { s3: { ...s3.settings, endpoint: 'localhost:9000' } }),
    ).rejects.toThrow(/s3.endpoint: expected http\(s\):\/\/host\[:port\], got 'localhost:9000'/);
    await expect(openStore('s3://sar', { s3: { ...s3.settings, partSizeBytes: 1000 } })).rejects.toThrow(
      /s3.partSizeBytes: expected a whole number >= 5242880, got 1000/,
    );
  });

  it.each([
    ['../x', /'..' segment/],
    ['a/../../x', /'..' segment/],
    ['/etc/passwd', /absolute path/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['./a', /'.' segment/],
    ['a%2Fb', /'%'/],
    ['C:/x', /Windows drive/],
    ['s3://sar/k', /URL scheme/],
    ['a\\b', /backslash/],
    ['a\u0000b', /control character U\+0000/],
    ['', /empty/],
    ['a/'.repeat(600), /more than 1024/],
  ])('key %j is refused by every operation: %s', async (key, msg) => {
    for (const op of [
      () => store.putBytes(key, new Uint8Array(1)),
      () => store.putFile(key, COG),
      () => store.head(key),
      () => store.source(key),
      () => store.delete(key),
    ]) {
      const err = await op().catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(/^key: /);
      expect(err.message).toMatch(msg);
    }
  });
});

// The server on an S3 store against the same server on the local folder: the same bytes.
describe('the server reading from the S3 store', () => {
  const NATO = (rel: string[]) => ({
    policy: 'NATO',
    classification: 'RESTRICTED',
    categories: [{ tagName: 'Releasable To', type: 'permissive', values: rel }],
  });
  const item = (id: string): StacItem => ({
    type: 'Feature',
    stac_version: '1.0.0',
    id,
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
    bbox: [3, 51, 3.1, 51.05],
    properties: { datetime: '2026-06-01T06:00:00Z', 'sarbridge:label': NATO(['GBR']) },
    links: [],
    assets: {
      data: { href: 'scenes/a.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized' },
    },
  });
  type Server = Awaited<ReturnType<typeof testServer>>;
  const servers: { local?: Server; s3?: Server } = {};
  const catalogs: SqliteCatalog[] = [];
  const gbr: Record<'local' | 's3', Record<string, string>> = { local: {}, s3: {} };
  const fra: Record<'local' | 's3', Record<string, string>> = { local: {}, s3: {} };
  let tiles: string[] = [];

  beforeAll(async () => {
    await store.putFile('scenes/a.tif', COG);
    for (const kind of ['local', 's3'] as const) {
      const cat = new SqliteCatalog(join(tmp.dir, `${kind}.db`));
      catalogs.push(cat);
      const srv =
        kind === 'local'
          ? await testServer(cat, { assetRoot: root, renderWorkers: 0 })
          : await testServer(cat, { assetStore: store, renderWorkers: 0 });
      servers[kind] = srv;
      const id = srv.access.services.identity;
      for (const org of ['gbr', 'fra']) {
        id.createOrganisation({
          id: org,
          kind: 'partner',
          codes: [org.toUpperCase()],
          clearance: [{ policy: 'NATO', classification: 'SECRET' }],
          caveats: [],
        });
        id.createPrincipal(org, 'user', { id: `${org}-analyst`, roles: ['partner-analyst'] });
      }
      gbr[kind] = { authorization: `Bearer ${id.createKey('user:gbr-analyst').key}` };
      fra[kind] = { authorization: `Bearer ${id.createKey('user:fra-analyst').key}` };
      const post = (url: string, payload: object) =>
        srv.app.inject({ method: 'POST', url, payload, headers: srv.admin });
      let r = await post('/collections', {
        ...syntheticCollection('sar'),
        'sarbridge:label': NATO(['GBR', 'FRA']),
      });
      expect(r.statusCode, r.body).toBe(201);
      r = await post('/collections/sar/items', item('scene-a'));
      expect(r.statusCode, r.body).toBe(201);
    }
    // Zoom 13 to 15 tiles around the scene's centre (UTM 31N, 10 m pixels from 500000, 5650000).
    const [lon, lat] = transformPoint(32631, 4326, 500000 + SIZE * 5, 5650000 - SIZE * 5);
    tiles = [13, 14, 15].flatMap((z) => {
      const [x, y] = webMercatorTileAt(lon, lat, z);
      return [`${z}/${x}/${y}`, `${z}/${x + 1}/${y}`];
    });
  });
  afterAll(async () => {
    for (const s of Object.values(servers)) await s?.close();
    for (const c of catalogs) await c.close();
  });

  const get = (kind: 'local' | 's3', url: string, headers: Record<string, string>) =>
    (servers[kind] as Server).app.inject({ url, headers });
  const ASSET = '/collections/sar/items/scene-a/assets/data';

  it("the item's file:size and file:checksum are the file's (from the S3 object's metadata, and hashed locally)", async () => {
    for (const kind of ['local', 's3'] as const) {
      const it = (await get(kind, '/collections/sar/items/scene-a', gbr[kind])).json();
      expect(it.assets.data['file:checksum'], kind).toBe(sha256sum(COG));
      expect(it.assets.data['file:size'], kind).toBe(readFileSync(COG).length);
    }
  });

  it('asset bytes, whole and ranged, equal the local server and the file; ETag, 304 and 416 work the same', async () => {
    const file = readFileSync(COG);
    const head = await store.head('scenes/a.tif');
    for (const range of [
      undefined,
      'bytes=0-15',
      'bytes=1000-300000',
      `bytes=${file.length - 10}-`,
      'bytes=-100',
    ]) {
      const h: Record<string, string> = range ? { range } : {};
      const [a, b] = [
        await get('local', ASSET, { ...gbr.local, ...h }),
        await get('s3', ASSET, { ...gbr.s3, ...h }),
      ];
      expect(b.statusCode, range).toBe(range ? 206 : 200);
      expect(b.statusCode).toBe(a.statusCode);
      expect(b.rawPayload.equals(a.rawPayload), range).toBe(true);
      expect(b.headers['content-range']).toBe(a.headers['content-range']);
      expect(b.headers['content-length']).toBe(a.headers['content-length']);
      expect(b.headers['accept-ranges']).toBe('bytes');
      expect(b.headers.etag).toBe(head?.etag);
    }
    const whole = await get('s3', ASSET, gbr.s3);
    expect(whole.rawPayload.equals(file)).toBe(true);
    expect((await get('s3', ASSET, { ...gbr.s3, 'if-none-match': String(head?.etag) })).statusCode).toBe(304);
    const past = await get('s3', ASSET, { ...gbr.s3, range: `bytes=${file.length}-` });
    expect(past.statusCode).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${file.length}`);
    // If-Range with another ETag: the whole asset, not the range.
    const ifRange = await get('s3', ASSET, { ...gbr.s3, range: 'bytes=0-9', 'if-range': '"other"' });
    expect(ifRange.statusCode).toBe(200);
    expect(ifRange.rawPayload.length).toBe(file.length);
  });

  it('tiles rendered from the S3 store are byte-equal to those from the local files', async () => {
    for (const t of tiles) {
      const url = `/tiles/sar/scene-a/data/WebMercatorQuad/${t}.png`;
      const [a, b] = [await get('local', url, gbr.local), await get('s3', url, gbr.s3)];
      expect(a.statusCode, t).toBe(200);
      expect(b.statusCode, t).toBe(200);
      expect(b.rawPayload.equals(a.rawPayload), t).toBe(true);
    }
    const pt = transformPoint(32631, 4326, 500000 + 105, 5650000 - 105);
    const url = `/collections/sar/items/scene-a/point/${pt.join(',')}`;
    expect((await get('s3', url, gbr.s3)).json()).toEqual((await get('local', url, gbr.local)).json());
  });

  it('a partner the item is not released to gets the 404 of a missing item, and no request reaches S3', async () => {
    sent.length = 0;
    for (const url of [ASSET, `/tiles/sar/scene-a/data/WebMercatorQuad/${tiles[0]}.png`]) {
      const r = await get('s3', url, fra.s3);
      expect(r.statusCode, url).toBe(404);
      expect(r.json(), url).toEqual({
        code: 'NotFound',
        description: "item 'scene-a' does not exist in collection 'sar'",
      });
      expect(r.json()).toEqual((await get('local', url, fra.local)).json());
    }
    expect(sent).toEqual([]);
  });

  it("an asset whose object is missing is 404 naming the asset, as the local store's missing file", async () => {
    await servers.s3?.app.inject({
      method: 'POST',
      url: '/collections/sar/items',
      payload: { ...item('gone'), assets: { data: { href: 'scenes/gone.tif', type: 'image/tiff' } } },
      headers: servers.s3.admin,
    });
    const r = await get('s3', '/collections/sar/items/gone/assets/data', gbr.s3);
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ code: 'NotFound', description: "asset 'scenes/gone.tif' not found" });
  });

  it('a download the client drops half-way leaves the server serving: the next download is whole', async () => {
    const bytes = randomBytes(8 * MIB);
    await store.putBytes('big/drop.bin', bytes);
    const srv = servers.s3 as Server;
    await srv.app.inject({
      method: 'POST',
      url: '/collections/sar/items',
      payload: {
        ...item('drop'),
        assets: { data: { href: 'big/drop.bin', type: 'application/octet-stream' } },
      },
      headers: srv.admin,
    });
    const base = await srv.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `${base}/collections/sar/items/drop/assets/data`;
    const ac = new AbortController();
    const res = await fetch(url, { headers: gbr.s3, signal: ac.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(first.value?.length).toBeGreaterThan(0);
    ac.abort();
    await reader.read().catch(() => undefined);
    const whole = await fetch(url, { headers: gbr.s3 });
    expect(whole.status).toBe(200);
    expect(sha(new Uint8Array(await whole.arrayBuffer()))).toBe(sha(bytes));
  });
});
