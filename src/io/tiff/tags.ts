/** TIFF 6.0, BigTIFF, GeoTIFF 1.1 and GDAL tag numbers used by sarbridge. */
export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Software: 305,
  DateTime: 306,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  ExtraSamples: 338,
  SampleFormat: 339,
  JPEGTables: 347,
  ModelPixelScale: 33550,
  ModelTiepoint: 33922,
  ModelTransformation: 34264,
  GeoKeyDirectory: 34735,
  GeoDoubleParams: 34736,
  GeoAsciiParams: 34737,
  GdalMetadata: 42112,
  GdalNodata: 42113,
} as const;

export const Compression = {
  None: 1,
  Lzw: 5,
  Jpeg: 7,
  Deflate: 8,
  AdobeDeflateOld: 32946,
  PackBits: 32773,
  Lerc: 34887,
  Zstd: 50000,
  Webp: 50001,
} as const;

export const SampleFormat = { Uint: 1, Int: 2, Float: 3, Void: 4, ComplexInt: 5, ComplexFloat: 6 } as const;

/** TIFF field types: byte size of one value. */
export const FIELD_TYPE_SIZE: Record<number, number> = {
  1: 1, // BYTE
  2: 1, // ASCII
  3: 2, // SHORT
  4: 4, // LONG
  5: 8, // RATIONAL
  6: 1, // SBYTE
  7: 1, // UNDEFINED
  8: 2, // SSHORT
  9: 4, // SLONG
  10: 8, // SRATIONAL
  11: 4, // FLOAT
  12: 8, // DOUBLE
  13: 4, // IFD
  16: 8, // LONG8
  17: 8, // SLONG8
  18: 8, // IFD8
};

export const FieldType = {
  Byte: 1,
  Ascii: 2,
  Short: 3,
  Long: 4,
  Rational: 5,
  Undefined: 7,
  Double: 12,
  Long8: 16,
} as const;

export function compressionName(c: number): string {
  switch (c) {
    case 1:
      return 'none';
    case 5:
      return 'lzw';
    case 7:
      return 'jpeg';
    case 8:
    case 32946:
      return 'deflate';
    case 32773:
      return 'packbits';
    case 34887:
      return 'lerc';
    case 50000:
      return 'zstd';
    case 50001:
      return 'webp';
    default:
      return `unknown(${c})`;
  }
}
