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
  it('puts every planted point where gdalwarp -tps does, within half an output pixel', async () => {
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
      // The exact transformer: gdalwarp's default linear approximation (-et 0.125) puts one of these
      // points 0.68 pixels from where its own thin-plate spline does (measured).
      '-et',
      '0',
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

    // Where GDAL's thin-plate spline through the same tie points puts each planted point: the two
    // geolocation models (TPS, and our bilinear interpolation inside the tie-point grid) differ
    // between tie points, and that difference is what the centroids can differ by, plus the error of
    // a centroid of a resampled 3 x 3 block.
    const pts = join(tmp.dir, 'planted.json');
    writeFileSync(pts, JSON.stringify(planted.map(([l, p]) => [p + 0.5, l + 0.5])));
    const tpsScript = `import json\nfrom osgeo import gdal\nds = gdal.Open(${JSON.stringify(src)})\nt = gdal.Transformer(ds, None, ['METHOD=GCP_TPS', 'DST_SRS=EPSG:${epsg}'])\nout, ok = t.TransformPoints(0, json.load(open(${JSON.stringify(pts)})))\nres = []\nfor (px, ln), f in zip(json.load(open(${JSON.stringify(pts)})), out):\n    x, y = f[0], f[1]\n    for _ in range(20):\n        back = t.TransformPoint(1, x, y)[1]\n        g = t.TransformPoint(0, back[0], back[1])[1]\n        x, y = x + f[0] - g[0], y + f[1] - g[1]\n    res.append([x, y])\nprint(json.dumps(res))`;
    const tps = JSON.parse(execFileSync(PYTHON, ['-c', tpsScript], { encoding: 'utf8' })) as [
      number,
      number,
    ][];

    let total = 0;
    let n = 0;
    let worst = 0;
    let worstModel = 0;
    let worstBeyondModel = 0;
    let worstAt = '';
    const perPoint: { at: string; d: number; model: number }[] = [];
    for (const [k, [l, p]] of planted.entries()) {
      const [x, y] = grid.forward(l, p);
      const model = Math.hypot(x - tps[k][0], y - tps[k][1]) / spacing;
      worstModel = Math.max(worstModel, model);
      const c = (x - gt[0]) / gt[1] - 0.5;
      const r = (y - gt[3]) / gt[5] - 0.5;
      const a = centroid(ours.data, target.width, target.height, c, r);
      const b = centroid(gdal, target.width, target.height, c, r);
      expect(a, `point at line ${l}, pixel ${p} missing from our output`).not.toBeNull();
      expect(b, `point at line ${l}, pixel ${p} missing from GDAL's output`).not.toBeNull();
      const d = Math.hypot((a as number[])[0] - (b as number[])[0], (a as number[])[1] - (b as number[])[1]);
      perPoint.push({ at: `line ${l}, pixel ${p}`, d, model });
      total += d;
      if (d > worst) worstAt = `line ${l}, pixel ${p}`;
      worst = Math.max(worst, d);
      worstBeyondModel = Math.max(worstBeyondModel, d - model);
      n++;
    }
    const mean = total / n;
    console.log(
      `geocoding: ${n} planted points, mean position difference from gdalwarp -tps ${mean.toFixed(3)} output pixels (worst ${worst.toFixed(3)} at ${worstAt}), EPSG:${epsg}, ${spacing} m, ${target.width} x ${target.height}; the two geolocation models differ by up to ${worstModel.toFixed(3)} pixels at these points, the centroids by at most ${worstBeyondModel.toFixed(3)} more`,
    );
    // The worst, not only the mean: a centroid of a bilinearly resampled 3 x 3 block (1.5 output pixels
    // wide) lands within 0.15 pixels of its model position in either output (measured), so two differ
    // by the models' difference plus at most 0.25 pixels at every point; and the two interpolants of
    // the same tie points, 13 x 19 km apart, differ by less than half an output pixel (100 m) here, so
    // no planted point may be more than half a pixel from where gdalwarp puts it.
    for (const f of perPoint)
      expect(
        f.d,
        `point at ${f.at}: ${f.d.toFixed(3)} pixels from gdalwarp, the models ${f.model.toFixed(3)} apart`,
      ).toBeLessThanOrEqual(f.model + 0.25);
    expect(worstModel).toBeLessThan(0.5);
    expect(worst).toBeLessThanOrEqual(0.5);
    expect(mean).toBeLessThanOrEqual(0.25);
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
