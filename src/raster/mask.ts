/**
 * Mask kernels: polygon scanline fill, Euclidean distance transform, connected components and
 * binary morphology, over flat Uint8Array masks (1 = set) of width W.
 */

/**
 * Fill polygons into `mask` (W x H): a pixel is set when its centre lies inside a polygon by the
 * even-odd rule over that polygon's rings; polygons are OR-ed together. Rings are in pixel
 * coordinates (x = column, y = row, pixel (c, r) spans [c, c + 1) x [r, r + 1)).
 */
export function fillPolygons(polygons: number[][][][], mask: Uint8Array, W: number, H: number): void {
  for (const rings of polygons) {
    const rowsOf: number[] = [];
    const xsOf: number[] = [];
    for (const ring of rings) {
      const n = ring.length;
      for (let i = 0; i < n; i++) {
        const [xa, ya] = ring[i];
        const [xb, yb] = ring[(i + 1) % n];
        if (ya === yb || !Number.isFinite(xa + ya + xb + yb)) continue;
        const y0 = Math.min(ya, yb);
        const y1 = Math.max(ya, yb);
        // Rows whose centre y + 0.5 lies in [y0, y1).
        const r0 = Math.max(0, Math.ceil(y0 - 0.5));
        const r1 = Math.min(H - 1, Math.ceil(y1 - 0.5) - 1);
        for (let r = r0; r <= r1; r++) {
          const y = r + 0.5;
          rowsOf.push(r);
          xsOf.push(xa + ((y - ya) * (xb - xa)) / (yb - ya));
        }
      }
    }
    const order = Array.from(rowsOf.keys()).sort((i, j) => rowsOf[i] - rowsOf[j] || xsOf[i] - xsOf[j]);
    for (let k = 0; k + 1 < order.length; k += 2) {
      const a = order[k];
      const b = order[k + 1];
      const r = rowsOf[a];
      if (rowsOf[b] !== r) {
        // An odd crossing count on a row (a degenerate ring): resynchronise on the next row.
        k -= 1;
        continue;
      }
      const c0 = Math.max(0, Math.ceil(xsOf[a] - 0.5));
      const c1 = Math.min(W - 1, Math.ceil(xsOf[b] - 0.5) - 1);
      if (c1 >= c0) mask.fill(1, r * W + c0, r * W + c1 + 1);
    }
  }
}

/**
 * Set every pixel within `radius` pixels (Euclidean, centre to centre) of a set pixel; returns a new
 * mask. The nearest set pixel of any unset pixel lies on the set's boundary, so discs are stamped
 * only at boundary pixels (set pixels with an unset 4-neighbour): exact, and the cost follows the
 * length of the boundary rather than the area.
 */
export function dilateDisc(mask: Uint8Array, W: number, H: number, radius: number): Uint8Array {
  const out = new Uint8Array(mask);
  const r = Math.floor(radius);
  if (r <= 0) return out;
  // Half-widths of the disc per row offset.
  const half = new Int32Array(2 * r + 1);
  for (let dy = -r; dy <= r; dy++) half[dy + r] = Math.floor(Math.sqrt(radius * radius - dy * dy));
  for (let y = 0; y < H; y++) {
    const o = y * W;
    for (let x = 0; x < W; x++) {
      if (mask[o + x] === 0) continue;
      const boundary =
        (x > 0 && mask[o + x - 1] === 0) ||
        (x < W - 1 && mask[o + x + 1] === 0) ||
        (y > 0 && mask[o + x - W] === 0) ||
        (y < H - 1 && mask[o + x + W] === 0);
      if (!boundary) continue;
      for (let dy = -r; dy <= r; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= H) continue;
        const h = half[dy + r];
        out.fill(1, yy * W + Math.max(0, x - h), yy * W + Math.min(W - 1, x + h) + 1);
      }
    }
  }
  return out;
}

/**
 * Label the connected components (8- or 4-connected) of a byte map: pixels of the same non-zero value
 * (255 stands for nodata and is left out), so a 0/1 mask gives its components and a class map the
 * components of each class apart. Returns labels (0 = background, 1..count) and the count.
 */
export function labelComponents(
  mask: Uint8Array,
  W: number,
  H: number,
  connectivity: 4 | 8 = 8,
): { labels: Int32Array; count: number } {
  const labels = new Int32Array(W * H);
  let stack = new Int32Array(1024);
  let count = 0;
  // Neighbour steps (dx, dy).
  const steps =
    connectivity === 4 ? [-1, 0, 1, 0, 0, -1, 0, 1] : [-1, -1, 0, -1, 1, -1, -1, 0, 1, 0, -1, 1, 0, 1, 1, 1];
  for (let p0 = 0; p0 < W * H; p0++) {
    const value = mask[p0];
    if (value === 0 || value === 255 || labels[p0] !== 0) continue;
    count++;
    labels[p0] = count;
    let top = 0;
    stack[top++] = p0;
    while (top > 0) {
      const p = stack[--top];
      const x = p % W;
      const y = (p - x) / W;
      for (let k = 0; k < steps.length; k += 2) {
        const xx = x + steps[k];
        const yy = y + steps[k + 1];
        if (xx < 0 || xx >= W || yy < 0 || yy >= H) continue;
        const q = yy * W + xx;
        if (mask[q] !== value || labels[q] !== 0) continue;
        labels[q] = count;
        if (top === stack.length) {
          const bigger = new Int32Array(stack.length * 2);
          bigger.set(stack);
          stack = bigger;
        }
        stack[top++] = q;
      }
    }
  }
  return { labels, count };
}

/**
 * 3 x 3 erosion (AND of the neighbourhood) or dilation (OR) of every bit plane of a byte mask at
 * once, separably. Outside the image counts as the pixel itself (no shrink or growth at the border).
 */
export function morph3(mask: Uint8Array, W: number, H: number, op: 'erode' | 'dilate'): Uint8Array {
  if (W % 4 === 0 && mask.byteOffset % 4 === 0 && W >= 8) return morph3Words(mask, W, H, op);
  const tmp = new Uint8Array(W * H);
  const out = new Uint8Array(W * H);
  const and = op === 'erode';
  for (let y = 0; y < H; y++) {
    const o = y * W;
    if (W === 1) {
      tmp[o] = mask[o];
      continue;
    }
    tmp[o] = and ? mask[o] & mask[o + 1] : mask[o] | mask[o + 1];
    const e = o + W - 1;
    tmp[e] = and ? mask[e - 1] & mask[e] : mask[e - 1] | mask[e];
    if (and) for (let i = o + 1; i < e; i++) tmp[i] = mask[i - 1] & mask[i] & mask[i + 1];
    else for (let i = o + 1; i < e; i++) tmp[i] = mask[i - 1] | mask[i] | mask[i + 1];
  }
  for (let y = 0; y < H; y++) {
    const o = y * W;
    const up = y > 0 ? o - W : o;
    const down = y < H - 1 ? o + W : o;
    if (and) for (let x = 0; x < W; x++) out[o + x] = tmp[up + x] & tmp[o + x] & tmp[down + x];
    else for (let x = 0; x < W; x++) out[o + x] = tmp[up + x] | tmp[o + x] | tmp[down + x];
  }
  return out;
}

/** morph3 four pixels at a time (rows a whole number of 32-bit words; little-endian byte order). */
function morph3Words(mask: Uint8Array, W: number, H: number, op: 'erode' | 'dilate'): Uint8Array {
  const n = (W * H) / 4;
  const wpr = W / 4;
  const src = new Uint32Array(mask.buffer, mask.byteOffset, n);
  const tmpW = new Uint32Array(n);
  const outW = new Uint32Array(n);
  const and = op === 'erode';
  for (let y = 0; y < H; y++) {
    const o = y * wpr;
    const e = o + wpr - 1;
    for (let i = o; i <= e; i++) {
      const w = src[i];
      // Pixel k + 1 is the next byte up: the left neighbours are w << 8 with the previous word's top
      // byte below; at the row's ends the pixel stands in for its missing neighbour.
      const left = (w << 8) | (i > o ? src[i - 1] >>> 24 : w & 0xff);
      const right = (w >>> 8) | (i < e ? src[i + 1] << 24 : w & 0xff000000);
      tmpW[i] = and ? left & w & right : left | w | right;
    }
  }
  for (let y = 0; y < H; y++) {
    const o = y * wpr;
    const up = y > 0 ? o - wpr : o;
    const down = y < H - 1 ? o + wpr : o;
    if (and) for (let x = 0; x < wpr; x++) outW[o + x] = tmpW[up + x] & tmpW[o + x] & tmpW[down + x];
    else for (let x = 0; x < wpr; x++) outW[o + x] = tmpW[up + x] | tmpW[o + x] | tmpW[down + x];
  }
  return new Uint8Array(outW.buffer);
}

/** The 4-connected components of each class of a class map (0 none, 255 nodata), see labelComponents. */
export function labelClasses(map: Uint8Array, W: number, H: number): { labels: Int32Array; count: number } {
  return labelComponents(map, W, H, 4);
}

/**
 * Label the 8-connected components of a sparse set of pixels, given as ascending pixel indices
 * (y * W + x). Returns each pixel's label (1..count, in the order of `pixels`) and the count; memory
 * is proportional to the number of pixels, not to the image.
 */
export function labelSparse(pixels: Int32Array, W: number): { labels: Int32Array; count: number } {
  const n = pixels.length;
  const at = new Map<number, number>();
  for (let i = 0; i < n; i++) at.set(pixels[i], i);
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  let count = 0;
  for (let i0 = 0; i0 < n; i0++) {
    if (labels[i0] !== 0) continue;
    count++;
    labels[i0] = count;
    let top = 0;
    stack[top++] = i0;
    while (top > 0) {
      const i = stack[--top];
      const p = pixels[i];
      const x = p % W;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || x + dx < 0 || x + dx >= W) continue;
          const j = at.get(p + dy * W + dx);
          if (j === undefined || labels[j] !== 0) continue;
          labels[j] = count;
          stack[top++] = j;
        }
      }
    }
  }
  return { labels, count };
}
