import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MatchDetection } from '../src/exploit/ais/match.js';
import { aisMatchFile, matchAis } from '../src/exploit/ais/match-file.js';
import { buildTracks } from '../src/exploit/ais/tracks.js';
import type { AisReport, AisStatic } from '../src/exploit/ais/types.js';
import { mulberry32 } from '../src/util/random.js';
import { benchDir, fmt, median } from './util.js';

const RUNS = 7;
const TRACKS = 1000;
const REPORTS_PER_TRACK = 100;
const DETECTIONS = 1000;
const TARGET_S = 0.5;
const M_PER_DEG = 111_194.9266;

/**
 * A seeded scene: 1000 AIS tracks of 100 reports each (100,000 reports, one every 36 s over the hour
 * around the image time, 20 m noise) on a 100 x 100 km sea at 55 N, and 1000 detections: 800 of
 * the AIS ships where the SAR shows them (azimuth-displaced), 200 dark ships.
 */
function scene(): {
  reports: AisReport[];
  statics: Map<number, AisStatic>;
  dets: MatchDetection[];
  imageMs: number;
} {
  const rand = mulberry32(13);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const imageMs = Date.UTC(2026, 5, 1, 6);
  const lon0 = 10;
  const lat0 = 55;
  const at = (x: number, y: number) => [
    lon0 + x / (M_PER_DEG * Math.cos((lat0 * Math.PI) / 180)),
    lat0 + y / M_PER_DEG,
  ];
  const reports: AisReport[] = [];
  const statics = new Map<number, AisStatic>();
  const dets: MatchDetection[] = [];
  for (let k = 0; k < TRACKS; k++) {
    const mmsi = 219_000_000 + k;
    const x0 = rand() * 100_000;
    const y0 = rand() * 100_000;
    const course = rand() * 360;
    const v = (2 + rand() * 18) * (1852 / 3600);
    const ve = v * Math.sin((course * Math.PI) / 180);
    const vn = v * Math.cos((course * Math.PI) / 180);
    const lengthM = 30 + rand() * 270;
    statics.set(mmsi, { mmsi, lengthM, widthM: lengthM / 6, shipType: 70, name: '' });
    for (let i = 0; i < REPORTS_PER_TRACK; i++) {
      const t = -1800 + i * 36 + rand() * 5;
      const [lon, lat] = at(x0 + ve * t + gauss() * 20, y0 + vn * t + gauss() * 20);
      reports.push({
        mmsi,
        timeMs: imageMs + t * 1000,
        lon,
        lat,
        sogKn: v / (1852 / 3600),
        cogDeg: course,
        headingDeg: course,
        messageType: 1,
      });
    }
    if (k < 800) {
      const dx =
        -(850_000 / 7500) *
        (ve * Math.sin((78 * Math.PI) / 180) + vn * Math.cos((78 * Math.PI) / 180)) *
        Math.sin((35 * Math.PI) / 180);
      const h = (348 * Math.PI) / 180;
      const [lon, lat] = at(x0 + dx * Math.sin(h) + gauss() * 15, y0 + dx * Math.cos(h) + gauss() * 15);
      dets.push({ lon, lat, lengthM: lengthM * (1 + 0.1 * gauss()), headingDeg: course % 180 });
    }
  }
  for (let k = 800; k < DETECTIONS; k++) {
    const [lon, lat] = at(rand() * 100_000, rand() * 100_000);
    dets.push({ lon, lat, lengthM: 30 + rand() * 270, headingDeg: rand() * 180 });
  }
  reports.sort((a, b) => a.timeMs - b.timeMs);
  return { reports, statics, dets, imageMs };
}

/**
 * `npm run bench -- ais`: matching 100,000 AIS reports against 1,000 detections (tracks built,
 * predicted at the image time, azimuth-displaced, gated and assigned), in memory, median of 7;
 * and the whole `ais match` on the same scene written as a CSV file (reading included).
 */
export async function benchAis(): Promise<void> {
  const { reports, statics, dets, imageMs } = scene();
  const geometry = {
    platformHeadingDeg: 348,
    lookSide: 'right' as const,
    incidenceDeg: 35,
    slantRangeM: 850_000,
    platformVelocityMps: 7500,
  };
  const times: number[] = [];
  let last: ReturnType<typeof matchAis> | null = null;
  for (let run = 0; run <= RUNS; run++) {
    const t0 = process.hrtime.bigint();
    last = matchAis(dets, buildTracks(reports), statics, imageMs, { geometry });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (run > 0) times.push(s); // run 0 warms the JIT
  }
  const r = last as ReturnType<typeof matchAis>;
  let right = 0;
  let dark = 0;
  r.matches.forEach((m, i) => {
    if (i < 800 && m?.prediction.mmsi === 219_000_000 + i) right++;
    if (i >= 800 && m === null) dark++;
  });
  const med = median(times);
  console.log(`AIS matching: ${reports.length} reports (${TRACKS} tracks) against ${dets.length} detections`);
  console.log(
    `  in memory (tracks, prediction, displacement, gating, assignment), median of ${RUNS}: ${fmt(med, 3)} s (target <= ${TARGET_S} s) ${med <= TARGET_S ? 'PASS' : 'FAIL'}`,
  );
  console.log(`  runs: ${times.map((t) => fmt(t, 3)).join(' ')}`);
  console.log(
    `  planted truth: right MMSI ${right}/800, dark found ${dark}/200, tracks predicted ${r.predicted}`,
  );

  // The whole command on a CSV file (reading and writing included).
  const dir = benchDir('ais');
  const csv = join(dir, 'ais.csv');
  const lines = ['mmsi,time,lat,lon,sog,cog,heading,ship_type,length'];
  for (const p of reports)
    lines.push(
      `${p.mmsi},${new Date(p.timeMs).toISOString()},${p.lat.toFixed(6)},${p.lon.toFixed(6)},${p.sogKn.toFixed(1)},${p.cogDeg.toFixed(1)},${Math.round(p.headingDeg) % 360},70,${Math.round(statics.get(p.mmsi)?.lengthM ?? 0)}`,
    );
  writeFileSync(csv, `${lines.join('\n')}\n`);
  const detPath = join(dir, 'detections.geojson');
  writeFileSync(
    detPath,
    JSON.stringify({
      type: 'FeatureCollection',
      features: dets.map((d) => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [d.lon, d.lat] },
        properties: { length_m: d.lengthM, heading_deg: d.headingDeg },
      })),
    }),
  );
  const fileTimes: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    await aisMatchFile(detPath, csv, join(dir, 'out.geojson'), {
      time: new Date(imageMs).toISOString(),
      geometry: { ...geometry },
    });
    fileTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log(
    `  whole ais match on a ${reports.length}-row CSV (reading and writing included), median of 5: ${fmt(median(fileTimes), 3)} s`,
  );
}
