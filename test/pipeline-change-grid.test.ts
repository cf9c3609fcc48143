import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import { transformPoint } from '../src/geo/crs.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { ingest } from '../src/pipeline/ingest.js';
import { startWorkers } from '../src/pipeline/worker.js';
import { gdalinfoJson, tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const tmp = tempDir('pipeline-grid-');
afterAll(() => tmp.cleanup());

describe('pipeline change: passes on different grids', () => {
  it('compares a later pass cut on the same pixel lattice on the intersection of the grids (no second ARD) and finds the planted changes', async () => {
    const r = await simulateScene(join(tmp.dir, 'scene'), { seed: 4, size: 384, ships: 4 });
    const [d1, d2] = r.scenes;
    // The second pass as a provider might cut it: a window 37 x 23 pixels in, 300 x 320 pixels (gdal_translate).
    const cut = join(tmp.dir, 'scene', 'cut_2026-06-13.tif');
    execFileSync('gdal_translate', [
      '-q',
      '-srcwin',
      '37',
      '23',
      '300',
      '320',
      '-co',
      'TILED=YES',
      d2.path,
      cut,
    ]);
    copyFileSync(d2.sidecar, join(tmp.dir, 'scene', 'cut_2026-06-13.json'));
    const { ctx, close } = await openTestPipeline(join(tmp.dir, 'data'), { landMask: r.landPath });
    try {
      const arrived = await ingest(ctx, [cut, d1.path]);
      const w = await startWorkers(ctx.queue, ctx, { concurrency: 2 });
      await ctx.queue.drained({ timeoutMs: 300_000 });
      await w.close();
      const later = await ctx.registry.get(arrived[0].id as string);
      expect(later?.state, later?.error ?? '').toBe('published');
      const change = (await ctx.registry.step(later?.id as string, 'change'))?.result as {
        grid: string;
        changeItemId: string;
      };
      expect(change.grid).toBe('intersection');
      expect(existsSync(join(tmp.dir, 'data', 'work', later?.id as string))).toBe(true);
      expect(
        readdirSync(join(tmp.dir, 'data', 'work', later?.id as string)).filter((n) =>
          n.startsWith('ard-like-'),
        ),
      ).toEqual([]);
      const item = await ctx.catalog.getItem('sar', change.changeItemId, ALL);
      expect(item?.properties['processing:lineage']).not.toMatch(/made again/);
      // On the intersection: the cut's window of the first pass's grid (as GDAL reads the files).
      const own = gdalinfoJson(d1.path) as { size: number[]; geoTransform: number[] };
      expect(item?.properties['proj:shape']).toEqual([320, 300]);
      const t = item?.properties['proj:transform'] as number[];
      expect([t[2], t[5]]).toEqual([
        own.geoTransform[0] + 37 * own.geoTransform[1],
        own.geoTransform[3] + 23 * own.geoTransform[5],
      ]);
      // The planted changes inside the cut window are found (a polygon centre inside each, 60 m margin).
      const [x0, , , y0] = r.geoTransform;
      const win = [x0 + 37 * 10, y0 - (23 + 320) * 10, x0 + (37 + 300) * 10, y0 - 23 * 10];
      const inside = r.changes.filter(
        (c) => c.box[0] > win[0] && c.box[2] < win[2] && c.box[1] > win[1] && c.box[3] < win[3],
      );
      const polys = JSON.parse(
        readFileSync(join(tmp.dir, 'data', 'assets', item?.assets.polygons.href as string), 'utf8'),
      ).features as { geometry: { coordinates: [number, number][][] } }[];
      const centres = polys.map((f) => {
        const ring = f.geometry.coordinates[0];
        const [lon, lat] = ring.reduce(
          (a, q) => [a[0] + q[0] / ring.length, a[1] + q[1] / ring.length],
          [0, 0],
        );
        return transformPoint(4326, r.epsg, lon, lat);
      });
      const found = inside.filter((c) =>
        centres.some(
          ([x, y]) => x > c.box[0] - 60 && x < c.box[2] + 60 && y > c.box[1] - 60 && y < c.box[3] + 60,
        ),
      );
      console.log(
        `cut pass: ${found.length} of ${inside.length} planted changes inside the window found, ${polys.length} polygons`,
      );
      expect(inside.length).toBeGreaterThan(0);
      expect(found.length).toBe(inside.length);
    } finally {
      await close();
    }
  }, 300_000);

  it("makes a later pass on another lattice (origin half a pixel off) again on the earlier one's grid", async () => {
    const r = await simulateScene(join(tmp.dir, 'half'), { seed: 5, size: 256, ships: 2 });
    const [d1, d2] = r.scenes;
    // The second pass georeferenced 5 m (half a pixel) east: not on the first pass's lattice.
    const off = join(tmp.dir, 'half', 'off_2026-06-13.tif');
    const [x0, , , y0] = r.geoTransform;
    execFileSync('gdal_translate', [
      '-q',
      '-a_ullr',
      String(x0 + 5),
      String(y0),
      String(x0 + 5 + 2560),
      String(y0 - 2560),
      '-co',
      'TILED=YES',
      d2.path,
      off,
    ]);
    copyFileSync(d2.sidecar, join(tmp.dir, 'half', 'off_2026-06-13.json'));
    const { ctx, close } = await openTestPipeline(join(tmp.dir, 'data-half'), { landMask: r.landPath });
    try {
      const arrived = await ingest(ctx, [off, d1.path]);
      const w = await startWorkers(ctx.queue, ctx, { concurrency: 2 });
      await ctx.queue.drained({ timeoutMs: 300_000 });
      await w.close();
      const later = await ctx.registry.get(arrived[0].id as string);
      expect(later?.state, later?.error ?? '').toBe('published');
      const change = (await ctx.registry.step(later?.id as string, 'change'))?.result as {
        grid: string;
        changeItemId: string;
      };
      expect(change.grid).toBe('resampled');
      const item = await ctx.catalog.getItem('sar', change.changeItemId, ALL);
      expect(item?.properties['processing:lineage']).toMatch(/made again on the grid of /);
      const own = gdalinfoJson(d1.path) as { size: number[]; geoTransform: number[] };
      expect(item?.properties['proj:shape']).toEqual([own.size[1], own.size[0]]);
      const t = item?.properties['proj:transform'] as number[];
      expect([t[2], t[5]]).toEqual([own.geoTransform[0], own.geoTransform[3]]);
    } finally {
      await close();
    }
  }, 300_000);
});
