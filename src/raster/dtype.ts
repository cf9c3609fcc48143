import { ValidationError } from '../errors.js';

/**
 * Pixel data types. Complex types hold (I, Q) pairs: `cint16` as two int16, `cfloat32` as two float32,
 * stored interleaved I, Q, I, Q ... in the band's plane.
 */
export type DataType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'float64'
  | 'cint16'
  | 'cfloat32';

export type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

export const DATA_TYPES: readonly DataType[] = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'float64',
  'cint16',
  'cfloat32',
];

interface DataTypeInfo {
  /** Bytes of one stored component (for complex: of I or of Q). */
  componentBytes: number;
  /** Components per pixel: 2 for complex, 1 otherwise. */
  components: 1 | 2;
  kind: 'uint' | 'int' | 'float';
  array: {
    new (length: number): TypedArray;
    new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  };
  /** GDAL's name for `gdalinfo`-compatible output. */
  gdalName: string;
}

const INFO: Record<DataType, DataTypeInfo> = {
  uint8: { componentBytes: 1, components: 1, kind: 'uint', array: Uint8Array, gdalName: 'Byte' },
  int8: { componentBytes: 1, components: 1, kind: 'int', array: Int8Array, gdalName: 'Int8' },
  uint16: { componentBytes: 2, components: 1, kind: 'uint', array: Uint16Array, gdalName: 'UInt16' },
  int16: { componentBytes: 2, components: 1, kind: 'int', array: Int16Array, gdalName: 'Int16' },
  uint32: { componentBytes: 4, components: 1, kind: 'uint', array: Uint32Array, gdalName: 'UInt32' },
  int32: { componentBytes: 4, components: 1, kind: 'int', array: Int32Array, gdalName: 'Int32' },
  float32: { componentBytes: 4, components: 1, kind: 'float', array: Float32Array, gdalName: 'Float32' },
  float64: { componentBytes: 8, components: 1, kind: 'float', array: Float64Array, gdalName: 'Float64' },
  cint16: { componentBytes: 2, components: 2, kind: 'int', array: Int16Array, gdalName: 'CInt16' },
  cfloat32: { componentBytes: 4, components: 2, kind: 'float', array: Float32Array, gdalName: 'CFloat32' },
};

export function dataTypeInfo(dt: DataType): DataTypeInfo {
  const info = INFO[dt];
  if (!info) throw new ValidationError(`data type '${String(dt)}' is not one of ${DATA_TYPES.join(', ')}`);
  return info;
}

/** Bytes per pixel of one band (both components for complex types). */
export function pixelBytes(dt: DataType): number {
  const i = dataTypeInfo(dt);
  return i.componentBytes * i.components;
}

export function isComplex(dt: DataType): boolean {
  return dataTypeInfo(dt).components === 2;
}

export function isFloat(dt: DataType): boolean {
  return dataTypeInfo(dt).kind === 'float';
}

/** GDAL's data type name (Byte, Int16, Float32, CFloat32 ...). */
export function gdalTypeName(dt: DataType): string {
  return dataTypeInfo(dt).gdalName;
}

/** Parse a data type name, accepting GDAL's names too (case-insensitive). */
export function parseDataType(name: string): DataType {
  const lower = name.toLowerCase();
  for (const dt of DATA_TYPES) {
    if (dt === lower || INFO[dt].gdalName.toLowerCase() === lower) return dt;
  }
  throw new ValidationError(`data type '${name}' is not one of ${DATA_TYPES.join(', ')}`);
}

/** A typed array of `pixels` pixels (times the components) of the data type. */
export function allocate(dt: DataType, pixels: number): TypedArray {
  const info = dataTypeInfo(dt);
  return new info.array(pixels * info.components);
}

/** A typed-array view of the data type over existing bytes (byteOffset must be aligned). */
export function viewBytes(
  dt: DataType,
  buffer: ArrayBufferLike,
  byteOffset: number,
  pixels: number,
): TypedArray {
  const info = dataTypeInfo(dt);
  return new info.array(buffer, byteOffset, pixels * info.components);
}
