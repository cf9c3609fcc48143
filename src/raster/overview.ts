import { ValidationError } from '../errors.js';
import { dataTypeInfo } from './dtype.js';
import type { RasterView } from './view.js';

export type OverviewResampling = 'average' | 'nearest';

/**
 * Size of each overview level, halving (rounding up) until a level fits in one block.
 * @example overviewSizes(4096, 4096, 512) -> [[2048,2048],[1024,1024],[512,512]]
 */
export function overviewSizes(
  width: number,
  height: number,
  blockSize: number,
  maxCount = 30,
): [number, number][] {
  const out: [number, number][] = [];
  let w = width;
  let h = height;
  let f = 1;
  while ((w > blockSize || h > blockSize) && out.length < maxCount && (w > 1 || h > 1)) {
    f *= 2;
    w = Math.ceil(width / f);
    h = Math.ceil(height / f);
    out.push([w, h]);
  }
  return out;
}

/** Source windows of each destination pixel along one axis of a reduction. */
export interface AxisWindows {
  /** First source pixel of the window. */
  start: Int32Array;
  /** One past the last source pixel. */
  end: Int32Array;
  /** Weight of the first pixel (its covered fraction). */
  firstWeight: Float64Array;
  /** Weight of the last pixel when the window has more than one. */
  lastWeight: Float64Array;
  /** The source pixel nearest resampling takes. */
  nearest: Int32Array;
  /** True when every window is exactly two pixels and they tile the axis (a plain 2:1 reduction). */
  spacingIsTwo: boolean;
  /** Unweighted windows [floor(0.5 + i r), floor(0.5 + (i + 1) r)): GDAL's rule for complex data. */
  roundedStart: Int32Array;
  roundedEnd: Int32Array;
  /** Sum of each window's weights (GDAL's "full line" weight). */
  fullWeight: Float64Array;
}

/**
 * Windows of an area-weighted reduction from `srcSize` to `dstSize` pixels, with GDAL's rules
 * (gcore/overview.cpp): window [floor(i r), ceil((i + 1) r)), r = srcSize / dstSize, the edge pixels
 * weighted by the fraction of them the window covers; nearest takes floor(0.5 + i r).
 */
export function reductionWindows(srcSize: number, dstSize: number): AxisWindows {
  if (!Number.isInteger(dstSize) || dstSize <= 0 || dstSize > srcSize)
    throw new ValidationError(`overview size ${dstSize} must be in 1..${srcSize}`);
  const ratio = srcSize / dstSize;
  const start = new Int32Array(dstSize);
  const end = new Int32Array(dstSize);
  const firstWeight = new Float64Array(dstSize);
  const lastWeight = new Float64Array(dstSize);
  const nearest = new Int32Array(dstSize);
  const roundedStart = new Int32Array(dstSize);
  const roundedEnd = new Int32Array(dstSize);
  const fullWeights = new Float64Array(dstSize);
  let spacingIsTwo = true;
  let lastEnd = -1;
  for (let i = 0; i < dstSize; i++) {
    const a = i * ratio;
    const b = (i + 1) * ratio;
    const s = Math.floor(a + 1e-8);
    let e = Math.ceil(b - 1e-8);
    if (e === s) e++;
    if (e > srcSize) e = srcSize;
    start[i] = s;
    end[i] = e;
    firstWeight[i] = e === s + 1 ? 1 : 1 - (a - s);
    lastWeight[i] = 1 - (e - b);
    nearest[i] = Math.min(srcSize - 1, Math.floor(0.5 + a));
    roundedStart[i] = nearest[i];
    roundedEnd[i] = Math.min(srcSize, Math.max(roundedStart[i] + 1, Math.floor(0.5 + b)));
    fullWeights[i] = fullWeight(e - s, firstWeight[i], lastWeight[i]);
    if (e - s !== 2 || (lastEnd >= 0 && lastEnd !== s)) spacingIsTwo = false;
    lastEnd = e;
  }
  return {
    start,
    end,
    firstWeight,
    lastWeight,
    nearest,
    spacingIsTwo,
    roundedStart,
    roundedEnd,
    fullWeight: fullWeights,
  };
}

/** Round half away from zero, as GDAL stores a real-valued average into an integer type. */
function roundHalfAway(v: number): number {
  return v >= 0 ? Math.floor(v + 0.5) : Math.ceil(v - 0.5);
}

/** Sum of the weights along one window: GDAL's "full line" weight. */
function fullWeight(n: number, first: number, last: number): number {
  return n > 1 ? first + (n - 2) + last : first;
}

/**
 * Reduce source rows into destination rows of an overview.
 * `src` holds source rows starting at absolute row `srcRowOff`; destination rows
 * [dstRow0, dstRow0 + dstRows) are written into `dst` starting at its row `dstRowBase`.
 *
 * Average is area-weighted in double precision, summed in GDAL's order (each line weighted along x,
 * then the lines weighted along y), so results agree with `gdaladdo -r average` to the last bit for
 * integer types; a 2:1 reduction without nodata is the plain mean of the 2 x 2 pixels, as in GDAL.
 * NaN and nodata pixels are left out (a window with none valid gives nodata, or NaN for floats
 * without nodata). Integers round half away from zero; like GDAL, types other than uint8 and uint16
 * resolve ties after rounding the mean to float32 (only where float32 holds the integer exactly).
 */
export function reduceRows(
  method: OverviewResampling,
  src: RasterView,
  srcRowOff: number,
  dst: RasterView,
  dstRowBase: number,
  dstRow0: number,
  dstRows: number,
  xw: AxisWindows,
  yw: AxisWindows,
  nodata: number | null,
): void {
  const info = dataTypeInfo(src.dataType);
  const comps = info.components;
  const sw = src.width;
  const dw = dst.width;
  const sPlane = sw * src.height * comps;
  const dPlane = dw * dst.height * comps;
  const s = src.data;
  const d = dst.data;
  const integer = info.kind !== 'float';
  const float32Ties = integer && src.dataType !== 'uint8' && src.dataType !== 'uint16';
  const hasNodata = nodata !== null && !Number.isNaN(nodata);
  const nd = hasNodata ? (nodata as number) : 0;
  const fillValue = nodata ?? (integer ? 0 : Number.NaN);
  const rowStride = sw * comps;
  for (let b = 0; b < src.bands; b++) {
    for (let r = 0; r < dstRows; r++) {
      const dy = dstRow0 + r;
      const dBase = b * dPlane + (dstRowBase + r) * dw * comps;
      if (method === 'nearest') {
        const sRow = b * sPlane + (yw.nearest[dy] - srcRowOff) * rowStride;
        for (let x = 0; x < dw; x++) {
          const si = sRow + xw.nearest[x] * comps;
          d[dBase + x * comps] = s[si];
          if (comps === 2) d[dBase + x * comps + 1] = s[si + 1];
        }
        continue;
      }
      if (comps === 2) {
        reduceComplexRow(
          s,
          b * sPlane,
          rowStride,
          srcRowOff,
          d,
          dBase,
          dw,
          dy,
          xw,
          yw,
          integer,
          hasNodata,
          nd,
          fillValue,
        );
        continue;
      }
      const y0 = yw.start[dy] - srcRowOff;
      const y1 = yw.end[dy] - srcRowOff;
      const plainTwoByTwo = xw.spacingIsTwo && y1 - y0 === 2;
      if (plainTwoByTwo && !integer && !hasNodata && comps === 1) {
        // The common case (float 2:1 without nodata), in a tight loop; NaN windows fall through below.
        const r0 = b * sPlane + y0 * rowStride;
        const r1 = r0 + rowStride;
        let anyNaN = false;
        for (let x = 0, p = 0; x < dw; x++, p += 2) {
          const m = (s[r0 + p] + s[r0 + p + 1] + s[r1 + p] + s[r1 + p + 1]) / 4;
          d[dBase + x] = m;
          if (m !== m) anyNaN = true;
        }
        if (!anyNaN) continue;
      }
      const wTop = yw.firstWeight[dy];
      const wBottom = yw.lastWeight[dy];
      const columnWeight = fullWeight(y1 - y0, wTop, wBottom);
      if (!integer && !hasNodata && comps === 1 && !plainTwoByTwo) {
        // Float without nodata, any window shape: line by line over the whole row, in GDAL's order.
        const acc = (rowAcc.length >= dw ? rowAcc : (rowAcc = new Float64Array(dw))).subarray(0, dw);
        const anyNaN = weightedFloatRow(
          s as Float32Array | Float64Array,
          b * sPlane,
          rowStride,
          y0,
          y1,
          wTop,
          wBottom,
          columnWeight,
          xw,
          acc,
          d as Float32Array | Float64Array,
          dBase,
        );
        if (!anyNaN) continue;
      }
      for (let x = 0; x < dw; x++) {
        const x0 = xw.start[x];
        const x1 = xw.end[x];
        const wLeft = xw.firstWeight[x];
        const wRight = xw.lastWeight[x];
        for (let c = 0; c < comps; c++) {
          const base = b * sPlane + c;
          let mean = Number.NaN;
          if (!hasNodata) {
            if (plainTwoByTwo) {
              const p = base + y0 * rowStride + x0 * comps;
              mean = (s[p] + s[p + comps] + s[p + rowStride] + s[p + rowStride + comps]) / 4;
            } else {
              let total = 0;
              for (let y = y0; y < y1; y++) {
                const rowBase = base + y * rowStride;
                let line = s[rowBase + x0 * comps] * wLeft;
                if (x0 + 1 < x1) {
                  for (let xx = x0 + 1; xx + 1 < x1; xx++) line += s[rowBase + xx * comps];
                  line += s[rowBase + (x1 - 1) * comps] * wRight;
                }
                total += line * (y === y0 ? wTop : y === y1 - 1 ? wBottom : 1);
              }
              mean = total / (fullWeight(x1 - x0, wLeft, wRight) * columnWeight);
            }
          }
          if (mean !== mean) {
            // Nodata or NaN in the window: weight only the valid pixels.
            let total = 0;
            let weight = 0;
            for (let y = y0; y < y1; y++) {
              const rowBase = base + y * rowStride;
              let line = 0;
              let lineWeight = 0;
              for (let xx = x0; xx < x1; xx++) {
                const v = s[rowBase + xx * comps];
                if (v !== v || (hasNodata && v === nd)) continue;
                const wx = xx === x0 ? wLeft : xx === x1 - 1 ? wRight : 1;
                line += v * wx;
                lineWeight += wx;
              }
              const wy = y === y0 ? wTop : y === y1 - 1 ? wBottom : 1;
              total += line * wy;
              weight += lineWeight * wy;
            }
            mean = weight === 0 ? Number.NaN : total / weight;
          }
          let out: number;
          if (mean !== mean) out = fillValue;
          else if (!integer) out = mean;
          else out = roundHalfAway(float32Ties && Math.abs(mean) < 16777216 ? Math.fround(mean) : mean);
          d[dBase + x * comps + c] = out;
        }
      }
    }
  }
}

/** A reusable row of double sums for weightedFloatRow. */
let rowAcc = new Float64Array(0);

/**
 * One destination row of an area-weighted average of float data without nodata: the same sums in the
 * same order as the pixel-by-pixel path (each line weighted along x, then the lines along y), swept a
 * source line at a time. Returns true when some window held NaN (those pixels need the slow path).
 */
function weightedFloatRow(
  s: Float32Array | Float64Array,
  planeBase: number,
  rowStride: number,
  y0: number,
  y1: number,
  wTop: number,
  wBottom: number,
  columnWeight: number,
  xw: AxisWindows,
  acc: Float64Array,
  d: Float32Array | Float64Array,
  dBase: number,
): boolean {
  const dw = acc.length;
  const { start, end, firstWeight, lastWeight, fullWeight: fw } = xw;
  let anyNaN = false;
  if (y1 - y0 === 2) {
    // Two source lines (every 2:1 level): the loop GDAL's order allows, unrolled.
    const r0 = planeBase + y0 * rowStride;
    const r1 = r0 + rowStride;
    for (let x = 0; x < dw; x++) {
      const x0 = start[x];
      const n = end[x] - x0;
      const wl = firstWeight[x];
      const wr = lastWeight[x];
      const p = r0 + x0;
      const q = r1 + x0;
      let top: number;
      let bottom: number;
      if (n === 3) {
        top = s[p] * wl + s[p + 1] + s[p + 2] * wr;
        bottom = s[q] * wl + s[q + 1] + s[q + 2] * wr;
      } else if (n === 2) {
        top = s[p] * wl + s[p + 1] * wr;
        bottom = s[q] * wl + s[q + 1] * wr;
      } else {
        top = s[p] * wl;
        bottom = s[q] * wl;
        if (n > 1) {
          for (let k = 1; k + 1 < n; k++) {
            top += s[p + k];
            bottom += s[q + k];
          }
          top += s[p + n - 1] * wr;
          bottom += s[q + n - 1] * wr;
        }
      }
      const m = (top * wTop + bottom * wBottom) / (fw[x] * columnWeight);
      d[dBase + x] = m;
      if (m !== m) anyNaN = true;
    }
    return anyNaN;
  }
  acc.fill(0);
  for (let y = y0; y < y1; y++) {
    const wy = y === y0 ? wTop : y === y1 - 1 ? wBottom : 1;
    const rowBase = planeBase + y * rowStride;
    for (let x = 0; x < dw; x++) {
      const x0 = start[x];
      const x1 = end[x];
      let line = s[rowBase + x0] * firstWeight[x];
      if (x0 + 1 < x1) {
        for (let xx = x0 + 1; xx + 1 < x1; xx++) line += s[rowBase + xx];
        line += s[rowBase + x1 - 1] * lastWeight[x];
      }
      acc[x] += line * wy;
    }
  }
  for (let x = 0; x < dw; x++) {
    const m = acc[x] / (fw[x] * columnWeight);
    d[dBase + x] = m;
    if (m !== m) anyNaN = true;
  }
  return anyNaN;
}

/** Complex average, as GDAL does it: unweighted mean of I and of Q over rounded windows. */
function reduceComplexRow(
  s: ArrayLike<number>,
  planeBase: number,
  rowStride: number,
  srcRowOff: number,
  d: { [i: number]: number },
  dBase: number,
  dw: number,
  dy: number,
  xw: AxisWindows,
  yw: AxisWindows,
  integer: boolean,
  hasNodata: boolean,
  nd: number,
  fillValue: number,
): void {
  const y0 = yw.roundedStart[dy] - srcRowOff;
  const y1 = yw.roundedEnd[dy] - srcRowOff;
  for (let x = 0; x < dw; x++) {
    const x0 = xw.roundedStart[x];
    const x1 = xw.roundedEnd[x];
    let sumI = 0;
    let sumQ = 0;
    let n = 0;
    for (let y = y0; y < y1; y++) {
      const rowBase = planeBase + y * rowStride;
      for (let xx = x0; xx < x1; xx++) {
        const i = s[rowBase + 2 * xx];
        const q = s[rowBase + 2 * xx + 1];
        if (i !== i || q !== q || (hasNodata && i === nd && q === 0)) continue;
        sumI += i;
        sumQ += q;
        n++;
      }
    }
    if (n === 0) {
      d[dBase + 2 * x] = fillValue;
      d[dBase + 2 * x + 1] = integer ? 0 : fillValue;
      continue;
    }
    const mi = sumI / n;
    const mq = sumQ / n;
    d[dBase + 2 * x] = integer ? roundHalfAway(Math.fround(mi)) : mi;
    d[dBase + 2 * x + 1] = integer ? roundHalfAway(Math.fround(mq)) : mq;
  }
}
