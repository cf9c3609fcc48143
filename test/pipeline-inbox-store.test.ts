import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelRules } from '../src/access/labels.js';
import { ALL } from '../src/access/scope.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { openQueue } from '../src/jobs/index.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { PipelineContext } from '../src/pipeline/context.js';
import { inboxPrefix, manifestKey, readManifest, storeInbox } from '../src/pipeline/inbox.js';
import { ingest } from '../src/pipeline/ingest.js';
import { openRegistry } from '../src/pipeline/open-registry.js';
import { startWorkers } from '../src/pipeline/worker.js';
import { type AssetStore, openStore } from '../src/store/store.js';
import { startCephRgw } from './helpers/ceph-rgw.js';
import { SICD_CHIP } from './helpers/data.js';
import { tempDir } from './helpers/gdal.js';
import { testQueueLocation } from './helpers/pipeline.js';
import { freshDatabase } from './helpers/postgres.js';

const tmp = tempDir('pipeline-inbox-store-');
let safeDir = '';
let sicdPath = '';
let landPath = '';
let s3: Awaited<ReturnType<typeof startCephRgw>> | null = null;
afterAll(async () => {
  await s3?.close();
  tmp.cleanup();
});

beforeAll(async () => {
  const r = await simulateScene(join(tmp.dir, 'scene'), {
    seed: 11,
    size: 256,
    ships: 4,
    safe: true,
    sicdTemplate: SICD_CHIP,
  });
  landPath = r.landPath;
  safeDir = r.scenes[0].safe?.safeDir as string;
  sicdPath = r.scenes[0].sicd?.path as string;
}, 120_000);

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every file under `dir`: relative path ('/' separators) to SHA-256. */
function treeSums(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p).split(sep).join('/'), sha256(readFileSync(p)));
    }
  };
  walk(dir);
  return out;
}

async function objectBytes(store: AssetStore, key: string): Promise<Buffer> {
  const r = await store.source(key);
  const chunks: Buffer[] = [];
  for await (const c of r.stream(null)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function keys(store: AssetStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out.sort();
}

/** Where the machines' shared state is. */
interface Shared {
  /** SQLite: the folder of the shared registry, catalog and queue files; PostgreSQL: unused. */
  dir: string;
  db: string;
  queue: string;
  store: () => Promise<AssetStore>;
}

/** One "machine": its own data dir and its own connections to the shared queue, registry, catalog and store. */
async function machine(dataDir: string, s: Shared, log: string[]) {
  mkdirSync(dataDir, { recursive: true });
  const pgUrl = s.db.startsWith('postgres') ? s.db : null;
  const registry = await openRegistry({ dataDir: pgUrl ? dataDir : s.dir, db: s.db });
  const catalog = pgUrl ? new PostgresCatalog(pgUrl) : new SqliteCatalog(s.db);
  const store = await s.store();
  const queue = await openQueue(s.queue, { leaseMs: 30_000, sqlite: { pollIntervalMs: 50 } });
  const ctx: PipelineContext = {
    dataDir,
    registry,
    catalog,
    store,
    queue,
    rules: new LabelRules(),
    landMask: landPath,
    backoff: { delayMs: 200, maxDelayMs: 2000, jitter: 0.2 },
    log: (l) => log.push(l),
  };
  const close = async () => {
    await queue.close();
    await store.close();
    await catalog.close();
    await registry.close();
  };
  return { ctx, close };
}

async function twoMachines(s: Shared, name: string, localRoot?: string) {
  const logA: string[] = [];
  const logB: string[] = [];
  const a = await machine(join(tmp.dir, name, 'machine-a'), s, logA);
  const b = await machine(join(tmp.dir, name, 'machine-b'), s, logB);
  try {
    const arrived = await ingest(a.ctx, [safeDir, sicdPath]);
    expect(arrived.map((r) => [r.added, r.error])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
    const [safeId, sicdId] = arrived.map((r) => r.id as string);
    // The store holds every file of each arrival under inbox/<id>/, and a manifest of them whose
    // sizes and checksums are those of the delivered files.
    const expected = new Map<string, Map<string, string>>([
      [safeId, new Map([...treeSums(safeDir)].map(([k, v]) => [`${basename(safeDir)}/${k}`, v]))],
      [sicdId, new Map([[basename(sicdPath), sha256(readFileSync(sicdPath))]])],
    ]);
    for (const [id, files] of expected) {
      const m = await readManifest(a.ctx, id);
      expect(m?.product).toBe(id === safeId ? basename(safeDir) : basename(sicdPath));
      expect(new Map(m?.files.map((f) => [f.path, f.sha256]))).toEqual(files);
      expect(await keys(a.ctx.store, inboxPrefix(id))).toEqual(
        [...files.keys(), 'manifest.json'].map((k) => `${inboxPrefix(id)}${k}`).sort(),
      );
      for (const f of m?.files ?? []) {
        const bytes = await objectBytes(a.ctx.store, `${inboxPrefix(id)}${f.path}`);
        expect([bytes.length, sha256(bytes)]).toEqual([f.sizeBytes, files.get(f.path)]);
      }
    }
    const inboxKeys = await keys(a.ctx.store, 'inbox/');
    const manifestTag = (await a.ctx.store.head(manifestKey(safeId)))?.etag;
    // The same products again add nothing, in the registry or the store.
    const again = await ingest(a.ctx, [safeDir, sicdPath]);
    expect(again.map((r) => r.added)).toEqual([false, false]);
    expect(await keys(a.ctx.store, 'inbox/')).toEqual(inboxKeys);
    expect((await a.ctx.store.head(manifestKey(safeId)))?.etag).toBe(manifestTag);
    // A killed ingest's half-stored copy (a file and the manifest missing) is completed: the one file put.
    const someFile = `${inboxPrefix(safeId)}${basename(safeDir)}/manifest.safe`;
    await a.ctx.store.delete(someFile);
    await a.ctx.store.delete(manifestKey(safeId));
    expect(await storeInbox(a.ctx, safeId, basename(safeDir))).toBe(1);
    expect(await keys(a.ctx.store, 'inbox/')).toEqual(inboxKeys);

    // A killed put's temporary file two hours old and one a minute old, in a local store: the
    // workers' sweep at start removes the first only.
    const stale = localRoot && join(localRoot, 'inbox', `.killed.tif.${'a'.repeat(16)}.partial`);
    const fresh = localRoot && join(localRoot, 'inbox', `.running.tif.${'b'.repeat(16)}.partial`);
    if (stale && fresh) {
      writeFileSync(stale, 'part');
      writeFileSync(fresh, 'part');
      utimesSync(stale, new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));
      utimesSync(fresh, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    }
    // Only machine B works.
    const workers = await startWorkers(b.ctx.queue, b.ctx, { concurrency: 2 });
    await b.ctx.queue.drained({ timeoutMs: 120_000 });
    await workers.close();
    expect(logB.filter((l) => l.startsWith('store: '))).toEqual([
      `store: ${stale ? 1 : 0} temporaries of killed puts older than 3600000 ms removed`,
    ]);
    if (stale && fresh) expect([existsSync(stale), existsSync(fresh)]).toEqual([false, true]);
    for (const id of [safeId, sicdId]) {
      const p = await b.ctx.registry.get(id);
      expect([p?.state, p?.error], JSON.stringify(logB)).toEqual(['published', null]);
      // B's data dir got the arrival copy, byte for byte; A did no step's work.
      const got = treeSums(join(b.ctx.dataDir, 'inbox', id));
      expect(got).toEqual(expected.get(id));
    }
    expect(logB.filter((l) => l.includes('arrival copy downloaded'))).toHaveLength(2);
    expect(existsSync(join(a.ctx.dataDir, 'work'))).toBe(false);
    // The items' assets are in the store with the sizes and checksums the items give.
    const page = await b.ctx.catalog.search({ collections: ['sar'], sortby: [], limit: 100 }, ALL);
    expect(page.items.map((i) => i.properties['sarbridge:product_id']).sort()).toEqual(
      [safeId, sicdId].sort(),
    );
    for (const item of page.items)
      for (const [name, asset] of Object.entries(item.assets)) {
        const bytes = await objectBytes(b.ctx.store, asset.href as string);
        expect([name, bytes.length, `1220${sha256(bytes)}`]).toEqual([
          name,
          asset['file:size'],
          asset['file:checksum'],
        ]);
      }
    expect(page.items.every((i) => Object.keys(i.assets).length >= 3)).toBe(true);
  } finally {
    await a.close();
    await b.close();
  }
}

describe('a product ingested on machine A is processed by workers on machine B (arrival copy in the store)', () => {
  it('SQLite queue, registry and catalog, local-folder store shared', async () => {
    const dir = join(tmp.dir, 'shared-sqlite');
    mkdirSync(dir, { recursive: true });
    await twoMachines(
      {
        dir,
        db: join(dir, 'catalog.db'),
        queue: join(dir, 'queue.db'),
        store: () => openStore(join(dir, 'assets'), { createRoot: true }),
      },
      'sqlite',
      join(dir, 'assets'),
    );
  }, 120_000);

  it('Redis queue, PostgreSQL registry and catalog, S3 store (Ceph RADOS Gateway)', async () => {
    s3 = await startCephRgw(['sar']);
    const settings = s3.settings;
    const dir = join(tmp.dir, 'shared-pg');
    mkdirSync(dir, { recursive: true });
    const pgDb = await freshDatabase();
    try {
      await twoMachines(
        {
          dir,
          db: pgDb.url,
          queue: await testQueueLocation('redis', dir, 7),
          store: () => openStore('s3://sar/inbox-test', { s3: settings }),
        },
        'pg',
      );
    } finally {
      await pgDb.drop();
    }
  }, 150_000);
});
