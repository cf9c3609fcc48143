import { ValidationError } from '../errors.js';
import { converter } from '../geo/crs.js';
import type { GeoTransform } from '../geo/transform.js';
import type { RasterView } from './view.js';

export type WarpResampling = 'bilinear' | 'nearest';

/** The output grid of a warp: a north-up geotransform and a size, in the tie-point grid's CRS. */
export interface WarpTarget {
  geoTransform: GeoTransform;
  width: number;
  height: number;
}

/** A north-up grid covering `bounds` at `spacingM`, its corners snapped to multiples of the spacing. */
export function snappedGrid(bounds: [number, number, number, number], spacingM: number): WarpTarget {
  if (!(spacingM > 0)) throw new ValidationError(`spacing must be positive, got ${spacingM}`);
  const x0 = Math.floor(bounds[0] / spacingM) * spacingM;
  const y1 = Math.ceil(bounds[3] / spacingM) * spacingM;
  const width = Math.ceil((bounds[2] - x0) / spacingM);
  const height = Math.ceil((y1 - bounds[1]) / spacingM);
  return { geoTransform: [x0, spacingM, 0, y1, 0, -spacingM], width, height };
}

/**
 * Where map coordinates of the output grid fall in the source image: (x, y) -> (line, pixel), pixel
 * centres at integers; null where it cannot be found. A TiePointGrid is one (image geometry); gridInverse
 * makes one for a raster already on a map grid.
 */
export interface InverseMapping {
  inverse(x: number, y: number, guess: [number, number]): [number, number] | null;
}

/** The inverse mapping of a north-up raster on `geoTransform` in `srcEpsg`, seen from `dstEpsg`. */
export function gridInverse(srcEpsg: number, geoTransform: GeoTransform, dstEpsg: number): InverseMapping {
  const [x0, dx, , y0, , dy] = geoTransform;
  if (geoTransform[2] !== 0 || geoTransform[4] !== 0)
    throw new ValidationError('warp: the source grid must be north-up (no rotation terms)');
  const conv = srcEpsg === dstEpsg ? null : converter(dstEpsg, srcEpsg);
  return {
    inverse(x, y) {
      let sx = x;
      let sy = y;
      if (conv) {
        const p = conv.forward([x, y]);
        sx = p[0];
        sy = p[1];
        if (!Number.isFinite(sx) || !Number.isFinite(sy)) return null;
      }
      return [(sy - y0) / dy - 0.5, (sx - x0) / dx - 0.5];
    },
  };
}

const STEP = 8;

/**
 * Warp a single-band float32 image to a map grid by inverse mapping: each output pixel centre goes
 * through the mapping's inverse to a source image position (for a tie-point grid of an image in ground
 * range, solved by Newton's method) on a lattice every 8 output pixels, interpolated bilinearly in
 * between where the mapping is smooth, and the image is sampled there. Outside the image: NaN (nodata).
 */
export function warpByTiePoints(
  src: RasterView,
  grid: InverseMapping,
  target: WarpTarget,
  resampling: WarpResampling = 'bilinear',
): RasterView<Float32Array> {
  if (src.bands !== 1 || src.dataType !== 'float32')
    throw new ValidationError(`warp needs one float32 band, got ${src.bands} x ${src.dataType}`);
  const { geoTransform: gt, width, height } = target;
  const W = src.width;
  const H = src.height;
  const s = src.data as Float32Array;
  // Lattice of inverse positions.
  const nx = Math.ceil((width - 1) / STEP) + 1;
  const ny = Math.ceil((height - 1) / STEP) + 1;
  const latL = new Float64Array(nx * ny).fill(Number.NaN);
  const latP = new Float64Array(nx * ny).fill(Number.NaN);
  let guess: [number, number] = [H / 2, W / 2];
  for (let j = 0; j < ny; j++) {
    const r = Math.min(j * STEP, height - 1);
    for (let i = 0; i < nx; i++) {
      const c = Math.min(i * STEP, width - 1);
      const x = gt[0] + (c + 0.5) * gt[1];
      const y = gt[3] + (r + 0.5) * gt[5];
      const pos = grid.inverse(x, y, guess);
      if (pos) {
        latL[j * nx + i] = pos[0];
        latP[j * nx + i] = pos[1];
        guess = pos;
      }
    }
  }
  const out = new Float32Array(width * height).fill(Number.NaN);
  for (let r = 0; r < height; r++) {
    const j = Math.min(Math.floor(r / STEP), ny - 2);
    const r0 = j * STEP;
    const r1 = Math.min((j + 1) * STEP, height - 1);
    const fy = r1 > r0 ? (r - r0) / (r1 - r0) : 0;
    for (let c = 0; c < width; c++) {
      const i = Math.min(Math.floor(c / STEP), nx - 2);
      const c0 = i * STEP;
      const c1 = Math.min((i + 1) * STEP, width - 1);
      const fx = c1 > c0 ? (c - c0) / (c1 - c0) : 0;
      const k = j * nx + i;
      const l =
        (1 - fy) * ((1 - fx) * latL[k] + fx * latL[k + 1]) +
        fy * ((1 - fx) * latL[k + nx] + fx * latL[k + nx + 1]);
      const p =
        (1 - fy) * ((1 - fx) * latP[k] + fx * latP[k + 1]) +
        fy * ((1 - fx) * latP[k + nx] + fx * latP[k + nx + 1]);
      if (!(l >= -0.5 && l <= H - 0.5 && p >= -0.5 && p <= W - 0.5)) continue;
      if (resampling === 'nearest') {
        out[r * width + c] = s[Math.min(H - 1, Math.round(l)) * W + Math.min(W - 1, Math.round(p))];
        continue;
      }
      const y0 = Math.max(0, Math.min(H - 2, Math.floor(l)));
      const x0 = Math.max(0, Math.min(W - 2, Math.floor(p)));
      const wy = Math.max(0, Math.min(1, l - y0));
      const wx = Math.max(0, Math.min(1, p - x0));
      let sum = 0;
      let wsum = 0;
      const add = (v: number, w: number) => {
        if (v === v && w > 0) {
          sum += v * w;
          wsum += w;
        }
      };
      add(s[y0 * W + x0], (1 - wy) * (1 - wx));
      add(s[y0 * W + x0 + 1], (1 - wy) * wx);
      add(s[(y0 + 1) * W + x0], wy * (1 - wx));
      add(s[(y0 + 1) * W + x0 + 1], wy * wx);
      if (wsum > 0) out[r * width + c] = sum / wsum;
    }
  }
  return { data: out, width, height, bands: 1, dataType: 'float32', nodata: Number.NaN };
}
