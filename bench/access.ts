import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { type ConfidentialityLabel, LABEL_FIELD, RELEASE_FIELD } from '../src/access/labels.js';
import { type Principal, type Scope, scopeOf } from '../src/access/scope.js';
import { testAccess } from '../src/access/testing.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { parseSearch } from '../src/catalog/search-params.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../src/catalog/store.js';
import { syntheticCollection, syntheticItems } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { buildServer } from '../src/server/app.js';
import { mulberry32 } from '../src/util/random.js';
import { benchAuditAppend } from './access-audit.js';
import { percentile, queries } from './catalog.js';
import { benchDir, fmt, median } from './util.js';

const N = Number(process.env.SARBRIDGE_BENCH_ITEMS ?? 1_000_000);
/** `sqlite,postgres` (default both). */
const STORES = (process.env.SARBRIDGE_BENCH_STORES ?? 'sqlite,postgres').split(',');
/** `search,auth,audit` (default all three). */
const PARTS = (process.env.SARBRIDGE_BENCH_PARTS ?? 'search,auth,audit').split(',');
/** Keep a loaded catalog of the same size from an earlier run (to try an index or a rewrite). */
const REUSE = process.env.SARBRIDGE_BENCH_REUSE === '1';
const BATCH = 5000;
const PASSES = 5;
const AUTH_CALLS = 20_000;
const REQUEST_CALLS = 5_000;
const PG_PORT = 5499;
const PG_DIR = '/tmp/sarbridge-bench-pg';

/** Releasability codes of the five partners (each also holds NATO), clearance and caveats. */
const PARTNERS = [
  { id: 'gbr', code: 'GBR', classification: 'SECRET', caveats: ['MARITIME'] },
  { id: 'fra', code: 'FRA', classification: 'SECRET', caveats: [] },
  { id: 'deu', code: 'DEU', classification: 'CONFIDENTIAL', caveats: ['MARITIME'] },
  { id: 'nld', code: 'NLD', classification: 'CONFIDENTIAL', caveats: [] },
  { id: 'nor', code: 'NOR', classification: 'RESTRICTED', caveats: [] },
];
const CLASSES = ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET'];
const CODES = PARTNERS.map((p) => p.code);

const label = (classification: string, codes: string[], caveats: string[] = []): ConfidentialityLabel => ({
  policy: 'NATO',
  classification,
  categories: [
    { tagName: 'Releasable To', type: 'permissive', values: codes },
    ...(caveats.length ? [{ tagName: 'Caveat', type: 'restrictive' as const, values: caveats }] : []),
  ],
});

/** Three labelled collections (share of the items): NATO-wide at two levels, and national CONFIDENTIAL. */
const COLLECTIONS = [
  { id: 'sar-nato', share: 0.4, label: label('UNCLASSIFIED', ['NATO']) },
  { id: 'sar-restricted', share: 0.35, label: label('RESTRICTED', ['NATO']) },
  { id: 'sar-national', share: 0.25, label: label('CONFIDENTIAL', CODES) },
];

/** A label reduced to what the rule looks at: rank, codes, caveats. */
interface Rule {
  rank: number;
  codes: string[];
  caveats: string[];
}
const ruleOf = (l: ConfidentialityLabel): Rule => ({
  rank: CLASSES.indexOf(l.classification),
  codes: l.categories.find((c) => c.tagName === 'Releasable To')?.values ?? [],
  caveats: l.categories.find((c) => c.tagName === 'Caveat')?.values ?? [],
});

/**
 * The seeded label of every item, kept in flat arrays: its collection, its own label (an index into
 * the palette of distinct labels, or -1: it has the collection's) and its hold (0 none, 1 until 2030,
 * 2 until 2024, i.e. released).
 */
function drawLabels(n: number) {
  const rand = mulberry32(7);
  const coll = new Uint8Array(n);
  const own = new Int16Array(n);
  const hold = new Uint8Array(n);
  const palette: ConfidentialityLabel[] = [];
  const byKey = new Map<string, number>();
  for (let k = 0; k < n; k++) {
    const u = rand();
    coll[k] = u < COLLECTIONS[0].share ? 0 : u < COLLECTIONS[0].share + COLLECTIONS[1].share ? 1 : 2;
    const h = rand();
    hold[k] = h < 0.03 ? 1 : h < 0.05 ? 2 : 0;
    if (rand() < 0.1) {
      own[k] = -1;
      continue;
    }
    const c = rand();
    const cls = c < 0.3 ? 0 : c < 0.6 ? 1 : c < 0.85 ? 2 : 3;
    let codes: string[];
    if (rand() < 0.15) codes = ['NATO'];
    else {
      codes = CODES.filter(() => rand() < 0.35);
      if (codes.length === 0) codes = [CODES[Math.floor(rand() * CODES.length)]];
    }
    const caveats = rand() < 0.1 ? ['MARITIME'] : [];
    const key = `${cls}|${codes.join(',')}|${caveats.join(',')}`;
    let idx = byKey.get(key);
    if (idx === undefined) {
      idx = palette.length;
      palette.push(label(CLASSES[cls], codes, caveats));
      byKey.set(key, idx);
    }
    own[k] = idx;
  }
  return { coll, own, hold, palette };
}
type Labels = ReturnType<typeof drawLabels>;

/** The rule, written again here as the reference for the stores' SQL: may partner `p` see item k? */
function visibleTo(p: (typeof PARTNERS)[number], L: Labels, rules: Rule[], k: number): boolean {
  const rank = CLASSES.indexOf(p.classification);
  const codes = [p.code, 'NATO'];
  const ok = (r: Rule) =>
    r.rank <= rank && r.codes.some((c) => codes.includes(c)) && r.caveats.every((c) => p.caveats.includes(c));
  const cl = ruleOf(COLLECTIONS[L.coll[k]].label);
  if (!ok(cl) || L.hold[k] === 1) return false;
  return ok(L.own[k] < 0 ? cl : rules[L.own[k]]);
}

/** The items of the catalog benchmark (seed 1), spread over the three collections with their labels. */
async function load(store: CatalogStore, L: Labels): Promise<void> {
  for (const c of COLLECTIONS)
    await store.putCollection({ ...syntheticCollection(c.id), [LABEL_FIELD]: c.label }, 'create');
  const batches: StacItem[][] = COLLECTIONS.map(() => []);
  let k = 0;
  for (const it of syntheticItems(N, 1, 'bench')) {
    const c = L.coll[k];
    const props = it.properties;
    if (L.own[k] >= 0) props[LABEL_FIELD] = L.palette[L.own[k]];
    if (L.hold[k] === 1) props[RELEASE_FIELD] = '2030-01-01T00:00:00Z';
    if (L.hold[k] === 2) props[RELEASE_FIELD] = '2024-01-01T00:00:00Z';
    batches[c].push({ ...it, collection: COLLECTIONS[c].id });
    if (batches[c].length === BATCH) {
      await store.putItems(COLLECTIONS[c].id, batches[c], 'create');
      batches[c] = [];
    }
    k++;
  }
  for (const [c, b] of batches.entries()) if (b.length) await store.putItems(COLLECTIONS[c].id, b, 'create');
}

/** One summary row per store: did every partner get exactly what the rule lets it see? */
const scopeChecks: string[] = [];

interface Who {
  name: string;
  key: string;
  principal: Principal;
  partner: (typeof PARTNERS)[number] | null;
}

/** Per principal: HTTP and store-alone per-query medians, and items returned. */
interface Timings {
  http: number[];
  store: number[];
  returned: number;
}

async function searches(
  name: string,
  store: CatalogStore,
  access: ReturnType<typeof testAccess>,
  who: Who[],
  L: Labels,
): Promise<Timings[]> {
  const app = await buildServer({ store, maxLimit: 10_000, access: access.services });
  const qs = queries();
  const params = qs.map((q) => parseSearch(q, { maxLimit: 10_000 }));
  const scopes: Scope[] = who.map((w) => scopeOf(w.principal, access.services.rules));
  const http = who.map(() => qs.map((): number[] => []));
  const alone = who.map(() => qs.map((): number[] => []));
  const returned = who.map(() => 0);
  const rules = L.palette.map(ruleOf);
  let compared = 0;
  let differ = 0;
  // One warm-up pass, then PASSES timed passes; within a pass each query runs for every principal in
  // turn (so drifting machine load touches all of them alike): through HTTP, then the store alone.
  for (let pass = 0; pass <= PASSES; pass++)
    for (let i = 0; i < qs.length; i++) {
      let providerIds: string[] | null = null;
      for (const [w, x] of who.entries()) {
        const t0 = performance.now();
        const r = await app.inject({
          method: 'POST',
          url: '/search',
          payload: qs[i],
          headers: { authorization: `Bearer ${x.key}` },
        });
        const t1 = performance.now();
        if (r.statusCode !== 200) throw new Error(`${name}: query ${i} as ${x.name} failed: ${r.body}`);
        await store.search(params[i], scopes[w]);
        const t2 = performance.now();
        if (pass > 0) {
          http[w][i].push(t1 - t0);
          alone[w][i].push(t2 - t1);
        }
        if (pass !== 1) continue;
        const doc = r.json() as { features: { id: string }[]; links: { rel: string }[] };
        returned[w] += doc.features.length;
        const ids = doc.features.map((f) => f.id);
        // Check the partner's page against the provider's filtered by the rule above (whole result sets only).
        if (x.partner === null) providerIds = doc.links.some((l) => l.rel === 'next') ? null : ids;
        else if (providerIds !== null) {
          const p = x.partner;
          const want = providerIds.filter((id) => visibleTo(p, L, rules, Number(id.slice(6))));
          compared++;
          if (want.join() !== ids.join()) {
            differ++;
            console.log(
              `  ! ${name} query ${i} as ${x.name}: expected ${want.length} items, got ${ids.length}; not expected: ${ids.filter((id) => !want.includes(id)).join(' ')}; missing: ${want.filter((id) => !ids.includes(id)).join(' ')}`,
            );
          }
        }
      }
    }
  await app.close();
  console.log(
    `${name}: scope check: ${compared} partner result sets compared with the rule, ${differ} differ`,
  );
  scopeChecks.push(
    `| ${name}: partner result sets equal to the rule's | **${compared - differ} of ${compared}** | all | ${differ ? 'not met' : 'met'} |`,
  );
  return who.map((_, w) => ({
    http: http[w].map(median),
    store: alone[w].map(median),
    returned: returned[w],
  }));
}

/** A private PostgreSQL cluster of our own (the shared one belongs to the test runs and their password). */
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

/** Per-request times of `fn` over `n` calls: p50 and p95 in ms. */
async function perCall(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  const ts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    ts[i] = performance.now() - t;
  }
  const xs = [...ts];
  return [percentile(xs, 50), percentile(xs, 95)];
}

/**
 * Authentication per request, in process (`Authenticator.authenticate()` and its parts), and whole
 * requests through Fastify: the same public route without and with a credential, and a route that
 * needs one, interleaved so that load drifts touch all alike. Returns the authenticate() rows.
 */
async function authTimings(access: ReturnType<typeof testAccess>, gbr: Who, dir: string) {
  const { identity, tokens, authenticator } = access.services;
  const bearer = (c: string) => ({ authorization: `Bearer ${c}`, path: '/search', ip: '127.0.0.1' });
  const claims = { sub: 'client:gbr-bot', org: 'gbr', roles: ['partner-analyst'] };
  const fresh: string[] = [];
  for (let i = 0; i < AUTH_CALLS; i++) fresh.push((await tokens.issue(claims)).access_token);
  const jwt = (await tokens.issue(claims)).access_token;
  await authenticator.authenticate(bearer(jwt));
  const moreFresh: string[] = [];
  for (let i = 0; i < AUTH_CALLS; i++) moreFresh.push((await tokens.issue(claims)).access_token);
  const auth: [string, number[]][] = [
    [
      'API key: Authenticator.authenticate()',
      await perCall(AUTH_CALLS, () => authenticator.authenticate(bearer(gbr.key))),
    ],
    [
      'JWT, cached: Authenticator.authenticate()',
      await perCall(AUTH_CALLS, () => authenticator.authenticate(bearer(jwt))),
    ],
    [
      'JWT, first use: Authenticator.authenticate()',
      await perCall(AUTH_CALLS, (i) => authenticator.authenticate(bearer(fresh[i]))),
    ],
    [
      '  of which IdentityStore.authenticateKey()',
      await perCall(AUTH_CALLS, () => identity.authenticateKey(gbr.key)),
    ],
    ['  of which TokenService.verify(), cached', await perCall(AUTH_CALLS, () => tokens.verify(jwt))],
    [
      '  of which TokenService.verify(), first use',
      await perCall(AUTH_CALLS, (i) => tokens.verify(moreFresh[i])),
    ],
    [
      '  of which AuditLog.append() (auth.success)',
      await perCall(AUTH_CALLS, () =>
        access.services.audit.append({
          actor: gbr.principal.id,
          org: 'gbr',
          action: 'auth.success',
          result: 'allow',
          detail: { method: 'key', credential: gbr.principal.credential },
          ip: '127.0.0.1',
          requestId: '00000000-0000-4000-8000-000000000000',
          resource: null,
        }),
      ),
    ],
  ];
  const probe = new SqliteCatalog(join(dir, 'empty.db'));
  const app = await buildServer({ store: probe, access: access.services });
  const routes: [string, string, Record<string, string>][] = [
    ['GET /conformance, no credential', '/conformance', {}],
    ['GET /conformance, API key', '/conformance', { authorization: `Bearer ${gbr.key}` }],
    ['GET /conformance, JWT (cached)', '/conformance', { authorization: `Bearer ${jwt}` }],
    ['GET /queryables, API key', '/queryables', { authorization: `Bearer ${gbr.key}` }],
    ['GET /queryables, JWT (cached)', '/queryables', { authorization: `Bearer ${jwt}` }],
  ];
  const req = routes.map((): number[] => []);
  for (let i = 0; i < REQUEST_CALLS + 500; i++)
    for (const [j, [, url, headers]] of routes.entries()) {
      const t = performance.now();
      const r = await app.inject({ method: 'GET', url, headers });
      if (i >= 500) req[j].push(performance.now() - t);
      if (r.statusCode !== 200) throw new Error(`${url} answered ${r.statusCode}: ${r.body}`);
    }
  await app.close();
  await probe.close();
  const base = percentile(req[0], 50);
  console.log(`\nauthentication per request (${AUTH_CALLS} calls each):`);
  console.log('| | p50 | p95 | target p50 |');
  console.log('|---|---|---|---|');
  for (const [n, [p50, p95]] of auth)
    console.log(`| ${n} | ${fmt(p50, 3)} ms | ${fmt(p95, 3)} ms | ${n.startsWith(' ') ? '' : '<= 0.2 ms'} |`);
  console.log(`\nwhole requests, Fastify inject (${REQUEST_CALLS} each, interleaved):`);
  console.log('| | p50 | p95 | p50 - no credential |');
  console.log('|---|---|---|---|');
  for (const [j, [n]] of routes.entries())
    console.log(
      `| ${n} | ${fmt(percentile(req[j], 50), 3)} ms | ${fmt(percentile(req[j], 95), 3)} ms | ${j ? `${fmt(percentile(req[j], 50) - base, 3)} ms` : ''} |`,
    );

  return auth;
}

/**
 * `npm run bench -- access`: search latency as a partner (scope applied in SQL) against the
 * provider on the 1,000,000-item catalog in both stores, authentication per request, audit appends.
 */
export async function benchAccess(): Promise<void> {
  const dir = benchDir('access');
  const L = drawLabels(N);
  const rules = L.palette.map(ruleOf);
  console.log(
    `access: ${N} items (seed 1) in ${COLLECTIONS.length} labelled collections, ${L.palette.length} distinct item labels; visible fraction per partner:`,
  );
  const visible: number[] = [];
  for (const p of PARTNERS) {
    let n = 0;
    for (let k = 0; k < N; k++) if (visibleTo(p, L, rules, k)) n++;
    visible.push(n / N);
    console.log(
      `  ${p.id} (${p.code} NATO, ${p.classification}${p.caveats.length ? `, ${p.caveats.join(' ')}` : ''}): ${fmt((100 * n) / N, 1)}% (${n})`,
    );
  }

  const access = testAccess({ auth: { ratePerS: 0 } });
  const { identity } = access.services;
  const admin = identity.authenticateKey(access.adminKey);
  if (!admin) throw new Error('the bootstrap key does not authenticate');
  const who: Who[] = [{ name: 'provider-admin', key: access.adminKey, principal: admin, partner: null }];
  for (const p of PARTNERS) {
    identity.createOrganisation({
      id: p.id,
      kind: 'partner',
      codes: [p.code, 'NATO'],
      clearance: [{ policy: 'NATO', classification: p.classification }],
      caveats: p.caveats,
    });
    identity.createPrincipal(p.id, 'user', { id: `${p.id}-analyst`, roles: ['partner-analyst'] });
    identity.createPrincipal(p.id, 'client', { id: `${p.id}-bot`, roles: ['partner-analyst'] });
    const key = identity.createKey(`user:${p.id}-analyst`).key;
    const principal = identity.authenticateKey(key);
    if (!principal) throw new Error(`the key of ${p.id} does not authenticate`);
    who.push({ name: `${p.id}-analyst`, key, principal, partner: p });
  }

  const auth = PARTS.includes('auth') ? await authTimings(access, who[1], dir) : [];

  // Searches on both stores.
  const results: { store: string; t: Timings[] }[] = [];
  for (const kind of PARTS.includes('search') ? STORES : []) {
    if (kind === 'sqlite') {
      const path = join(dir, 'catalog.db');
      if (!REUSE) for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
      const store = new SqliteCatalog(path);
      const t0 = performance.now();
      if (!REUSE || !(await store.getCollection(COLLECTIONS[0].id, { kind: 'all' }))) await load(store, L);
      const s = (performance.now() - t0) / 1000;
      console.log(`\nSQLite: loaded in ${fmt(s, 1)} s (${fmt(N / s, 0)} items/s)`);
      results.push({ store: 'SQLite', t: await searches('SQLite', store, access, who, L) });
      await store.close();
    } else if (kind === 'postgres') {
      const server = startPostgres();
      try {
        const adminDb = new pg.Client({ connectionString: server.url });
        await adminDb.connect();
        const exists = (await adminDb.query("SELECT 1 FROM pg_database WHERE datname = 'sarbridge_access'"))
          .rowCount;
        if (!REUSE || !exists) {
          await adminDb.query('DROP DATABASE IF EXISTS sarbridge_access WITH (FORCE)');
          await adminDb.query('CREATE DATABASE sarbridge_access');
        }
        await adminDb.end();
        const store = new PostgresCatalog(server.url.replace(/\/postgres$/, '/sarbridge_access'));
        const t0 = performance.now();
        if (!REUSE || !exists) await load(store, L);
        const s = (performance.now() - t0) / 1000;
        console.log(`\nPostgreSQL/PostGIS: loaded in ${fmt(s, 1)} s (${fmt(N / s, 0)} items/s)`);
        results.push({ store: 'PostgreSQL/PostGIS', t: await searches('PostgreSQL', store, access, who, L) });
        await store.close();
      } finally {
        server.stop();
      }
    }
  }

  if (PARTS.includes('audit')) console.log('\naudit appends with the chain:');
  const audit = PARTS.includes('audit') ? await benchAuditAppend() : null;
  access.close();

  console.log(
    `\n60 queries of the catalog benchmark, each query's median of ${PASSES} passes; p50 / p95 over queries:`,
  );
  console.log(
    '| store | principal | visible | items returned | HTTP p50 | HTTP p95 | p95 / provider | store p50 | store p95 | p95 / provider |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const summary: string[] = [...scopeChecks];
  for (const r of results) {
    const [ph, ps] = [percentile(r.t[0].http, 95), percentile(r.t[0].store, 95)];
    let worst = 0;
    let worstP95 = 0;
    for (const [w, t] of r.t.entries()) {
      const h95 = percentile(t.http, 95);
      const s95 = percentile(t.store, 95);
      if (w > 0) {
        worst = Math.max(worst, h95 / ph);
        worstP95 = Math.max(worstP95, h95);
      }
      console.log(
        `| ${r.store} | ${who[w].name} | ${w ? `${fmt(100 * visible[w - 1], 1)}%` : '100%'} | ${t.returned} | ${fmt(percentile(t.http, 50), 1)} ms | ${fmt(h95, 1)} ms | ${w ? fmt(h95 / ph, 2) : ''} | ${fmt(percentile(t.store, 50), 1)} ms | ${fmt(s95, 1)} ms | ${w ? fmt(s95 / ps, 2) : ''} |`,
      );
    }
    summary.push(
      `| ${r.store}: partner p95 / provider p95 (worst partner) | **${fmt(worst, 2)}** | <= 1.25 | ${worst <= 1.25 ? 'met' : 'not met'} |`,
      `| ${r.store}: partner search p95 (worst partner) | **${fmt(worstP95, 1)} ms** | <= 20 ms | ${worstP95 <= 20 ? 'met' : 'not met'} |`,
    );
  }
  for (const [n, [p50]] of auth.filter(([n]) => !n.startsWith(' ')))
    summary.push(`| ${n} p50 | **${fmt(p50, 3)} ms** | <= 0.2 ms | ${p50 <= 0.2 ? 'met' : 'not met'} |`);
  if (audit)
    summary.push(
      `| audit appends with the chain | **${fmt(audit.median, 0)} records/s** | >= 5,000 | ${audit.median >= 5000 ? 'met' : 'not met'} |`,
    );
  console.log('\n| against the targets | measured | target | |');
  console.log('|---|---|---|---|');
  for (const s of summary) console.log(s);
}
