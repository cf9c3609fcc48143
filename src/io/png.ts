import { deflateSync } from 'node:zlib';
import { ValidationError } from '../errors.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * An 8-bit PNG: grayscale, or grayscale with alpha when `alpha` is given (0 = transparent), for
 * quick-looks. Rows are unfiltered; the image data is DEFLATE-compressed.
 */
export function encodePng(gray: Uint8Array, width: number, height: number, alpha?: Uint8Array): Buffer {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    gray.length !== width * height
  ) {
    throw new ValidationError(`PNG needs ${width} x ${height} gray values, got ${gray.length}`);
  }
  if (alpha && alpha.length !== gray.length)
    throw new ValidationError(`PNG alpha has ${alpha.length} values, expected ${gray.length}`);
  const channels = alpha ? 2 : 1;
  const raw = new Uint8Array(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    let o = y * (1 + width * channels) + 1;
    for (let x = 0; x < width; x++) {
      raw[o++] = gray[y * width + x];
      if (alpha) raw[o++] = alpha[y * width + x];
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = alpha ? 4 : 0; // gray + alpha, or gray
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
