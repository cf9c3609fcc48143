import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { aisMatchFile } from '../src/exploit/ais/match-file.js';
import { detectFile } from '../src/exploit/detect.js';
import type { PlantedShip, SceneOptions } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { KernelPool } from '../src/raster/kernel-pool.js';
import { benchDir, fmt } from './util.js';

const SIZE = 2048;
const SEEDS = [101, 202, 303];
const DATE = '2026-06-01T06:00:00Z';
/** Ships shorter than this are "don't care" (the detector's default --min-length-m is 50 m). */
const DONT_CARE_BELOW_M = 50;
const TARGETS = { rightMmsi: 0.95, darkRecall: 0.9, darkPrecision: 0.9 };

const SCENES: { name: string; opts: SceneOptions }[] = [
  { name: 'open sea, 4.4 looks', opts: { layout: 'open-sea' } },
  { name: 'open sea, single look', opts: { layout: 'open-sea', looks: 1 } },
  { name: 'near the coast, 4.4 looks', opts: { layout: 'coast' } },
  { name: 'crowded harbour (50-200 m apart)', opts: { layout: 'harbour' } },
];

interface Feature {
  geometry: { coordinates: [number, number] };
  properties: { dark: boolean | null; ais_mmsi: number | null };
}

interface Tally {
  aisShips: number;
  rightMmsi: number;
  wrongMmsi: number;
  aisUndetected: number;
  /** AIS ships detected but matched to no track (flagged dark). */
  aisFlaggedDark: number;
  darkShips: number;
  darkFound: number;
  /** Dark ships detected but given some track's MMSI. */
  darkGivenMmsi: number;
  darkUndetected: number;
  flaggedDark: number;
  flaggedDarkTrue: number;
  falseAlarms: number;
  aisOnly: number;
  aisOnlyListed: number;
  looks: string[];
}

const M_PER_DEG = 111_195;
function distM(a: [number, number], lon: number, lat: number): number {
  return Math.hypot((a[0] - lon) * M_PER_DEG * Math.cos((lat * Math.PI) / 180), (a[1] - lat) * M_PER_DEG);
}

function row(name: string, t: Tally): string {
  const pct = (a: number, b: number) => `${a}/${b} (${fmt((100 * a) / Math.max(1, b), 1)}%)`;
  return `| ${name} | ${pct(t.rightMmsi, t.aisShips)} | ${t.wrongMmsi} | ${t.aisFlaggedDark} | ${t.aisUndetected} | ${t.darkFound}/${t.darkShips} = ${fmt(t.darkFound / Math.max(1, t.darkShips), 3)} | ${t.darkGivenMmsi} | ${t.darkUndetected} | ${t.flaggedDarkTrue}/${t.flaggedDark} = ${fmt(t.flaggedDarkTrue / Math.max(1, t.flaggedDark), 3)} | ${t.falseAlarms} | ${t.aisOnlyListed}/${t.aisOnly} | ${t.looks.join(', ')} |`;
}

/**
 * One-to-one association of detections to planted ships (image positions): a pair within half the
 * ship's length + 40 m, nearest pairs first. Returns per ship the detection index or -1.
 */
function associate(ships: readonly PlantedShip[], feats: readonly Feature[]): number[] {
  const pairs: [number, number, number][] = [];
  for (let i = 0; i < ships.length; i++)
    for (let j = 0; j < feats.length; j++) {
      const q = ships[i];
      const d = distM(feats[j].geometry.coordinates, q.lon, q.lat);
      if (d <= q.lengthM / 2 + 40) pairs.push([d, i, j]);
    }
  pairs.sort((a, b) => a[0] - b[0]);
  const shipTo = ships.map(() => -1);
  const taken = new Set<number>();
  for (const [, i, j] of pairs)
    if (shipTo[i] < 0 && !taken.has(j)) {
      shipTo[i] = j;
      taken.add(j);
    }
  return shipTo;
}

const emptyTally = (): Tally => ({
  aisShips: 0,
  rightMmsi: 0,
  wrongMmsi: 0,
  aisUndetected: 0,
  aisFlaggedDark: 0,
  darkShips: 0,
  darkFound: 0,
  darkGivenMmsi: 0,
  darkUndetected: 0,
  flaggedDark: 0,
  flaggedDarkTrue: 0,
  falseAlarms: 0,
  aisOnly: 0,
  aisOnlyListed: 0,
  looks: [],
});

function add(into: Tally, x: Tally): void {
  for (const k of Object.keys(into) as (keyof Tally)[])
    if (k === 'looks') into.looks.push(...x.looks);
    else (into[k] as number) += x[k] as number;
}

/** Score one matched scene against its planted truth (ships under DONT_CARE_BELOW_M left out). */
function score(
  ships: readonly PlantedShip[],
  feats: readonly Feature[],
  aisOnly: number[],
  listed: Set<number>,
): Tally {
  const t = emptyTally();
  const shipTo = associate(ships, feats);
  const shipOf = new Map<number, PlantedShip>();
  ships.forEach((q, i) => {
    const j = shipTo[i];
    if (j >= 0) shipOf.set(j, q);
    if (q.lengthM < DONT_CARE_BELOW_M) return;
    const p = j >= 0 ? feats[j].properties : null;
    if (q.ais?.mmsi === null) {
      t.darkShips++;
      if (!p) t.darkUndetected++;
      else if (p.dark === true) t.darkFound++;
      else if (p.ais_mmsi !== null) t.darkGivenMmsi++;
    } else {
      t.aisShips++;
      if (!p) t.aisUndetected++;
      else if (p.ais_mmsi === q.ais?.mmsi) t.rightMmsi++;
      else if (p.ais_mmsi !== null) t.wrongMmsi++;
      else if (p.dark === true) t.aisFlaggedDark++;
    }
  });
  feats.forEach((f, j) => {
    const q = shipOf.get(j);
    if (q && q.lengthM < DONT_CARE_BELOW_M) return;
    if (!q) t.falseAlarms++;
    if (f.properties.dark !== true) return;
    t.flaggedDark++;
    if (q?.ais?.mmsi === null) t.flaggedDarkTrue++;
  });
  t.aisOnly = aisOnly.length;
  t.aisOnlyListed = aisOnly.filter((m) => listed.has(m)).length;
  return t;
}

const VARIANTS = [
  { name: 'per-track gates (default)', trackGates: true },
  { name: 'one 1.5 km gate for every track', trackGates: false },
];

/**
 * `npm run bench -- dark`: dark-vessel accuracy. Seeded simulated scenes with AIS (simulate scene
 * --ais: 20% of the ships dark, 10% of the ship count as AIS tracks with no ship, moving ships
 * displaced in azimuth), ships of 20-300 m at SCR 10-25 dB. Each scene goes through what a user
 * runs: `detect` (default method; the sidecar's number of looks removed, so the detector gets the
 * looks as it would for a user's data) and the AIS match with the sidecar's viewing geometry.
 * Scored against the planted truth: AIS ships given the right MMSI, dark-vessel recall and
 * precision (a false alarm flagged dark counts against precision), AIS-only tracks listed; with
 * the default per-track gates and with one fixed gate.
 */
export async function benchDark(): Promise<void> {
  const dir = benchDir('dark');
  const pool = new KernelPool();
  const load0 = loadavg();
  const t0 = Date.now();
  const looksFrom = new Set<string>();
  const per = VARIANTS.map(() => SCENES.map(() => emptyTally()));
  let detectS = 0;
  let matchS = 0;
  try {
    for (const [si, sc] of SCENES.entries()) {
      for (const seed of SEEDS) {
        const tag = `${seed}-${sc.opts.layout}-${sc.opts.looks ?? 4.4}`;
        const r = await simulateScene(join(dir, `s-${tag}`), {
          seed,
          size: SIZE,
          ships: 40,
          dates: [DATE],
          ais: true,
          ...sc.opts,
        });
        const s = r.scenes[0];
        // A user's product comes without the simulator's number of looks.
        const item = JSON.parse(readFileSync(s.sidecar, 'utf8'));
        delete item.properties['sar:looks_equivalent_number'];
        writeFileSync(s.sidecar, `${JSON.stringify(item, null, 2)}\n`);
        const detPath = join(dir, `det-${tag}.geojson`);
        const a = Date.now();
        const det = await detectFile(s.path, detPath, { landMask: r.landPath, pool });
        detectS += (Date.now() - a) / 1000;
        looksFrom.add(det.looksSource.replace(/[\d.]+/g, 'x'));
        for (const [vi, v] of VARIANTS.entries()) {
          const out = join(dir, `ais-${tag}-${vi}.geojson`);
          const b = Date.now();
          const m = await aisMatchFile(detPath, s.ais?.path as string, out, { trackGates: v.trackGates });
          if (vi === 0) matchS += (Date.now() - b) / 1000;
          const feats = JSON.parse(readFileSync(out, 'utf8')).features as Feature[];
          const t = score(
            s.ships,
            feats,
            (s.ais?.aisOnly ?? []).map((u) => u.mmsi),
            new Set(m.unmatchedTracks.map((u) => u.mmsi)),
          );
          t.looks.push(fmt(det.params.looks, 2));
          add(per[vi][si], t);
        }
      }
    }
  } finally {
    await pool.close();
  }
  const load1 = loadavg();
  const ok = (v: number, tgt: number) => (v >= tgt ? 'PASS' : 'FAIL');
  const verdict = (name: string, x: Tally) => {
    const right = x.rightMmsi / Math.max(1, x.aisShips);
    const recall = x.darkFound / Math.max(1, x.darkShips);
    const precision = x.flaggedDarkTrue / Math.max(1, x.flaggedDark);
    const detected = x.rightMmsi / Math.max(1, x.aisShips - x.aisUndetected);
    const recallDet = x.darkFound / Math.max(1, x.darkShips - x.darkUndetected);
    return `${name}: right MMSI ${x.rightMmsi}/${x.aisShips} = ${fmt(100 * right, 1)}% (target >= ${100 * TARGETS.rightMmsi}%) ${ok(right, TARGETS.rightMmsi)}; dark recall ${fmt(recall, 3)} (>= ${TARGETS.darkRecall}) ${ok(recall, TARGETS.darkRecall)}; dark precision ${fmt(precision, 3)} (>= ${TARGETS.darkPrecision}) ${ok(precision, TARGETS.darkPrecision)}. Of the detected ships only (the matcher apart from the detector): right MMSI ${fmt(100 * detected, 1)}%, dark recall ${fmt(recallDet, 3)}.`;
  };
  console.log(
    `Dark vessels: ${SIZE} x ${SIZE} scenes at 10 m, seeds ${SEEDS.join(', ')}, 40 ships of 20-300 m at SCR 10-25 dB, simulate scene --ais defaults; detect with defaults (looks not given: the sidecar's number removed) and the simulator's land polygon; ais match with the sidecar's geometry. Ships under ${DONT_CARE_BELOW_M} m are "don't care". Looks: ${[...looksFrom].join('; ')}.`,
  );
  for (const [vi, v] of VARIANTS.entries()) {
    console.log('');
    console.log(`AIS match with ${v.name}:`);
    console.log('');
    console.log(
      '| scene | AIS ships: right MMSI | wrong MMSI | no match | undetected | dark ships: flagged dark (recall) | given an MMSI | undetected | flagged dark: precision | false alarms | AIS-only tracks listed | looks used |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [si, sc] of SCENES.entries()) console.log(row(sc.name, per[vi][si]));
    console.log('');
    const all = emptyTally();
    const notHarbour = emptyTally();
    for (const [si, sc] of SCENES.entries()) {
      add(all, per[vi][si]);
      if (sc.opts.layout !== 'harbour') add(notHarbour, per[vi][si]);
    }
    console.log(verdict('All scenes', all));
    console.log(verdict('All but the harbour', notHarbour));
  }
  console.log('');
  console.log(
    `Time: detect ${fmt(detectS, 1)} s, AIS match (reading the CSV included) ${fmt(matchS, 2)} s over ${SCENES.length * SEEDS.length} scenes; whole run ${fmt((Date.now() - t0) / 1000, 0)} s. Load average (1/5/15 min) at start ${load0.map((x) => fmt(x, 2)).join(' ')}, at end ${load1.map((x) => fmt(x, 2)).join(' ')}.`,
  );
}
