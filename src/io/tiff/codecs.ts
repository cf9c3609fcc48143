import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { FormatError, UnsupportedError } from '../../errors.js';

const inflateAsync = promisify(zlib.inflate);
const deflateAsync = promisify(zlib.deflate);

/**
 * Inflate a zlib (TIFF DEFLATE) stream on libuv's thread pool, so many blocks decode in parallel.
 * Output is capped at `maxBytes`: a block can never allocate more than its declared size.
 */
export async function inflateBlock(file: string, data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  try {
    return await inflateAsync(data, {
      maxOutputLength: Math.max(1, maxBytes),
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
  } catch (err) {
    throw new FormatError(
      file,
      `DEFLATE data is corrupt or larger than its ${maxBytes}-byte block (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/**
 * Deflate a block on the thread pool (zlib level 1-9, 6 being zlib's and GDAL's default; strategy a
 * zlib.constants.Z_* strategy). The output buffer is sized so zlib writes it in one piece.
 */
export async function deflateBlock(
  data: Uint8Array,
  level: number,
  strategy: number = zlib.constants.Z_DEFAULT_STRATEGY,
): Promise<Uint8Array> {
  const bound = data.length + (data.length >> 12) + (data.length >> 14) + (data.length >> 25) + 64;
  return deflateAsync(data, { level, strategy, chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, bound) });
}

/** PackBits (Apple) run-length decoding into exactly `expected` bytes. */
export function unpackBits(file: string, src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let i = 0;
  let o = 0;
  while (i < src.length && o < expected) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      const len = n + 1;
      if (i + len > src.length || o + len > expected)
        throw new FormatError(file, 'PackBits literal run passes the end of its block');
      out.set(src.subarray(i, i + len), o);
      i += len;
      o += len;
    } else if (n !== -128) {
      const len = 1 - n;
      if (i >= src.length || o + len > expected)
        throw new FormatError(file, 'PackBits repeat run passes the end of its block');
      out.fill(src[i++], o, o + len);
      o += len;
    }
  }
  if (o < expected) throw new FormatError(file, `PackBits block decodes to ${o} bytes, expected ${expected}`);
  return out;
}

/** PackBits encoding (used by tests to make fixtures GDAL also reads). */
export function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 2) {
      out.push((1 - run) & 0xff, src[i]);
      i += run;
      continue;
    }
    const start = i;
    while (i < src.length && i - start < 128 && !(i + 1 < src.length && src[i + 1] === src[i])) i++;
    if (i === start) i++;
    out.push(i - start - 1);
    for (let k = start; k < i; k++) out.push(src[k]);
  }
  return Uint8Array.from(out);
}

const LZW_CLEAR = 256;
const LZW_EOI = 257;

/**
 * TIFF LZW decoding (MSB-first codes, 9 to 12 bits, early change), into at most `expected` bytes.
 * The code table lives in flat typed arrays: no allocation per code.
 */
export function lzwDecode(file: string, src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
  }
  let nextCode = 258;
  let codeLen = 9;
  let bitPos = 0;
  const totalBits = src.length * 8;
  let o = 0;
  let prev = -1;
  while (bitPos + codeLen <= totalBits) {
    // Read codeLen bits MSB-first.
    const byte = bitPos >>> 3;
    const bit = bitPos & 7;
    const chunk = (src[byte] << 16) | ((src[byte + 1] ?? 0) << 8) | (src[byte + 2] ?? 0);
    const code = (chunk >>> (24 - bit - codeLen)) & ((1 << codeLen) - 1);
    bitPos += codeLen;
    if (code === LZW_EOI) break;
    if (code === LZW_CLEAR) {
      nextCode = 258;
      codeLen = 9;
      prev = -1;
      continue;
    }
    let entry: number;
    if (code < nextCode) {
      entry = code;
    } else if (code === nextCode && prev >= 0) {
      entry = -1; // KwKwK case
    } else {
      throw new FormatError(file, `LZW code ${code} is not yet defined (next is ${nextCode})`);
    }
    if (entry >= 0) {
      const len = length[entry];
      if (o + len > expected) throw new FormatError(file, `LZW data decodes past the ${expected}-byte block`);
      let c = entry;
      for (let k = o + len - 1; k >= o; k--) {
        out[k] = suffix[c];
        c = prefix[c];
      }
      o += len;
      if (prev >= 0 && nextCode < 4096) {
        prefix[nextCode] = prev;
        suffix[nextCode] = first[entry];
        first[nextCode] = first[prev];
        length[nextCode] = length[prev] + 1;
        nextCode++;
      }
    } else {
      const len = length[prev] + 1;
      if (o + len > expected) throw new FormatError(file, `LZW data decodes past the ${expected}-byte block`);
      prefix[nextCode] = prev;
      suffix[nextCode] = first[prev];
      first[nextCode] = first[prev];
      length[nextCode] = len;
      let c = nextCode;
      for (let k = o + len - 1; k >= o; k--) {
        out[k] = suffix[c];
        c = prefix[c];
      }
      o += len;
      nextCode++;
    }
    prev = code;
    // Early change: widen one code before the table fills the current width.
    if (nextCode + 1 >= 1 << codeLen && codeLen < 12) codeLen++;
  }
  if (o < expected) return out.subarray(0, o);
  return out;
}

/** TIFF LZW encoding with early change, as libtiff writes it. */
export function lzwEncode(src: Uint8Array): Uint8Array {
  // Hash table from (prefix code << 8 | byte) to code.
  const HASH_SIZE = 1 << 16;
  const keys = new Int32Array(HASH_SIZE).fill(-1);
  const vals = new Int32Array(HASH_SIZE);
  let out = new Uint8Array(Math.max(64, (src.length * 3) >> 1) + 16);
  let outPos = 0;
  let acc = 0;
  let accBits = 0;
  let codeLen = 9;
  let nextCode = 258;
  const emit = (code: number) => {
    acc = (acc << codeLen) | code;
    accBits += codeLen;
    while (accBits >= 8) {
      accBits -= 8;
      if (outPos >= out.length) {
        const grown = new Uint8Array(out.length * 2);
        grown.set(out);
        out = grown;
      }
      out[outPos++] = (acc >>> accBits) & 0xff;
    }
    acc &= (1 << accBits) - 1;
  };
  const reset = () => {
    keys.fill(-1);
    nextCode = 258;
    codeLen = 9;
  };
  emit(LZW_CLEAR);
  if (src.length === 0) {
    emit(LZW_EOI);
  } else {
    let w = src[0];
    for (let i = 1; i < src.length; i++) {
      const c = src[i];
      const key = (w << 8) | c;
      let h = ((key * 2654435761) >>> 16) & (HASH_SIZE - 1);
      let found = -1;
      while (keys[h] !== -1) {
        if (keys[h] === key) {
          found = vals[h];
          break;
        }
        h = (h + 1) & (HASH_SIZE - 1);
      }
      if (found >= 0) {
        w = found;
        continue;
      }
      emit(w);
      keys[h] = key;
      vals[h] = nextCode++;
      if (nextCode + 1 > 1 << codeLen) {
        if (codeLen < 12) codeLen++;
      }
      if (nextCode >= 4094) {
        emit(LZW_CLEAR);
        reset();
      }
      w = c;
    }
    emit(w);
    // The decoder adds one more table entry after this code; keep its code width in step (libtiff does the same).
    if (nextCode + 1 >= 4094) {
      emit(LZW_CLEAR);
      codeLen = 9;
    } else if (nextCode + 1 >= 1 << codeLen && codeLen < 12) {
      codeLen++;
    }
    emit(LZW_EOI);
  }
  if (accBits > 0) {
    if (outPos >= out.length) {
      const grown = new Uint8Array(out.length + 8);
      grown.set(out);
      out = grown;
    }
    out[outPos++] = (acc << (8 - accBits)) & 0xff;
  }
  return out.slice(0, outPos);
}

export function unsupportedCompression(file: string, compression: number, name: string): never {
  throw new UnsupportedError(
    file,
    `compression ${name} (${compression}) is not supported (expected none, DEFLATE, LZW or PackBits)`,
  );
}
