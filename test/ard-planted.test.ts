import { afterAll, describe, expect, it } from 'vitest';
import type { GeoTransform } from '../src/geo/transform.js';
import { ardSafe } from '../src/ops/ard.js';
import type { GrdGeometry } from '../src/ops/simulate-safe.js';
import { mapToGrd, simulatedLuts, simulatedNoise, writeSimulatedSafe } from '../src/ops/simulate-safe.js';
import { gdalinfoJson, gdalRead, tempDir } from './helpers/gdal.js';

// The whole imagery chain (SAFE -> calibrate with noise removal -> geocode -> dB COG) against a planted
// sigma0 field pixel by pixel: 6 x 4 blocks of 96 pixels at five levels from -25 to -5 dB (neighbours
// always differ) over a band whose sigma0 rises smoothly from -25 to -5 dB west to east.
const tmp = tempDir('ard-planted-');
afterAll(() => tmp.cleanup());

const N = 576;
const SPACING_M = 10;
const BLOCK = 96;
const BAND_ROW = 4 * BLOCK;
const LEVELS_DB = [-25, -20, -15, -10, -5];
const GRADIENT_DB_PER_PX = 20 / N;
const EPSG = 32631;
const GT: GeoTransform = [600_000, SPACING_M, 0, 4_800_000, 0, -SPACING_M];

/** Planted sigma0 in dB at continuous planted-pixel coordinates (u east, v south; centres at k + 0.5). */
function plantedDb(u: number, v: number): number {
  if (v >= BAND_ROW) return -25 + GRADIENT_DB_PER_PX * u;
  const bx = Math.min(5, Math.max(0, Math.floor(u / BLOCK)));
  const by = Math.max(0, Math.floor(v / BLOCK));
  return LEVELS_DB[(bx + 2 * by) % 5];
}

/** Distance in planted pixels from (u, v) to the nearest level change (block sides, band top). */
function edgeDistance(u: number, v: number): number {
  if (v >= BAND_ROW) return v - BAND_ROW;
  const du = u % BLOCK;
  const dv = v % BLOCK;
  const dx = Math.min(
    u > BLOCK ? du : Number.POSITIVE_INFINITY,
    u < 5 * BLOCK ? BLOCK - du : Number.POSITIVE_INFINITY,
  );
  const dy = Math.min(v > BLOCK ? dv : Number.POSITIVE_INFINITY, BLOCK - dv);
  return Math.min(dx, dy);
}

function plantedField(): Float32Array {
  const mean = new Float32Array(N * N);
  for (let r = 0; r < N; r++)
    for (let c = 0; c < N; c++) mean[r * N + c] = 10 ** (plantedDb(c + 0.5, r + 0.5) / 10);
  return mean;
}

/** Sentinel-1 LUTs are interpolated linearly between the vector's pixels (every 40 and the last, as written). */
function lutInterpolated(g: GrdGeometry, p: number, f: (p: number) => number): number {
  const a = Math.min(Math.floor(p / 40) * 40, g.width - 1);
  const b = Math.min(a + 40, g.width - 1);
  if (b === a) return f(a);
  return f(a) + ((f(b) - f(a)) * (p - a)) / (b - a);
}

/** Speckle of L looks is 1 + z / sqrt(L); 6 sigma bounds every draw of a few hundred thousand. */
const SPECKLE_LOOKS = 1e8;
const SPECKLE_REL = 6 / Math.sqrt(SPECKLE_LOOKS);

/**
 * Largest relative error of calibrated, noise-removed sigma0 `s0` at GRD pixels [p0, p1]: uint16
 * rounding of sqrt(P) moves P = DN^2 by at most sqrt(P) + 1/4; speckle of the signal and of the noise;
 * the linear interpolation of the noise and sigmaNought LUTs against the exact values the simulator uses.
 */
function relBound(g: GrdGeometry, s0: number, p0: number, p1: number): number {
  let worst = 0;
  for (let p = Math.max(0, p0); p <= Math.min(g.width - 1, p1); p++) {
    const sigma = simulatedLuts(g, p).sigma;
    const s2 = sigma * sigma;
    const noise = simulatedNoise(g, p);
    const signal = s2 * s0;
    const quantisation = (Math.sqrt(signal + noise) + 0.25) / signal;
    const speckle = (SPECKLE_REL * (signal + noise)) / signal;
    const noiseLut = Math.abs(lutInterpolated(g, p, (q) => simulatedNoise(g, q)) - noise) / signal;
    const sigmaLut = (2 * Math.abs(lutInterpolated(g, p, (q) => simulatedLuts(g, q).sigma) - sigma)) / sigma;
    worst = Math.max(worst, quantisation + speckle + noiseLut + sigmaLut + 1e-6);
  }
  return worst;
}

interface Output {
  db: Float32Array;
  gt: number[];
  width: number;
  height: number;
}

function readOutput(path: string): Output {
  const info = gdalinfoJson(path) as {
    geoTransform: number[];
    size: number[];
    coordinateSystem: { wkt: string };
  };
  expect(info.coordinateSystem.wkt).toMatch(/ID\["EPSG",32631\]\]$/);
  expect(info.geoTransform[1]).toBeCloseTo(SPACING_M, 9);
  expect(info.geoTransform[5]).toBeCloseTo(-SPACING_M, 9);
  return {
    db: gdalRead(path, 'float32').data[0] as Float32Array,
    gt: info.geoTransform,
    width: info.size[0],
    height: info.size[1],
  };
}

/**
 * Profiles across the straight block sides (more than 4 pixels from a corner): the fraction of the
 * way from one level to the other, in linear power, by signed distance from the planted side, in
 * 1-pixel bins out to 3 pixels. A symmetric resampling blur leaves the integral of (fraction - step)
 * zero; a registration error of d pixels makes it -d.
 */
class EdgeProfiles {
  private readonly sums = { vertical: new Float64Array(6), horizontal: new Float64Array(6) };
  private readonly counts = { vertical: new Float64Array(6), horizontal: new Float64Array(6) };

  add(u: number, v: number, db: number): void {
    if (v >= BAND_ROW - 4) return;
    const ku = Math.round(u / BLOCK);
    const kv = Math.round(v / BLOCK);
    const su = u - ku * BLOCK;
    const sv = v - kv * BLOCK;
    if (ku >= 1 && ku <= 5 && Math.abs(su) < 3 && Math.abs(sv) > 4 + 3 && v > 4)
      this.addAt('vertical', su, plantedDb(ku * BLOCK - 1, v), plantedDb(ku * BLOCK + 1, v), db);
    if (kv >= 1 && kv <= 3 && Math.abs(sv) < 3 && Math.abs(su) > 4 + 3 && u > 4 && u < N - 4)
      this.addAt('horizontal', sv, plantedDb(u, kv * BLOCK - 1), plantedDb(u, kv * BLOCK + 1), db);
  }

  private addAt(kind: 'vertical' | 'horizontal', s: number, aDb: number, bDb: number, db: number): void {
    const a = 10 ** (aDb / 10);
    const b = 10 ** (bDb / 10);
    const bin = Math.floor(s) + 3;
    this.sums[kind][bin] += (10 ** (db / 10) - a) / (b - a);
    this.counts[kind][bin]++;
  }

  offsetsPx(): { vertical: number; horizontal: number } {
    const offset = (kind: 'vertical' | 'horizontal') => {
      let sum = 0;
      for (let bin = 0; bin < 6; bin++) {
        expect(this.counts[kind][bin], `${kind} edge profile bin ${bin - 3}`).toBeGreaterThan(100);
        sum += this.sums[kind][bin] / this.counts[kind][bin] - (bin >= 3 ? 1 : 0);
      }
      return -sum;
    };
    return { vertical: offset('vertical'), horizontal: offset('horizontal') };
  }
}

const percentile = (v: number[], q: number) => [...v].sort((a, b) => a - b)[Math.floor(q * (v.length - 1))];

describe('ard against a planted sigma0 field, pixel by pixel', () => {
  it('recovers every pixel within the bound of DN rounding, speckle and LUT interpolation; no holes', async () => {
    const t0 = Date.now();
    const planted = {
      mean: plantedField(),
      size: N,
      geoTransform: GT,
      epsg: EPSG,
      date: '2026-06-01T06:00:00Z',
      seed: 11,
      ships: [],
      looks: SPECKLE_LOOKS,
    };
    const { safeDir, geometry: g } = await writeSimulatedSafe(tmp.dir, planted);
    const r = await ardSafe(safeDir, `${tmp.dir}/exact`, {
      filter: 'none',
      removeNoise: true,
      spacingM: SPACING_M,
    });
    const out = readOutput(r.cog.path);
    const chainMs = Date.now() - t0;

    const errors: number[] = [];
    const perLevel = new Map<string, { worst: number; bound: number; n: number }>();
    let inside = 0;
    let holes = 0;
    let outsideValid = 0;
    let edgeChecked = 0;
    let worstExcess = Number.NEGATIVE_INFINITY;
    const edges = new EdgeProfiles();
    let firstFailure = '';
    for (let row = 0; row < out.height; row++)
      for (let col = 0; col < out.width; col++) {
        const x = out.gt[0] + (col + 0.5) * out.gt[1];
        const y = out.gt[3] + (row + 0.5) * out.gt[5];
        const u = (x - GT[0]) / SPACING_M;
        const v = (GT[3] - y) / SPACING_M;
        const [line, pixel] = mapToGrd(g, x, y);
        const got = out.db[row * out.width + col];
        const inImage = line >= 0 && line <= g.height - 1 && pixel >= 0 && pixel <= g.width - 1;
        const offImage = line < -1 || line > g.height || pixel < -1 || pixel > g.width;
        if (offImage) {
          if (got === got) outsideValid++;
          continue;
        }
        if (!inImage) continue;
        inside++;
        if (got !== got) {
          holes++;
          continue;
        }
        edges.add(u, v, got);
        const p0 = Math.floor(pixel) - 1;
        const p1 = Math.floor(pixel) + 2;
        const where = `output (${col}, ${row}), planted (${u.toFixed(1)}, ${v.toFixed(1)})`;
        if (edgeDistance(u, v) > 2) {
          const want = plantedDb(u, v);
          const rel = relBound(g, 10 ** (want / 10), p0, p1);
          // The geocoded value mixes planted pixels up to 2 pixels away (nearest-pixel sampling of the
          // planted grid, then bilinear between GRD pixels): the gradient's change over 2 pixels.
          const slopeDb = v >= BAND_ROW ? 2 * GRADIENT_DB_PER_PX : 0;
          const boundDb = Math.max(-10 * Math.log10(1 - rel), 10 * Math.log10(1 + rel)) + slopeDb + 1e-4;
          const err = Math.abs(got - want);
          errors.push(err);
          const key = v >= BAND_ROW ? 'gradient' : `${want} dB`;
          const s = perLevel.get(key) ?? { worst: 0, bound: 0, n: 0 };
          perLevel.set(key, { worst: Math.max(s.worst, err), bound: Math.max(s.bound, boundDb), n: s.n + 1 });
          if (err - boundDb > worstExcess) worstExcess = err - boundDb;
          if (err > boundDb && !firstFailure)
            firstFailure = `${where}: ${got.toFixed(4)} dB, planted ${want.toFixed(4)} dB, bound ${boundDb.toFixed(4)} dB`;
        } else {
          // Near a level change: between the levels the resampling footprint touches, widened by the
          // larger absolute error bound of the two.
          let lo = Number.POSITIVE_INFINITY;
          let hi = Number.NEGATIVE_INFINITY;
          for (let du = -2.5; du <= 2.5; du += 0.5)
            for (let dv = -2.5; dv <= 2.5; dv += 0.5) {
              const d = plantedDb(u + du, v + dv);
              lo = Math.min(lo, d);
              hi = Math.max(hi, d);
            }
          const loLin = 10 ** (lo / 10);
          const hiLin = 10 ** (hi / 10);
          const abs = Math.max(loLin * relBound(g, loLin, p0, p1), hiLin * relBound(g, hiLin, p0, p1));
          const lin = 10 ** (got / 10);
          edgeChecked++;
          if (!(lin >= loLin - abs && lin <= hiLin + abs) && !firstFailure)
            firstFailure = `${where} near an edge: ${got.toFixed(4)} dB outside [${lo.toFixed(2)}, ${hi.toFixed(2)}] dB`;
        }
      }
    const worst = errors.reduce((a, b) => Math.max(a, b), 0);
    console.log(
      `planted field, ${SPECKLE_LOOKS.toExponential(0)} looks: ${errors.length} pixels away from edges, worst |error| ${worst.toFixed(4)} dB, 99.9th percentile ${percentile(errors, 0.999).toFixed(4)} dB, 99th ${percentile(errors, 0.99).toFixed(4)} dB, median ${percentile(errors, 0.5).toFixed(4)} dB; ${edgeChecked} near edges; ${inside} inside the footprint, ${holes} holes, ${outsideValid} valid outside; ${chainMs} ms`,
    );
    for (const [k, s] of perLevel)
      console.log(`  ${k}: ${s.n} pixels, worst ${s.worst.toFixed(4)} dB, bound ${s.bound.toFixed(4)} dB`);
    // Registration: where the output puts the planted block sides, against where they were planted.
    const offsets = edges.offsetsPx();
    console.log(
      `  edge positions: vertical sides ${offsets.vertical.toFixed(3)} px, horizontal sides ${offsets.horizontal.toFixed(3)} px from planted`,
    );
    expect(Math.abs(offsets.vertical)).toBeLessThan(0.2);
    expect(Math.abs(offsets.horizontal)).toBeLessThan(0.2);
    expect(firstFailure).toBe('');
    expect(worstExcess).toBeLessThanOrEqual(0);
    expect(errors.length).toBeGreaterThan(150_000);
    expect(edgeChecked).toBeGreaterThan(10_000);
    expect(holes).toBe(0);
    expect(outsideValid).toBe(0);
    expect(inside).toBeGreaterThan(0.99 * g.width * g.height);
  });

  it('with Sentinel-1 speckle (4.4 looks) and the default despeckle, each block mean is the planted sigma0', async () => {
    const looks = 4.4;
    const { safeDir, geometry: g } = await writeSimulatedSafe(tmp.dir, {
      mean: plantedField(),
      size: N,
      geoTransform: GT,
      epsg: EPSG,
      date: '2026-06-13T06:00:00Z',
      seed: 12,
      ships: [],
      looks,
    });
    // ard's defaults: 10 m (the planted spacing, so no multilook) and refined-lee; noise removed.
    const r = await ardSafe(safeDir, `${tmp.dir}/speckled`, { removeNoise: true });
    const out = readOutput(r.cog.path);
    // Per block: sums of linear sigma0 and of the variance of one calibrated pixel,
    // s0^2 (1 + (noise / (sigmaNought^2 s0))^2) / L (speckle of the signal and of the subtracted noise).
    const blocks = new Map<number, { sum: number; varSum: number; n: number; want: number }>();
    const MARGIN = 2 + 3 + 2; // bilinear footprint, refined-lee's 7 x 7 half window, the rotation's slack
    for (let row = 0; row < out.height; row++)
      for (let col = 0; col < out.width; col++) {
        const x = out.gt[0] + (col + 0.5) * out.gt[1];
        const y = out.gt[3] + (row + 0.5) * out.gt[5];
        const u = (x - GT[0]) / SPACING_M;
        const v = (GT[3] - y) / SPACING_M;
        if (v >= BAND_ROW || u < 0 || u >= N || v < 0 || edgeDistance(u, v) <= MARGIN) continue;
        const [line, pixel] = mapToGrd(g, x, y);
        if (line < MARGIN || line > g.height - 1 - MARGIN || pixel < MARGIN || pixel > g.width - 1 - MARGIN)
          continue;
        const got = out.db[row * out.width + col];
        expect(got === got, `output (${col}, ${row}) inside the footprint is nodata`).toBe(true);
        const want = 10 ** (plantedDb(u, v) / 10);
        const p = Math.round(pixel);
        const ratio = simulatedNoise(g, p) / (simulatedLuts(g, p).sigma ** 2 * want);
        const key = Math.floor(v / BLOCK) * 6 + Math.floor(u / BLOCK);
        const b = blocks.get(key) ?? { sum: 0, varSum: 0, n: 0, want };
        b.sum += 10 ** (got / 10);
        b.varSum += (want * want * (1 + ratio * ratio)) / looks;
        b.n++;
        blocks.set(key, b);
      }
    let checked = 0;
    const failures: string[] = [];
    for (const [key, b] of [...blocks].sort((p, q) => p[0] - q[0])) {
      if (b.n < 1000) continue;
      const mean = b.sum / b.n;
      // The standard error of the block mean if its output pixels were independent, times sqrt(2) for
      // the correlation bilinear resampling onto a grid rotated by 13 degrees leaves (each GRD pixel
      // feeds up to four output pixels with uneven weights).
      const se = Math.sqrt((2 * b.varSum) / b.n / b.n);
      const z = (mean - b.want) / se;
      console.log(
        `  block ${key % 6},${Math.floor(key / 6)}: planted ${(10 * Math.log10(b.want)).toFixed(1)} dB, mean ${(10 * Math.log10(mean)).toFixed(3)} dB over ${b.n} pixels, (mean - planted) / se = ${z.toFixed(2)}`,
      );
      if (Math.abs(z) > 4) failures.push(`block ${key % 6},${Math.floor(key / 6)}: z = ${z.toFixed(2)}`);
      checked++;
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(14);
  });
});
