import { loadavg } from 'node:os';
import { detectVessels } from '../src/exploit/detect.js';
import { scoreDetections } from '../src/exploit/score.js';
import type { BackgroundOptions } from '../src/ops/simulate-backgrounds.js';
import { simulateBackground } from '../src/ops/simulate-backgrounds.js';
import type { CfarMethod } from '../src/raster/cfar.js';
import { CFAR_METHODS } from '../src/raster/cfar.js';
import type { KernelPool } from '../src/raster/kernel-pool.js';
import { fmt } from './util.js';

const SIZE = 2048;
const SEEDS = [1, 2];
const MIN_LENGTH_M = 20;

/** Scene types the K-clutter simulator does not make (see src/ops/simulate-backgrounds.ts). */
const SCENES: { name: string; opts: Omit<BackgroundOptions, 'seed' | 'looks'> }[] = [
  { name: 'blocks 3-20 dB apart, circle, diagonal edge', opts: { kind: 'blocks' } },
  { name: 'textured blocks (K, order 1-8 per block)', opts: { kind: 'textured' } },
  { name: 'two halves 17 dB apart', opts: { kind: 'step', stepDb: 17 } },
  { name: 'coast, land 12 dB brighter, no land mask', opts: { kind: 'coast', mask: 'none' } },
  { name: 'coast, land mask 500 m off (towards land)', opts: { kind: 'coast', mask: 'misplaced' } },
  { name: 'sea-ice edge (ice 8 dB brighter, order 2)', opts: { kind: 'ice' } },
  { name: 'wind front (7 dB)', opts: { kind: 'front' } },
  { name: 'rain cells 1-5 km, 6-12 dB', opts: { kind: 'rain' } },
];

interface Sums {
  tp: number;
  fp: number;
  fn: number;
  pixels: number;
}

const f1Of = (t: Sums) => {
  const p = t.tp / Math.max(1, t.tp + t.fp);
  const r = t.tp / Math.max(1, t.tp + t.fn);
  return { p, r, f1: p + r > 0 ? (2 * p * r) / (p + r) : 0 };
};

/** Scenes made once and reused by every method (detectVessels uses its input as scratch). */
const made = new Map<string, ReturnType<typeof simulateBackground>>();

async function detectOn(opts: BackgroundOptions, method: CfarMethod, pool: KernelPool) {
  const key = JSON.stringify(opts);
  let sc = made.get(key);
  if (!sc) {
    if (made.size >= 4) made.clear();
    sc = simulateBackground({ size: SIZE, ...opts });
    made.set(key, sc);
  }
  const image = new Float32Array(new SharedArrayBuffer(sc.image.length * 4));
  image.set(sc.image);
  const r = await detectVessels(image, sc.grid, {
    method,
    landMask: sc.landMask,
    minLengthM: MIN_LENGTH_M,
    pool,
  });
  return { sc, r, s: scoreDetections(r.vessels, sc.ships, MIN_LENGTH_M) };
}

/**
 * Vessel detection on heterogeneous backgrounds (the tables of `npm run bench -- accuracy` after the
 * K-clutter ones): per scene type, looks (1, 4.4) and method, precision, recall, F1 and false alarms
 * per 10^6 pixels with ships at SCR 10-25 dB (the target band) and 5-10 dB; then the same scene
 * types without ships, false alarms per 10^6 sea pixels beside the nominal pfa. Looks are estimated
 * from the image (no --looks, no sidecar), as a user's data comes.
 */
export async function heterogeneousTables(pool: KernelPool): Promise<string[]> {
  const lines: string[] = [];
  const nominal = 10 ** -6.5 * 1e6;
  lines.push(
    `Heterogeneous backgrounds (src/ops/simulate-backgrounds.ts): ${SIZE} x ${SIZE} scenes at 10 m, seeds ${SEEDS.join(', ')}, 40 ships of 30-150 m each; defaults (pfa 6.5, windows 50 / 500 / 800 m), --min-length-m ${MIN_LENGTH_M}; looks estimated from the image. Summed over the seeds. FA / 10^6 px: false objects per million pixels (nominal pfa ${fmt(nominal, 2)} per million pixel tests). Load average at the start: ${loadavg()
      .map((x) => fmt(x, 1))
      .join(' ')}.`,
    '',
    '| scene | looks | SCR dB | method | TP | FP | FN | precision | recall | F1 | FA / 10^6 px | looks estimated |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const sc of SCENES)
    for (const looks of [1, 4.4])
      for (const scr of [
        [10, 25],
        [5, 10],
      ] as [number, number][]) {
        const sums = new Map<CfarMethod, Sums>();
        let est = 0;
        for (const seed of SEEDS)
          for (const method of CFAR_METHODS) {
            const { r, s } = await detectOn({ ...sc.opts, seed, looks, scrDb: scr, ships: 40 }, method, pool);
            const t = sums.get(method) ?? { tp: 0, fp: 0, fn: 0, pixels: 0 };
            t.tp += s.truePositives;
            t.fp += s.falsePositives;
            t.fn += s.falseNegatives;
            t.pixels += SIZE * SIZE;
            sums.set(method, t);
            if (method === 'k') est += r.params.looks / SEEDS.length;
          }
        for (const method of CFAR_METHODS) {
          const t = sums.get(method) as Sums;
          const { p, r, f1 } = f1Of(t);
          const f1s = method === 'k' ? `**${fmt(f1, 3)}**` : fmt(f1, 3);
          lines.push(
            `| ${sc.name} | ${looks} | ${scr[0]}-${scr[1]} | ${method} | ${t.tp} | ${t.fp} | ${t.fn} | ${fmt(p, 3)} | ${fmt(r, 3)} | ${f1s} | ${fmt((t.fp / t.pixels) * 1e6, 2)} | ${method === 'k' ? fmt(est, 2) : ''} |`,
          );
        }
        console.error(`accuracy: ${sc.name}, ${looks} looks, SCR ${scr.join('-')} done`);
      }
  lines.push(
    '',
    `Ship-free: the same scene types without ships, false objects per 10^6 sea pixels (3 x nominal = ${fmt(3 * nominal, 2)}); seeds ${SEEDS.join(', ')}. Load average now: ${loadavg()
      .map((x) => fmt(x, 1))
      .join(' ')}.`,
    '',
    `| scene | looks | ${CFAR_METHODS.join(' | ')} | nominal |`,
    `|---|---|${CFAR_METHODS.map(() => '---|').join('')}---|`,
  );
  for (const sc of [
    { name: 'homogeneous', opts: { kind: 'homogeneous' } } as (typeof SCENES)[number],
    ...SCENES,
  ])
    for (const looks of [1, 4.4]) {
      const cells: string[] = [];
      for (const method of CFAR_METHODS) {
        let objects = 0;
        let seaPixels = 0;
        for (const seed of SEEDS) {
          const { r, sc: scene } = await detectOn({ ...sc.opts, seed, looks, ships: 0 }, method, pool);
          // On coast and ice scenes only objects in the water count (the land and ice are not sea).
          for (const v of r.vessels) {
            const col = Math.floor((v.x - scene.grid.geoTransform[0]) / 10);
            const row = Math.floor((scene.grid.geoTransform[3] - v.y) / 10);
            if (scene.sea[row * SIZE + col] === 1) objects++;
          }
          seaPixels += scene.seaPixels;
        }
        const rate = (objects / seaPixels) * 1e6;
        cells.push(method === 'k' ? `**${fmt(rate, 2)}** (${objects})` : `${fmt(rate, 2)} (${objects})`);
      }
      lines.push(`| ${sc.name} | ${looks} | ${cells.join(' | ')} | ${fmt(nominal, 2)} |`);
      console.error(`accuracy: ship-free ${sc.name}, ${looks} looks done`);
    }
  return lines;
}
