import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataType, TypedArray } from '../../src/raster/dtype.js';
import { dataTypeInfo } from '../../src/raster/dtype.js';

/** Debian's interpreter, which has python3-gdal and numpy (the first python3 on PATH may not). */
export const PYTHON = '/usr/bin/python3';
const TOOL = join(import.meta.dirname, 'gdal_tool.py');

export function tempDir(prefix = 'sarbridge-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function tool(args: string[]): unknown {
  const out = execFileSync(PYTHON, [TOOL, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out);
}

/** Every level's pixels as GDAL reads them, as typed arrays of the data type (band-sequential). */
export function gdalRead(
  path: string,
  dataType: DataType,
): { levels: [number, number][]; data: TypedArray[] } {
  const { dir, cleanup } = tempDir('gdal-dump-');
  try {
    const prefix = join(dir, 'dump');
    const res = tool(['dump', path, prefix, dataType]) as { levels: [number, number][] };
    const Ctor = dataTypeInfo(dataType).array;
    const data = res.levels.map((_, k) => {
      const buf = readFileSync(`${prefix}.L${k}.bin`);
      const copy = new Uint8Array(buf.length);
      copy.set(buf);
      return new Ctor(copy.buffer, 0, copy.length / dataTypeInfo(dataType).componentBytes);
    });
    return { levels: res.levels, data };
  } finally {
    cleanup();
  }
}

export interface GdalMakeSpec {
  width: number;
  height: number;
  bands: number;
  dtype: DataType;
  driver?: 'GTiff' | 'COG';
  options?: string[];
  nodata?: number | null;
  epsg?: number;
  geotransform?: number[];
  overviews?: number[];
  resampling?: string;
}

/** Write a GeoTIFF with GDAL from band-sequential pixels. */
export function gdalMake(path: string, data: TypedArray, spec: GdalMakeSpec): void {
  const { dir, cleanup } = tempDir('gdal-make-');
  try {
    const raw = join(dir, 'in.bin');
    writeFileSync(raw, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    tool(['make', raw, specPath, path]);
  } finally {
    cleanup();
  }
}

export function validateCog(path: string): { errors: string[]; warnings: string[] } {
  return tool(['validate', path]) as { errors: string[]; warnings: string[] };
}

export function gdalinfoJson(path: string): Record<string, unknown> {
  return JSON.parse(
    execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
  );
}

/** First index where two arrays differ beyond a relative or an absolute tolerance (NaN equals NaN), or -1. */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>, relTol = 0, absTol = 0): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y || (x !== x && y !== y)) continue;
    if (relTol > 0 && Math.abs(x - y) <= relTol * Math.max(Math.abs(x), Math.abs(y))) continue;
    if (absTol > 0 && Math.abs(x - y) <= absTol) continue;
    return i;
  }
  return -1;
}
