import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeCog } from '../src/io/tiff/writer.js';
import { createRaster } from '../src/raster/view.js';
import { exponential, mulberry32 } from '../src/util/random.js';

export const BENCH_DIR = join(process.cwd(), '.bench-out');
export const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
export const PYTHON = '/usr/bin/python3';

export function benchDir(name: string): string {
  const dir = join(BENCH_DIR, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run a command under GNU time: wall seconds and peak RSS in MiB. Throws on a non-zero exit. */
export function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { seconds: number; peakMiB: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], {
    encoding: 'utf8',
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [sec, kb] = last.split(' ').map(Number);
  return { seconds: sec, peakMiB: kb / 1024, stdout: r.stdout };
}

export function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}

export function gdalVersion(): string {
  return execFileSync('gdalinfo', ['--version'], { encoding: 'utf8' }).trim();
}

/**
 * The benchmarks' input: a seeded size x size float32 single-look speckle image (exponential
 * intensity, gamma with L = 1) as an uncompressed tiled GeoTIFF; written once, reused after.
 */
export async function speckleInput(path: string, size: number): Promise<void> {
  if (existsSync(path)) return;
  const rand = mulberry32(42);
  const img = createRaster(size, size, 1, 'float32');
  for (let i = 0; i < img.data.length; i++) img.data[i] = exponential(rand);
  await writeCog(
    path,
    img,
    { epsg: 32633, geoTransform: [500000, 10, 0, 6000000, 0, -10] },
    { compression: 'none', overviews: 'none', statistics: false },
  );
}
