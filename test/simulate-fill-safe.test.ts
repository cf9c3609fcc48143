import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateFile } from '../src/ops/calibrate.js';
import { fillSafe, plantedSigma0 } from '../src/ops/simulate.js';
import { S1_VV_MEASUREMENT as MEAS, S1_ZIP as ZIP } from './helpers/data.js';
import { tempDir } from './helpers/gdal.js';
import { otb, readFloat32 } from './helpers/otb.js';

const tmp = tempDir('fill-safe-');
afterAll(() => tmp.cleanup());
const W = 12000; // wide enough to cross the planted coastline (at 45% of 25931 samples, +-600)
const H = 600;
let safeDir = '';

beforeAll(async () => {
  safeDir = await fillSafe(ZIP, tmp.dir, { crop: { width: W, height: H }, pols: ['VV'], seed: 3, ships: 0 });
});

describe('simulate fill-safe: measurement rasters for the real Sentinel-1 annotation', () => {
  it('calibrates back to the planted sigma0, and OTB calibrates it to the same values', async () => {
    const ours = join(tmp.dir, 'sigma0.tif');
    await calibrateFile(safeDir, ours, { pol: 'VV', allowCrop: true });
    const ref = join(tmp.dir, 'sigma0-otb.tif');
    otb('SARCalibration', ['-in', join(safeDir, MEAS), '-out', ref, 'float', '-lut', 'sigma']);
    const a = await readFloat32(ours);
    const b = await readFloat32(ref);
    let max = 0;
    for (let i = 0; i < b.length; i += 7)
      max = Math.max(max, a[i] === b[i] ? 0 : Math.abs(a[i] - b[i]) / Math.abs(b[i]));
    expect(max).toBeLessThan(1e-5);
    // Mean calibrated sigma0 per planted class (sea 0.02, land 0.2), against the truth.
    const sums = new Map<number, { s: number; n: number }>();
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const truth = plantedSigma0(x, y, 25931);
        const e = sums.get(truth) ?? { s: 0, n: 0 };
        e.s += a[y * W + x];
        e.n++;
        sums.set(truth, e);
      }
    }
    for (const [truth, { s, n }] of sums) {
      const mean = s / n;
      console.log(`planted sigma0 ${truth}: recovered ${mean.toFixed(5)} over ${n} pixels`);
      expect(Math.abs(mean - truth) / truth).toBeLessThan(0.02);
    }
    expect(sums.size).toBeGreaterThanOrEqual(2);
  });

  it('plants ships on the sea with lon/lat truth, each as bright as planted after calibration', async () => {
    const dir = join(tmp.dir, 'ships');
    const safe = await fillSafe(ZIP, dir, {
      crop: { width: 4000, height: 1500 },
      pols: ['VV'],
      seed: 8,
      ships: 25,
    });
    const truth = JSON.parse(readFileSync(join(dir, 'truth.geojson'), 'utf8'));
    expect(truth.features).toHaveLength(25);
    const out = join(dir, 'sigma0.tif');
    await calibrateFile(safe, out, { pol: 'VV', allowCrop: true });
    const a = await readFloat32(out);
    for (const f of truth.features) {
      const p = f.properties;
      expect(plantedSigma0(p.pixel, p.line, 25931)).toBe(0.02);
      const [lon, lat] = f.geometry.coordinates;
      // The crop of the real annotation lies near its first tie point (17.7 S, 35.0 E).
      expect(lon).toBeGreaterThan(33);
      expect(lon).toBeLessThan(37);
      expect(lat).toBeGreaterThan(-19.5);
      expect(lat).toBeLessThan(-16);
      let peak = 0;
      for (let y = Math.floor(p.line - 2); y <= Math.ceil(p.line + 2); y++)
        for (let x = Math.floor(p.pixel - 2); x <= Math.ceil(p.pixel + 2); x++)
          peak = Math.max(peak, a[y * 4000 + x]);
      expect(peak / 0.02, p.id).toBeGreaterThan(10 ** (p.scr_db / 10) / 4);
    }
  });
});
