import type { DataType, TypedArray } from '../src/raster/dtype.js';
import { allocate, dataTypeInfo } from '../src/raster/dtype.js';
import type { RasterView } from '../src/raster/view.js';
import { gammaUnitMean, mulberry32 } from '../src/util/random.js';

const RANGE: Record<DataType, [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
  float32: [-1e4, 1e4],
  float64: [-1e6, 1e6],
  cint16: [-32768, 32767],
  cfloat32: [-1e3, 1e3],
};

/**
 * A seeded synthetic raster for a data type: a smooth ramp with noise and a few extreme values,
 * so predictors, rounding and the full value range are exercised.
 */
export function syntheticRaster(
  width: number,
  height: number,
  bands: number,
  dataType: DataType,
  seed = 1,
): RasterView {
  const rand = mulberry32(seed);
  const comps = dataTypeInfo(dataType).components;
  const data: TypedArray = allocate(dataType, width * height * bands);
  const [lo, hi] = RANGE[dataType];
  const span = hi - lo;
  const isFloat = dataTypeInfo(dataType).kind === 'float';
  let i = 0;
  for (let b = 0; b < bands; b++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < comps; c++) {
          const ramp = ((x + 2 * y + 37 * b + 11 * c) % 200) / 200;
          let v = lo + span * (0.25 + 0.5 * ramp) + (rand() - 0.5) * span * 0.05;
          if (rand() < 0.001) v = rand() < 0.5 ? lo : hi;
          data[i++] = isFloat ? v : Math.round(Math.min(hi, Math.max(lo, v)));
        }
      }
    }
  }
  return { data, width, height, bands, dataType, nodata: null };
}

/**
 * A seeded SAR-like intensity scene: piecewise-constant reflectivity (a dark sea, brighter land, a
 * diagonal bright band, a few bright points) times gamma speckle with `looks` looks.
 */
export function speckleScene(width: number, height: number, seed = 1, looks = 1): RasterView<Float32Array> {
  const rand = mulberry32(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let refl = x < width * 0.4 ? 0.05 : 0.4;
      if (y > height * 0.6 && x > width * 0.5) refl = 1.2;
      if (Math.abs(x - y) < 6) refl = 2.5;
      if ((x % 97 === 13 && y % 89 === 31) || (x === 200 && y === 100)) refl = 60;
      data[y * width + x] = refl * gammaUnitMean(rand, looks);
    }
  }
  return { data, width, height, bands: 1, dataType: 'float32', nodata: null };
}
