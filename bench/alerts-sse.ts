import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testAccess } from '../src/access/testing.js';
import { alertEventsOf } from '../src/alerts/fanout.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import type { StacItem } from '../src/catalog/types.js';
import { AssetStorage } from '../src/io/asset-storage.js';
import { buildServer } from '../src/server/app.js';
import { LocalStore } from '../src/store/local-store.js';

/** What the benchmark measured: lag per (client, event) from the event's creation to its arrival. */
export interface SseBenchResult {
  clients: number;
  events: number;
  received: number;
  expected: number;
  lagMs: { p50: number; p95: number; max: number };
  memoryMiB: Record<'before' | 'connected' | 'after', { rss: number; heapUsed: number }>;
}

const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const mem = () => {
  const m = process.memoryUsage();
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed) };
};
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];

/**
 * 1,000 SSE clients (node:http, in a child process) on a real server; 100 events published into
 * the outbox at a steady rate; the lag of each (client, event) from the event's creation (its
 * outbox row's createdAt) to its arrival; the server's RSS and heap before and after. Clients are
 * spread over the provider and two partners (every event is released to both).
 */
export async function benchSse(
  o: { clients?: number; events?: number; ratePerS?: number } = {},
): Promise<SseBenchResult> {
  const CLIENTS = o.clients ?? 1000;
  const EVENTS = o.events ?? 100;
  const RATE = o.ratePerS ?? 20;
  const dir = mkdtempSync(join(tmpdir(), 'sarbridge-sse-bench-'));
  const store = new SqliteCatalog(join(dir, 'catalog.db'));
  const assets = LocalStore.of(new AssetStorage(dir));
  const access = testAccess({ auth: { ratePerS: 1e6, burst: 1e6 } });
  const app = await buildServer({
    store,
    access: access.services,
    renderWorkers: 0,
    events: {
      readOutbox: (afterSeq, limit) => store.events({ afterSeq, limit }),
      eventsOf: (row) => alertEventsOf(row, { catalog: store, assets }),
      pollMs: 250,
      maxStreams: CLIENTS + 100,
      maxStreamsPerPrincipal: CLIENTS,
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const id = access.services.identity;
  const keys = [access.adminKey];
  for (const [org, code] of [
    ['gbr', 'GBR'],
    ['nld', 'NLD'],
  ]) {
    id.createOrganisation({
      id: org,
      kind: 'partner',
      codes: [code],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
      caveats: [],
    });
    id.createPrincipal(org, 'client', { id: `${org}-sys`, roles: ['partner-analyst'] });
    keys.push(id.createKey(`client:${org}-sys`).key);
  }
  const label = {
    policy: 'NATO',
    classification: 'RESTRICTED',
    categories: [{ tagName: 'Releasable To', type: 'permissive', values: ['GBR', 'NLD'] }],
  };
  await store.putCollection({ ...syntheticCollection('sar'), 'sarbridge:label': label } as never, 'create');
  const before = mem();

  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--clients',
      String(port),
      String(CLIENTS),
      String(EVENTS),
      JSON.stringify(keys),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (s: string) => {
      out += s;
      if (out.includes('ready\n')) resolve();
    });
  });
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await ready;
  const connected = mem();
  const t0 = Date.now();
  for (let k = 0; k < EVENTS; k++) {
    const wait = t0 + (k * 1000) / RATE - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const itemId = `scene-${k}`;
    await store.publishItems('sar', [sceneItem(itemId)], {
      eventKey: `published:p${String(k).padStart(24, '0')}`,
      type: 'published',
      productId: `p${String(k).padStart(24, '0')}`,
      collection: 'sar',
      itemIds: [itemId],
      payload: {},
    });
  }
  await done;
  const after = mem();
  const res = JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as {
    received: number;
    p50: number;
    p95: number;
    max: number;
  };
  await app.close();
  await store.close();
  access.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    clients: CLIENTS,
    events: EVENTS,
    received: res.received,
    expected: CLIENTS * EVENTS,
    lagMs: { p50: res.p50, p95: res.p95, max: res.max },
    memoryMiB: { before, connected, after },
  };
}

function sceneItem(id: string): StacItem {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    geometry: { type: 'Point', coordinates: [4.9, 43.4] },
    bbox: [4.9, 43.4, 4.9, 43.4],
    properties: { datetime: new Date().toISOString() },
    links: [],
    assets: {},
  } as StacItem;
}

/** The child: opens the clients, prints 'ready', then the lags once every client has every event (or 60 s). */
async function clients(port: number, n: number, events: number, keys: string[]): Promise<void> {
  const lags: number[] = [];
  let received = 0;
  let complete = 0;
  const reqs: ReturnType<typeof request>[] = [];
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  await Promise.all(
    Array.from(
      { length: n },
      (_, k) =>
        new Promise<void>((resolve, reject) => {
          const req = request({
            host: '127.0.0.1',
            port,
            path: '/events',
            agent: false,
            headers: { authorization: `Bearer ${keys[k % keys.length]}`, accept: 'text/event-stream' },
          });
          reqs.push(req);
          req.on('error', reject);
          req.on('response', (res) => {
            if (res.statusCode !== 200) reject(new Error(`client ${k}: HTTP ${res.statusCode}`));
            let buf = '';
            let mine = 0;
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              const now = Date.now();
              buf += chunk;
              for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
                const block = buf.slice(0, i);
                buf = buf.slice(i + 2);
                const d = block.split('\n').find((l) => l.startsWith('data: '));
                if (!d) continue;
                lags.push(now - Date.parse(JSON.parse(d.slice(6)).time));
                received++;
                if (++mine === events && ++complete === n) finish();
              }
            });
            resolve();
          });
          req.end();
        }),
    ),
  );
  process.stdout.write('ready\n');
  await Promise.race([finished, new Promise((r) => setTimeout(r, 60_000 + events * 1000))]);
  for (const r of reqs) r.destroy();
  lags.sort((a, b) => a - b);
  const summary = { received, p50: pct(lags, 50), p95: pct(lags, 95), max: lags[lags.length - 1] };
  await new Promise<void>((r) => process.stdout.write(JSON.stringify(summary), () => r()));
}

const argv = process.argv;
if (argv[2] === '--clients') {
  await clients(Number(argv[3]), Number(argv[4]), Number(argv[5]), JSON.parse(argv[6]));
  process.exit(0);
} else if (argv[1] && fileURLToPath(import.meta.url) === argv[1]) {
  const r = await benchSse();
  console.log(JSON.stringify(r, null, 2));
}
