import type { LonLatPolygon } from '../exploit/landmask.js';
import type { TruthVessel } from '../exploit/score.js';
import { transformPoint } from '../geo/crs.js';
import type { GeoTransform } from '../geo/transform.js';
import { gammaUnitMean, mulberry32 } from '../util/random.js';

/**
 * Scenes for the CFAR detector that the K-clutter scene simulator (simulate-scene.ts) does not make:
 * backgrounds with more than one clutter level, for the accuracy benchmark and tests.
 *
 * - `blocks`: piecewise-constant reflectivity, a 4 x 4 grid of blocks with neighbouring levels 3-20 dB
 *   apart, a circle and a diagonal edge cutting across; `textured` the same, each block with a gamma
 *   texture of its own (order 1-8, i.i.d. per pixel: K clutter of several levels).
 * - `step`: two halves `stepDb` apart (default 17 dB).
 * - `coast`: sea (K clutter, order 4) and textured land 12 dB brighter beyond a wavy coastline;
 *   `mask` 'none' gives no land mask, 'misplaced' the coastline moved 500 m towards the land (a strip of
 *   land left unmasked), 'true' the real one.
 * - `ice`: sea and sea ice (8 dB brighter, texture order 2) on either side of a wavy ice edge; ships
 *   in the open water only. `front`: a wind front, a wavy line with 7 dB less wind on one side.
 * - `rain`: sea with 6 rain cells, bright blobs of 1-5 km across, up to 6-12 dB above the sea.
 * - `homogeneous`: one level, speckle only.
 *
 * Ships: oriented rectangles 30-150 m long, their sigma0 SCR dB above the local (planted) clutter,
 * at least 400 m apart and, in `coast` and `ice`, at least 300 m inside the water. Speckle: gamma of
 * `looks` looks (1: exponential), i.i.d. per pixel, over everything.
 */
export type BackgroundKind =
  | 'blocks'
  | 'textured'
  | 'step'
  | 'coast'
  | 'ice'
  | 'front'
  | 'rain'
  | 'homogeneous';

export interface BackgroundOptions {
  kind: BackgroundKind;
  seed?: number;
  /** Pixels per side (default 1024), 10 m pixels. */
  size?: number;
  looks?: number;
  ships?: number;
  scrDb?: [number, number];
  stepDb?: number;
  /** Land mask handed to the detector for `coast` (default 'none'). */
  mask?: 'none' | 'misplaced' | 'true';
}

export interface PlantedTarget extends TruthVessel {
  scrDb: number;
  headingDeg: number;
  widthM: number;
}

export interface BackgroundScene {
  /** Intensity (sigma0, linear), size x size, in shared memory (detectVessels uses it as scratch). */
  image: Float32Array;
  grid: { epsg: number; geoTransform: GeoTransform; width: number; height: number };
  ships: PlantedTarget[];
  /** 1 where the pixel is water (ships may lie there; false alarms per sea pixel count there). */
  sea: Uint8Array;
  seaPixels: number;
  /** The land mask to hand to the detector: 'none' or lon/lat polygons. */
  landMask: 'none' | LonLatPolygon[];
  looks: number;
}

const SPACING_M = 10;
const EPSG = 32631;
const X0 = 500_000;
const Y0 = 4_500_000;
const db = (x: number) => 10 ** (x / 10);

/** A seeded scene of the given kind; see the module comment. */
export function simulateBackground(opts: BackgroundOptions): BackgroundScene {
  const size = opts.size ?? 1024;
  const looks = opts.looks ?? 1;
  const rand = mulberry32(opts.seed ?? 1);
  const srand = mulberry32((opts.seed ?? 1) * 7919 + 13);
  const N = size * size;
  const level = new Float32Array(N);
  const order = new Float32Array(N).fill(Number.POSITIVE_INFINITY);
  const sea = new Uint8Array(N).fill(1);
  const sea0 = 0.01;
  // Coastline / ice edge / wind front: a wavy line, column = f(row).
  const amp = size * (0.04 + 0.04 * rand());
  const waves = 1 + Math.floor(rand() * 3);
  const phase = rand() * 2 * Math.PI;
  const edgeCol = (row: number) => size * 0.6 + amp * Math.sin((2 * Math.PI * waves * row) / size + phase);
  let landShiftPx = 0;
  switch (opts.kind) {
    case 'homogeneous':
      level.fill(sea0);
      break;
    case 'step': {
      const hi = sea0 * db(opts.stepDb ?? 17);
      for (let p = 0; p < N; p++) level[p] = p % size < size / 2 ? sea0 : hi;
      break;
    }
    case 'blocks':
    case 'textured': {
      // Neighbouring blocks 3-20 dB apart: a walk over the grid of levels in dB.
      const nb = 4;
      const dbOf = new Float64Array(nb * nb);
      for (let by = 0; by < nb; by++)
        for (let bx = 0; bx < nb; bx++) {
          const ref = bx > 0 ? dbOf[by * nb + bx - 1] : by > 0 ? dbOf[(by - 1) * nb] : -20;
          let v = ref + (rand() < 0.5 ? -1 : 1) * (3 + 17 * rand());
          if (v < -28 || v > -2) v = ref - Math.sign(v - ref) * (3 + 17 * rand());
          dbOf[by * nb + bx] = Math.min(-2, Math.max(-28, v));
        }
      const ordOf = Array.from({ length: nb * nb }, () => 1 + 7 * rand());
      // The circle inside one block (no slivers of blocks cut off by it).
      const cb = Math.floor(rand() * nb * nb);
      const cx = ((cb % nb) + 0.5) * (size / nb);
      const cy = (Math.floor(cb / nb) + 0.5) * (size / nb);
      const r = (size / nb) * (0.25 + 0.15 * rand());
      const circleDb = -20 + 16 * (rand() - 0.5);
      const diagDb = 6 + 8 * rand();
      for (let row = 0; row < size; row++)
        for (let col = 0; col < size; col++) {
          const b = Math.floor((row * nb) / size) * nb + Math.floor((col * nb) / size);
          let v = dbOf[b];
          if ((col - cx) ** 2 + (row - cy) ** 2 < r * r) v = circleDb;
          // Above the diagonal (upper right corner), a further step.
          if (col - row > size * 0.55) v += diagDb;
          level[row * size + col] = db(v);
          if (opts.kind === 'textured') order[row * size + col] = ordOf[b];
        }
      break;
    }
    case 'coast':
    case 'ice':
    case 'front': {
      const otherDb = opts.kind === 'coast' ? 12 : opts.kind === 'ice' ? 8 : -7;
      for (let row = 0; row < size; row++) {
        const c = edgeCol(row);
        for (let col = 0; col < size; col++) {
          const p = row * size + col;
          const beyond = col + 0.5 > c;
          level[p] = beyond ? sea0 * db(otherDb) : sea0;
          order[p] = beyond ? (opts.kind === 'front' ? 4 : 2) : 4;
          if (beyond && opts.kind !== 'front') sea[p] = 0;
        }
      }
      if (opts.kind === 'coast') {
        // Land brightness varies smoothly by +-2 dB over a few km.
        const f1 = 1 + rand() * 3;
        for (let row = 0; row < size; row++)
          for (let col = 0; col < size; col++) {
            const p = row * size + col;
            if (sea[p] === 0) level[p] *= db(2 * Math.sin((2 * Math.PI * f1 * (row + col)) / size));
          }
        landShiftPx = opts.mask === 'misplaced' ? 500 / SPACING_M : 0;
      }
      break;
    }
    case 'rain': {
      level.fill(sea0);
      for (let k = 0; k < 6; k++) {
        const cx = size * rand();
        const cy = size * rand();
        // Diameter 1-5 km: Gaussian blobs whose e^-2 radius is 0.5-2.5 km.
        const radiusPx = (500 + 2000 * rand()) / SPACING_M;
        const peak = db(6 + 6 * rand()) - 1;
        const sig2 = (radiusPx / 2) ** 2;
        for (let row = Math.max(0, Math.floor(cy - radiusPx)); row < Math.min(size, cy + radiusPx); row++)
          for (let col = Math.max(0, Math.floor(cx - radiusPx)); col < Math.min(size, cx + radiusPx); col++) {
            const d2 = (col - cx) ** 2 + (row - cy) ** 2;
            if (d2 < radiusPx * radiusPx) level[row * size + col] *= 1 + peak * Math.exp(-d2 / (2 * sig2));
          }
      }
      break;
    }
  }
  // Ships on the water, SCR above the local level.
  const ships: PlantedTarget[] = [];
  const nShips = opts.ships ?? 40;
  const [scr0, scr1] = opts.scrDb ?? [10, 25];
  const inWater = (col: number, row: number) => {
    if (opts.kind !== 'coast' && opts.kind !== 'ice') return true;
    return col + 30 < edgeCol(row);
  };
  for (let tries = 0; ships.length < nShips && tries < nShips * 500; tries++) {
    const col = 40 + rand() * (size - 80);
    const row = 40 + rand() * (size - 80);
    if (!inWater(col, row)) continue;
    const x = X0 + col * SPACING_M;
    const y = Y0 - row * SPACING_M;
    if (ships.some((q) => Math.hypot(q.x - x, q.y - y) < 400)) continue;
    const lengthM = 30 + 120 * rand();
    ships.push({
      x,
      y,
      lengthM,
      widthM: Math.max(8, lengthM / 6),
      headingDeg: 180 * rand(),
      scrDb: scr0 + rand() * (scr1 - scr0),
    });
  }
  const image = new Float32Array(new SharedArrayBuffer(N * 4));
  for (let p = 0; p < N; p++) {
    const texture = order[p] === Number.POSITIVE_INFINITY ? 1 : gammaUnitMean(srand, order[p]);
    image[p] = level[p] * texture;
  }
  for (const q of ships) {
    const h = (q.headingDeg * Math.PI) / 180;
    const ux = Math.sin(h);
    const uy = Math.cos(h);
    const half = q.lengthM / 2 + SPACING_M;
    const cc = (q.x - X0) / SPACING_M;
    const cr = (Y0 - q.y) / SPACING_M;
    const hp = Math.ceil(half / SPACING_M);
    const bright = level[Math.floor(cr) * size + Math.floor(cc)] * db(q.scrDb);
    for (let row = Math.floor(cr) - hp; row <= Math.ceil(cr) + hp; row++)
      for (let col = Math.floor(cc) - hp; col <= Math.ceil(cc) + hp; col++) {
        const dx = (col + 0.5 - cc) * SPACING_M;
        const dy = -(row + 0.5 - cr) * SPACING_M;
        const along = dx * ux + dy * uy;
        const across = -dx * uy + dy * ux;
        if (Math.abs(along) <= q.lengthM / 2 && Math.abs(across) <= q.widthM / 2)
          image[row * size + col] = bright;
      }
  }
  for (let p = 0; p < N; p++) image[p] *= gammaUnitMean(srand, looks);
  let seaPixels = 0;
  for (let p = 0; p < N; p++) seaPixels += sea[p];
  let landMask: BackgroundScene['landMask'] = 'none';
  if (opts.kind === 'coast' && (opts.mask ?? 'none') !== 'none') {
    const ll = (col: number, row: number) =>
      transformPoint(EPSG, 4326, X0 + col * SPACING_M, Y0 - row * SPACING_M) as [number, number];
    const ring: [number, number][] = [ll(edgeCol(0) + landShiftPx, -50)];
    for (let row = 0; row < size; row += 2) ring.push(ll(edgeCol(row) + landShiftPx, row + 0.5));
    ring.push(
      ll(edgeCol(size - 1) + landShiftPx, size + 50),
      ll(size + 50, size + 50),
      ll(size + 50, -50),
      ring[0],
    );
    landMask = [[ring]];
  }
  return {
    image,
    grid: { epsg: EPSG, geoTransform: [X0, SPACING_M, 0, Y0, 0, -SPACING_M], width: size, height: size },
    ships,
    sea,
    seaPixels,
    landMask,
    looks,
  };
}
