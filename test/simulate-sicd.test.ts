import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detect, Sicd } from '../src/io/nitf/sicd.js';
import { sicdImageToGround } from '../src/io/nitf/sicd-projection.js';
import { fillSicd } from '../src/ops/simulate-sicd.js';
import { SICD_CHIP } from './helpers/data.js';
import { gdalinfoJson, gdalRead, tempDir } from './helpers/gdal.js';

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
    // The rewritten corners are where the projection puts them.
    const [p] = sicdImageToGround(s.meta, [[299, 399]]);
    expect(s.meta.imageCorners[2][0]).toBeCloseTo(p[0], 9);
    expect(s.meta.imageCorners[2][1]).toBeCloseTo(p[1], 9);
    expect([s.meta.numRows, s.meta.numCols]).toEqual([300, 400]);
  });
});
