import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import autocannon from 'autocannon';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import { lonLatBounds } from '../src/geo/crs.js';
import { bboxPolygon } from '../src/geo/geojson.js';
import { webMercatorTileAt } from '../src/geo/tms.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { mulberry32 } from '../src/util/random.js';
import { benchDir, CLI, fmt, median } from './util.js';

const SIZE = 4096;
const PORT = 18421;
const SECONDS = 10;
const CONNECTIONS = 8;

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} did not start`);
}

/**
 * The provider-admin key a server prints on stderr at its first start (the rest of its stderr is
 * kept for the error message should it exit first).
 */
function bootstrapKey(server: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    let err = '';
    server.stderr?.setEncoding('utf8');
    server.stderr?.on('data', (chunk: string) => {
      err += chunk;
      const m = /^(sb_\S+)$/m.exec(err);
      if (m) done(m[1]);
    });
    server.once('exit', (code) =>
      fail(new Error(`sarbridge serve exited (${code}) before printing a key: ${err}`)),
    );
  });
}

/**
 * `npm run bench -- tiles`: random WebMercator tiles over a 4096 x 4096 COG, at the zooms where it
 * covers 1 to 64 tiles, from a server process driven by autocannon in this process; then the same
 * server serving one pre-rendered PNG as a static file (the upper limit).
 */
export async function benchTiles(): Promise<void> {
  const dir = benchDir('tiles');
  const sceneDir = join(dir, 'scene');
  const cog = join(sceneDir, 'scene_2026-06-01.tif');
  if (!existsSync(cog))
    await simulateScene(sceneDir, { seed: 77, size: SIZE, ships: 80, dates: ['2026-06-01T06:00:00Z'] });
  const r = {
    epsg: 32631,
    gt: [640000, 10, 0, 4760000, 0, -10] as [number, number, number, number, number, number],
  };
  const [w, s, e, n] = lonLatBounds(r.epsg, r.gt, SIZE, SIZE);
  // A fresh catalog each run (earlier runs stored an absolute href) whose asset href is relative to
  // the asset root the server is given, and a fresh access folder, so the server creates the
  // provider-admin and prints its key.
  const dbPath = join(dir, 'catalog.db');
  const accessDir = join(dir, 'access');
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) rmSync(f, { force: true });
  rmSync(accessDir, { recursive: true, force: true });
  const store = new SqliteCatalog(dbPath);
  await store.putCollection(syntheticCollection('bench'), 'create');
  await store.putItems(
    'bench',
    [
      {
        type: 'Feature',
        stac_version: '1.0.0',
        id: 'scene',
        geometry: bboxPolygon([w, s, e, n]),
        bbox: [w, s, e, n],
        properties: { datetime: '2026-06-01T06:00:00Z' },
        links: [],
        assets: {
          data: {
            href: basename(cog),
            type: 'image/tiff; application=geotiff; profile=cloud-optimized',
            roles: ['data'],
          },
        },
      },
    ],
    'create',
  );
  await store.close();
  // Zooms where the scene covers 1 to 64 tiles, and a seeded random sequence of their tiles.
  const tiles: string[] = [];
  const zooms: string[] = [];
  for (let z = 0; z <= 18; z++) {
    const [x0, y0] = webMercatorTileAt(w, n, z);
    const [x1, y1] = webMercatorTileAt(e, s, z);
    const count = (x1 - x0 + 1) * (y1 - y0 + 1);
    if (count < 1 || count > 64) continue;
    zooms.push(`z${z}: ${count}`);
    for (let x = x0; x <= x1; x++)
      for (let y = y0; y <= y1; y++)
        tiles.push(`/tiles/bench/scene/data/WebMercatorQuad/${z}/${x}/${y}.png?rescale=-25,0`);
  }
  const rand = mulberry32(99);
  const requests = Array.from({ length: 20000 }, () => ({
    method: 'GET',
    path: tiles[Math.floor(rand() * tiles.length)],
  }));
  const server: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--catalog',
      dbPath,
      '--port',
      String(PORT),
      '--static',
      dir,
      '--asset-root',
      sceneDir,
      '--access-dir',
      accessDir,
      '--rate-limit',
      '0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const key = bootstrapKey(server);
  try {
    const base = `http://127.0.0.1:${PORT}`;
    const headers = { authorization: `Bearer ${await key}` };
    await waitUp(`${base}/`);
    // One pre-rendered tile as the static baseline (the same kind of PNG the tiler serves).
    const one = await fetch(`${base}${tiles[Math.floor(tiles.length / 2)]}`, { headers });
    if (!one.ok) throw new Error(`tile request failed: ${one.status} ${await one.text()}`);
    writeFileSync(join(dir, 'tile.png'), Buffer.from(await one.arrayBuffer()));
    // Cold: every distinct tile once, one at a time (first reads decode the COG blocks).
    const cold: number[] = [];
    for (const t of tiles) {
      const t0 = performance.now();
      const res = await fetch(`${base}${t}`, { headers });
      await res.arrayBuffer();
      cold.push(performance.now() - t0);
    }
    // Latency with one connection (a viewer's request at a time), throughput with eight.
    const dyn1 = await autocannon({ url: base, connections: 1, duration: SECONDS, requests, headers });
    const dyn = await autocannon({
      url: base,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests,
      headers,
    });
    const stat1 = await autocannon({
      url: `${base}/static/tile.png`,
      connections: 1,
      duration: SECONDS,
      headers,
    });
    const stat = await autocannon({
      url: `${base}/static/tile.png`,
      connections: CONNECTIONS,
      duration: SECONDS,
      headers,
    });
    console.log(
      `scene: ${SIZE} x ${SIZE} float32 DEFLATE COG (${cog}); zooms ${zooms.join(', ')}; ${tiles.length} distinct tiles`,
    );
    console.log(
      `first request of each tile, one at a time: median ${fmt(median(cold), 1)} ms, max ${fmt(Math.max(...cold), 1)} ms`,
    );
    console.log(
      `\n| ${SECONDS} s each | 1 connection: p50 | p99 | requests/s | ${CONNECTIONS} connections: p50 | p99 | requests/s | non-2xx |`,
    );
    console.log('|---|---|---|---|---|---|---|---|');
    const row = (name: string, a: typeof dyn, b: typeof dyn) =>
      `| ${name} | ${a.latency.p50} ms | ${a.latency.p99} ms | ${fmt(a.requests.average, 0)} | ${b.latency.p50} ms | ${b.latency.p99} ms | ${fmt(b.requests.average, 0)} | ${a.non2xx + b.non2xx} |`;
    console.log(row('dynamic tiles (random)', dyn1, dyn));
    console.log(row('one pre-rendered PNG, static file', stat1, stat));
    console.log(
      `\ndynamic / static throughput (${CONNECTIONS} connections): **${fmt(dyn.requests.average / stat.requests.average, 2)}**`,
    );
  } finally {
    server.kill('SIGTERM');
  }
}
