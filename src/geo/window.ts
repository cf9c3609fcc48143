import { ValidationError } from '../errors.js';

/** A rectangle of pixels, rasterio-style: offsets and sizes in pixels. */
export interface Window {
  colOff: number;
  rowOff: number;
  width: number;
  height: number;
}

/** The window covering a whole raster of the given size. */
export function fullWindow(width: number, height: number): Window {
  return { colOff: 0, rowOff: 0, width, height };
}

/** Intersection of two windows, or null when they do not overlap. */
export function intersectWindows(a: Window, b: Window): Window | null {
  const col0 = Math.max(a.colOff, b.colOff);
  const row0 = Math.max(a.rowOff, b.rowOff);
  const col1 = Math.min(a.colOff + a.width, b.colOff + b.width);
  const row1 = Math.min(a.rowOff + a.height, b.rowOff + b.height);
  if (col1 <= col0 || row1 <= row0) return null;
  return { colOff: col0, rowOff: row0, width: col1 - col0, height: row1 - row0 };
}

/** Throws a ValidationError unless the window lies inside a raster of the given size. */
export function assertWindowInside(win: Window, width: number, height: number, what = 'window'): void {
  const ok =
    Number.isInteger(win.colOff) &&
    Number.isInteger(win.rowOff) &&
    Number.isInteger(win.width) &&
    Number.isInteger(win.height) &&
    win.colOff >= 0 &&
    win.rowOff >= 0 &&
    win.width > 0 &&
    win.height > 0 &&
    win.colOff + win.width <= width &&
    win.rowOff + win.height <= height;
  if (!ok) {
    throw new ValidationError(
      `${what} ${JSON.stringify(win)} must be integral, non-empty and inside the ${width} x ${height} raster`,
    );
  }
}

/**
 * The blocks of a regular grid that cover a raster, row-major; edge blocks are clipped.
 * @example [...blockWindows(1000, 600, 512, 512)].length === 4
 */
export function* blockWindows(
  width: number,
  height: number,
  blockWidth: number,
  blockHeight: number,
): Generator<Window> {
  for (let rowOff = 0; rowOff < height; rowOff += blockHeight) {
    const h = Math.min(blockHeight, height - rowOff);
    for (let colOff = 0; colOff < width; colOff += blockWidth) {
      yield { colOff, rowOff, width: Math.min(blockWidth, width - colOff), height: h };
    }
  }
}

/** Block index range [first, last] inclusive, per axis, touched by a window on a grid of blocks. */
export function blocksTouched(
  win: Window,
  blockWidth: number,
  blockHeight: number,
): { col0: number; col1: number; row0: number; row1: number } {
  return {
    col0: Math.floor(win.colOff / blockWidth),
    col1: Math.floor((win.colOff + win.width - 1) / blockWidth),
    row0: Math.floor(win.rowOff / blockHeight),
    row1: Math.floor((win.rowOff + win.height - 1) / blockHeight),
  };
}
