import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { transformPoint } from '../src/geo/crs.js';
import { detect, Sicd } from '../src/io/nitf/sicd.js';
import { fillSicd } from '../src/ops/simulate-sicd.js';
import { SICD_CHIP } from './helpers/data.js';
import { gdalinfoJson, gdalRead, tempDir } from './helpers/gdal.js';
import { distanceM, llhToEcf, referenceImageToGround } from './helpers/sicd-geometry.js';

const tmp = tempDir('fill-sicd-');
afterAll(() => tmp.cleanup());

describe('simulate fill-sicd: a SICD with planted sigma0', () => {
  it('is read by GDAL with our pixels, and detection recovers the planted sigma0', async () => {
    const out = join(tmp.dir, 'sim.nitf');
    const r = await fillSicd(SICD_CHIP, out, { rows: 300, cols: 400, seed: 4 });
    const gi = gdalinfoJson(out) as { size: number[]; bands: { type: string }[] };
    expect(gi.size).toEqual([400, 300]);
    expect(gi.bands.map((b) => b.type)).toEqual(['Float32', 'Float32']);
    const s = await Sicd.open(out);
    const c = await s.readComplex();
    await s.close();
    const ref = gdalRead(out, 'float32').data[0];
    const n = 400 * 300;
    for (let i = 0; i < n; i += 97) {
      expect(c.data[2 * i]).toBe(ref[i]);
      expect(c.data[2 * i + 1]).toBe(ref[n + i]);
    }
    const sigma = detect(c, 'sigma0', { meta: s.meta, rowOff: 0, colOff: 0 });
    const isTarget = new Set(r.targets.map((t) => t.row * 400 + t.col));
    let sum = 0;
    let cnt = 0;
    for (let i = 0; i < n; i++) {
      if (isTarget.has(i)) continue;
      sum += sigma.data[i];
      cnt++;
    }
    console.log(`sea sigma0 ${(sum / cnt).toFixed(5)} over ${cnt} pixels (planted 0.02)`);
    expect(Math.abs(sum / cnt - 0.02) / 0.02).toBeLessThan(0.03);
    // Point targets: single-look speckle scatters them, but on average they carry their planted sigma0.
    const ratio =
      r.targets.reduce((acc, t) => acc + sigma.data[t.row * 400 + t.col] / t.sigma0, 0) / r.targets.length;
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(3);
    // The rewritten corners are the image's corner pixels at the SCP height, as an independent
    // INCA + R/Rdot-circle computation (test/helpers/sicd-geometry.ts) puts them from the written
    // metadata (SICD Volume 1: ImageCorners at the SCP height, first row/col, first row/last col ...).
    expect([s.meta.numRows, s.meta.numCols]).toEqual([300, 400]);
    const corners: [number, number][] = [
      [0, 0],
      [0, 399],
      [299, 399],
      [299, 0],
    ];
    const expected = referenceImageToGround(s.meta, corners);
    const hae = s.meta.scpLlh[2];
    const off = expected.map((q, i) =>
      distanceM(
        llhToEcf(s.meta.imageCorners[i][0], s.meta.imageCorners[i][1], hae),
        llhToEcf(q[0], q[1], hae),
      ),
    );
    console.log(
      `written ImageCorners: ${off.map((d) => (d * 1000).toFixed(2)).join(', ')} mm from the reference`,
    );
    // The projection converges to 1 mm in height: a few mm on the ground. A pixel is about 7 m.
    for (const d of off) expect(d).toBeLessThan(5e-3);
  });
});

describe('simulate scene --sicd: each date as a SICD with a real collection geometry', () => {
  it('recovers the planted sigma0 after ard, with the ships in place and the changes between dates', async () => {
    const { simulateScene } = await import('../src/ops/simulate-scene.js');
    const { ardSicd } = await import('../src/ops/ard.js');
    const dir = join(tmp.dir, 'scene');
    // Seed 1 puts one of the changed areas inside the SICDs' 7 x 7 km footprint.
    const r = await simulateScene(dir, { seed: 1, ships: 60, sicdTemplate: SICD_CHIP });
    const [first, second] = r.scenes;
    if (!first.sicd || !second.sicd) throw new Error('no SICD written');
    console.log(`SICD ${first.sicd.cols} x ${first.sicd.rows} centred on the template's SCP, EPSG:${r.epsg}`);
    const s = await Sicd.open(first.sicd.path);
    await s.close();
    expect(s.meta.collectStart).toBe('2026-06-01T06:00:00.000Z');
    expect([s.meta.numRows, s.meta.numCols]).toEqual([first.sicd.rows, first.sicd.cols]);
    // The geocoded scene of the same date is the planted sigma0 (with its own speckle): both on its grid.
    const a = await ardSicd(first.sicd.path, join(dir, 'ard-1'), { filter: 'none', like: first.path });
    const b = await ardSicd(second.sicd.path, join(dir, 'ard-2'), { filter: 'none', like: first.path });
    const planted = gdalRead(first.path, 'float32').data[0];
    const da = gdalRead(a.cog.path, 'float32').data[0];
    const db = gdalRead(b.cog.path, 'float32').data[0];
    const size = r.size;
    const ratios: number[] = [];
    for (let by = 0; by + 32 <= size; by += 32)
      for (let bx = 0; bx + 32 <= size; bx += 32) {
        let sa = 0;
        let sp = 0;
        let n = 0;
        for (let yy = by; yy < by + 32; yy++)
          for (let xx = bx; xx < bx + 32; xx++) {
            const v = da[yy * size + xx];
            if (v !== v) continue;
            sa += 10 ** (v / 10);
            sp += planted[yy * size + xx];
            n++;
          }
        if (n === 32 * 32) ratios.push(sa / sp);
      }
    ratios.sort((p, q) => p - q);
    const median = ratios[Math.floor(ratios.length / 2)];
    console.log(
      `ard of the SICD / planted sigma0, median of ${ratios.length} full 32 x 32 blocks: ${median.toFixed(4)}`,
    );
    expect(ratios.length).toBeGreaterThan(50);
    expect(Math.abs(median - 1)).toBeLessThan(0.05);
    // Ships inside the SICD are bright at their planted centre.
    const truth = JSON.parse(readFileSync(first.sicd.truthPath, 'utf8')) as {
      features: { properties: { id: string } }[];
    };
    const [gx, gs, , gy] = r.geoTransform;
    let bright = 0;
    for (const f of truth.features) {
      const q = first.ships.find((p) => p.id === f.properties.id);
      if (!q) throw new Error(`truth ship ${f.properties.id} was not planted`);
      let best = Number.NEGATIVE_INFINITY;
      for (let dy = -20; dy <= 20; dy += 10)
        for (let dx = -20; dx <= 20; dx += 10) {
          const v = da[Math.floor((gy - q.y - dy) / gs) * size + Math.floor((q.x + dx - gx) / gs)];
          if (v === v) best = Math.max(best, v);
        }
      if (best > -17 + q.scrDb / 2) bright++;
    }
    console.log(
      `${bright} of ${truth.features.length} planted ships inside the SICD are bright at their position`,
    );
    expect(truth.features.length).toBeGreaterThan(2);
    expect(bright).toBe(truth.features.length);
    // The changed areas inside the SICD change by the planted dB between the two dates (a box can reach
    // over the wavy coastline, where the sea does not change, so the measured change can fall short).
    // Which samples the SICDs cover comes from the independent image-to-ground of the written metadata
    // (test/helpers/sicd-geometry.ts: the four corner pixels at the SCP height, in the grid's CRS), not
    // from the ARD's own nodata: every sample 50 m inside that footprint must be valid in both ARDs, and
    // every area with at least 400 such samples is measured.
    const m = s.meta;
    const ring = referenceImageToGround(m, [
      [0, 0],
      [0, m.numCols - 1],
      [m.numRows - 1, m.numCols - 1],
      [m.numRows - 1, 0],
    ]).map(([lat, lon]) => transformPoint(4326, r.epsg, lon, lat));
    const insideFootprint = (x: number, y: number) => {
      let inside = false;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
        // Distance to this edge: a sample within 50 m of the footprint's edge is neither in nor out.
        const ex = xj - xi;
        const ey = yj - yi;
        const t = Math.max(0, Math.min(1, ((x - xi) * ex + (y - yi) * ey) / (ex * ex + ey * ey)));
        if (Math.hypot(x - xi - t * ex, y - yi - t * ey) < 50) return false;
      }
      return inside;
    };
    let checked = 0;
    let measurable = 0;
    for (const c of r.changes) {
      let sa = 0;
      let sb = 0;
      let n = 0;
      for (let y = c.box[1] + 20; y < c.box[3] - 20; y += 10)
        for (let x = c.box[0] + 20; x < c.box[2] - 20; x += 10) {
          if (!insideFootprint(x, y)) continue;
          const i = Math.floor((gy - y) / gs) * size + Math.floor((x - gx) / gs);
          expect(
            da[i] === da[i] && db[i] === db[i],
            `${c.id}: (${x}, ${y}) lies inside the SICDs but is nodata`,
          ).toBe(true);
          sa += 10 ** (da[i] / 10);
          sb += 10 ** (db[i] / 10);
          n++;
        }
      if (n < 400) {
        console.log(`${c.id}: ${n} samples inside the SICDs' footprint, too few to measure`);
        continue;
      }
      measurable++;
      const dB = 10 * Math.log10(sb / sa);
      console.log(
        `${c.id} (${c.kind}) through the SICDs: ${dB.toFixed(2)} dB over ${n} pixels (planted ${c.changeDb} dB)`,
      );
      expect(Math.abs(dB - c.changeDb)).toBeLessThan(1.5);
      checked++;
    }
    // Seed 1 puts one changed area inside the 7 x 7 km footprint (the reference geometry says which).
    expect(measurable).toBeGreaterThanOrEqual(1);
    expect(checked).toBe(measurable);
  });
});
