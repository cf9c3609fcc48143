import { ValidationError } from '../../errors.js';
import type { Window } from '../../geo/window.js';
import type { GeocodeBlock, LatticeRows } from '../../raster/geocode-sample.js';
import { sampleLatticeBlock } from '../../raster/geocode-sample.js';
import type { KernelPool } from '../../raster/kernel-pool.js';
import type { InverseMapping, WarpTarget } from '../../raster/warp.js';

/** An image in image geometry that can be read by windows (a TempRaster). */
export interface WindowReader {
  readonly width: number;
  readonly height: number;
  read(win: Window, into?: Float32Array): Promise<Float32Array>;
}

/** Output pixels between two solved inverse positions (as warpByTiePoints). */
const STEP = 8;
/** Output columns geocoded at once (default): the source window of a 512 x 2048 block is a few MB. */
export const GEOCODE_COLUMNS = 256 * STEP;

interface LatticeRow {
  line: Float64Array;
  pixel: Float64Array;
}

/**
 * Geocoding by output strips, reading only the source pixels each block needs: the output grid's
 * pixel centres go through the inverse mapping on a lattice every 8 output pixels (solved in row
 * order, each from the previous solution, exactly as warpByTiePoints solves it), positions in
 * between are interpolated bilinearly, and the source is sampled bilinearly there (NaN outside and
 * where all four neighbours are nodata). The result equals warpByTiePoints(src, grid, target,
 * 'bilinear') pixel for pixel; only lattice rows of the current strip and the source window of the
 * current block of `columns` output columns (default GEOCODE_COLUMNS) (the lattice positions' bounds, plus one pixel) are held.
 * With a pool, each block's rows are sampled on its workers (the window in shared memory); with `db`,
 * strip() gives 10 log10 of the values (raster/sar toDb) instead of linear power.
 *
 * strip() must be called for consecutive strips from row 0.
 */
export class StripGeocoder {
  private readonly nx: number;
  private readonly ny: number;
  private readonly lattice = new Map<number, LatticeRow>();
  private nextLatticeRow = 0;
  private guess: [number, number];
  private nextRow = 0;
  private scratch: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private readonly pool: KernelPool | null;
  private readonly db: boolean;

  constructor(
    private readonly src: WindowReader,
    private readonly grid: InverseMapping,
    private readonly target: WarpTarget,
    private readonly columns = GEOCODE_COLUMNS,
    o: { pool?: KernelPool; db?: boolean } = {},
  ) {
    this.pool = o.pool ?? null;
    this.db = o.db ?? false;
    if (!(Number.isInteger(columns) && columns >= 1))
      throw new ValidationError(`geocoding columns must be a positive integer, got ${columns}`);
    if (src.width < 2 || src.height < 2)
      throw new ValidationError(
        `geocoding needs an image of at least 2 x 2 pixels, got ${src.width} x ${src.height} (after multilooking)`,
      );
    if (target.width < 2 || target.height < 2)
      throw new ValidationError(
        `the output grid must be at least 2 x 2 pixels, got ${target.width} x ${target.height}`,
      );
    this.nx = Math.ceil((target.width - 1) / STEP) + 1;
    this.ny = Math.ceil((target.height - 1) / STEP) + 1;
    this.guess = [src.height / 2, src.width / 2];
  }

  /** Solve lattice rows up to and including `j`, in order, each point from the previous solution. */
  private solveLatticeTo(j: number): void {
    const { geoTransform: gt, width, height } = this.target;
    for (; this.nextLatticeRow <= j; this.nextLatticeRow++) {
      const row = this.nextLatticeRow;
      const r = Math.min(row * STEP, height - 1);
      const line = new Float64Array(this.nx).fill(Number.NaN);
      const pixel = new Float64Array(this.nx).fill(Number.NaN);
      for (let i = 0; i < this.nx; i++) {
        const c = Math.min(i * STEP, width - 1);
        const x = gt[0] + (c + 0.5) * gt[1];
        const y = gt[3] + (r + 0.5) * gt[5];
        const pos = this.grid.inverse(x, y, this.guess);
        if (pos) {
          line[i] = pos[0];
          pixel[i] = pos[1];
          this.guess = pos;
        }
      }
      this.lattice.set(row, { line, pixel });
    }
  }

  /** Output rows [rowOff, rowOff + rows), full width, linear values, into `out` (rows x width). */
  async strip(rowOff: number, rows: number, out: Float32Array): Promise<void> {
    if (rowOff !== this.nextRow)
      throw new Error(`geocoding strips must come in order: expected row ${this.nextRow}, got ${rowOff}`);
    this.nextRow = rowOff + rows;
    const { width } = this.target;
    const { nx, ny } = this;
    const jFirst = Math.min(Math.floor(rowOff / STEP), ny - 2);
    const jLast = Math.min(Math.floor((rowOff + rows - 1) / STEP), ny - 2) + 1;
    this.solveLatticeTo(jLast);
    for (const k of [...this.lattice.keys()]) if (k < jFirst) this.lattice.delete(k);
    out.fill(Number.NaN, 0, rows * width);
    for (let c0 = 0; c0 < width; c0 += this.columns) {
      const c1 = Math.min(width, c0 + this.columns);
      const iFirst = Math.min(Math.floor(c0 / STEP), nx - 2);
      const iLast = Math.min(Math.floor((c1 - 1) / STEP), nx - 2) + 1;
      let minL = Number.POSITIVE_INFINITY;
      let maxL = Number.NEGATIVE_INFINITY;
      let minP = Number.POSITIVE_INFINITY;
      let maxP = Number.NEGATIVE_INFINITY;
      for (let j = jFirst; j <= jLast; j++) {
        const { line, pixel } = this.lattice.get(j) as LatticeRow;
        for (let i = iFirst; i <= iLast; i++) {
          const l = line[i];
          const p = pixel[i];
          if (l !== l || p !== p) continue;
          if (l < minL) minL = l;
          if (l > maxL) maxL = l;
          if (p < minP) minP = p;
          if (p > maxP) maxP = p;
        }
      }
      const win = this.sourceWindow(minL, maxL, minP, maxP);
      if (win === null) continue;
      const lattice = this.latticeRows(jFirst, jLast, iFirst, iLast);
      const n = win.width * win.height;
      if (this.scratch.length < n)
        this.scratch = this.pool ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
      const s = await this.src.read(win, this.scratch.subarray(0, n));
      const block: GeocodeBlock = {
        winRowOff: win.rowOff,
        winColOff: win.colOff,
        winWidth: win.width,
        srcWidth: this.src.width,
        srcHeight: this.src.height,
        targetWidth: width,
        targetHeight: this.target.height,
        outRowOff: rowOff,
      };
      if (this.pool && out.buffer instanceof SharedArrayBuffer && out.byteOffset === 0)
        await this.pool.geocodeRows(
          s.buffer as SharedArrayBuffer,
          block,
          lattice,
          rowOff,
          rowOff + rows,
          c0,
          c1,
          out.buffer,
          this.db,
        );
      else sampleLatticeBlock(s, block, lattice, rowOff, rowOff + rows, c0, c1, out, this.db);
    }
  }

  /** Points i0 .. i1 of lattice rows j0 .. j1 in one array, as the sampling kernel takes them. */
  private latticeRows(j0: number, j1: number, i0: number, i1: number): LatticeRows {
    const { nx, ny } = this;
    const cols = i1 - i0 + 1;
    const line = new Float64Array((j1 - j0 + 1) * cols);
    const pixel = new Float64Array((j1 - j0 + 1) * cols);
    for (let j = j0; j <= j1; j++) {
      const row = this.lattice.get(j) as LatticeRow;
      line.set(row.line.subarray(i0, i1 + 1), (j - j0) * cols);
      pixel.set(row.pixel.subarray(i0, i1 + 1), (j - j0) * cols);
    }
    return { j0, i0, cols, nx, ny, step: STEP, line, pixel };
  }

  /**
   * The source window holding every pixel that positions within [minL, maxL] x [minP, maxP] sample
   * (bilinear: the pixel at or before and the one after, clamped as the sampler clamps), plus one
   * pixel for rounding in the interpolation; null when no position is inside the image.
   */
  private sourceWindow(minL: number, maxL: number, minP: number, maxP: number): Window | null {
    const H = this.src.height;
    const W = this.src.width;
    if (!(minL <= maxL) || maxL < -1.5 || minL > H + 0.5 || maxP < -1.5 || minP > W + 0.5) return null;
    const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
    const y0 = clamp(Math.floor(minL) - 1, H - 2);
    const y1 = clamp(Math.floor(maxL) + 2, H - 1);
    const x0 = clamp(Math.floor(minP) - 1, W - 2);
    const x1 = clamp(Math.floor(maxP) + 2, W - 1);
    return { colOff: x0, rowOff: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
  }
}
