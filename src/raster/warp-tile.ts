/**
 * The pixel work of a map tile, pure and synchronous (run on the server's thread or on a worker):
 * source positions from a grid of control points, then nearest or bilinear samples.
 */

/** Where a tile's pixels fall in a window of the source. */
export interface TileWarp {
  /** Tile side in pixels and control-point cells across it. */
  tile: number;
  grid: number;
  /** Full-resolution source column and row of the (grid + 1)^2 control points, row by row. */
  cols: Float64Array;
  rows: Float64Array;
  /** Overview factor of the level read, and the window's offset in that level's pixels. */
  f: number;
  wc0: number;
  wr0: number;
  /** Full-resolution image size (outside it is transparent). */
  width: number;
  height: number;
  resampling: 'bilinear' | 'nearest';
  nodata: number | null;
}

/** Fill `out` (tile x tile) with the samples of the W x H window `src` that the warp maps to. */
export function warpTile(src: ArrayLike<number>, W: number, H: number, w: TileWarp, out: Float32Array): void {
  const TILE = w.tile;
  const GRID = w.grid;
  const n = GRID + 1;
  const { cols, rows } = w;
  const invStep = GRID / TILE;
  const invF = 1 / w.f;
  const edgeCol = new Float64Array(n);
  const edgeRow = new Float64Array(n);
  const rowSc = new Float64Array(TILE);
  const rowSr = new Float64Array(TILE);
  const inside = new Uint8Array(TILE);
  for (let py = 0; py < TILE; py++) {
    const gy = (py + 0.5) * invStep;
    const j = Math.min(GRID - 1, Math.floor(gy));
    const fy = gy - j;
    // The control points interpolated to the row (then linear along it).
    for (let i = 0; i < n; i++) {
      const k = j * n + i;
      edgeCol[i] = cols[k] * (1 - fy) + cols[k + n] * fy;
      edgeRow[i] = rows[k] * (1 - fy) + rows[k + n] * fy;
    }
    // Source positions along the row (window pixels at the chosen level; centres at +0.5).
    for (let px = 0; px < TILE; px++) {
      const gx = (px + 0.5) * invStep;
      const i = gx < GRID - 1 ? Math.floor(gx) : GRID - 1;
      const fx = gx - i;
      const col = edgeCol[i] + (edgeCol[i + 1] - edgeCol[i]) * fx;
      const row = edgeRow[i] + (edgeRow[i + 1] - edgeRow[i]) * fx;
      inside[px] = col >= 0 && row >= 0 && col < w.width && row < w.height ? 1 : 0;
      rowSc[px] = col * invF - w.wc0;
      rowSr[px] = row * invF - w.wr0;
    }
    const o0 = py * TILE;
    if (w.resampling === 'nearest') sampleNearest(src, W, H, rowSc, rowSr, inside, out, o0, w.nodata);
    else sampleBilinear(src, W, H, rowSc, rowSr, inside, out, o0, w.nodata);
  }
}

type Samples = ArrayLike<number>;

/** Nearest-neighbour samples of a row of output pixels. */
function sampleNearest(
  src: Samples,
  W: number,
  H: number,
  sc: Float64Array,
  sr: Float64Array,
  inside: Uint8Array,
  out: Float32Array,
  o0: number,
  nodata: number | null,
): void {
  for (let px = 0; px < sc.length; px++) {
    let v = Number.NaN;
    if (inside[px] === 1) {
      const ic = Math.floor(sc[px]);
      const ir = Math.floor(sr[px]);
      if (ic >= 0 && ir >= 0 && ic < W && ir < H) v = src[ir * W + ic];
      if (v === nodata) v = Number.NaN;
    }
    out[o0 + px] = v;
  }
}

/** Bilinear samples of a row of output pixels; next to nodata, the nearest pixel. */
function sampleBilinear(
  src: Samples,
  W: number,
  H: number,
  sc: Float64Array,
  sr: Float64Array,
  inside: Uint8Array,
  out: Float32Array,
  o0: number,
  nodata: number | null,
): void {
  const dx = W > 1 ? 1 : 0;
  const dy = H > 1 ? W : 0;
  const maxC = Math.max(0, W - 2);
  const maxR = Math.max(0, H - 2);
  for (let px = 0; px < sc.length; px++) {
    if (inside[px] === 0) {
      out[o0 + px] = Number.NaN;
      continue;
    }
    const u = sc[px] - 0.5;
    const w = sr[px] - 0.5;
    let ic = Math.floor(u);
    let ir = Math.floor(w);
    ic = Math.min(maxC, Math.max(0, ic));
    ir = Math.min(maxR, Math.max(0, ir));
    let a = u - ic;
    let b = w - ir;
    a = Math.min(1, Math.max(0, a));
    b = Math.min(1, Math.max(0, b));
    const o = ir * W + ic;
    const p00 = src[o];
    const p10 = src[o + dx];
    const p01 = src[o + dy];
    const p11 = src[o + dx + dy];
    let v = (p00 + (p10 - p00) * a) * (1 - b) + (p01 + (p11 - p01) * a) * b;
    if (v !== v || p00 === nodata || p10 === nodata || p01 === nodata || p11 === nodata) {
      const nc = Math.min(W - 1, Math.max(0, Math.floor(sc[px])));
      const nr = Math.min(H - 1, Math.max(0, Math.floor(sr[px])));
      v = src[nr * W + nc];
      if (v === nodata) v = Number.NaN;
    }
    out[o0 + px] = v;
  }
}
