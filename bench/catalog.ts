import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { testAccess } from '../src/access/testing.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../src/catalog/store.js';
import { SummaryDeltas } from '../src/catalog/summaries.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { buildServer } from '../src/server/app.js';
import { mulberry32 } from '../src/util/random.js';
import { benchDir, fmt, median } from './util.js';

const N = Number(process.env.SARBRIDGE_BENCH_ITEMS ?? 1_000_000);
/** Items per catalog in the load comparison with and without summary maintenance. */
const COMPARE = Number(process.env.SARBRIDGE_BENCH_COMPARE_ITEMS ?? 30_000);
/** Which stores to run: sqlite, postgres or both (default). */
const STORES = (process.env.SARBRIDGE_BENCH_STORES ?? 'sqlite,postgres').split(',');
const BATCH = 5000;
const QUERIES = 60;

/** The 1-minute load average (2 cores, shared with other engineers' runs). */
const load = () => `load average ${loadavg()[0].toFixed(1)}`;

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** The fixed seeded queries: a 10 x 10 degree box, 30-90 days, a CQL2 property filter, newest first, 100 a page. */
export function queries(): Record<string, unknown>[] {
  const rand = mulberry32(4242);
  const modes = ['IW', 'EW', 'SM', 'STRIPMAP'];
  const t0 = Date.parse('2023-01-01T00:00:00Z');
  return Array.from({ length: QUERIES }, () => {
    const w = -180 + rand() * 350;
    const s = -70 + rand() * 130;
    const start = t0 + rand() * (3 * 365 - 90) * 86_400_000;
    const days = 30 + rand() * 60;
    return {
      bbox: [w, s, w + 10, s + 10].map((v) => Number(v.toFixed(3))),
      datetime: `${new Date(start).toISOString()}/${new Date(start + days * 86_400_000).toISOString()}`,
      filter: `"sar:instrument_mode" = '${modes[Math.floor(rand() * modes.length)]}' AND "sat:orbit_state" = '${rand() < 0.5 ? 'ascending' : 'descending'}'`,
      'filter-lang': 'cql2-text',
      sortby: [{ field: 'datetime', direction: 'desc' }],
      limit: 100,
    };
  });
}

/** How a backend opens a store: on the benchmark's catalog (optionally with counting off) or on a new one. */
interface Backend {
  name: string;
  open(opts?: { countLimit?: number }): Promise<CatalogStore>;
  /** A store on a new, empty catalog (the load comparison), and how to throw it away. */
  scratch(k: number): Promise<{ store: CatalogStore; drop: () => Promise<void> }>;
}

async function loadItems(store: CatalogStore, n: number, seed: number): Promise<number> {
  await store.putCollection(syntheticCollection('bench'), 'create');
  const t0 = performance.now();
  let batch: StacItem[] = [];
  for (const it of syntheticItems(n, seed, 'bench')) {
    batch.push(it);
    if (batch.length === BATCH) {
      await store.putItems('bench', batch, 'create');
      batch = [];
    }
  }
  if (batch.length) await store.putItems('bench', batch, 'create');
  return (performance.now() - t0) / 1000;
}

/**
 * A store that writes no summary rows (the load comparison only: its summaries are wrong). The
 * stores write a batch's summary changes in one private method; it is replaced on this instance.
 */
function withoutSummaries(store: CatalogStore): CatalogStore {
  const method = (Object.getPrototypeOf(store) as Record<string, unknown>).writeSummary;
  if (typeof method !== 'function') throw new Error('the store has no writeSummary method to turn off');
  Object.defineProperty(store, 'writeSummary', { value: () => undefined });
  return store;
}

const p50p95 = (xs: number[]) => `${fmt(percentile(xs, 50), 1)} / ${fmt(percentile(xs, 95), 1)} ms`;

async function run(backend: Backend): Promise<{ row: string[]; cost: string[][] }> {
  const name = backend.name;
  const store = await backend.open();
  const loadS = await loadItems(store, N, 1);
  console.log(`${name}: loaded ${N} items in ${fmt(loadS, 1)} s (${fmt(N / loadS, 0)} items/s; ${load()})`);
  const access = testAccess();
  const app = await buildServer({ store, maxLimit: 10_000, access: access.services });
  const headers = { authorization: `Bearer ${access.adminKey}` };
  const qs = queries();
  // One warm-up pass (caches, query plans), then three timed passes; each query's median.
  const times: number[][] = qs.map(() => []);
  let returned = 0;
  for (let pass = 0; pass < 4; pass++)
    for (let i = 0; i < qs.length; i++) {
      const t = performance.now();
      const r = await app.inject({ method: 'POST', url: '/search', payload: qs[i], headers });
      if (r.statusCode !== 200) throw new Error(`${name}: query ${i} failed: ${r.body}`);
      if (pass > 0) times[i].push(performance.now() - t);
      if (pass === 1) returned += r.json().features.length;
    }
  const per = times.map(median);
  // Paging through 10,000 results of a broad search (one year, one mode), 100 a page, by the next links.
  let body: Record<string, unknown> | null = {
    datetime: '2024-01-01T00:00:00Z/2024-12-31T23:59:59Z',
    filter: '"sar:instrument_mode" = \'IW\'',
    limit: 100,
  };
  const pageTimes: number[] = [];
  const pageBodies: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const tp = performance.now();
  while (body && seen.size < 10_000) {
    pageBodies.push(body);
    const t = performance.now();
    const r: {
      json(): { features: { id: string }[]; links: { rel: string; body?: Record<string, unknown> }[] };
    } = await app.inject({ method: 'POST', url: '/search', payload: body, headers });
    pageTimes.push(performance.now() - t);
    const doc = r.json();
    for (const f of doc.features) seen.add(f.id);
    body = doc.links.find((l: { rel: string }) => l.rel === 'next')?.body ?? null;
  }
  const pagingS = (performance.now() - tp) / 1000;
  const cost = await issue12Cost(backend, app, headers, qs, pageBodies);
  await app.close();
  await store.close();
  access.close();
  console.log(
    `${name}: search p50 ${fmt(percentile(per, 50), 1)} ms, p95 ${fmt(percentile(per, 95), 1)} ms over ${QUERIES} queries (${returned} items returned); paging ${seen.size} results in ${pageTimes.length} pages: ${fmt(pagingS, 2)} s, page p95 ${fmt(percentile(pageTimes, 95), 1)} ms; ${load()}`,
  );
  return {
    row: [
      name,
      `${fmt(N / loadS, 0)} items/s (${fmt(loadS, 0)} s)`,
      `${fmt(percentile(per, 50), 1)} ms`,
      `**${fmt(percentile(per, 95), 1)} ms**`,
      `${seen.size} in ${fmt(pagingS, 2)} s (page p95 ${fmt(percentile(pageTimes, 95), 1)} ms)`,
    ],
    cost,
  };
}

const PASSES = 5;

/**
 * What issue 12 added, on the loaded catalog: each search and each page of the paging run with the
 * numberMatched count and without it (a second store on the same catalog with counting off; the two
 * alternate request by request, so load drifts touch both alike; one warm-up pass, then each
 * request's median of PASSES), GET /collections/{id} with its summaries (median and p95 of 21), and
 * the load rate with and without summary maintenance (PASSES rounds of COMPARE items into new
 * catalogs, alternating; medians).
 */
async function issue12Cost(
  backend: Backend,
  app: Awaited<ReturnType<typeof buildServer>>,
  headers: Record<string, string>,
  qs: Record<string, unknown>[],
  pageBodies: Record<string, unknown>[],
): Promise<string[][]> {
  const name = backend.name;
  const plain = await backend.open({ countLimit: 0 });
  const access = testAccess();
  const noCount = await buildServer({ store: plain, maxLimit: 10_000, access: access.services });
  const plainHeaders = { authorization: `Bearer ${access.adminKey}` };
  const timePair = async (bodies: Record<string, unknown>[]) => {
    const w: number[][] = bodies.map(() => []);
    const wo: number[][] = bodies.map(() => []);
    for (let pass = 0; pass <= PASSES; pass++)
      for (const [i, body] of bodies.entries())
        for (const [a, h, out] of [
          [app, headers, w],
          [noCount, plainHeaders, wo],
        ] as const) {
          const t = performance.now();
          const r = await a.inject({ method: 'POST', url: '/search', payload: body, headers: h });
          if (r.statusCode !== 200) throw new Error(`${name}: search failed: ${r.body}`);
          if (pass > 0) out[i].push(performance.now() - t);
        }
    return [w.map(median), wo.map(median)];
  };
  const [qWith, qWithout] = await timePair(qs);
  const [pWith, pWithout] = await timePair(pageBodies);
  await noCount.close();
  await plain.close();
  access.close();
  const coll: number[] = [];
  for (let i = 0; i < 22; i++) {
    const t = performance.now();
    const r = await app.inject({ method: 'GET', url: '/collections/bench', headers });
    if (r.statusCode !== 200 || !r.json().summaries) throw new Error(`${name}: collection failed: ${r.body}`);
    if (i > 0) coll.push(performance.now() - t);
  }
  const rates: [number[], number[]] = [[], []];
  for (let k = 0; k < PASSES; k++)
    for (const off of [false, true]) {
      const s = await backend.scratch(2 * k + (off ? 1 : 0));
      try {
        const secs = await loadItems(off ? withoutSummaries(s.store) : s.store, COMPARE, 7 + k);
        rates[off ? 1 : 0].push(COMPARE / secs);
      } finally {
        await s.store.close();
        await s.drop();
      }
    }
  const [rw, rwo] = rates.map(median);
  // The part a store without summary writes still does: adding a batch's changes up in memory.
  const batch = [...syntheticItems(BATCH, 11, 'bench')];
  const adding: number[] = [];
  for (let k = 0; k < PASSES; k++) {
    const t = performance.now();
    const d = new SummaryDeltas();
    for (const it of batch)
      d.addItem('bench', { properties: it.properties, assets: it.assets, labelId: null, releaseMs: 0 }, 1);
    d.list();
    adding.push(performance.now() - t);
  }
  const lines = [
    `${name}: 60 searches with / without numberMatched p50/p95: ${p50p95(qWith)} vs ${p50p95(qWithout)}`,
    `${name}: ${pageBodies.length} paging pages with / without numberMatched p50/p95: ${p50p95(pWith)} vs ${p50p95(pWithout)}`,
    `${name}: GET /collections/bench (summaries of ${N} items) median ${fmt(median(coll), 1)} ms, p95 ${fmt(percentile(coll, 95), 1)} ms`,
    `${name}: load of ${COMPARE} items with / without summary maintenance: ${fmt(rw, 0)} vs ${fmt(rwo, 0)} items/s (medians of ${PASSES}: ${rates[0].map((r) => fmt(r, 0)).join(', ')} / ${rates[1].map((r) => fmt(r, 0)).join(', ')}); ${load()}`,
  ];
  lines.push(
    `${name}: adding up a batch of ${BATCH} items' summary changes in memory: median ${fmt(median(adding), 1)} ms`,
  );
  for (const l of lines) console.log(l);
  return [
    [
      name,
      '60 searches, p50 / p95',
      p50p95(qWith),
      p50p95(qWithout),
      fmt(percentile(qWith, 95) / percentile(qWithout, 95), 2),
    ],
    [
      name,
      `${pageBodies.length} paging pages, p50 / p95`,
      p50p95(pWith),
      p50p95(pWithout),
      fmt(percentile(pWith, 95) / percentile(pWithout, 95), 2),
    ],
    [
      name,
      `load of ${COMPARE} items (median of ${PASSES})`,
      `${fmt(rw, 0)} items/s`,
      `${fmt(rwo, 0)} items/s`,
      fmt(rw / rwo, 2),
    ],
    [
      name,
      `adding up ${BATCH} items' summary changes in memory (median of ${PASSES}; in both loads)`,
      `${fmt(median(adding), 1)} ms`,
      '-',
      '-',
    ],
    [
      name,
      'GET /collections/bench (summaries), median / p95 of 21',
      `${fmt(median(coll), 1)} / ${fmt(percentile(coll, 95), 1)} ms`,
      '-',
      '-',
    ],
  ];
}

const PG_PORT = 5498;
const PG_DIR = '/tmp/sarbridge-bench-pg-catalog';

/**
 * A private PostgreSQL cluster of our own (initdb, default settings as Debian's cluster), started and
 * stopped by the benchmark: the shared cluster belongs to the test runs and their password.
 */
function startPostgres(): { url: string; stop: () => void } {
  const bin = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  const asPg = (cmd: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8' });
  if (!existsSync(join(PG_DIR, 'PG_VERSION'))) {
    mkdirSync(PG_DIR, { recursive: true });
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(PG_DIR, uid, gid);
    asPg('initdb', ['-D', PG_DIR, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale', 'C.UTF-8']);
  }
  let running = true;
  try {
    asPg('pg_ctl', ['-D', PG_DIR, 'status']);
  } catch {
    running = false;
  }
  const opts = `-p ${PG_PORT} -k ${PG_DIR} -c listen_addresses=127.0.0.1`;
  if (!running) asPg('pg_ctl', ['-D', PG_DIR, '-o', opts, '-l', join(PG_DIR, 'log'), '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${PG_PORT}/postgres`,
    stop: () => {
      if (!running) asPg('pg_ctl', ['-D', PG_DIR, '-m', 'fast', '-w', 'stop']);
    },
  };
}

/** `npm run bench -- catalog`: 1,000,000 synthetic SAR items in SQLite and in PostGIS: load rate, search latency, paging, and the cost of issue 12's summaries and counts. */
export async function benchCatalog(): Promise<void> {
  const dir = benchDir('catalog');
  const rows: string[][] = [];
  const costs: string[][] = [];
  const fresh = (path: string) => {
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
  };
  if (STORES.includes('sqlite')) {
    const dbPath = join(dir, 'catalog.db');
    fresh(dbPath);
    const r = await run({
      name: 'SQLite',
      open: async (opts) => new SqliteCatalog(dbPath, opts),
      scratch: async (k) => {
        const path = join(dir, `scratch-${k}.db`);
        fresh(path);
        return { store: new SqliteCatalog(path), drop: async () => fresh(path) };
      },
    });
    rows.push(r.row);
    costs.push(...r.cost);
  }
  if (STORES.includes('postgres')) {
    const server = startPostgres();
    const admin = async (sql: string) => {
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      await c.query(sql);
      await c.end();
    };
    const dbUrl = (db: string) => server.url.replace(/\/postgres$/, `/${db}`);
    try {
      await admin('DROP DATABASE IF EXISTS sarbridge_bench WITH (FORCE)');
      await admin('CREATE DATABASE sarbridge_bench');
      const r = await run({
        name: 'PostgreSQL/PostGIS',
        open: async (opts) => new PostgresCatalog(dbUrl('sarbridge_bench'), opts),
        scratch: async (k) => {
          const db = `sarbridge_bench_scratch_${k}`;
          await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
          await admin(`CREATE DATABASE ${db}`);
          return {
            store: new PostgresCatalog(dbUrl(db)),
            drop: () => admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`),
          };
        },
      });
      rows.push(r.row);
      costs.push(...r.cost);
    } finally {
      server.stop();
    }
  }
  console.log('\n| backend | bulk load | search p50 | search p95 | paging 10,000 results |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('\n| backend | what issue 12 added | with | without | with / without |');
  console.log('|---|---|---|---|---|');
  for (const r of costs) console.log(`| ${r.join(' | ')} |`);
}
