import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { gdalRead, tempDir, validateCog } from './helpers/gdal.js';

const tmp = tempDir('scene-');
afterAll(() => tmp.cleanup());
const SIZE = 768;
let r: SceneResult;

beforeAll(async () => {
  r = await simulateScene(join(tmp.dir, 'a'), { seed: 9, size: SIZE, ships: 15 });
});

describe('simulate scene: planted truth', () => {
  it('writes valid COGs, sidecars and GeoJSON truth, the same bytes for the same seed', async () => {
    expect(r.scenes).toHaveLength(2);
    for (const s of r.scenes) {
      expect(validateCog(s.path).errors).toEqual([]);
      const truth = JSON.parse(readFileSync(s.truth, 'utf8'));
      expect(truth.type).toBe('FeatureCollection');
      expect(truth.features.length).toBe(s.ships.length);
      for (const f of truth.features) expect(f.geometry.type).toBe('Point');
      expect(JSON.parse(readFileSync(s.sidecar, 'utf8')).properties.datetime).toBe(s.date);
    }
    const again = await simulateScene(join(tmp.dir, 'b'), { seed: 9, size: SIZE, ships: 15 });
    expect(readFileSync(again.scenes[1].path).equals(readFileSync(r.scenes[1].path))).toBe(true);
  });

  it('has sea clutter at the planted sigma0 and ships at their planted contrast', () => {
    const s = r.scenes[0];
    const px = gdalRead(s.path, 'float32').data[0];
    const at = (x: number, y: number) =>
      px[Math.floor((4760000 - y) / 10) * SIZE + Math.floor((x - 640000) / 10)];
    // Sea: the left 20% of the scene, away from ships.
    let sum = 0;
    let n = 0;
    for (let row = 0; row < SIZE; row++) {
      for (let col = 0; col < SIZE * 0.2; col++) {
        const x = 640000 + (col + 0.5) * 10;
        const y = 4760000 - (row + 0.5) * 10;
        if (s.ships.some((q) => Math.hypot(q.x - x, q.y - y) < q.lengthM)) continue;
        sum += px[row * SIZE + col];
        n++;
      }
    }
    console.log(`sea sigma0 ${(sum / n).toFixed(5)} over ${n} pixels (planted 0.02)`);
    expect(Math.abs(sum / n - 0.02) / 0.02).toBeLessThan(0.03);
    // The brightest pixel next to each ship's centre stands out by about its planted SCR (speckled).
    for (const q of s.ships) {
      let best = 0;
      for (let dy = -10; dy <= 10; dy += 10)
        for (let dx = -10; dx <= 10; dx += 10) best = Math.max(best, at(q.x + dx, q.y + dy));
      expect(best / 0.02, `${q.id} near its centre`).toBeGreaterThan(10 ** (q.scrDb / 10) / 4);
    }
  });

  it('changes backscatter by the planted dB inside the changed areas', () => {
    const a = gdalRead(r.scenes[0].path, 'float32').data[0];
    const b = gdalRead(r.scenes[1].path, 'float32').data[0];
    expect(r.changes.length).toBeGreaterThan(0);
    for (const c of r.changes) {
      let sa = 0;
      let sb = 0;
      for (
        let row = Math.ceil((4760000 - c.box[3]) / 10);
        row < Math.floor((4760000 - c.box[1]) / 10);
        row++
      ) {
        for (
          let col = Math.ceil((c.box[0] - 640000) / 10);
          col < Math.floor((c.box[2] - 640000) / 10);
          col++
        ) {
          sa += a[row * SIZE + col];
          sb += b[row * SIZE + col];
        }
      }
      const db = 10 * Math.log10(sb / sa);
      console.log(`${c.id} (${c.kind}): ${db.toFixed(2)} dB (planted ${c.changeDb})`);
      expect(Math.abs(db - c.changeDb)).toBeLessThan(0.5);
    }
  });
});
