/**
 * Where a repeated CFAR censoring pass can change its answer. A censoring pass decides each pixel
 * from the background counts inside its background window only, so when pass k's input counts equal
 * pass k - 1's everywhere within a window's reach of a pixel, pass k repeats pass k - 1's decision
 * there. After the first pass only the pixels near what the previous pass censored (ships, bright
 * clutter spikes: a few per cent of a scene) have to be computed again.
 */

/** Output rectangle of a CFAR pass: rows [row0, row0 + rows), columns [col0, col0 + cols). */
export interface CfarRegion {
  row0: number;
  rows: number;
  col0: number;
  cols: number;
}

/** Side of the tiles the changed area is rounded out to, pixels. */
const TILE = 64;
/** Above this share of the image, one whole pass costs less than regions with their margins. */
const MAX_SHARE = 0.5;

/**
 * Rectangles covering every pixel within `reach` pixels (along rows and columns: the background
 * window's half size) of a pixel where `a` and `b` differ, in tiles of 64 x 64, with the dirty tiles
 * of a band joined into runs and equal runs of consecutive bands into taller rectangles (each
 * rectangle costs the kernel its window's height again to start). Empty when nothing differs; null
 * when the rectangles would cover more than half of the image (run the whole pass instead).
 */
export function changedRegions(
  a: Uint8Array,
  b: Uint8Array,
  W: number,
  H: number,
  reach: number,
): CfarRegion[] | null {
  const tw = Math.ceil(W / TILE);
  const th = Math.ceil(H / TILE);
  const changed = new Uint8Array(tw * th);
  let any = false;
  for (let y = 0; y < H; y++) {
    const o = y * W;
    const trow = Math.floor(y / TILE) * tw;
    for (let x = 0; x < W; x++)
      if (a[o + x] !== b[o + x]) {
        changed[trow + Math.floor(x / TILE)] = 1;
        any = true;
        // The rest of this tile's row segment adds nothing.
        x = (Math.floor(x / TILE) + 1) * TILE - 1;
      }
  }
  if (!any) return [];
  // Tiles within reach of a changed tile (a changed pixel anywhere in it).
  const r = Math.ceil(reach / TILE);
  const dirty = new Uint8Array(tw * th);
  let dirtyTiles = 0;
  for (let ty = 0; ty < th; ty++)
    for (let tx = 0; tx < tw; tx++) {
      if (changed[ty * tw + tx] === 0) continue;
      for (let y = Math.max(0, ty - r); y <= Math.min(th - 1, ty + r); y++)
        for (let x = Math.max(0, tx - r); x <= Math.min(tw - 1, tx + r); x++)
          if (dirty[y * tw + x] === 0) {
            dirty[y * tw + x] = 1;
            dirtyTiles++;
          }
    }
  if (dirtyTiles > MAX_SHARE * tw * th) return null;
  // Runs of dirty tiles per band, joined down while the run repeats.
  const out: CfarRegion[] = [];
  let open = new Map<string, CfarRegion>();
  for (let ty = 0; ty < th; ty++) {
    const next = new Map<string, CfarRegion>();
    for (let tx = 0; tx < tw; tx++) {
      if (dirty[ty * tw + tx] === 0) continue;
      const start = tx;
      while (tx + 1 < tw && dirty[ty * tw + tx + 1] === 1) tx++;
      const key = `${start}:${tx}`;
      const rows = Math.min(TILE, H - ty * TILE);
      const prev = open.get(key);
      if (prev) {
        prev.rows += rows;
        next.set(key, prev);
      } else {
        const col0 = start * TILE;
        const reg = { row0: ty * TILE, rows, col0, cols: Math.min(W, (tx + 1) * TILE) - col0 };
        out.push(reg);
        next.set(key, reg);
      }
    }
    open = next;
  }
  return out;
}
