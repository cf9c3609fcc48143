import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import { transformPoint } from '../src/geo/crs.js';
import { TiePointGrid } from '../src/geo/geolocation.js';
import { detect, Sicd } from '../src/io/nitf/sicd.js';
import { sicdImageToGround } from '../src/io/nitf/sicd-projection.js';
import { SafeProduct } from '../src/io/s1/safe.js';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { calibrateFile } from '../src/ops/calibrate.js';
import type { CampaignManifest, ManifestProduct } from '../src/ops/simulate-campaign.js';
import { simulateCampaign } from '../src/ops/simulate-campaign.js';
import { acquisitionFromSafe, acquisitionFromSicd } from '../src/products/acquisition.js';

const dir = mkdtempSync(join(tmpdir(), 'sarbridge-campaign-'));
let manifest: CampaignManifest;
let elapsedMs = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const t0 = performance.now();
  manifest = (await simulateCampaign(dir, { seed: 3 })).manifest;
  elapsedMs = performance.now() - t0;
}, 180_000);

const byId = (id: string) => manifest.products.find((p) => p.id === id) as ManifestProduct;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const db = (r: number) => 10 * Math.log10(r);

/** Point in a lon/lat ring (ray casting). */
function inside(ring: [number, number][], lon: number, lat: number): boolean {
  let k = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) k = !k;
  }
  return k;
}

describe('simulate campaign: the passes', () => {
  it('is written in well under a minute', () => {
    expect(elapsedMs).toBeLessThan(60_000);
  });

  it('six passes over two areas across three days, SAFE and SICD, ascending and descending', () => {
    const ps = manifest.products;
    expect(ps).toHaveLength(6);
    expect(new Set(ps.map((p) => p.area))).toEqual(new Set(['harbour', 'airfield']));
    expect(new Set(ps.map((p) => p.format))).toEqual(new Set(['sentinel-1-safe', 'sicd']));
    expect(new Set(ps.map((p) => p.orbitState))).toEqual(new Set(['ascending', 'descending']));
    expect(new Set(ps.map((p) => p.datetime.slice(0, 10))).size).toBe(3);
    for (const area of ['harbour', 'airfield'])
      expect(new Set(ps.filter((p) => p.area === area).map((p) => p.format)).size, area).toBe(2);
    expect(
      new Set(ps.filter((p) => p.format === 'sentinel-1-safe').map((p) => p.orbitState)),
      'Sentinel-1 passes',
    ).toEqual(new Set(['ascending', 'descending']));
    const times = ps.map((p) => Date.parse(p.datetime));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('labels: releasable to both partners but one product, releasable to one', () => {
    const [a, b] = manifest.partners;
    const one = manifest.products.filter((p) => p.releasableTo.length === 1);
    expect(one).toHaveLength(1);
    expect(one[0].releasableTo).toEqual([a]);
    for (const p of manifest.products) {
      expect(p.label.policy).toBe('NATO');
      expect(p.label.categories[0]).toEqual({
        tagName: 'Releasable To',
        type: 'permissive',
        values: p.releasableTo,
      });
      if (p !== one[0]) expect(p.releasableTo).toEqual([a, b].sort());
    }
  });

  it('repeat pairs share platform, pass direction and (Sentinel-1) relative orbit; the change pair is named', () => {
    expect(manifest.pairs.length).toBeGreaterThanOrEqual(2);
    for (const pair of manifest.pairs) {
      const [b, a] = [byId(pair.before), byId(pair.after)];
      expect([a.platform, a.orbitState, a.area, a.relativeOrbit]).toEqual([
        b.platform,
        b.orbitState,
        b.area,
        b.relativeOrbit,
      ]);
      expect(Date.parse(a.datetime)).toBeGreaterThan(Date.parse(b.datetime));
    }
    expect(manifest.pairs.filter((p) => p.change === 'change-1')).toHaveLength(1);
  });
});

describe('simulate campaign: the existing readers take every product', () => {
  it('SAFEs: Sentinel-1A, the pass direction and absolute orbit of the manifest, relative orbit in manifest.safe', async () => {
    for (const p of manifest.products.filter((x) => x.format === 'sentinel-1-safe')) {
      const safe = await SafeProduct.open(join(dir, p.path));
      try {
        const acq = acquisitionFromSafe([await safe.annotation('VV')]);
        expect(acq.platform).toBe('sentinel-1a');
        expect(acq.orbitDirection).toBe(p.orbitState);
        expect(acq.absoluteOrbit).toBe(p.absoluteOrbit);
        expect(acq.startTime).toBe(p.datetime);
        // ESA's rule for Sentinel-1A: relative = (absolute - 73) mod 175 + 1.
        expect((((p.absoluteOrbit as number) - 73) % 175) + 1).toBe(p.relativeOrbit);
      } finally {
        await safe.close();
      }
      const xml = readFileSync(join(dir, p.path, 'manifest.safe'), 'utf8');
      expect(xml).toContain(`<safe:relativeOrbitNumber type="start">${p.relativeOrbit}<`);
    }
  });

  it('SICDs: pass direction from the ARP velocity, time, platform and footprint as the manifest says', async () => {
    for (const p of manifest.products.filter((x) => x.format === 'sicd')) {
      const sicd = await Sicd.open(join(dir, p.path));
      await sicd.close();
      const acq = acquisitionFromSicd(sicd);
      expect(acq.orbitDirection).toBe(p.orbitState);
      expect(acq.lookSide).toBe('right');
      expect(acq.platform).toBe(p.platform);
      expect(acq.startTime).toBe(p.datetime);
      expect(acq.geolocation.model).toBe('sicd-rgzero-inca');
      // The corners the file states are where the SICD projection puts the corner pixels.
      const m = sicd.meta;
      const g = sicdImageToGround(m, [
        [0, 0],
        [m.numRows - 1, m.numCols - 1],
      ]);
      expect(g[0][0]).toBeCloseTo(m.imageCorners[0][0], 6);
      expect(g[1][1]).toBeCloseTo(m.imageCorners[2][1], 6);
    }
  });
});

describe('simulate campaign: planted truth agrees with the images', () => {
  it('GRD ships: bright in calibrated sigma0 where the manifest says, and at its lon/lat by the tie-point grid', async () => {
    for (const p of manifest.products.filter((x) => x.format === 'sentinel-1-safe' && x.area === 'harbour')) {
      const out = join(dir, `${p.id}-sigma0.tif`);
      await calibrateFile(join(dir, p.path), out, { target: 'sigma0', removeNoise: true });
      const tif = await GeoTiff.open(out);
      const img = await tif.read();
      await tif.close();
      const v = img.data as Float32Array;
      const W = img.width;
      const safe = await SafeProduct.open(join(dir, p.path));
      const ann = await safe.annotation('VV');
      await safe.close();
      const grid = new TiePointGrid(ann.geolocationGrid, 32631);
      // Open sea: the median sigma0 around each ship, 400-600 m away.
      expect(p.truth.ships.length).toBeGreaterThanOrEqual(10);
      for (const s of p.truth.ships) {
        const { line, pixel } = s.image as { line: number; pixel: number };
        const [x, y] = grid.forward(line, pixel);
        expect(Math.hypot(x - s.x, y - s.y), `${p.id} ${s.id} position`).toBeLessThan(15);
        const l = Math.round(line);
        const c = Math.round(pixel);
        let peak = 0;
        for (let dl = -1; dl <= 1; dl++)
          for (let dp = -1; dp <= 1; dp++) peak += v[(l + dl) * W + c + dp] / 9;
        const ring: number[] = [];
        for (let a = 0; a < 64; a++) {
          const rr = l + Math.round(50 * Math.sin((a * Math.PI) / 32));
          const cc = c + Math.round(50 * Math.cos((a * Math.PI) / 32));
          if (rr >= 0 && cc >= 0 && rr < img.height && cc < W) ring.push(v[rr * W + cc]);
        }
        const sea = median(ring);
        expect(db(sea), `${p.id} sea near ${s.id}`).toBeGreaterThan(-19.5);
        expect(db(sea), `${p.id} sea near ${s.id}`).toBeLessThan(-14.5);
        expect(db(peak / sea), `${p.id} ${s.id} (planted ${s.scrDb.toFixed(1)} dB)`).toBeGreaterThan(7);
      }
    }
  });

  it('vessels arrive and leave between the GRD passes: where a ship was, the sea is dark on the other pass', async () => {
    const [a, b] = ['P1', 'P3'].map(byId);
    const ida = new Set(a.truth.ships.map((s) => s.id));
    const idb = new Set(b.truth.ships.map((s) => s.id));
    const left = a.truth.ships.filter((s) => !idb.has(s.id));
    const came = b.truth.ships.filter((s) => !ida.has(s.id));
    expect(left.length).toBeGreaterThanOrEqual(2);
    expect(came.length).toBeGreaterThanOrEqual(2);
    const moved = a.truth.ships.filter((s) => {
      const t = b.truth.ships.find((q) => q.id === s.id);
      return t && Math.hypot(t.x - s.x, t.y - s.y) > 500;
    });
    expect(moved.length).toBeGreaterThanOrEqual(1);
    for (const [gone, other] of [
      [left, b],
      [came, a],
    ] as const) {
      const out = join(dir, `${other.id}-sigma0.tif`);
      const tif = await GeoTiff.open(out);
      const img = await tif.read();
      await tif.close();
      const safe = await SafeProduct.open(join(dir, other.path));
      const grid = new TiePointGrid((await safe.annotation('VV')).geolocationGrid, 32631);
      await safe.close();
      for (const s of gone) {
        const pos = grid.inverse(s.x, s.y, [img.height / 2, img.width / 2]);
        expect(pos).not.toBeNull();
        const [l, c] = (pos as [number, number]).map(Math.round);
        let mean = 0;
        for (let dl = -1; dl <= 1; dl++)
          for (let dp = -1; dp <= 1; dp++)
            mean += (img.data as Float32Array)[(l + dl) * img.width + c + dp] / 9;
        expect(db(mean), `${s.id} absent from ${other.id}`).toBeLessThan(-13);
      }
    }
  });

  it('SICD ships: bright where the manifest says, and at its lon/lat by the SICD projection', async () => {
    const p = manifest.products.find((x) => x.format === 'sicd' && x.area === 'harbour') as ManifestProduct;
    expect(p.truth.ships.length).toBeGreaterThanOrEqual(2);
    const sicd = await Sicd.open(join(dir, p.path));
    try {
      for (const s of p.truth.ships) {
        const { row, col } = s.image as { row: number; col: number };
        const [[lat, lon]] = sicdImageToGround(sicd.meta, [[row, col]]);
        const [x, y] = transformPoint(4326, 32631, lon, lat);
        expect(Math.hypot(x - s.x, y - s.y), `${s.id} position`).toBeLessThan(2);
        const r0 = Math.max(0, Math.round(row) - 60);
        const c0 = Math.max(0, Math.round(col) - 60);
        const w = Math.min(121, sicd.width - c0);
        const h = Math.min(121, sicd.height - r0);
        const win = await sicd.readComplex({ colOff: c0, rowOff: r0, width: w, height: h });
        const s0 = detect(win, 'sigma0', { meta: sicd.meta, rowOff: r0, colOff: c0 }).data;
        const at = (r: number, c: number) => s0[(r - r0) * w + (c - c0)];
        let peak = 0;
        for (let dr = -1; dr <= 1; dr++)
          for (let dc = -1; dc <= 1; dc++) peak += at(Math.round(row) + dr, Math.round(col) + dc) / 9;
        const edge: number[] = [];
        for (let k = 0; k < w; k++) edge.push(s0[k], s0[(h - 1) * w + k]);
        expect(db(peak / median(edge)), `${s.id} (planted ${s.scrDb.toFixed(1)} dB)`).toBeGreaterThan(7);
      }
    } finally {
      await sicd.close();
    }
  });

  it('the airfield change: +8 dB inside the polygon between the pair that names it, nothing outside it', async () => {
    const change = manifest.changes[0];
    const ring = change.polygon.coordinates[0];
    const images = new Map<string, { mean: (inPoly: boolean) => number }>();
    for (const p of manifest.products.filter((x) => x.area === 'airfield' && x.format === 'sicd')) {
      const sicd = await Sicd.open(join(dir, p.path));
      const s0 = detect(await sicd.readComplex(), 'sigma0', { meta: sicd.meta, rowOff: 0, colOff: 0 }).data;
      await sicd.close();
      const m = sicd.meta;
      const pts: [number, number][] = [];
      for (let r = 2; r < m.numRows; r += 4) for (let c = 2; c < m.numCols; c += 4) pts.push([r, c]);
      const ground = sicdImageToGround(m, pts);
      const sums = { in: [0, 0], out: [0, 0] };
      // Outside: a band 150-600 m around the polygon, within the same fields.
      const [w, s, e, n] = [
        Math.min(...ring.map((q) => q[0])),
        Math.min(...ring.map((q) => q[1])),
        Math.max(...ring.map((q) => q[0])),
        Math.max(...ring.map((q) => q[1])),
      ];
      pts.forEach(([r, c], k) => {
        const [lat, lon] = ground[k];
        // 4x4 block mean around the lattice point.
        let v = 0;
        for (let dr = -2; dr < 2; dr++)
          for (let dc = -2; dc < 2; dc++) v += s0[(r + dr) * m.numCols + c + dc] / 16;
        if (inside(ring, lon, lat)) {
          // Keep 20 m inside the edges.
          if (lon > w + 0.0003 && lon < e - 0.0003 && lat > s + 0.0002 && lat < n - 0.0002) {
            sums.in[0] += v;
            sums.in[1]++;
          }
        } else if (lon > w - 0.006 && lon < e + 0.006 && lat > s - 0.004 && lat < n + 0.004) {
          if (lon < w - 0.002 || lon > e + 0.002 || lat < s - 0.0014 || lat > n + 0.0014) {
            sums.out[0] += v;
            sums.out[1]++;
          }
        }
      });
      expect(sums.in[1], `${p.id} samples inside`).toBeGreaterThan(100);
      images.set(p.id, { mean: (inPoly) => (inPoly ? sums.in[0] / sums.in[1] : sums.out[0] / sums.out[1]) });
    }
    for (const pair of manifest.pairs.filter((x) => x.area === 'airfield')) {
      const [b, a] = [images.get(pair.before), images.get(pair.after)];
      if (!a || !b) throw new Error(`pair ${pair.before}-${pair.after} not read`);
      const inside = db(a.mean(true) / b.mean(true));
      const outside = db(a.mean(false) / b.mean(false));
      if (pair.change === change.id) expect(inside).toBeCloseTo(change.changeDb, 0);
      else expect(Math.abs(inside)).toBeLessThan(0.7);
      expect(Math.abs(outside), `${pair.before}-${pair.after} outside`).toBeLessThan(0.7);
      expect(byId(pair.after).truth.changes[0].present).toBe(true);
    }
    expect(byId(change.between[0]).truth.changes[0].present).toBe(false);
  });

  it('the airfield change in the ascending GRD after it: the planted -13 + 8 dB inside the polygon', async () => {
    const p = manifest.products.find(
      (x) => x.area === 'airfield' && x.format === 'sentinel-1-safe',
    ) as ManifestProduct;
    expect(p.orbitState).toBe('ascending');
    expect(p.truth.changes).toEqual([{ id: 'change-1', present: true }]);
    const out = join(dir, `${p.id}-sigma0.tif`);
    await calibrateFile(join(dir, p.path), out, { target: 'sigma0', removeNoise: true });
    const tif = await GeoTiff.open(out);
    const img = await tif.read();
    await tif.close();
    const safe = await SafeProduct.open(join(dir, p.path));
    const grid = new TiePointGrid((await safe.annotation('VV')).geolocationGrid, 32631);
    await safe.close();
    const utm = manifest.changes[0].polygon.coordinates[0].map(([lon, lat]) =>
      transformPoint(4326, 32631, lon, lat),
    );
    const [x0, x1] = [Math.min(...utm.map((q) => q[0])), Math.max(...utm.map((q) => q[0]))];
    const [y0, y1] = [Math.min(...utm.map((q) => q[1])), Math.max(...utm.map((q) => q[1]))];
    const v: number[] = [];
    for (let x = x0 + 30; x < x1 - 30; x += 20)
      for (let y = y0 + 30; y < y1 - 30; y += 20) {
        const pos = grid.inverse(x, y, [img.height / 2, img.width / 2]);
        if (!pos) throw new Error(`no image position for ${x} ${y}`);
        v.push((img.data as Float32Array)[Math.round(pos[0]) * img.width + Math.round(pos[1])]);
      }
    expect(v.length).toBeGreaterThan(150);
    expect(db(v.reduce((a, b) => a + b, 0) / v.length)).toBeCloseTo(db(0.05) + 8, 0);
  });
});

describe('simulate campaign: reuse and bad options', () => {
  it('a finished campaign of the same options is reused, not rewritten', async () => {
    const t0 = performance.now();
    const r = await simulateCampaign(dir, { seed: 3 });
    expect(r.reused).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.manifest).toEqual(manifest);
  });

  const rows: [string, Parameters<typeof simulateCampaign>[1], RegExp][] = [
    ['negative seed', { seed: -1 }, /^seed must be an integer from 0 to 2147483647, got -1$/],
    ['fractional seed', { seed: 1.5 }, /^seed must be an integer/],
    [
      'start date not a date',
      { startDate: '2026-13-45' },
      /^start date must be YYYY-MM-DD, got '2026-13-45'$/,
    ],
    ['start date with a time', { startDate: '2026-06-01T00:00Z' }, /^start date must be YYYY-MM-DD/],
    [
      'the same partner twice',
      { partners: ['GBR', 'GBR'] },
      /^partners must be two different organisation codes/,
    ],
    ['a partner code in lower case', { partners: ['gbr', 'NLD'] }, /got 'gbr,NLD'$/],
  ];
  for (const [name, opts, message] of rows)
    it(`refuses ${name}`, async () => {
      const err = await simulateCampaign(join(dir, 'bad'), opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(message);
    });
});
