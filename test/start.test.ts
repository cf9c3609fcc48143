import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/gdal.js';

/**
 * `npm start` as a user runs it: the built `node scripts/start.mjs` on an empty data folder, with
 * the simulated campaign's manifest (the simulator's planted labels and repeat pairs) as the truth
 * of what each partner must see.
 */

const ROOT = join(import.meta.dirname, '..');
const START = join(ROOT, 'scripts', 'start.mjs');
const SEED_TIMEOUT_MS = 12 * 60_000;
const tmp = tempDir('start-');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp.cleanup();
});

interface Manifest {
  products: { id: string; path: string; releasableTo: string[]; repeatOf: string | null }[];
  partners: [string, string];
}

interface Started {
  child: ChildProcess;
  url: string;
  seedSeconds: number | null;
  keys: Record<string, string>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number };
      s.close(() => done(a.port));
    });
  });
}

/** Run `node scripts/start.mjs` on `dataDir`; resolves when it says where it runs, or when `killAt` shows on stderr. */
async function start(dataDir: string, port: number, killAt?: RegExp): Promise<Started> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    SARBRIDGE_DATA_DIR: dataDir,
    SARBRIDGE_PORT: String(port),
  };
  delete env.PORT;
  const child = spawn(process.execPath, [START], { cwd: tmp.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((done) =>
    child.on('close', (code) => {
      children.delete(child);
      done(code);
    }),
  );
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`start did not come up; stderr: ${err}`)), SEED_TIMEOUT_MS);
    const check = () => {
      if (killAt?.test(err) || /Ctrl-C stops it/.test(out)) {
        clearTimeout(timer);
        done();
      }
    };
    child.stdout?.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr?.on('data', (d) => {
      err += d;
      check();
    });
    exited.then((code) => {
      clearTimeout(timer);
      if (!killAt?.test(err) && !/Ctrl-C stops it/.test(out))
        fail(new Error(`start exited with ${code}; stdout: ${out}; stderr: ${err}`));
    });
  });
  const keys: Record<string, string> = {};
  for (const m of out.matchAll(/^\s+(user:\S+)\s+\S+\s+\S+\s+(sb_[a-z2-7]{10}_[A-Za-z0-9_-]{43})/gm))
    keys[m[1]] = m[2];
  const seeded = /\(seeded in ([\d.]+) s\)/.exec(out);
  return {
    child,
    url: /sarbridge is running at (http:\/\/\S+)\/\n/.exec(out)?.[1] ?? '',
    seedSeconds: seeded ? Number(seeded[1]) : null,
    keys,
    stdout: () => out,
    stderr: () => err,
    exited,
  };
}

async function stop(s: Started): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

const json = async <T>(s: Started, path: string, who: string): Promise<T> => {
  const r = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.keys[who]}` } });
  if (r.status !== 200) throw new Error(`${path} as ${who}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
};

interface SearchPage {
  numberMatched: number;
  features: { id: string; assets: Record<string, { href: string; 'file:checksum'?: string }> }[];
}
const search = (s: Started, who: string) => json<SearchPage>(s, '/search?collections=demo&limit=100', who);

interface ProductsPage {
  products: { id: string; state: string; sourcePath: string; itemIds: string[] }[];
}

/** What each partner code must see, from the manifest: a scene if its product is releasable to it, a change if both of its products are. */
function expectedItems(dataDir: string, m: Manifest, products: ProductsPage['products']) {
  const byPass = new Map(
    m.products.map((p) => {
      const rec = products.find((r) => r.sourcePath === join(dataDir, 'campaign', p.path));
      if (!rec) throw new Error(`no pipeline product for ${p.id} (${p.path})`);
      return [p.id, { ...p, rec }];
    }),
  );
  const visible: Record<string, Set<string>> = Object.fromEntries(m.partners.map((c) => [c, new Set()]));
  for (const p of byPass.values()) {
    expect(p.rec.state, p.id).toBe('published');
    expect(p.rec.itemIds.length, `${p.id}: a scene, and a change item when it repeats a pass`).toBe(
      p.repeatOf ? 2 : 1,
    );
    for (const code of m.partners) {
      if (p.releasableTo.includes(code)) visible[code].add(p.rec.itemIds[0]);
      const prev = p.repeatOf ? byPass.get(p.repeatOf) : null;
      if (prev && p.releasableTo.includes(code) && prev.releasableTo.includes(code))
        visible[code].add(p.rec.itemIds[1]);
    }
  }
  return { visible, all: new Set([...byPass.values()].flatMap((p) => p.rec.itemIds)), byPass };
}

/** The item ids of the item.published events a principal's /events stream replays within 3 s (after event 1-0). */
async function streamedItems(s: Started, who: string): Promise<Set<string>> {
  const ac = new AbortController();
  const r = await fetch(`${s.url}/events?lastEventId=1-0`, {
    headers: { authorization: `Bearer ${s.keys[who]}`, accept: 'text/event-stream' },
    signal: ac.signal,
  });
  expect(r.status, `${who} /events`).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
  let text = '';
  const timer = setTimeout(() => ac.abort(), 3000);
  try {
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
  }
  const ids = new Set<string>();
  for (const frame of text.split('\n\n')) {
    if (!/^event: item\.published$/m.test(frame)) continue;
    const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? 'null') as {
      subject?: string;
      data?: { id?: string };
    };
    expect(data.subject, frame).toMatch(/^demo\//);
    ids.add(String(data.subject).slice('demo/'.length));
  }
  return ids;
}

const dataA = join(tmp.dir, 'a');
const dataB = join(tmp.dir, 'b');
let allItemsA: string[] = [];

describe('npm start (node scripts/start.mjs)', () => {
  it(
    'seeds an empty data folder through the pipeline, prints the URL and keys, and each partner sees what its labels allow',
    async () => {
      const port = await freePort();
      const s = await start(dataA, port);
      try {
        expect(s.url).toBe(`http://127.0.0.1:${port}`);
        expect(Object.keys(s.keys).sort()).toEqual([
          'user:admin',
          'user:analyst-gbr',
          'user:analyst-nld',
          'user:operator',
        ]);
        expect(s.stderr()).toMatch(/simulating the campaign: 6\/6/);
        console.log(`npm start seeded ${dataA} in ${s.seedSeconds} s`);
        const m = JSON.parse(readFileSync(join(dataA, 'campaign', 'manifest.json'), 'utf8')) as Manifest;
        expect(m.products.length).toBe(6);
        const products = (await json<ProductsPage>(s, '/admin/products?limit=100', 'user:operator')).products;
        expect(products.length).toBe(6);
        const { visible, all, byPass } = expectedItems(dataA, m, products);
        const only = m.products.filter((p) => p.releasableTo.length === 1);
        expect(only.length).toBe(1);
        const [gbr, nld] = m.partners;
        const held = byPass.get(only[0].id)?.rec.itemIds[0] as string;
        const holder = only[0].releasableTo[0] === gbr ? 'user:analyst-gbr' : 'user:analyst-nld';
        const other = holder === 'user:analyst-gbr' ? 'user:analyst-nld' : 'user:analyst-gbr';

        const admin = await search(s, 'user:admin');
        allItemsA = admin.features.map((f) => f.id).sort();
        expect(allItemsA).toEqual([...all].sort());
        for (const [who, code] of [
          ['user:analyst-gbr', gbr],
          ['user:analyst-nld', nld],
        ] as const) {
          const page = await search(s, who);
          expect(page.features.map((f) => f.id).sort(), who).toEqual([...visible[code]].sort());
          expect(page.numberMatched, who).toBe(visible[code].size);
        }
        expect(visible[only[0].releasableTo[0]].has(held)).toBe(true);
        // Hidden looks like missing: the item and its asset answer 404 to the other partner.
        for (const path of [
          `/collections/demo/items/${held}`,
          `/collections/demo/items/${held}/assets/data`,
        ]) {
          const hidden = await fetch(`${s.url}${path}`, {
            headers: { authorization: `Bearer ${s.keys[other]}` },
          });
          expect(hidden.status, path).toBe(404);
          const mine = await fetch(`${s.url}${path}`, {
            headers: { authorization: `Bearer ${s.keys[holder]}` },
          });
          expect(mine.status, path).toBe(200);
          await mine.arrayBuffer();
        }
        // Every asset each partner sees downloads whole, with the checksum its item states.
        for (const who of ['user:analyst-gbr', 'user:analyst-nld']) {
          for (const f of (await search(s, who)).features) {
            for (const [key, a] of Object.entries(f.assets)) {
              const r = await fetch(a.href, { headers: { authorization: `Bearer ${s.keys[who]}` } });
              expect(r.status, `${who} ${f.id} ${key}`).toBe(200);
              const body = Buffer.from(await r.arrayBuffer());
              expect(body.length, `${f.id} ${key}`).toBeGreaterThan(0);
              if (a['file:checksum'])
                expect(`1220${createHash('sha256').update(body).digest('hex')}`, `${f.id} ${key}`).toBe(
                  a['file:checksum'],
                );
            }
          }
        }
        // The served alerts: a partner analyst subscribes (an area, no webhook: the event stream only),
        // and each partner's live event stream replays what its labels allow and nothing else.
        const sub = await fetch(`${s.url}/subscriptions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${s.keys['user:analyst-gbr']}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            area: {
              type: 'Polygon',
              coordinates: [
                [
                  [-10, 40],
                  [20, 40],
                  [20, 60],
                  [-10, 60],
                  [-10, 40],
                ],
              ],
            },
            eventTypes: ['item.published', 'vessel.detected'],
            webhookUrl: null,
          }),
        });
        expect(sub.status, await sub.clone().text()).toBe(201);
        const listed = await json<{ subscriptions: unknown[] }>(s, '/subscriptions', 'user:analyst-nld');
        expect(listed.subscriptions).toEqual([]);
        for (const [who, code] of [
          ['user:analyst-gbr', gbr],
          ['user:analyst-nld', nld],
        ] as const) {
          const published = await streamedItems(s, who);
          expect(published.size, who).toBeGreaterThan(0);
          for (const id of published) expect(visible[code].has(id), `${who} was sent ${id}`).toBe(true);
          if (who === other) expect(published.has(held)).toBe(false);
        }
      } finally {
        expect(await stop(s)).toBe(0);
      }
      expect(existsSync(join(dataA, 'demo-seeded.json'))).toBe(true);
    },
    SEED_TIMEOUT_MS + 120_000,
  );

  it('a second start serves the seeded folder again: no simulation, no new job, the same items', async () => {
    const manifestMs = statSync(join(dataA, 'campaign', 'manifest.json')).mtimeMs;
    const marker = readFileSync(join(dataA, 'demo-seeded.json'), 'utf8');
    const jobsBefore = new Database(join(dataA, 'queue.db'), { readonly: true });
    const countBefore = (jobsBefore.prepare('SELECT count(*) AS n FROM queue_jobs').get() as { n: number }).n;
    jobsBefore.close();
    const s = await start(dataA, await freePort());
    try {
      expect(s.stderr()).not.toMatch(/simulating|published/);
      expect(s.stdout()).toMatch(/reused/);
      expect(s.seedSeconds).toBeNull();
      expect((await search(s, 'user:admin')).features.map((f) => f.id).sort()).toEqual(allItemsA);
      const jobs = await json<{ counts: Record<string, number> }>(s, '/admin/jobs', 'user:admin');
      expect(Object.values(jobs.counts).reduce((a, b) => a + b, 0)).toBe(countBefore);
    } finally {
      expect(await stop(s)).toBe(0);
    }
    expect(statSync(join(dataA, 'campaign', 'manifest.json')).mtimeMs).toBe(manifestMs);
    expect(readFileSync(join(dataA, 'demo-seeded.json'), 'utf8')).toBe(marker);
  }, 120_000);

  it(
    'SIGKILL while simulating, SIGKILL while publishing, then a start: the complete catalog, the same items as an uninterrupted run, each once',
    async () => {
      expect(allItemsA.length).toBeGreaterThan(0);
      // Killed once the simulator has written half the products: some are in the pipeline, some not yet simulated.
      const killed = await start(dataB, await freePort(), /simulating the campaign: [3-5]\/6/);
      killed.child.kill('SIGKILL');
      await killed.exited;
      expect(existsSync(join(dataB, 'demo-seeded.json'))).toBe(false);
      expect(killed.stdout()).not.toMatch(/sarbridge is running/);

      // Killed again in the pipeline, once some products are published and others are not.
      const again = await start(dataB, await freePort(), /products published: [1-5]\/6/);
      again.child.kill('SIGKILL');
      await again.exited;
      expect(existsSync(join(dataB, 'demo-seeded.json'))).toBe(false);

      const s = await start(dataB, await freePort());
      try {
        expect(s.seedSeconds).not.toBeNull();
        const admin = await search(s, 'user:admin');
        const ids = admin.features.map((f) => f.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(admin.numberMatched).toBe(ids.length);
        expect(ids.sort()).toEqual(allItemsA);
        const products = (await json<ProductsPage>(s, '/admin/products?limit=100', 'user:admin')).products;
        expect(products.map((p) => p.state)).toEqual(Array(6).fill('published'));
        // The keys printed after the kill work.
        for (const who of ['user:analyst-gbr', 'user:analyst-nld'])
          expect((await search(s, who)).features.length, who).toBeGreaterThan(0);
      } finally {
        expect(await stop(s)).toBe(0);
      }
      // One `published` event per product in the outbox (in the catalog's database, with the items).
      const db = new Database(join(dataB, 'catalog.db'), { readonly: true });
      try {
        const ev = db.prepare('SELECT product_id FROM pipeline_outbox').all() as { product_id: string }[];
        expect(ev.length).toBe(6);
        expect(new Set(ev.map((e) => e.product_id)).size).toBe(6);
      } finally {
        db.close();
      }
    },
    3 * SEED_TIMEOUT_MS,
  );
});
