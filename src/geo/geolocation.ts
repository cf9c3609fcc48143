import { ValidationError } from '../errors.js';
import { transformPoint } from './crs.js';

/** A tie point of a ground-range product: image line and pixel (centres, 0-based) to lon/lat. */
export interface TiePoint {
  line: number;
  pixel: number;
  lat: number;
  lon: number;
}

/**
 * A regular grid of tie points (every listed line with every listed pixel, as Sentinel-1's
 * geolocationGrid) projected to a map CRS, and the mapping it defines by bilinear interpolation in each
 * cell (edge cells extend beyond the grid): forward (line, pixel) -> (x, y), and its inverse by Newton's
 * method from the cell's bilinear Jacobian.
 */
export class TiePointGrid {
  readonly lines: Float64Array;
  readonly pixels: Float64Array;
  /** Map x and y of point (i, j) at [i * nPixels + j]. */
  private readonly x: Float64Array;
  private readonly y: Float64Array;

  constructor(
    points: TiePoint[],
    readonly epsg: number,
  ) {
    const lines = [...new Set(points.map((p) => p.line))].sort((a, b) => a - b);
    const pixels = [...new Set(points.map((p) => p.pixel))].sort((a, b) => a - b);
    if (lines.length < 2 || pixels.length < 2)
      throw new ValidationError(
        `tie points must span at least 2 lines and 2 pixels, got ${lines.length} x ${pixels.length}`,
      );
    this.lines = Float64Array.from(lines);
    this.pixels = Float64Array.from(pixels);
    this.x = new Float64Array(lines.length * pixels.length).fill(Number.NaN);
    this.y = new Float64Array(lines.length * pixels.length).fill(Number.NaN);
    const li = new Map(lines.map((l, i) => [l, i]));
    const pi = new Map(pixels.map((p, j) => [p, j]));
    for (const p of points) {
      const k = (li.get(p.line) as number) * pixels.length + (pi.get(p.pixel) as number);
      const [px, py] = transformPoint(4326, epsg, p.lon, p.lat);
      this.x[k] = px;
      this.y[k] = py;
    }
    const missing = this.x.findIndex((v) => Number.isNaN(v));
    if (missing >= 0) {
      throw new ValidationError(
        `tie points are not a full grid: line ${lines[Math.floor(missing / pixels.length)]} has no point at pixel ${pixels[missing % pixels.length]}`,
      );
    }
  }

  private cell(values: Float64Array, v: number): number {
    let i = 0;
    while (i < values.length - 2 && values[i + 1] <= v) i++;
    return i;
  }

  /** Map coordinates of an image position (line, pixel), pixel centres at integers. */
  forward(line: number, pixel: number): [number, number] {
    const i = this.cell(this.lines, line);
    const j = this.cell(this.pixels, pixel);
    const n = this.pixels.length;
    const u = (line - this.lines[i]) / (this.lines[i + 1] - this.lines[i]);
    const v = (pixel - this.pixels[j]) / (this.pixels[j + 1] - this.pixels[j]);
    const k = i * n + j;
    const w00 = (1 - u) * (1 - v);
    const w01 = (1 - u) * v;
    const w10 = u * (1 - v);
    const w11 = u * v;
    return [
      w00 * this.x[k] + w01 * this.x[k + 1] + w10 * this.x[k + n] + w11 * this.x[k + n + 1],
      w00 * this.y[k] + w01 * this.y[k + 1] + w10 * this.y[k + n] + w11 * this.y[k + n + 1],
    ];
  }

  /** The image position (line, pixel) of map coordinates (x, y), to 1e-6 pixel; null if Newton fails. */
  inverse(
    x: number,
    y: number,
    guess: [number, number] = [this.lines[0], this.pixels[0]],
  ): [number, number] | null {
    let [line, pixel] = guess;
    for (let it = 0; it < 30; it++) {
      const [fx, fy] = this.forward(line, pixel);
      const h = 0.5;
      const [ax, ay] = this.forward(line + h, pixel);
      const [bx, by] = this.forward(line, pixel + h);
      const j11 = (ax - fx) / h;
      const j21 = (ay - fy) / h;
      const j12 = (bx - fx) / h;
      const j22 = (by - fy) / h;
      const det = j11 * j22 - j12 * j21;
      if (det === 0 || !Number.isFinite(det)) return null;
      const ex = x - fx;
      const ey = y - fy;
      const dl = (j22 * ex - j12 * ey) / det;
      const dp = (-j21 * ex + j11 * ey) / det;
      line += dl;
      pixel += dp;
      if (Math.abs(dl) < 1e-6 && Math.abs(dp) < 1e-6) return [line, pixel];
    }
    return null;
  }

  /** Map bounds [minX, minY, maxX, maxY] of the image 0..height-1 x 0..width-1 (edges sampled). */
  bounds(width: number, height: number): [number, number, number, number] {
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    const visit = (l: number, p: number) => {
      const [x, y] = this.forward(l, p);
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    };
    for (let k = 0; k <= 32; k++) {
      visit((k / 32) * (height - 1), 0);
      visit((k / 32) * (height - 1), width - 1);
      visit(0, (k / 32) * (width - 1));
      visit(height - 1, (k / 32) * (width - 1));
    }
    return [minX, minY, maxX, maxY];
  }
}
