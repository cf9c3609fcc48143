import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ThresholdMethod } from '../src/exploit/change.js';
import { detectChanges } from '../src/exploit/change.js';
import { detectVessels } from '../src/exploit/detect.js';
import { readIntensity } from '../src/exploit/intensity.js';
import { readLandPolygons } from '../src/exploit/landmask.js';
import { pixelScore, scoreDetections } from '../src/exploit/score.js';
import type { SceneOptions, SceneResult } from '../src/ops/simulate-scene.js';
import { plantedChangeRasters, simulateScene } from '../src/ops/simulate-scene.js';
import type { CfarMethod } from '../src/raster/cfar.js';
import { CFAR_METHODS } from '../src/raster/cfar.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { heterogeneousTables } from './accuracy-heterogeneous.js';
import { benchDir, fmt } from './util.js';

const SIZE = 2048;
const SEEDS = [101, 202, 303];
const ONE_DATE = ['2026-06-01T06:00:00Z'];

/** A simulated scene's sigma0 in shared memory. */
async function readShared(path: string): Promise<Float32Array> {
  return (await readIntensity(path, 0, 'the benchmark')).image;
}

const gridOf = (r: SceneResult) => ({
  epsg: r.epsg,
  geoTransform: r.geoTransform,
  width: r.size,
  height: r.size,
});

const VESSEL_SCENES: { name: string; opts: SceneOptions }[] = [
  { name: 'open sea, K clutter nu = 4, 4.4 looks', opts: { layout: 'open-sea' } },
  { name: 'open sea, spiky clutter nu = 1', opts: { layout: 'open-sea', seaOrder: 1 } },
  { name: 'open sea, calm nu = 20', opts: { layout: 'open-sea', seaOrder: 20 } },
  { name: 'open sea, single look', opts: { layout: 'open-sea', looks: 1 } },
  { name: 'near the coast', opts: { layout: 'coast' } },
  { name: 'crowded harbour (50-200 m apart)', opts: { layout: 'harbour' } },
];

const CHANGE_CASES: { name: string; opts: SceneOptions }[] = [
  { name: '+3 / -3 dB, 20-40 px squares', opts: { changeDb: [3, -3], changeSizePx: [20, 40] } },
  { name: '+6 / -8 dB, 40-100 px squares', opts: { changeDb: [6, -8], changeSizePx: [40, 100] } },
  { name: 'no change (ships only)', opts: { changeDb: [0, 0] } },
];

const START = '<!-- accuracy:start -->';
const END = '<!-- accuracy:end -->';

/**
 * `npm run bench -- accuracy`: vessel detection (every CFAR method) on seeded K-clutter scenes and
 * on heterogeneous backgrounds (accuracy-heterogeneous.ts), and change detection, scored against the
 * planted truth; the tables replace the accuracy section of docs/benchmarks.md (not with
 * BENCH_NO_DOCS=1; BENCH_PARTS=k,heterogeneous,change runs some of them) and go to
 * .bench-out/accuracy/accuracy.md.
 */
export async function benchAccuracy(): Promise<void> {
  const dir = benchDir('accuracy');
  const pool = new KernelPool();
  const parts = (process.env.BENCH_PARTS ?? 'k,heterogeneous,change').split(',');
  const lines: string[] = [];
  if (parts.includes('k')) await kTables(dir, pool, lines);
  if (parts.includes('heterogeneous')) lines.push('', ...(await heterogeneousTables(pool)));
  if (parts.includes('change')) await changeTables(dir, pool, lines);
  await pool.close();
  const table = lines.join('\n');
  console.log(table);
  writeFileSync(join(dir, 'accuracy.md'), `${table}\n`);
  const docPath = join(process.cwd(), 'docs', 'benchmarks.md');
  if (process.env.BENCH_NO_DOCS === '1' || parts.length < 3) {
    console.log(`\n(written to ${join(dir, 'accuracy.md')} only)`);
    return;
  }
  const doc = readFileSync(docPath, 'utf8');
  const i = doc.indexOf(START);
  const j = doc.indexOf(END);
  if (i >= 0 && j > i) {
    writeFileSync(docPath, `${doc.slice(0, i + START.length)}\n${table}\n${doc.slice(j)}`);
    console.log(`\nwritten into ${docPath}`);
  } else console.log(`\n(${docPath} has no ${START} ... ${END} section; not written)`);
}

async function kTables(dir: string, pool: KernelPool, lines: string[]): Promise<void> {
  lines.push(
    `Vessels: ${SIZE} x ${SIZE} scenes at 10 m, ${SEEDS.length} seeds each (${SEEDS.join(', ')}), 40 ships of 20-300 m at SCR 10-25 dB; defaults (pfa 6.5, windows 50 / 500 / 800 m, lengths 50-600 m); the simulator's land polygon as mask; looks estimated from the image. Ships under 50 m are "don't care". Summed over the seeds:`,
    '',
    '| scene | method | TP | FP | FN | precision | recall | F1 |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const sc of VESSEL_SCENES) {
    const sums = new Map<CfarMethod, { tp: number; fp: number; fn: number }>();
    for (const seed of SEEDS) {
      const r = await simulateScene(
        join(dir, `v-${seed}-${sc.opts.layout}-${sc.opts.seaOrder ?? 4}-${sc.opts.looks ?? 4.4}`),
        {
          seed,
          size: SIZE,
          ships: 40,
          dates: ONE_DATE,
          ...sc.opts,
        },
      );
      const image = await readShared(r.scenes[0].path);
      const land = await readLandPolygons(r.landPath);
      for (const method of CFAR_METHODS) {
        const img = new Float32Array(new SharedArrayBuffer(image.length * 4));
        img.set(image);
        // No looks given: estimated from the image, as a user's data comes (no sidecar).
        const res = await detectVessels(img, gridOf(r), { method, landMask: land, pool });
        const s = scoreDetections(res.vessels, r.scenes[0].ships, 50);
        const t = sums.get(method) ?? { tp: 0, fp: 0, fn: 0 };
        t.tp += s.truePositives;
        t.fp += s.falsePositives;
        t.fn += s.falseNegatives;
        sums.set(method, t);
      }
    }
    for (const method of CFAR_METHODS) {
      const t = sums.get(method) as { tp: number; fp: number; fn: number };
      const p = t.tp / Math.max(1, t.tp + t.fp);
      const rc = t.tp / Math.max(1, t.tp + t.fn);
      const f1 = p + rc > 0 ? (2 * p * rc) / (p + rc) : 0;
      lines.push(
        `| ${sc.name} | ${method} | ${t.tp} | ${t.fp} | ${t.fn} | ${fmt(p, 3)} | ${fmt(rc, 3)} | ${method === 'k' ? `**${fmt(f1, 3)}**` : fmt(f1, 3)} |`,
      );
    }
  }
}

async function changeTables(dir: string, pool: KernelPool, lines: string[]): Promise<void> {
  lines.push(
    '',
    `Change: ${SIZE} x ${SIZE} pairs (coast layout, 20 ships that move, come and go), ${SEEDS.length} seeds, default options (boxcar 5 x 5, split-based thresholds, 3 x 3 opening and closing, minimum 10,000 m^2). Pixel scores against the planted squares, ship surroundings left out; "false area" is the share of the scene classed as change away from planted changes and ships.`,
    '',
    '| pair | threshold | precision | recall | pixel F1 (worst seed) | false area |',
    '|---|---|---|---|---|---|',
  );
  for (const cc of CHANGE_CASES) {
    for (const method of ['ki', 'otsu'] as ThresholdMethod[]) {
      let worst = 1;
      let prec = 0;
      let rec = 0;
      let falsePx = 0;
      let total = 0;
      for (const seed of SEEDS) {
        const r = await simulateScene(join(dir, `c-${seed}-${cc.opts.changeDb?.join('_')}`), {
          seed,
          size: SIZE,
          ships: 20,
          ...cc.opts,
        });
        const [b, a] = await Promise.all(r.scenes.map((s) => readShared(s.path)));
        const res = await detectChanges(b, a, gridOf(r), { pool, thresholdMethod: method });
        const { truth, ships } = plantedChangeRasters(r);
        const s = pixelScore(res.classes, truth, ships);
        worst = Math.min(worst, s.f1);
        prec += s.precision / SEEDS.length;
        rec += s.recall / SEEDS.length;
        falsePx += s.falsePixels;
        total += truth.length;
      }
      const planted = cc.opts.changeDb?.[0] !== 0;
      lines.push(
        `| ${cc.name} | ${method} | ${planted ? fmt(prec, 3) : ''} | ${planted ? fmt(rec, 3) : ''} | ${planted ? fmt(worst, 3) : ''} | ${fmt((100 * falsePx) / total, 3)}% |`,
      );
    }
  }
}
