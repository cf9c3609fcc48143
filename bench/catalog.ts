import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { testAccess } from '../src/access/testing.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { buildServer } from '../src/server/app.js';
import { mulberry32 } from '../src/util/random.js';
import { benchDir, fmt, median } from './util.js';

const N = Number(process.env.SARBRIDGE_BENCH_ITEMS ?? 1_000_000);
const BATCH = 5000;
const QUERIES = 60;

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

async function run(name: string, store: CatalogStore): Promise<string[]> {
  await store.putCollection(syntheticCollection('bench'), 'create');
  const t0 = performance.now();
  let batch: StacItem[] = [];
  for (const it of syntheticItems(N, 1, 'bench')) {
    batch.push(it);
    if (batch.length === BATCH) {
      await store.putItems('bench', batch, 'create');
      batch = [];
    }
  }
  if (batch.length) await store.putItems('bench', batch, 'create');
  const loadS = (performance.now() - t0) / 1000;
  console.log(`${name}: loaded ${N} items in ${fmt(loadS, 1)} s (${fmt(N / loadS, 0)} items/s)`);
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
  const seen = new Set<string>();
  const tp = performance.now();
  while (body && seen.size < 10_000) {
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
  await app.close();
  console.log(
    `${name}: search p50 ${fmt(percentile(per, 50), 1)} ms, p95 ${fmt(percentile(per, 95), 1)} ms over ${QUERIES} queries (${returned} items returned); paging ${seen.size} results in ${pageTimes.length} pages: ${fmt(pagingS, 2)} s, page p95 ${fmt(percentile(pageTimes, 95), 1)} ms`,
  );
  return [
    name,
    `${fmt(N / loadS, 0)} items/s (${fmt(loadS, 0)} s)`,
    `${fmt(percentile(per, 50), 1)} ms`,
    `**${fmt(percentile(per, 95), 1)} ms**`,
    `${seen.size} in ${fmt(pagingS, 2)} s (page p95 ${fmt(percentile(pageTimes, 95), 1)} ms)`,
  ];
}

function startPostgres(): { url: string; stop: () => void } {
  const line = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' }).trim().split('\n')[0];
  const [version, name, port, status] = line.trim().split(/\s+/);
  const started = status !== 'online';
  if (started) execFileSync('pg_ctlcluster', [version, name, 'start']);
  execFileSync('runuser', [
    '-u',
    'postgres',
    '--',
    'psql',
    '-qc',
    "ALTER USER postgres PASSWORD 'sarbridge-bench'",
  ]);
  return {
    url: `postgres://postgres:sarbridge-bench@127.0.0.1:${port}/postgres`,
    stop: () => {
      if (started) execFileSync('pg_ctlcluster', [version, name, 'stop']);
    },
  };
}

/** `npm run bench -- catalog`: 1,000,000 synthetic SAR items in SQLite and in PostGIS: load rate, search latency, paging. */
export async function benchCatalog(): Promise<void> {
  const dir = benchDir('catalog');
  const rows: string[][] = [];
  const dbPath = join(dir, 'catalog.db');
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) rmSync(f, { force: true });
  const lite = new SqliteCatalog(dbPath);
  rows.push(await run('SQLite', lite));
  await lite.close();
  const server = startPostgres();
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS sarbridge_bench WITH (FORCE)');
    await admin.query('CREATE DATABASE sarbridge_bench');
    await admin.end();
    const store = new PostgresCatalog(server.url.replace(/\/postgres$/, '/sarbridge_bench'));
    rows.push(await run('PostgreSQL/PostGIS', store));
    await store.close();
  } finally {
    server.stop();
  }
  console.log('\n| backend | bulk load | search p50 | search p95 | paging 10,000 results |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}
