import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { utmEpsgForLonLat } from '../src/geo/crs.js';
import type { TiePoint } from '../src/geo/geolocation.js';
import { TiePointGrid } from '../src/geo/geolocation.js';
import { SafeProduct } from '../src/io/s1/safe.js';
import { snappedGrid, warpByTiePoints } from '../src/raster/warp.js';
import { S1_ZIP as ZIP } from './helpers/data.js';
import { PYTHON, tempDir } from './helpers/gdal.js';
import { readFloat32 } from './helpers/otb.js';

const tmp = tempDir('geocode-');
afterAll(() => tmp.cleanup());

/** Weighted centroid (col, row) of the bright blob around an expected output pixel. */
function centroid(
  img: Float32Array,
  width: number,
  height: number,
  c: number,
  r: number,
): [number, number] | null {
  let s = 0;
  let sx = 0;
  let sy = 0;
  for (let y = Math.max(0, Math.round(r) - 6); y <= Math.min(height - 1, Math.round(r) + 6); y++) {
    for (let x = Math.max(0, Math.round(c) - 6); x <= Math.min(width - 1, Math.round(c) + 6); x++) {
      const v = img[y * width + x] - 1;
      if (!(v > 0.5)) continue;
      s += v;
      sx += v * x;
      sy += v * y;
    }
  }
  return s > 0 ? [sx / s, sy / s] : null;
}

describe('geocoding a ground-range image through its geolocation grid', () => {
  it('puts planted points where gdalwarp -tps does, within half an output pixel on average', async () => {
    const safe = await SafeProduct.open(ZIP);
    const ann = await safe.annotation('VV');
    await safe.close();
    // A 10 x 10 multilooked version of the scene: tie points move to the looked pixel centres.
    const D = 10;
    const W = Math.floor(ann.numberOfSamples / D);
    const H = Math.floor(ann.numberOfLines / D);
    const ties: TiePoint[] = ann.geolocationGrid.map((g) => ({
      line: (g.line + 0.5) / D - 0.5,
      pixel: (g.pixel + 0.5) / D - 0.5,
      lat: g.lat,
      lon: g.lon,
    }));
    const centre = ann.geolocationGrid[Math.floor(ann.geolocationGrid.length / 2)];
    const epsg = utmEpsgForLonLat(centre.lon, centre.lat);
    const grid = new TiePointGrid(ties, epsg);
    // Background 1 with 3 x 3 bright blocks on a lattice.
    const img = new Float32Array(W * H).fill(1);
    const planted: [number, number][] = [];
    for (let l = 100; l < H - 100; l += 300) {
      for (let p = 100; p < W - 100; p += 400) {
        planted.push([l, p]);
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) img[(l + dy) * W + p + dx] = 100;
      }
    }
    const spacing = 200;
    const target = snappedGrid(grid.bounds(W, H), spacing);
    const ours = warpByTiePoints(
      { data: img, width: W, height: H, bands: 1, dataType: 'float32' },
      grid,
      target,
      'bilinear',
    );

    // GDAL: the same pixels with the tie points as GCPs (GDAL's pixel corner convention: centre + 0.5).
    const raw = join(tmp.dir, 'img.bin');
    writeFileSync(raw, img);
    const gcps = join(tmp.dir, 'gcps.json');
    writeFileSync(gcps, JSON.stringify(ties.map((t) => [t.pixel + 0.5, t.line + 0.5, t.lon, t.lat])));
    const src = join(tmp.dir, 'src.tif');
    const script = `import json, numpy as np\nfrom osgeo import gdal, osr\na = np.fromfile(${JSON.stringify(raw)}, dtype='<f4').reshape(${H}, ${W})\nds = gdal.GetDriverByName('GTiff').Create(${JSON.stringify(src)}, ${W}, ${H}, 1, gdal.GDT_Float32)\nds.GetRasterBand(1).WriteArray(a)\nsrs = osr.SpatialReference(); srs.ImportFromEPSG(4326)\ngcps = [gdal.GCP(lon, lat, 0, px, ln) for px, ln, lon, lat in json.load(open(${JSON.stringify(gcps)}))]\nds.SetGCPs(gcps, srs.ExportToWkt())\nds = None`;
    execFileSync(PYTHON, ['-c', script]);
    const ref = join(tmp.dir, 'gdal.tif');
    const gt = target.geoTransform;
    const te = [gt[0], gt[3] + target.height * gt[5], gt[0] + target.width * gt[1], gt[3]].map(String);
    execFileSync('gdalwarp', [
      '-q',
      '-tps',
      '-t_srs',
      `EPSG:${epsg}`,
      '-tr',
      String(spacing),
      String(spacing),
      '-te',
      ...te,
      '-r',
      'bilinear',
      '-dstnodata',
      'nan',
      src,
      ref,
    ]);
    const gdal = await readFloat32(ref);

    let total = 0;
    let n = 0;
    let worst = 0;
    for (const [l, p] of planted) {
      const [x, y] = grid.forward(l, p);
      const c = (x - gt[0]) / gt[1] - 0.5;
      const r = (y - gt[3]) / gt[5] - 0.5;
      const a = centroid(ours.data, target.width, target.height, c, r);
      const b = centroid(gdal, target.width, target.height, c, r);
      expect(a, `point at line ${l}, pixel ${p} missing from our output`).not.toBeNull();
      expect(b, `point at line ${l}, pixel ${p} missing from GDAL's output`).not.toBeNull();
      const d = Math.hypot((a as number[])[0] - (b as number[])[0], (a as number[])[1] - (b as number[])[1]);
      total += d;
      worst = Math.max(worst, d);
      n++;
    }
    const mean = total / n;
    console.log(
      `geocoding: ${n} planted points, mean position difference from gdalwarp -tps ${mean.toFixed(3)} output pixels (worst ${worst.toFixed(3)}), EPSG:${epsg}, ${spacing} m, ${target.width} x ${target.height}`,
    );
    expect(mean).toBeLessThanOrEqual(0.5);
    // Outside the footprint is nodata in both.
    expect(Number.isNaN(ours.data[0])).toBe(Number.isNaN(gdal[0]));
  });
});

describe('tie-point grid', () => {
  const ties: TiePoint[] = [];
  for (const line of [0, 500, 1000])
    for (const pixel of [0, 400, 800, 1200])
      ties.push({
        line,
        pixel,
        lat: -1 - line * 1e-4 + pixel * 1e-6,
        lon: 36 + pixel * 1.2e-4 + line * 2e-6,
      });

  it('inverse undoes forward inside and beyond the grid', async () => {
    const { default: fc } = await import('fast-check');
    const grid = new TiePointGrid(ties, 32737);
    fc.assert(
      fc.property(
        fc.double({ min: -100, max: 1100, noNaN: true }),
        fc.double({ min: -100, max: 1300, noNaN: true }),
        (l, p) => {
          const [x, y] = grid.forward(l, p);
          const back = grid.inverse(x, y);
          expect(back).not.toBeNull();
          expect(Math.abs((back as number[])[0] - l)).toBeLessThan(1e-4);
          expect(Math.abs((back as number[])[1] - p)).toBeLessThan(1e-4);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses tie points that are not a full grid', () => {
    expect(() => new TiePointGrid(ties.slice(1), 32737)).toThrow(
      /tie points are not a full grid: line 0 has no point at pixel 0/,
    );
    expect(() => new TiePointGrid(ties.slice(0, 1), 32737)).toThrow(
      /must span at least 2 lines and 2 pixels/,
    );
  });
});
