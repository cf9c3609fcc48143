import { ValidationError } from '../errors.js';

/**
 * 256-entry RGB colour maps. viridis and magma (matplotlib's perceptually uniform maps by van der
 * Walt and Smith) from the degree-6 polynomial fits of Matt Zucker (public domain), within 2%
 * of the tabulated maps; "diverging" interpolates ColorBrewer's RdBu (blue for low, red for high),
 * white in the middle, for signed data such as a dB change.
 */
export const COLORMAPS = ['gray', 'viridis', 'magma', 'diverging'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

type Poly = [number, number, number][];

const VIRIDIS: Poly = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

const MAGMA: Poly = [
  [-0.002136485053939582, -0.000749655052795221, -0.005386127855323933],
  [0.2516605407371642, 0.6775232436837668, 2.494026599312351],
  [8.353717279216625, -3.577719514958484, 0.3144679030132573],
  [-27.66873308576866, 14.26473078096533, -13.64921318813922],
  [52.17613981234068, -27.94360607168351, 12.94416944238394],
  [-50.76852536473588, 29.04658282127291, 4.23415299384598],
  [18.65570506591883, -11.48977351997711, -5.601961508734096],
];

const RDBU = [
  '#2166ac',
  '#4393c3',
  '#92c5de',
  '#d1e5f0',
  '#f7f7f7',
  '#fddbc7',
  '#f4a582',
  '#d6604d',
  '#b2182b',
];

function fromPoly(p: Poly): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = p.length - 1; k >= 0; k--) v = v * t + p[k][c];
      lut[i * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  return lut;
}

function fromStops(hex: string[]): Uint8Array {
  const stops = hex.map((h) => [1, 3, 5].map((o) => Number.parseInt(h.slice(o, o + 2), 16)));
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const u = (i / 255) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(u));
    const f = u - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(stops[k][c] * (1 - f) + stops[k + 1][c] * f);
  }
  return lut;
}

const cache = new Map<ColormapName, Uint8Array>();

/** The RGB lookup table (256 x 3 bytes) of a colour map. */
export function colormap(name: string): Uint8Array {
  if (!(COLORMAPS as readonly string[]).includes(name))
    throw new ValidationError(`colormap must be one of ${COLORMAPS.join(', ')}, got '${name}'`);
  const n = name as ColormapName;
  let lut = cache.get(n);
  if (!lut) {
    if (n === 'viridis') lut = fromPoly(VIRIDIS);
    else if (n === 'magma') lut = fromPoly(MAGMA);
    else if (n === 'diverging') lut = fromStops(RDBU);
    else lut = Uint8Array.from({ length: 768 }, (_, i) => Math.floor(i / 3));
    cache.set(n, lut);
  }
  return lut;
}

/**
 * Values to RGBA through a linear stretch [min, max] and a colour map; NaN (nodata, outside the
 * image) becomes transparent.
 */
export function colorize(
  values: Float32Array,
  min: number,
  max: number,
  lut: Uint8Array,
  out?: Uint8Array,
): Uint8Array {
  const rgba = out ?? new Uint8Array(values.length * 4);
  const scale = max > min ? 255 / (max - min) : 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const o = i * 4;
    if (v !== v) {
      rgba[o] = 0;
      rgba[o + 1] = 0;
      rgba[o + 2] = 0;
      rgba[o + 3] = 0;
      continue;
    }
    const k = Math.min(255, Math.max(0, Math.round((v - min) * scale)));
    rgba[o] = lut[k * 3];
    rgba[o + 1] = lut[k * 3 + 1];
    rgba[o + 2] = lut[k * 3 + 2];
    rgba[o + 3] = 255;
  }
  return rgba;
}

export { colorizeLut, float16Lut } from '../raster/colorize.js';
