import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { solveAssignment } from '../src/exploit/ais/assign.js';
import type { MatchDetection, MatchTrack } from '../src/exploit/ais/match.js';
import { axisDifferenceDeg, matchDetections, pairCost } from '../src/exploit/ais/match.js';
import { matchAis } from '../src/exploit/ais/match-file.js';
import { buildTracks } from '../src/exploit/ais/tracks.js';
import type { AisReport, AisStatic } from '../src/exploit/ais/types.js';
import { mulberry32 } from '../src/util/random.js';

const M_PER_DEG = 111_194.9266;
/** A point x metres east and y metres north of (lon0, lat0) on the equator-near test area. */
const at = (x: number, y: number, lon0 = 10, lat0 = 0): [number, number] => [
  lon0 + x / (M_PER_DEG * Math.cos((lat0 * Math.PI) / 180)),
  lat0 + y / M_PER_DEG,
];
const det = (x: number, y: number, lengthM = Number.NaN, headingDeg = Number.NaN): MatchDetection => {
  const [lon, lat] = at(x, y);
  return { lon, lat, lengthM, headingDeg };
};
const trk = (
  mmsi: number,
  x: number,
  y: number,
  lengthM = Number.NaN,
  headingDeg = Number.NaN,
): MatchTrack => {
  const [lon, lat] = at(x, y);
  return { mmsi, lon, lat, lengthM, headingDeg };
};

/** Every permutation's cost; the least. */
function bruteAssignment(cost: number[][]): number {
  const n = cost.length;
  let best = Number.POSITIVE_INFINITY;
  const used = new Array(n).fill(false);
  const rec = (i: number, acc: number) => {
    if (acc >= best) return;
    if (i === n) {
      best = acc;
      return;
    }
    for (let j = 0; j < n; j++)
      if (!used[j]) {
        used[j] = true;
        rec(i + 1, acc + cost[i][j]);
        used[j] = false;
      }
  };
  rec(0, 0);
  return best;
}

/** Every partial matching (each detection to one free gated track, or none): the least objective. */
function bruteMatching(dets: MatchDetection[], tracks: MatchTrack[], miss: number): number {
  const c = dets.map((d) => tracks.map((t) => pairCost(d, t)));
  let best = Number.POSITIVE_INFINITY;
  const used = new Array(tracks.length).fill(false);
  const rec = (i: number, acc: number, matched: number) => {
    if (i === dets.length) {
      best = Math.min(best, acc + miss * (tracks.length - matched));
      return;
    }
    rec(i + 1, acc + miss, matched);
    for (let j = 0; j < tracks.length; j++)
      if (!used[j] && Number.isFinite(c[i][j])) {
        used[j] = true;
        rec(i + 1, acc + c[i][j], matched + 1);
        used[j] = false;
      }
  };
  rec(0, 0, 0);
  return best;
}

describe('optimal assignment (not greedy)', () => {
  it('Kuhn-Munkres / Jonker-Volgenant: the assignment cost equals the brute-force optimum on random matrices up to 7 x 7', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((n) =>
          fc.array(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: n, maxLength: n }), {
            minLength: n,
            maxLength: n,
          }),
        ),
        (m) => {
          const n = m.length;
          const flat = Float64Array.from(m.flat());
          const a = solveAssignment(flat, n);
          expect(new Set(a).size).toBe(n);
          let total = 0;
          for (let i = 0; i < n; i++) total += m[i][a[i]];
          expect(total).toBeCloseTo(bruteAssignment(m), 9);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });

  it('the matching objective (pair costs + a miss cost per unassigned detection and track) equals the brute-force optimum on crowded scenes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (seed, nd, nt) => {
          const rand = mulberry32(seed);
          const L = () => (rand() < 0.3 ? Number.NaN : 30 + rand() * 250);
          const H = () => (rand() < 0.3 ? Number.NaN : rand() * 360);
          // Everything within 2.5 km: gates (1.5 km) overlap, so groups are large.
          const dets = Array.from({ length: nd }, () => det(rand() * 2500, rand() * 2500, L(), H() % 180));
          const tracks = Array.from({ length: nt }, (_, k) =>
            trk(k + 1, rand() * 2500, rand() * 2500, L(), H()),
          );
          const r = matchDetections(dets, tracks);
          expect(r.totalCost).toBeCloseTo(bruteMatching(dets, tracks, 1.5), 9);
          // Consistent both ways.
          for (let i = 0; i < nd; i++) if (r.trackOf[i] >= 0) expect(r.detectionOf[r.trackOf[i]]).toBe(i);
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  it('candidate search misses no pair within the gate: scenes anywhere from 80 S to 80 N, across the antimeridian, equal the brute-force optimum', () => {
    const wrap = (lon: number) => ((((lon + 180) % 360) + 360) % 360) - 180;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: -80, max: 80, noNaN: true }),
        fc.constantFrom(-180, 179.99, 0, 45.5),
        (seed, lat0, lon0) => {
          const rand = mulberry32(seed);
          const p = (): [number, number] => {
            const [lon, lat] = at((rand() - 0.5) * 4000, (rand() - 0.5) * 4000, lon0, lat0);
            return [wrap(lon), lat];
          };
          const dets = Array.from({ length: 4 }, () => {
            const [lon, lat] = p();
            return { lon, lat, lengthM: Number.NaN, headingDeg: Number.NaN };
          });
          const tracks = Array.from({ length: 4 }, (_, k) => {
            const [lon, lat] = p();
            return { mmsi: k + 1, lon, lat, lengthM: Number.NaN, headingDeg: Number.NaN };
          });
          expect(matchDetections(dets, tracks).totalCost).toBeCloseTo(bruteMatching(dets, tracks, 1.5), 9);
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });

  it('where nearest-first would leave a ship dark, the optimum pairs both (A-T2 and B-T1 at 200 m, not A-T1 at 199 m)', () => {
    const dets = [det(0, 0), det(400, 0)];
    const tracks = [trk(111, 199, 0), trk(222, -200, 0)];
    const r = matchDetections(dets, tracks, { gateM: 500 });
    expect([...r.trackOf]).toEqual([1, 0]);
    expect(r.distanceM[0]).toBeCloseTo(200, 0);
    expect(r.distanceM[1]).toBeCloseTo(201, 0);
  });
});

describe('gating on distance, length and heading', () => {
  it('close pair: two ships 120 m apart, the AIS positions swapped by noise; the lengths (60 m, 240 m) decide', () => {
    const dets = [det(0, 0, 62, 90), det(120, 0, 236, 90)];
    const tracks = [trk(1, 100, 0, 60, 90), trk(2, 10, 0, 240, 90)];
    const r = matchDetections(dets, tracks);
    expect([...r.trackOf]).toEqual([0, 1]);
    // Without lengths, distance alone takes the swapped pairing.
    const r2 = matchDetections(
      dets.map((d) => ({ ...d, lengthM: Number.NaN })),
      tracks.map((t) => ({ ...t, lengthM: Number.NaN })),
    );
    expect([...r2.trackOf]).toEqual([1, 0]);
  });

  it('heading gate: a 200 m detection along 90 deg does not take a track heading 0; heading 270 is the same axis', () => {
    expect(axisDifferenceDeg(90, 270)).toBe(0);
    expect(axisDifferenceDeg(10, 350)).toBe(20);
    expect(matchDetections([det(0, 0, 200, 90)], [trk(1, 50, 0, 200, 0)]).trackOf[0]).toBe(-1);
    expect(matchDetections([det(0, 0, 200, 90)], [trk(1, 50, 0, 200, 270)]).trackOf[0]).toBe(0);
    // A short detection's axis is not trusted.
    expect(matchDetections([det(0, 0, 40, 90)], [trk(1, 50, 0, 40, 0)]).trackOf[0]).toBe(0);
  });

  it('distance and length gates: 1.6 km is outside the default 1.5 km gate; 100 m against 300 m is outside the length tolerance', () => {
    expect(matchDetections([det(0, 0)], [trk(1, 1600, 0)]).trackOf[0]).toBe(-1);
    expect(matchDetections([det(0, 0)], [trk(1, 1400, 0)]).trackOf[0]).toBe(0);
    expect(matchDetections([det(0, 0, 100)], [trk(1, 10, 0, 300)]).trackOf[0]).toBe(-1);
  });
});

describe('planted truth: dark vessels among crossing tracks', () => {
  it('seeded scene: 300 ships on crossing lanes, 80% with AIS every 10 s - 3 min with 20 m noise, moving ships displaced in azimuth, 40 AIS-only tracks; the right MMSI for >= 97%, dark recall and precision >= 0.9', () => {
    const rand = mulberry32(2026);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const imageMs = Date.UTC(2026, 5, 1, 6, 0, 0);
    const geometry = {
      platformHeadingDeg: 348,
      lookSide: 'right' as const,
      incidenceDeg: 35,
      slantRangeM: 850_000,
      platformVelocityMps: 7500,
    };
    const reports: AisReport[] = [];
    const statics = new Map<number, AisStatic>();
    const dets: MatchDetection[] = [];
    const truth: (number | null)[] = [];
    const N = 300;
    for (let k = 0; k < N + 40; k++) {
      // Ships in a 40 x 40 km box on two crossing lane systems, 3-20 kn.
      const x0 = rand() * 40_000;
      const y0 = rand() * 40_000;
      const course = (rand() < 0.5 ? 45 : 135) + gauss() * 10 + (rand() < 0.5 ? 180 : 0);
      const speed = (3 + rand() * 17) * (1852 / 3600);
      const ve = speed * Math.sin((course * Math.PI) / 180);
      const vn = speed * Math.cos((course * Math.PI) / 180);
      const lengthM = 30 + rand() * 270;
      const mmsi = 200_000_000 + k;
      const hasAis = k >= N || rand() < 0.8;
      const hasShip = k < N;
      if (hasAis) {
        statics.set(mmsi, { mmsi, lengthM, widthM: lengthM / 6, shipType: 70, name: `SHIP ${k}` });
        const interval = 10 + rand() * 170;
        for (let t = -1800 + rand() * interval; t < 1800; t += interval) {
          const [lon, lat] = at(x0 + ve * t + gauss() * 20, y0 + vn * t + gauss() * 20);
          reports.push({
            mmsi,
            timeMs: imageMs + t * 1000,
            lon,
            lat,
            sogKn: speed / (1852 / 3600),
            cogDeg: ((course % 360) + 360) % 360,
            headingDeg: ((course % 360) + 360) % 360,
            messageType: 1,
          });
        }
      }
      if (hasShip) {
        // Where the SAR shows it: the true position moved by -(R/V) v_r along the flight direction.
        const az = ((348 + 90) * Math.PI) / 180;
        const vr = (ve * Math.sin(az) + vn * Math.cos(az)) * Math.sin((35 * Math.PI) / 180);
        const dx = -(850_000 / 7500) * vr;
        const h = (348 * Math.PI) / 180;
        const measuredL = lengthM * (1 + gauss() * 0.1);
        dets.push(
          det(
            x0 + dx * Math.sin(h) + gauss() * 15,
            y0 + dx * Math.cos(h) + gauss() * 15,
            measuredL,
            course % 180,
          ),
        );
        truth.push(hasAis ? mmsi : null);
      }
    }
    const r = matchAis(dets, buildTracks(reports), statics, imageMs, { geometry });
    let right = 0;
    let withAis = 0;
    let darkTrue = 0;
    let darkFound = 0;
    let darkSaid = 0;
    for (let i = 0; i < dets.length; i++) {
      const got = r.matches[i]?.prediction.mmsi ?? null;
      if (truth[i] !== null) {
        withAis++;
        if (got === truth[i]) right++;
      } else {
        darkTrue++;
        if (got === null) darkFound++;
      }
      if (got === null) darkSaid++;
    }
    // Issue 13 targets: >= 95% right MMSI, dark recall and precision >= 0.9. A dark ship next to an
    // AIS-only track of a similar length can take it (that is what the planted AIS-only tracks are for).
    console.log(
      `planted scene: right MMSI ${right}/${withAis}, dark found ${darkFound}/${darkTrue}, said dark ${darkSaid}`,
    );
    expect(right / withAis).toBeGreaterThanOrEqual(0.97);
    expect(darkFound / darkTrue).toBeGreaterThanOrEqual(0.9);
    expect(darkFound / darkSaid).toBeGreaterThanOrEqual(0.9);
    // The 40 AIS-only tracks are among the unmatched.
    const unmatched = new Set(r.unmatched.map((u) => u.truth.mmsi));
    let aisOnly = 0;
    for (let k = N; k < N + 40; k++) if (unmatched.has(200_000_000 + k)) aisOnly++;
    expect(aisOnly).toBeGreaterThanOrEqual(38);
    // Without the displacement correction the AIS positions sit hundreds of metres from the ships.
    const r0 = matchAis(dets, buildTracks(reports), statics, imageMs, {});
    const meanDist = (m: typeof r.matches) => {
      const d = m.filter((x) => x !== null).map((x) => x.distanceM);
      return d.reduce((a, b) => a + b, 0) / d.length;
    };
    console.log(
      `mean match distance: ${meanDist(r.matches).toFixed(1)} m corrected, ${meanDist(r0.matches).toFixed(1)} m not`,
    );
    expect(meanDist(r.matches)).toBeLessThan(50);
    expect(meanDist(r0.matches)).toBeGreaterThan(3 * meanDist(r.matches));
  });
});
