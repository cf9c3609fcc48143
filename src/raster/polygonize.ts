/**
 * Polygons from labelled 4-connected pixel components (as GDAL's Polygonize, 4-connected): each
 * component's boundary is traced along pixel edges into one outer ring and any holes. Coordinates
 * are pixel-corner positions (x = column, y = row). Outer rings run counter-clockwise and holes
 * clockwise once y points north (RFC 7946), i.e. the reverse on screen; collinear points are dropped.
 */
export interface PixelPolygon {
  label: number;
  /** Outer ring first, then holes; each ring closed (first point repeated at the end). */
  rings: [number, number][][];
}

// Directions of a boundary edge: 0 east, 1 south, 2 west, 3 north (screen coordinates, y down).
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/**
 * Trace the components 1..count of `labels` (W x H, 4-connected components, 0 = none). The walk keeps
 * its component on the right (screen coordinates); where two of its edges leave one corner (two
 * pixels touching diagonally), it turns right, so the rings of 4-connected components never cross.
 */
export function polygonize(labels: Int32Array, W: number, H: number, count: number): PixelPolygon[] {
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= W || y >= H ? 0 : labels[y * W + x]);
  // Boundary edges per component: start corner (vertex index (W + 1) * y + x) and direction.
  const edgesOf: number[][] = Array.from({ length: count + 1 }, () => []);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const l = labels[y * W + x];
      if (l === 0) continue;
      const e = edgesOf[l];
      const V = W + 1;
      if (at(x, y - 1) !== l) e.push((y * V + x) * 4 + 0); // top edge, eastwards
      if (at(x + 1, y) !== l) e.push((y * V + x + 1) * 4 + 1); // right edge, southwards
      if (at(x, y + 1) !== l) e.push(((y + 1) * V + x + 1) * 4 + 2); // bottom edge, westwards
      if (at(x - 1, y) !== l) e.push(((y + 1) * V + x) * 4 + 3); // left edge, northwards
    }
  }
  const V = W + 1;
  const out: PixelPolygon[] = [];
  for (let l = 1; l <= count; l++) {
    const edges = edgesOf[l];
    if (edges.length === 0) continue;
    // Outgoing edges per start corner (at most two).
    const from = new Map<number, number[]>();
    for (const e of edges) {
      const v = e >> 2;
      const list = from.get(v);
      if (list) list.push(e);
      else from.set(v, [e]);
    }
    const used = new Set<number>();
    const rings: { ring: [number, number][]; area: number }[] = [];
    for (const e0 of edges) {
      if (used.has(e0)) continue;
      const ring: [number, number][] = [];
      let e = e0;
      let area = 0;
      for (;;) {
        used.add(e);
        const v = e >> 2;
        const d = e & 3;
        const x = v % V;
        const y = (v - x) / V;
        const nx = x + DX[d];
        const ny = y + DY[d];
        area += x * ny - nx * y;
        // Keep a corner only where the direction changes.
        const prev = ring.length > 0 ? ring[ring.length - 1] : null;
        if (prev === null || ring.length < 2 || !collinear(ring[ring.length - 2], prev, [x, y]))
          ring.push([x, y]);
        else ring[ring.length - 1] = [x, y];
        const next = from.get(ny * V + nx) ?? [];
        let chosen = -1;
        // Prefer a right turn, then straight on, then a left turn.
        for (const turn of [1, 0, 3]) {
          const want = (d + turn) & 3;
          const c = next.find((n) => (n & 3) === want && !used.has(n));
          if (c !== undefined) {
            chosen = c;
            break;
          }
        }
        if (chosen < 0) break;
        e = chosen;
      }
      // Close: drop a last corner that is collinear with the first.
      if (ring.length >= 3 && collinear(ring[ring.length - 2], ring[ring.length - 1], ring[0])) ring.pop();
      if (ring.length >= 3 && collinear(ring[ring.length - 1], ring[0], ring[1])) ring.shift();
      ring.push([ring[0][0], ring[0][1]]);
      rings.push({ ring, area: area / 2 });
    }
    // Screen orientation: the outer ring is clockwise on screen (positive shoelace with y down).
    rings.sort((a, b) => b.area - a.area);
    out.push({ label: l, rings: rings.map((r) => r.ring) });
  }
  return out;
}

function collinear(a: [number, number], b: [number, number], c: [number, number]): boolean {
  return (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) === 0;
}
