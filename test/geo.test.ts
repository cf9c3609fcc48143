import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import { lonLatBounds, transformPoint, utmEpsgForLonLat } from '../src/geo/crs.js';
import type { GeoTransform } from '../src/geo/transform.js';
import { applyGeoTransform, invertGeoTransform, windowGeoTransform } from '../src/geo/transform.js';
import { assertWindowInside, blockWindows, intersectWindows } from '../src/geo/window.js';

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

describe('geotransforms', () => {
  it('the inverse maps map coordinates back to pixels', () => {
    fc.assert(
      fc.property(
        finite(-1e6, 1e6),
        finite(0.1, 100),
        finite(-5, 5),
        finite(-1e6, 1e6),
        finite(-5, 5),
        finite(-100, -0.1),
        finite(0, 5000),
        finite(0, 5000),
        (x0, a, b, y0, c, d, col, row) => {
          fc.pre(Math.abs(a * d - b * c) > 1e-3);
          const gt: GeoTransform = [x0, a, b, y0, c, d];
          const [x, y] = applyGeoTransform(gt, col, row);
          const [col2, row2] = applyGeoTransform(invertGeoTransform(gt), x, y);
          expect(col2).toBeCloseTo(col, 5);
          expect(row2).toBeCloseTo(row, 5);
        },
      ),
    );
  });

  it('a window transform puts the window corner at pixel (0, 0)', () => {
    const gt: GeoTransform = [500000, 10, 0, 6000000, 0, -10];
    expect(windowGeoTransform(gt, { colOff: 3, rowOff: 4, width: 1, height: 1 })).toEqual([
      500030, 10, 0, 5999960, 0, -10,
    ]);
  });

  it('a degenerate transform is a ValidationError', () => {
    expect(() => invertGeoTransform([0, 0, 0, 0, 0, 0])).toThrow(ValidationError);
  });
});

describe('windows', () => {
  it('blocks cover a raster exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        (w, h, bw, bh) => {
          const seen = new Uint8Array(w * h);
          for (const b of blockWindows(w, h, bw, bh)) {
            assertWindowInside(b, w, h);
            for (let y = b.rowOff; y < b.rowOff + b.height; y++)
              for (let x = b.colOff; x < b.colOff + b.width; x++) seen[y * w + x]++;
          }
          expect(seen.every((v) => v === 1)).toBe(true);
        },
      ),
    );
  });

  it('intersection is symmetric and inside both', () => {
    const win = fc.record({
      colOff: fc.integer({ min: 0, max: 50 }),
      rowOff: fc.integer({ min: 0, max: 50 }),
      width: fc.integer({ min: 1, max: 50 }),
      height: fc.integer({ min: 1, max: 50 }),
    });
    fc.assert(
      fc.property(win, win, (a, b) => {
        const i = intersectWindows(a, b);
        expect(intersectWindows(b, a)).toEqual(i);
        if (i) {
          for (const o of [a, b]) {
            expect(i.colOff).toBeGreaterThanOrEqual(o.colOff);
            expect(i.colOff + i.width).toBeLessThanOrEqual(o.colOff + o.width);
            expect(i.rowOff).toBeGreaterThanOrEqual(o.rowOff);
            expect(i.rowOff + i.height).toBeLessThanOrEqual(o.rowOff + o.height);
          }
        }
      }),
    );
  });

  it.each([
    [{ colOff: -1, rowOff: 0, width: 1, height: 1 }],
    [{ colOff: 0, rowOff: 0, width: 0, height: 1 }],
    [{ colOff: 0, rowOff: 0, width: 11, height: 1 }],
    [{ colOff: 0.5, rowOff: 0, width: 1, height: 1 }],
  ])('rejects %o on a 10 x 10 raster', (w) => {
    expect(() => assertWindowInside(w, 10, 10)).toThrow(
      /must be integral, non-empty and inside the 10 x 10 raster/,
    );
  });
});

describe('CRS', () => {
  it.each([
    [3, 45, 32631],
    [-3, 45, 32630],
    [10, 60, 32632], // Norway exception
    [15, 78, 32633], // Svalbard
    [-70, -33, 32719],
    [179.9, 0.1, 32660],
  ])('UTM zone of (%f, %f) is EPSG:%i', (lon, lat, epsg) => {
    expect(utmEpsgForLonLat(lon, lat)).toBe(epsg);
  });

  it('UTM round trip through proj4 stays within a millimetre', () => {
    fc.assert(
      fc.property(finite(-179, 179), finite(-79, 83), (lon, lat) => {
        const epsg = utmEpsgForLonLat(lon, lat);
        const [x, y] = transformPoint(4326, epsg, lon, lat);
        const [lon2, lat2] = transformPoint(epsg, 4326, x, y);
        expect(Math.abs(lon2 - lon) * 111_000 * Math.cos((lat * Math.PI) / 180)).toBeLessThan(1e-3);
        expect(Math.abs(lat2 - lat) * 111_000).toBeLessThan(1e-3);
      }),
      { numRuns: 200 },
    );
  });

  it('an unknown EPSG code is a ValidationError naming it', () => {
    expect(() => transformPoint(2154, 4326, 0, 0)).toThrow(/EPSG:2154 is not a CRS sarbridge can transform/);
  });

  it('lon/lat bounds of a UTM raster contain its corners', () => {
    const gt: GeoTransform = [600000, 10, 0, 4800000, 0, -10];
    const [w, s, e, n] = lonLatBounds(32631, gt, 1000, 1000);
    for (const [c, r] of [
      [0, 0],
      [1000, 0],
      [0, 1000],
      [1000, 1000],
    ]) {
      const [lon, lat] = transformPoint(32631, 4326, ...applyGeoTransform(gt, c, r));
      expect(lon >= w && lon <= e && lat >= s && lat <= n).toBe(true);
    }
  });
});
