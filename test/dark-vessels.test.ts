import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchAis, trackGateM } from '../src/exploit/ais/match-file.js';
import { buildTracks, offsetLonLat } from '../src/exploit/ais/tracks.js';
import type { AisReport, AisStatic } from '../src/exploit/ais/types.js';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { runCapture } from './helpers/cli.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('dark-');
afterAll(() => tmp.cleanup());

const RAD = Math.PI / 180;
const RE = 6_371_008.8;
const KN = 1852 / 3600;
const DATE = '2026-06-01T06:00:00Z';

/** Metres east and north from (lon0, lat0) to (lon, lat), locally flat. */
function enu(lon0: number, lat0: number, lon: number, lat: number): [number, number] {
  return [(lon - lon0) * RAD * RE * Math.cos(lat0 * RAD), (lat - lat0) * RAD * RE];
}

/**
 * Raney (1971) by hand: a target with slant-range velocity v_r (away from the radar positive) is
 * shown -(R / V) v_r along the flight direction. Sentinel-1-like geometry: ascending sun-synchronous
 * orbit (inclination 98.18 deg, heading from sin h = cos i / cos lat), right-looking, incidence 35
 * deg, altitude 693 km (R by the law of cosines), V = 7500 m/s.
 */
function expectedShift(sogKn: number, cogDeg: number, latDeg: number): { eastM: number; northM: number } {
  const heading = 360 + Math.asin(Math.cos(98.18 * RAD) / Math.cos(latDeg * RAD)) / RAD;
  const inc = 35 * RAD;
  const h = 693_000;
  const look = Math.asin((RE * Math.sin(inc)) / (RE + h));
  const R = Math.sqrt(RE ** 2 + (RE + h) ** 2 - 2 * RE * (RE + h) * Math.cos(inc - look));
  const lookAz = (heading + 90) * RAD;
  const vr = sogKn * KN * Math.cos(cogDeg * RAD - lookAz) * Math.sin(inc);
  const dx = -(R / 7500) * vr;
  return { eastM: dx * Math.sin(heading * RAD), northM: dx * Math.cos(heading * RAD) };
}

interface Row {
  mmsi: number;
  t: number;
  lat: number;
  lon: number;
  sog: number;
  heading: number;
  cls: string;
  length: number;
}

function readCsv(path: string): { header: string; rows: Row[] } {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const rows = lines.slice(1).map((l) => {
    const c = l.split(',');
    return {
      mmsi: Number(c[0]),
      t: Date.parse(`${c[1]}Z`),
      lat: Number(c[2]),
      lon: Number(c[3]),
      sog: Number(c[4]),
      heading: Number(c[6]),
      cls: c[16],
      length: Number(c[12]),
    };
  });
  return { header: lines[0], rows };
}

describe('simulate scene --ais: planted AIS', () => {
  let r: SceneResult;
  let plain: SceneResult;
  beforeAll(async () => {
    const o = { seed: 23, size: 1024, ships: 25, layout: 'open-sea' as const, dates: [DATE] };
    r = await simulateScene(join(tmp.dir, 'sim'), { ...o, ais: true, shipLengthM: [20, 150] });
    plain = await simulateScene(join(tmp.dir, 'plain'), { ...o, shipLengthM: [20, 150] });
  });

  it('the image is the same with and without AIS; the truth says who broadcasts', () => {
    expect(readFileSync(r.scenes[0].path).equals(readFileSync(plain.scenes[0].path))).toBe(true);
    const truthPlain = JSON.parse(readFileSync(plain.scenes[0].truth, 'utf8'));
    expect('mmsi' in truthPlain.features[0].properties).toBe(false);
    expect(plain.scenes[0].ais).toBeUndefined();
    const ships = r.scenes[0].ships;
    const dark = ships.filter((q) => q.ais?.mmsi === null);
    // A fifth of all planted ships are dark (this date shows 80% of them).
    expect(dark.length).toBeGreaterThanOrEqual(Math.round(ships.length * 0.1));
    expect(dark.length).toBeLessThanOrEqual(Math.round(ships.length * 0.3));
    const truth = JSON.parse(readFileSync(r.scenes[0].truth, 'utf8'));
    expect(truth.features.filter((f: { properties: { dark: boolean } }) => f.properties.dark).length).toBe(
      dark.length,
    );
    const { rows } = readCsv(r.scenes[0].ais?.path as string);
    const inFile = new Set(rows.map((x) => x.mmsi));
    for (const q of dark) expect(inFile.has(227_000_001 + Number(q.id.slice(5)) - 1), q.id).toBe(false);
    for (const q of ships) if (q.ais?.mmsi) expect(inFile.has(q.ais.mmsi), q.id).toBe(true);
    const only = r.scenes[0].ais?.aisOnly ?? [];
    expect(only.length).toBe(3);
    for (const t of only) {
      expect(inFile.has(t.mmsi)).toBe(true);
      for (const q of ships) {
        const [e, n] = enu(t.lon, t.lat, q.lon, q.lat);
        // Beyond the matcher's default 1.5 km gate: no planted ship could explain the track.
        expect(Math.hypot(e, n), `${t.mmsi} to ${q.id}`).toBeGreaterThan(1600);
      }
    }
  });

  it('Raney 1971: a moving ship is shown -(R/V) v_r along track from its true (AIS) position', () => {
    const moving = r.scenes[0].ships.filter((q) => (q.ais?.sogKn ?? 0) > 0);
    expect(moving.length).toBeGreaterThan(10);
    let large = 0;
    for (const q of moving) {
      const a = q.ais as NonNullable<typeof q.ais>;
      const want = expectedShift(a.sogKn, a.cogDeg, q.lat);
      const [e, n] = enu(a.trueLon, a.trueLat, q.lon, q.lat);
      expect(Math.abs(e - want.eastM), q.id).toBeLessThan(1);
      expect(Math.abs(n - want.northM), q.id).toBeLessThan(1);
      if (Math.hypot(want.eastM, want.northM) > 150) large++;
    }
    expect(large).toBeGreaterThan(3);
    for (const q of r.scenes[0].ships.filter((x) => x.ais?.sogKn === 0)) {
      expect(q.ais?.trueLon).toBe(q.lon);
      expect(q.ais?.trueLat).toBe(q.lat);
    }
  });

  it('ITU-R M.1371-5 Tables 1-2: class A every 10/6/2 s under way and 3 min at anchor, class B 30 s; the antenna on the hull, GNSS noise ~8 m', () => {
    const { header, rows } = readCsv(r.scenes[0].ais?.path as string);
    expect(header.split(',').slice(0, 4)).toEqual(['MMSI', 'BaseDateTime', 'LAT', 'LON']);
    const image = Date.parse(DATE);
    const byMmsi = new Map<number, Row[]>();
    for (const x of rows) byMmsi.set(x.mmsi, [...(byMmsi.get(x.mmsi) ?? []), x]);
    let checked = 0;
    const kinds = new Set<string>();
    const resid: number[] = [];
    for (const q of r.scenes[0].ships) {
      const a = q.ais;
      if (!a || a.mmsi === null) continue;
      const mine = byMmsi.get(a.mmsi) as Row[];
      for (const x of mine) expect(Math.abs(x.t - image)).toBeLessThanOrEqual(900_000);
      const gaps = mine
        .slice(1)
        .map((x, i) => (x.t - mine[i].t) / 1000)
        .sort((u, v) => u - v);
      const med = gaps[Math.floor(gaps.length / 2)];
      const want =
        a.aisClass === 'B' ? (a.sogKn > 2 ? 30 : 180) : a.sogKn === 0 ? 180 : a.sogKn <= 14 ? 10 : 6;
      expect(med, `${q.id} class ${a.aisClass} at ${a.sogKn.toFixed(1)} kn`).toBeGreaterThanOrEqual(
        want * 0.85,
      );
      expect(med, `${q.id} class ${a.aisClass} at ${a.sogKn.toFixed(1)} kn`).toBeLessThanOrEqual(want * 1.25);
      kinds.add(`${a.aisClass} ${want}`);
      expect(mine.every((x) => x.cls === a.aisClass)).toBe(true);
      if (a.aisClass === 'B') expect(mine.every((x) => x.heading === 511)).toBe(true);
      expect(mine[0].length).toBe(Math.round(q.lengthM));
      expect(Math.abs(a.antennaForwardM), q.id).toBeLessThanOrEqual(0.35 * q.lengthM);
      // Positions: the straight course through the true position, plus noise.
      for (const x of mine) {
        const dt = (x.t - image) / 1000;
        const v = a.sogKn * KN;
        const [e, n] = enu(a.trueLon, a.trueLat, x.lon, x.lat);
        // The antenna, not the hull's centre: 15-85% of the length from the bow.
        const fwd = a.antennaForwardM;
        resid.push(
          e - v * Math.sin(a.cogDeg * RAD) * dt - fwd * Math.sin(a.cogDeg * RAD),
          n - v * Math.cos(a.cogDeg * RAD) * dt - fwd * Math.cos(a.cogDeg * RAD),
        );
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(12);
    expect([...kinds].sort()).toEqual(['A 10', 'A 180', 'A 6', 'B 180', 'B 30']);
    const rms = Math.sqrt(resid.reduce((s, v) => s + v * v, 0) / resid.length);
    expect(rms).toBeGreaterThan(6);
    expect(rms).toBeLessThan(10);
  });

  it('two dates: one archive each, a ship keeps its MMSI (or stays dark) on both dates', async () => {
    const two = await simulateScene(join(tmp.dir, 'two'), {
      seed: 5,
      size: 512,
      ships: 10,
      layout: 'open-sea',
      ais: true,
    });
    expect(two.scenes.map((x) => x.ais?.path.replace(/.*\//, ''))).toEqual([
      'ais_2026-06-01.csv',
      'ais_2026-06-13.csv',
    ]);
    const [a, b] = two.scenes.map((x) => new Map(x.ships.map((q) => [q.id, q.ais?.mmsi])));
    let both = 0;
    for (const [id, mmsi] of a)
      if (b.has(id)) {
        both++;
        expect(b.get(id), id).toBe(mmsi);
      }
    expect(both).toBeGreaterThan(4);
    for (const x of two.scenes) {
      const times = readCsv(x.ais?.path as string).rows.map((row) => row.t);
      expect(Math.min(...times)).toBeGreaterThanOrEqual(Date.parse(x.date) - 900_000);
      expect(Math.max(...times)).toBeLessThanOrEqual(Date.parse(x.date) + 900_000);
    }
  });

  it('the sidecar is a STAC item with the footprint and the sar/sat/view geometry the matcher reads', () => {
    const item = JSON.parse(readFileSync(r.scenes[0].sidecar, 'utf8'));
    expect(item.geometry.type).toBe('Polygon');
    expect(item.properties['sar:observation_direction']).toBe('right');
    expect(item.properties['sat:orbit_state']).toBe('ascending');
    expect(item.properties['view:incidence_angle']).toBe(35);
    expect(item.assets.data.href).toBe('./scene_2026-06-01.tif');
  });
});

interface Det {
  geometry: { coordinates: [number, number] };
  properties: Record<string, unknown>;
}

describe('sarbridge detect --ais: planted truth end to end', () => {
  let r: SceneResult;
  let out: string;
  let stdout: Record<string, unknown>;
  let dets: Det[];
  let doc: Record<string, unknown>;
  beforeAll(async () => {
    r = await simulateScene(join(tmp.dir, 'e2e'), {
      seed: 8,
      size: 1536,
      ships: 30,
      dates: [DATE],
      scrDb: [15, 25],
      shipLengthM: [70, 250],
      ais: { aisOnlyTracks: 3 },
    });
    out = join(tmp.dir, 'e2e.geojson');
    const res = await runCapture([
      'detect',
      r.scenes[0].path,
      out,
      '--land-mask',
      r.landPath,
      '--ais',
      r.scenes[0].ais?.path as string,
      '--stac-item',
      r.scenes[0].sidecar,
    ]);
    expect(res.code, res.stderr).toBe(0);
    stdout = JSON.parse(res.stdout);
    doc = JSON.parse(readFileSync(out, 'utf8'));
    dets = doc.features as Det[];
  }, 120_000);

  /** The detection of a planted ship: the nearest within half its length + 40 m of its image position. */
  function detectionOf(q: SceneResult['scenes'][0]['ships'][0]): Det | undefined {
    let best: Det | undefined;
    let bestD = Number.POSITIVE_INFINITY;
    for (const f of dets) {
      const [e, n] = enu(q.lon, q.lat, f.geometry.coordinates[0], f.geometry.coordinates[1]);
      const d = Math.hypot(e, n);
      if (d < bestD) [best, bestD] = [f, d];
    }
    return bestD <= q.lengthM / 2 + 40 ? best : undefined;
  }

  it('dark ships planted by the simulator are flagged dark; AIS ships get their MMSI', () => {
    // Detection itself is vessel-detection.test.ts's subject: here at least 90% of these bright
    // (15-25 dB), long (70-250 m) ships must be found, and every one found flagged right.
    const ships = r.scenes[0].ships;
    const found = ships.filter((q) => detectionOf(q) !== undefined);
    expect(found.length, `detected ${found.length}/${ships.length}`).toBeGreaterThanOrEqual(
      0.9 * ships.length,
    );
    let dark = 0;
    for (const q of found) {
      const p = (detectionOf(q) as Det).properties;
      if (q.ais?.mmsi === null) {
        dark++;
        expect(p.dark, q.id).toBe(true);
        expect(p.ais_mmsi, q.id).toBeNull();
      } else {
        expect(p.dark, q.id).toBe(false);
        expect(p.ais_mmsi, q.id).toBe(q.ais?.mmsi);
      }
    }
    expect(dark).toBeGreaterThanOrEqual(4);
    expect((stdout.ais as Record<string, unknown>).dark).toBe(dets.filter((f) => f.properties.dark).length);
  });

  it('moving ships are found at their azimuth-displaced position and matched there', () => {
    const moving = r.scenes[0].ships.filter(
      (q) => q.ais?.mmsi && Math.abs(q.ais.azimuthShiftM) > 120 && q.ais.sogKn > 0 && detectionOf(q),
    );
    expect(moving.length).toBeGreaterThan(3);
    for (const q of moving) {
      const f = detectionOf(q) as Det;
      const a = q.ais as NonNullable<typeof q.ais>;
      const [e, n] = enu(a.trueLon, a.trueLat, f.geometry.coordinates[0], f.geometry.coordinates[1]);
      // Far from where the ship is, close to where the SAR shows it (and to the corrected AIS position).
      expect(Math.hypot(e, n), q.id).toBeGreaterThan(Math.abs(a.azimuthShiftM) - 40);
      expect(f.properties.ais_mmsi, q.id).toBe(a.mmsi);
      expect(f.properties.ais_distance_m as number, q.id).toBeLessThan(50);
      expect(Math.abs((f.properties.ais_azimuth_shift_m as number) - a.azimuthShiftM), q.id).toBeLessThan(25);
    }
  });

  it('AIS tracks with no ship are listed as unmatched tracks, and no detected AIS ship is', () => {
    const listed = (doc.sarbridge_ais as { unmatched_tracks: { mmsi: number }[] }).unmatched_tracks.map(
      (u) => u.mmsi,
    );
    const only = r.scenes[0].ais?.aisOnly ?? [];
    expect(only.length).toBe(3);
    for (const t of only) expect(listed).toContain(t.mmsi);
    for (const q of r.scenes[0].ships)
      if (q.ais?.mmsi && detectionOf(q)) expect(listed, q.id).not.toContain(q.ais.mmsi);
  });

  it('the STAC item of the detections says how many were dark', () => {
    const item = JSON.parse(readFileSync(r.scenes[0].sidecar, 'utf8'));
    expect(item.assets.vessels.href).toContain('e2e.geojson');
    expect(item.properties['sarbridge:vessels']).toBe(dets.length);
    expect(item.properties['sarbridge:vessels_dark']).toBe(dets.filter((f) => f.properties.dark).length);
    expect(item.properties['sarbridge:vessels_ais_matched']).toBe(
      dets.filter((f) => f.properties.dark === false).length,
    );
    expect(item.properties['sarbridge:ais_unmatched_tracks']).toBeGreaterThanOrEqual(3);
  });

  it('without the displacement correction the moving ships match only at about their shift', async () => {
    const o2 = join(tmp.dir, 'e2e-nodisp.geojson');
    const res = await runCapture([
      'detect',
      r.scenes[0].path,
      o2,
      '--land-mask',
      r.landPath,
      '--ais',
      r.scenes[0].ais?.path as string,
      '--no-ais-displacement',
    ]);
    expect(res.code, res.stderr).toBe(0);
    dets = JSON.parse(readFileSync(o2, 'utf8')).features;
    let seen = 0;
    for (const q of r.scenes[0].ships.filter((x) => x.ais?.mmsi && Math.abs(x.ais.azimuthShiftM) > 150)) {
      const f = detectionOf(q);
      if (!f) continue;
      const shift = Math.abs(q.ais?.azimuthShiftM as number);
      if (f.properties.ais_mmsi === q.ais?.mmsi) {
        seen++;
        expect(f.properties.ais_distance_m as number, q.id).toBeGreaterThan(shift - 50);
      }
    }
    expect(seen).toBeGreaterThan(2);
    dets = JSON.parse(readFileSync(out, 'utf8')).features;
  }, 60_000);
});

describe('sarbridge detect --ais: bad input', () => {
  let r: SceneResult;
  beforeAll(async () => {
    r = await simulateScene(join(tmp.dir, 'bad'), {
      seed: 4,
      size: 512,
      ships: 6,
      layout: 'open-sea',
      dates: [DATE],
      shipLengthM: [80, 200],
      ais: true,
    });
  });

  it('an AIS file with no reports in the image window: exit 1, says so, detections written with dark: null', async () => {
    // The same archive two days earlier, with two broken rows.
    const lines = readFileSync(r.scenes[0].ais?.path as string, 'utf8')
      .trim()
      .split('\n')
      .map((l, i) => (i === 0 ? l : l.replace('2026-06-01T', '2026-05-30T')));
    lines.splice(3, 0, '227000001,2026-05-30T05:50:00,not-a-lat,4.5,1,2,3,,,,70,0,100,20,,,A');
    lines.splice(5, 0, '227000001,2026-05-30T05:50:00');
    const old = join(tmp.dir, 'old.csv');
    writeFileSync(old, `${lines.join('\n')}\n`);
    const out = join(tmp.dir, 'bad.geojson');
    const res = await runCapture(['detect', r.scenes[0].path, out, '--land-mask', 'none', '--ais', old]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /sarbridge: .*old\.csv: no AIS reports between 2026-06-01T05:30:00\.000Z and 2026-06-01T06:30:00\.000Z \(its reports span 2026-05-30T05:45:.* to 2026-05-30T06:1.*\); no detection can be called dark/,
    );
    const summary = JSON.parse(res.stdout);
    expect(summary.ais.coverage).toBe(false);
    expect(summary.ais.dark).toBeNull();
    expect(summary.ais.bad_lines).toBe(2);
    expect(summary.ais.first_bad_lines.map((b: { line: number }) => b.line)).toEqual([4, 6]);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.features.length).toBeGreaterThan(0);
    for (const f of doc.features) expect(f.properties.dark).toBeNull();
  });

  it('--ais naming the output is refused', async () => {
    const out = join(tmp.dir, 'same.geojson');
    const res = await runCapture(['detect', r.scenes[0].path, out, '--ais', out]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/--ais must differ from <in> and <out>/);
  });
});

describe('AIS matcher: per-track gates', () => {
  const geometry = {
    platformHeadingDeg: 348,
    lookSide: 'right' as const,
    incidenceDeg: 35,
    slantRangeM: 850_000,
    platformVelocityMps: 7500,
  };
  const pred = (e: number, n: number, fromReportS: number) => ({
    mmsi: 1,
    lon: 0,
    lat: 0,
    eastMps: e,
    northMps: n,
    headingDeg: 0,
    method: 'interpolated' as const,
    fromReportS,
  });

  it('the gate is 4 sigma of the position error, by hand', () => {
    // Anchored 100 m ship, report 5 s old: 4 * sqrt(20^2 + 25^2).
    expect(trackGateM(pred(0, 0, 5), 0, 100, geometry)).toBeCloseTo(4 * Math.sqrt(400 + 625), 6);
    // 5 m/s, report 10 s old, shifted 300 m: 4 * sqrt(20^2 + 25^2 + (0.1*5*10)^2 + (0.15*300)^2).
    expect(trackGateM(pred(3, 4, -10), 300, 100, geometry)).toBeCloseTo(
      4 * Math.sqrt(400 + 625 + 25 + 45 ** 2),
      6,
    );
    // No geometry: half the largest shift, 0.5 * 120 s * 5 m/s.
    expect(trackGateM(pred(3, 4, -10), 0, 100, null)).toBeCloseTo(
      4 * Math.sqrt(400 + 625 + 25 + 300 ** 2),
      6,
    );
    // No velocity (no SOG/COG, held): 10 kn assumed, the shift unknown as without a geometry.
    const v10 = 10 * KN;
    expect(trackGateM(pred(Number.NaN, Number.NaN, 30), 0, 100, geometry)).toBeCloseTo(
      4 * Math.sqrt(400 + 625 + (0.1 * v10 * 30) ** 2 + (60 * v10) ** 2),
      6,
    );
  });

  const T = Date.UTC(2026, 5, 1, 6);
  const LON = 4.7;
  const LAT = 43;
  const at = (e: number, n: number) => offsetLonLat(LON, LAT, e, n);
  const report = (
    mmsi: number,
    dtS: number,
    e: number,
    n: number,
    sogKn: number,
    cogDeg: number,
  ): AisReport => {
    const [lon, lat] = at(e, n);
    return { mmsi, timeMs: T + dtS * 1000, lon, lat, sogKn, cogDeg, headingDeg: cogDeg, messageType: 1 };
  };
  const statics = new Map<number, AisStatic>([
    [1, { mmsi: 1, lengthM: 120, widthM: 20, shipType: 70, name: 'X' }],
    [2, { mmsi: 2, lengthM: 180, widthM: 30, shipType: 70, name: 'Z' }],
  ]);

  it('planted anchorage: a dark ship 150 m from an undetected AIS ship stays dark; one 1.5 km gate would give it that MMSI', () => {
    // X (MMSI 1) anchored at (0, 0), reports every 3 min, not detected; the dark ship Y at (150, 0).
    const reports = [-400, -220, -40, 140, 320].map((t, k) =>
      report(1, t, (k % 2) * 6 - 3, 4 - k * 2, 0, 90),
    );
    const [lon, lat] = at(150, 0);
    const dets = [{ lon, lat, lengthM: 110, headingDeg: 90 }];
    const tracks = buildTracks(reports);
    const gated = matchAis(dets, tracks, statics, T, { geometry });
    expect(gated.matches[0]).toBeNull();
    expect(gated.unmatched.map((u) => u.truth.mmsi)).toEqual([1]);
    const fixed = matchAis(dets, tracks, statics, T, { geometry, trackGates: false });
    expect(fixed.matches[0]?.prediction.mmsi).toBe(1);
  });

  it('planted: a ship dead-reckoned 8 min past its last report, 400 m off its course line, is still matched', () => {
    // Z (MMSI 2) at 15 kn due north, last report 8 min before the image; it then turned 10 deg to
    // starboard. A detection along the new course, displaced like the SAR shows it.
    const v = 15 * KN;
    const reports = [-900, -780, -660, -540, -480].map((t) => report(2, t, 0, v * (t + 480), 15, 0));
    const eTrue = v * 480 * Math.sin(10 * RAD);
    const nTrue = v * 480 * Math.cos(10 * RAD);
    const shift = expectedShiftFlat(v * Math.sin(10 * RAD), v * Math.cos(10 * RAD));
    const [lon, lat] = at(eTrue + shift[0], nTrue + shift[1]);
    const dets = [{ lon, lat, lengthM: 170, headingDeg: 10 }];
    const r = matchAis(dets, buildTracks(reports), statics, T, { geometry });
    expect(r.matches[0]?.prediction.mmsi).toBe(2);
    expect(r.matches[0]?.prediction.method).toBe('dead-reckoned');
    expect(r.matches[0]?.distanceM as number).toBeGreaterThan(300);
  });

  /** -(R/V) v_r along the 348 deg heading, right-looking (look azimuth 78 deg), incidence 35 deg. */
  function expectedShiftFlat(e: number, n: number): [number, number] {
    const vr = (e * Math.sin(78 * RAD) + n * Math.cos(78 * RAD)) * Math.sin(35 * RAD);
    const dx = -(850_000 / 7500) * vr;
    return [dx * Math.sin(348 * RAD), dx * Math.cos(348 * RAD)];
  }
});
