import { ValidationError } from '../errors.js';
import type { Window } from './window.js';

/**
 * An affine geotransform in GDAL order:
 * x = gt[0] + col * gt[1] + row * gt[2]; y = gt[3] + col * gt[4] + row * gt[5],
 * for pixel-corner coordinates (col, row) (PixelIsArea).
 */
export type GeoTransform = [number, number, number, number, number, number];

/** Map coordinates of a pixel-corner position (col, row). */
export function applyGeoTransform(gt: GeoTransform, col: number, row: number): [number, number] {
  return [gt[0] + col * gt[1] + row * gt[2], gt[3] + col * gt[4] + row * gt[5]];
}

/** The inverse transform: map (x, y) to pixel (col, row). Throws for a degenerate transform. */
export function invertGeoTransform(gt: GeoTransform): GeoTransform {
  const det = gt[1] * gt[5] - gt[2] * gt[4];
  if (det === 0 || !Number.isFinite(det)) {
    throw new ValidationError(`geotransform ${JSON.stringify(gt)} is not invertible`);
  }
  const inv1 = gt[5] / det;
  const inv2 = -gt[2] / det;
  const inv4 = -gt[4] / det;
  const inv5 = gt[1] / det;
  return [-gt[0] * inv1 - gt[3] * inv2, inv1, inv2, -gt[0] * inv4 - gt[3] * inv5, inv4, inv5];
}

/** The geotransform of a window of a raster (its pixel (0,0) is the window's corner). */
export function windowGeoTransform(gt: GeoTransform, win: Window): GeoTransform {
  const [x, y] = applyGeoTransform(gt, win.colOff, win.rowOff);
  return [x, gt[1], gt[2], y, gt[4], gt[5]];
}

/** The geotransform of a raster resampled to another size over the same extent. */
export function scaleGeoTransform(
  gt: GeoTransform,
  fromWidth: number,
  fromHeight: number,
  toWidth: number,
  toHeight: number,
): GeoTransform {
  const sx = fromWidth / toWidth;
  const sy = fromHeight / toHeight;
  return [gt[0], gt[1] * sx, gt[2] * sy, gt[3], gt[4] * sx, gt[5] * sy];
}

/** Extent [minX, minY, maxX, maxY] of a width x height raster in map units. */
export function rasterExtent(
  gt: GeoTransform,
  width: number,
  height: number,
): [number, number, number, number] {
  const corners = [
    applyGeoTransform(gt, 0, 0),
    applyGeoTransform(gt, width, 0),
    applyGeoTransform(gt, 0, height),
    applyGeoTransform(gt, width, height),
  ];
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
