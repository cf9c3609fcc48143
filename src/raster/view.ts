import { ValidationError } from '../errors.js';
import type { Window } from '../geo/window.js';
import { assertWindowInside } from '../geo/window.js';
import type { DataType, TypedArray } from './dtype.js';
import { allocate, dataTypeInfo } from './dtype.js';

/**
 * Pixels in memory: band-sequential planes, each row-major, `width * height` pixels per band
 * (times 2 components, interleaved I/Q, for complex types).
 * Float nodata is NaN (`nodata` may still record the file's value); integer nodata is explicit.
 */
export interface RasterView<T extends TypedArray = TypedArray> {
  data: T;
  width: number;
  height: number;
  bands: number;
  dataType: DataType;
  nodata?: number | null;
}

/** A new zero-filled raster. */
export function createRaster(
  width: number,
  height: number,
  bands: number,
  dataType: DataType,
  nodata: number | null = null,
): RasterView {
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['bands', bands],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0)
      throw new ValidationError(`raster ${name} must be a positive integer, got ${v}`);
  }
  return { data: allocate(dataType, width * height * bands), width, height, bands, dataType, nodata };
}

/** Wraps an existing typed array as a raster after checking its length. */
export function rasterFrom<T extends TypedArray>(
  data: T,
  width: number,
  height: number,
  dataType: DataType,
  bands = 1,
  nodata: number | null = null,
): RasterView<T> {
  const info = dataTypeInfo(dataType);
  const expected = width * height * bands * info.components;
  if (data.length !== expected) {
    throw new ValidationError(
      `raster data has ${data.length} values, expected ${expected} for ${width} x ${height} x ${bands} ${dataType}`,
    );
  }
  if (!(data instanceof info.array))
    throw new ValidationError(
      `raster data is a ${data.constructor.name}, expected ${info.array.name} for ${dataType}`,
    );
  return { data, width, height, bands, dataType, nodata };
}

/** The values of band `band` (0-based), sharing memory with the raster. */
export function bandPlane<T extends TypedArray>(view: RasterView<T>, band: number): T {
  if (!Number.isInteger(band) || band < 0 || band >= view.bands) {
    throw new ValidationError(`band index ${band} is outside 0..${view.bands - 1}`);
  }
  const n = view.width * view.height * dataTypeInfo(view.dataType).components;
  return view.data.subarray(band * n, (band + 1) * n) as T;
}

/** Copy a window of a raster into a new raster. */
export function cropRaster(view: RasterView, win: Window): RasterView {
  assertWindowInside(win, view.width, view.height);
  const comps = dataTypeInfo(view.dataType).components;
  const out = createRaster(win.width, win.height, view.bands, view.dataType, view.nodata ?? null);
  const rowLen = win.width * comps;
  for (let b = 0; b < view.bands; b++) {
    const srcBase = b * view.width * view.height * comps;
    const dstBase = b * win.width * win.height * comps;
    for (let r = 0; r < win.height; r++) {
      const s = srcBase + ((win.rowOff + r) * view.width + win.colOff) * comps;
      out.data.set(view.data.subarray(s, s + rowLen), dstBase + r * rowLen);
    }
  }
  return out;
}
