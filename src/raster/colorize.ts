/**
 * A lookup from the top 16 bits of a float32 (sign, exponent, 7 mantissa bits) to a colour index
 * 0-255, or 256 for transparent: values to colours in one table read per pixel. Each bucket takes the
 * colour of its middle value; buckets are 2^-8 of their value wide (0.017 dB for linear power shown
 * in dB, at most 0.06 dB for dB values between -32 and 32), finer than a step of a 256-colour stretch
 * over any useful range. `toDisplay` maps a stored value to the stretched quantity (dB for linear
 * power); NaN and values it turns into NaN are transparent.
 */
export function float16Lut(min: number, max: number, toDisplay: (v: number) => number): Uint16Array {
  const lut = new Uint16Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const scale = max > min ? 255 / (max - min) : 0;
  for (let hi = 0; hi < 65536; hi++) {
    u[0] = (hi << 16) | 0x8000;
    const v = toDisplay(f[0]);
    lut[hi] =
      v === v && Number.isFinite(v)
        ? Math.min(255, Math.max(0, Math.round((v - min) * scale)))
        : v === Number.POSITIVE_INFINITY
          ? 255
          : v === Number.NEGATIVE_INFINITY
            ? 0
            : 256;
  }
  return lut;
}

/** Float32 values to RGBA through a float16Lut and a colour map. */
export function colorizeLut(
  values: Float32Array,
  lut16: Uint16Array,
  rgbLut: Uint8Array,
  out?: Uint8Array,
): Uint8Array {
  const rgba = out ?? new Uint8Array(values.length * 4);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const k = lut16[bits[i] >>> 16];
    const o = i * 4;
    if (k === 256) {
      rgba[o] = 0;
      rgba[o + 1] = 0;
      rgba[o + 2] = 0;
      rgba[o + 3] = 0;
    } else {
      rgba[o] = rgbLut[k * 3];
      rgba[o + 1] = rgbLut[k * 3 + 1];
      rgba[o + 2] = rgbLut[k * 3 + 2];
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}
