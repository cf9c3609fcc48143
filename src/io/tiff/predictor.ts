import { UnsupportedError } from '../../errors.js';

/**
 * TIFF predictors on a decoded block of `rows` rows of `rowSamples` samples of `bytesPerSample` bytes,
 * with samples of one pixel `stride` apart (samples per pixel for contiguous planar layout).
 * Predictor 2 is horizontal differencing of integer sample values; predictor 3 is the floating-point
 * predictor: each row's bytes split into planes, most significant first, then byte-wise differencing.
 * Blocks are in host (little-endian) order: predictor 2 runs after byte swapping.
 */

function intArray(
  file: string,
  buf: Uint8Array,
  bytesPerSample: number,
): Uint8Array | Uint16Array | Uint32Array | BigUint64Array {
  const { buffer, byteOffset, byteLength } = buf;
  switch (bytesPerSample) {
    case 1:
      return buf;
    case 2:
      return new Uint16Array(buffer, byteOffset, byteLength >> 1);
    case 4:
      return new Uint32Array(buffer, byteOffset, byteLength >> 2);
    case 8:
      return new BigUint64Array(buffer, byteOffset, byteLength >> 3);
    default:
      throw new UnsupportedError(file, `predictor 2 with ${bytesPerSample * 8}-bit samples is not supported`);
  }
}

/** Undo predictor 2 in place. `buf` must be aligned to the sample size. */
export function undoHorizontalPredictor(
  file: string,
  buf: Uint8Array,
  rows: number,
  rowSamples: number,
  bytesPerSample: number,
  stride: number,
): void {
  const a = intArray(file, buf, bytesPerSample);
  if (a instanceof BigUint64Array) {
    for (let r = 0; r < rows; r++) {
      const base = r * rowSamples;
      for (let i = base + stride; i < base + rowSamples; i++) a[i] = BigInt.asUintN(64, a[i] + a[i - stride]);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * rowSamples;
    const end = base + rowSamples;
    for (let i = base + stride; i < end; i++) a[i] += a[i - stride];
  }
}

/** Apply predictor 2 in place (for writing). */
export function applyHorizontalPredictor(
  file: string,
  buf: Uint8Array,
  rows: number,
  rowSamples: number,
  bytesPerSample: number,
  stride: number,
): void {
  const a = intArray(file, buf, bytesPerSample);
  if (a instanceof BigUint64Array) {
    for (let r = 0; r < rows; r++) {
      const base = r * rowSamples;
      for (let i = base + rowSamples - 1; i >= base + stride; i--)
        a[i] = BigInt.asUintN(64, a[i] - a[i - stride]);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * rowSamples;
    for (let i = base + rowSamples - 1; i >= base + stride; i--) a[i] -= a[i - stride];
  }
}

/**
 * Undo predictor 3: `src` holds the encoded rows; the decoded samples (host order) go to `dst`
 * (which may not alias `src`). `src` is modified (accumulated in place).
 */
export function undoFloatPredictor(
  src: Uint8Array,
  dst: Uint8Array,
  rows: number,
  rowSamples: number,
  bytesPerSample: number,
  stride: number,
): void {
  const rowBytes = rowSamples * bytesPerSample;
  const wc = rowSamples;
  const dst32 =
    bytesPerSample === 4 && (dst.byteOffset & 3) === 0
      ? new Uint32Array(dst.buffer, dst.byteOffset, dst.byteLength >> 2)
      : null;
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    const end = base + rowBytes;
    for (let i = base + stride; i < end; i++) src[i] = (src[i] + src[i - stride]) & 0xff;
    if (dst32 !== null) {
      const o = r * wc;
      const p1 = base + wc;
      const p2 = base + 2 * wc;
      const p3 = base + 3 * wc;
      for (let j = 0; j < wc; j++) {
        dst32[o + j] = ((src[base + j] << 24) | (src[p1 + j] << 16) | (src[p2 + j] << 8) | src[p3 + j]) >>> 0;
      }
    } else {
      for (let j = 0; j < wc; j++) {
        for (let b = 0; b < bytesPerSample; b++)
          dst[base + j * bytesPerSample + b] = src[base + (bytesPerSample - 1 - b) * wc + j];
      }
    }
  }
}

/**
 * Apply predictor 3 (for writing): host-order samples in `src` become encoded rows in `dst`.
 * For one band of float32, the shuffle and the differencing work on 32-bit words (four bytes at a time).
 */
export function applyFloatPredictor(
  src: Uint8Array,
  dst: Uint8Array,
  rows: number,
  rowSamples: number,
  bytesPerSample: number,
  stride: number,
): void {
  const rowBytes = rowSamples * bytesPerSample;
  const wc = rowSamples;
  const wordPath =
    bytesPerSample === 4 &&
    stride === 1 &&
    (wc & 3) === 0 &&
    (src.byteOffset & 3) === 0 &&
    (dst.byteOffset & 3) === 0;
  if (wordPath) {
    const s32 = new Uint32Array(src.buffer, src.byteOffset, (rows * rowBytes) >> 2);
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, (rows * rowBytes) >> 2);
    const q = wc >> 2; // words per plane
    for (let r = 0; r < rows; r++) {
      const s = r * wc;
      const d = r * wc; // a row is wc words in both layouts
      // Shuffle: plane k word j holds byte (3 - k) of samples 4j..4j+3.
      for (let j = 0; j < q; j++) {
        const v0 = s32[s + 4 * j];
        const v1 = s32[s + 4 * j + 1];
        const v2 = s32[s + 4 * j + 2];
        const v3 = s32[s + 4 * j + 3];
        d32[d + j] = (v0 >>> 24) | ((v1 >>> 24) << 8) | ((v2 >>> 24) << 16) | ((v3 >>> 24) << 24);
        d32[d + q + j] =
          ((v0 >>> 16) & 0xff) |
          (((v1 >>> 16) & 0xff) << 8) |
          (((v2 >>> 16) & 0xff) << 16) |
          (((v3 >>> 16) & 0xff) << 24);
        d32[d + 2 * q + j] =
          ((v0 >>> 8) & 0xff) |
          (((v1 >>> 8) & 0xff) << 8) |
          (((v2 >>> 8) & 0xff) << 16) |
          (((v3 >>> 8) & 0xff) << 24);
        d32[d + 3 * q + j] = (v0 & 0xff) | ((v1 & 0xff) << 8) | ((v2 & 0xff) << 16) | ((v3 & 0xff) << 24);
      }
      // Byte-wise differencing, SWAR: each byte minus the byte before it, with no borrow across bytes
      // (the row's first byte, having no predecessor, has 0 subtracted).
      let prev = 0;
      for (let j = d; j < d + wc; j++) {
        const x = d32[j];
        const y = ((x << 8) | (prev >>> 24)) >>> 0;
        prev = x;
        d32[j] = (((x | 0x80808080) - (y & 0x7f7f7f7f)) ^ ((x ^ ~y) & 0x80808080)) >>> 0;
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    for (let j = 0; j < wc; j++) {
      for (let b = 0; b < bytesPerSample; b++)
        dst[base + (bytesPerSample - 1 - b) * wc + j] = src[base + j * bytesPerSample + b];
    }
    for (let i = base + rowBytes - 1; i >= base + stride; i--) dst[i] = (dst[i] - dst[i - stride]) & 0xff;
  }
}

/** Reverse the byte order of each `size`-byte component in place (big-endian files). */
export function swapBytes(buf: Uint8Array, size: number): void {
  if (size === 2) {
    for (let i = 0; i + 1 < buf.length; i += 2) {
      const t = buf[i];
      buf[i] = buf[i + 1];
      buf[i + 1] = t;
    }
  } else if (size === 4 || size === 8) {
    for (let i = 0; i + size - 1 < buf.length; i += size) {
      for (let a = i, b = i + size - 1; a < b; a++, b--) {
        const t = buf[a];
        buf[a] = buf[b];
        buf[b] = t;
      }
    }
  }
}
