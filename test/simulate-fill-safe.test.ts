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
  safeDir = await fillSafe(ZIP, tmp.dir, { crop: { width: W, height: H }, pols: ['VV'], seed: 3 });
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
});
