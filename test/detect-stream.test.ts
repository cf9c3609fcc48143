import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import type { DetectResult } from '../src/exploit/detect.js';
import { detectFile, detectVessels } from '../src/exploit/detect.js';
import { stripHalo } from '../src/exploit/detect-strips.js';
import { readIntensity } from '../src/exploit/intensity.js';
import type { LonLatPolygon } from '../src/exploit/landmask.js';
import { readLandPolygons } from '../src/exploit/landmask.js';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { CfarMethod } from '../src/raster/cfar.js';
import { cfarParams } from '../src/raster/cfar.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { firstDifference, tempDir } from './helpers/gdal.js';

const tmp = tempDir('sarbridge-detect-stream-');
let pool: KernelPool;
let scene: SceneResult;
let plain: string;
let land: LonLatPolygon[];

beforeAll(async () => {
  pool = new KernelPool();
  // A coast with land and ships 20-300 m; ships land across strip boundaries at every strip height.
  scene = await simulateScene(join(tmp.dir, 'coast'), {
    seed: 17,
    size: 640,
    ships: 24,
    layout: 'coast',
    dates: ['2026-06-01T06:00:00Z'],
  });
  // The same image without its sidecar, so the looks are estimated from the image.
  plain = join(tmp.dir, 'plain.tif');
  copyFileSync(scene.scenes[0].path, plain);
  land = await readLandPolygons(scene.landPath);
}, 120_000);

afterAll(async () => {
  await pool.close();
  tmp.cleanup();
});

/** The whole-image result, in memory (the reference). */
async function whole(method: CfarMethod, withLand: boolean): Promise<DetectResult> {
  const { image, grid } = await readIntensity(plain, 0, 'detection');
  return detectVessels(image, grid, {
    method,
    landMask: withLand ? land : 'none',
    pool,
    keepOutputs: true,
  });
}

function expectSame(strips: DetectResult, ref: DetectResult): void {
  expect(strips.looksSource).toBe(ref.looksSource);
  expect(strips.params).toEqual(ref.params);
  expect(strips.detectedPixels).toBe(ref.detectedPixels);
  expect(strips.landPixels).toBe(ref.landPixels);
  expect(strips.objects).toBe(ref.objects);
  const a = strips.outputs;
  const b = ref.outputs;
  if (!a || !b) throw new Error('outputs not kept');
  expect(firstDifference(a.detection, b.detection)).toBe(-1);
  expect(firstDifference(a.bodyThreshold, b.bodyThreshold)).toBe(-1);
  expect(firstDifference(a.ratio, b.ratio)).toBe(-1);
  expect(strips.vessels).toEqual(ref.vessels);
}

/** Detected pixels directly above and below a strip boundary (an object across it). */
function acrossBoundaries(r: DetectResult, stripRows: number): number {
  const det = r.outputs?.detection;
  if (!det) return 0;
  const W = scene.size;
  let n = 0;
  for (let y = stripRows; y < scene.size; y += stripRows)
    for (let x = 0; x < W; x++) if (det[(y - 1) * W + x] === 1 && det[y * W + x] === 1) n++;
  return n;
}

describe('strip-wise vessel detection equals whole-image detection', () => {
  const cases: { method: CfarMethod; withLand: boolean; stripRows: number[] }[] = [
    { method: 'k', withLand: true, stripRows: [37, 200] },
    { method: 'k', withLand: false, stripRows: [53] },
    { method: 'censored', withLand: true, stripRows: [41] },
    { method: 'two-param', withLand: true, stripRows: [29] },
  ];
  for (const c of cases)
    it(`${c.method}, ${c.withLand ? 'with land' : 'no land'}, strips of ${c.stripRows.join(' and ')} rows`, async () => {
      const ref = await whole(c.method, c.withLand);
      expect(ref.vessels.length).toBeGreaterThan(5);
      if (c.withLand) expect(ref.landPixels).toBeGreaterThan(10_000);
      for (const stripRows of c.stripRows) {
        const r = await detectFile(plain, join(tmp.dir, `${c.method}-${stripRows}.geojson`), {
          method: c.method,
          landMask: c.withLand ? land : 'none',
          pool,
          keepOutputs: true,
          stripRows,
        });
        // Objects cross the boundaries, so the test covers the joining.
        expect(acrossBoundaries(r, stripRows)).toBeGreaterThan(0);
        expectSame(r, ref);
      }
    }, 300_000);

  it('the strips above are smaller than the halo (K at 10 m: 5 passes of hb + 1 = 41 rows, 205 rows)', () => {
    const p = cfarParams({ method: 'k', looks: 4.4, spacingM: 10 });
    expect(p.halfBackground).toBe(40);
    expect(stripHalo(p)).toBe(205);
  });
});

describe('strip-wise detection: bad input', () => {
  const rows: { name: string; opts: Record<string, number>; message: RegExp }[] = [
    {
      name: 'a budget too small for one strip',
      opts: { maxMemoryBytes: 97 * 1024 * 1024 },
      message:
        /--max-memory 97 MiB is too small .*one strip with its 205-row halo needs at least 108 MiB \(--max-memory 109\)/,
    },
    {
      name: 'strip rows not a positive integer',
      opts: { stripRows: 0 },
      message: /stripRows must be a positive integer, got 0/,
    },
  ];
  for (const row of rows)
    it(row.name, async () => {
      const err = await detectFile(plain, join(tmp.dir, 'bad.geojson'), {
        landMask: 'none',
        looks: 4.4,
        pool,
        ...row.opts,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(row.message);
    });
});

describe('sarbridge detect --max-memory', () => {
  it('a budget too small for one strip is exit 1 naming --max-memory; one that fits finds what the default finds', async () => {
    const { runCapture } = await import('./helpers/cli.js');
    const bad = await runCapture([
      'detect',
      plain,
      join(tmp.dir, 'cli-bad.geojson'),
      '--land-mask',
      'none',
      '--max-memory',
      '20',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--max-memory 20 MiB is too small/);
    const args = (out: string, extra: string[]) => [
      'detect',
      plain,
      join(tmp.dir, out),
      '--land-mask',
      'none',
      '--json',
      ...extra,
    ];
    const strips = await runCapture(args('cli-strips.geojson', ['--max-memory', '120']));
    const inMemory = await runCapture(args('cli-whole.geojson', []));
    expect([strips.code, inMemory.code]).toEqual([0, 0]);
    const features = (f: string) =>
      (JSON.parse(readFileSync(join(tmp.dir, f), 'utf8')) as { features: unknown[] }).features;
    expect(features('cli-strips.geojson').length).toBeGreaterThan(0);
    expect(features('cli-strips.geojson')).toEqual(features('cli-whole.geojson'));
  }, 120_000);
});
