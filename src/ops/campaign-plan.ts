import { transformPoint } from '../geo/crs.js';
import type { GeoTransform } from '../geo/transform.js';
import { mulberry32 } from '../util/random.js';

/**
 * The plan of the demonstration campaign (pure: no pixels, no files): two areas in the south of
 * France, six passes over three days, and the vessels of the harbour with their movements. The
 * pixel work is campaign-scene.ts, the writing simulate-campaign.ts.
 */

export type AreaId = 'harbour' | 'airfield';

export interface CampaignArea {
  id: AreaId;
  name: string;
  /** Centre, degrees. */
  lon: number;
  lat: number;
  epsg: number;
  size: number;
  spacingM: number;
  geoTransform: GeoTransform;
}

export interface CampaignPass {
  id: string;
  area: AreaId;
  format: 'sentinel-1-safe' | 'sicd';
  /** First line / collect start, ISO 8601 UTC. */
  datetime: string;
  platform: string;
  orbitState: 'ascending' | 'descending';
  /** Sentinel-1 relative and absolute orbit (SAFE only). */
  relativeOrbit: number | null;
  absoluteOrbit: number | null;
  /** The repeat-pass track: passes of one track over one area share their geometry. */
  track: string;
  /** Incidence angle at the scene centre, degrees (SICD; a SAFE's comes from its swath). */
  incidenceDeg: number | null;
  /** Partners the product is releasable to. */
  releasableTo: string[];
}

const EPSG_UTM31N = 32631;
const SIZE = 2048;
const SPACING_M = 10;

function area(id: AreaId, name: string, lon: number, lat: number): CampaignArea {
  const [cx, cy] = transformPoint(4326, EPSG_UTM31N, lon, lat);
  const x0 = Math.round(cx - (SIZE * SPACING_M) / 2);
  const y0 = Math.round(cy + (SIZE * SPACING_M) / 2);
  return {
    id,
    name,
    lon,
    lat,
    epsg: EPSG_UTM31N,
    size: SIZE,
    spacingM: SPACING_M,
    geoTransform: [x0, SPACING_M, 0, y0, 0, -SPACING_M],
  };
}

/** The Gulf of Fos (harbour, anchorage off it) and Nimes-Garons airfield, 45 km apart. */
export const AREAS: Record<AreaId, CampaignArea> = {
  harbour: area('harbour', 'Harbour: Golfe de Fos', 4.88, 43.36),
  airfield: area('airfield', 'Airfield: Nimes-Garons', 4.4164, 43.7575),
};

/** Sentinel-1A: absolute orbit 36201 started its pass over Europe at 2021-01-19T03:16:53Z; 175 orbits in 12 days. */
const S1A_REF_ORBIT = 36201;
const S1A_REF_TIME_MS = Date.parse('2021-01-19T03:16:53Z');
const S1_ORBIT_MS = (12 * 86_400_000) / 175;

/** Sentinel-1A's absolute orbit at a time, and its relative orbit (ESA: (absolute - 73) mod 175 + 1). */
export function s1aOrbit(timeMs: number): { absolute: number; relative: number } {
  const absolute = S1A_REF_ORBIT + Math.floor((timeMs - S1A_REF_TIME_MS) / S1_ORBIT_MS);
  return { absolute, relative: ((absolute - 73) % 175) + 1 };
}

/**
 * The six passes, in time order, from `startDate` (YYYY-MM-DD, day 0): Sentinel-1A descending at
 * dawn over the harbour on days 0 and 1, a small X-band satellite ('SBX-1', daily repeat ground track)
 * ascending in the morning over the airfield on days 0 and 1, Sentinel-1A ascending in the evening
 * over the airfield on day 2, and a second X-band satellite ('SBX-2') descending at night over the
 * harbour on day 2. The second dawn pass keeps the first one's relative orbit (absolute orbit + 175):
 * the campaign compresses Sentinel-1's 12-day repeat cycle into one day, so that change detection has
 * a pair on the harbour too. The night pass is releasable to the first partner only; every other
 * product to both.
 */
export function campaignPasses(startDate: string, partners: [string, string]): CampaignPass[] {
  const day = (d: number, hms: string) => new Date(Date.parse(`${startDate}T${hms}Z`) + d * 86_400_000);
  const s1 = s1aOrbit(day(0, '05:49:12').getTime());
  const s1Evening = s1aOrbit(day(2, '17:33:05').getTime());
  const both = [...partners];
  const passes: CampaignPass[] = [
    {
      id: 'P1',
      area: 'harbour',
      format: 'sentinel-1-safe',
      datetime: day(0, '05:49:12').toISOString(),
      platform: 'sentinel-1a',
      orbitState: 'descending',
      relativeOrbit: s1.relative,
      absoluteOrbit: s1.absolute,
      track: `S1A-${s1.relative}-descending`,
      incidenceDeg: null,
      releasableTo: both,
    },
    {
      id: 'P2',
      area: 'airfield',
      format: 'sicd',
      datetime: day(0, '10:12:31').toISOString(),
      platform: 'SBX-1',
      orbitState: 'ascending',
      relativeOrbit: null,
      absoluteOrbit: null,
      track: 'SBX-1-ascending-airfield',
      incidenceDeg: 30,
      releasableTo: both,
    },
    {
      id: 'P3',
      area: 'harbour',
      format: 'sentinel-1-safe',
      datetime: day(1, '05:49:12').toISOString(),
      platform: 'sentinel-1a',
      orbitState: 'descending',
      relativeOrbit: s1.relative,
      absoluteOrbit: s1.absolute + 175,
      track: `S1A-${s1.relative}-descending`,
      incidenceDeg: null,
      releasableTo: both,
    },
    {
      id: 'P4',
      area: 'airfield',
      format: 'sicd',
      datetime: day(1, '10:12:32').toISOString(),
      platform: 'SBX-1',
      orbitState: 'ascending',
      relativeOrbit: null,
      absoluteOrbit: null,
      track: 'SBX-1-ascending-airfield',
      incidenceDeg: 30,
      releasableTo: both,
    },
    {
      id: 'P5',
      area: 'airfield',
      format: 'sentinel-1-safe',
      datetime: day(2, '17:33:05').toISOString(),
      platform: 'sentinel-1a',
      orbitState: 'ascending',
      relativeOrbit: s1Evening.relative,
      absoluteOrbit: s1Evening.absolute,
      track: `S1A-${s1Evening.relative}-ascending`,
      incidenceDeg: null,
      releasableTo: both,
    },
    {
      id: 'P6',
      area: 'harbour',
      format: 'sicd',
      datetime: day(2, '21:38:14').toISOString(),
      platform: 'SBX-2',
      orbitState: 'descending',
      relativeOrbit: null,
      absoluteOrbit: null,
      track: 'SBX-2-descending-harbour',
      incidenceDeg: 35,
      releasableTo: [partners[0]],
    },
  ];
  return passes;
}

/** A vessel of the harbour and where it is over the campaign. */
export interface Vessel {
  id: string;
  lengthM: number;
  widthM: number;
  /** Signal-to-clutter ratio, dB. */
  scrDb: number;
  /** Present from `arriveMs` (inclusive) to `departMs` (exclusive). */
  arriveMs: number;
  departMs: number;
  /** Map position (UTM) and heading before and after `moveMs` (a shift to another anchorage). */
  at: { x: number; y: number; headingDeg: number };
  movedTo: { x: number; y: number; headingDeg: number; moveMs: number } | null;
  /** Under way: speed, knots (its position then follows its heading from `at` at `atMs`). */
  speedKn: number;
  atMs: number;
}

export interface VesselState {
  id: string;
  x: number;
  y: number;
  headingDeg: number;
  speedKn: number;
  lengthM: number;
  widthM: number;
  scrDb: number;
  status: 'anchored' | 're-anchored' | 'under way';
}

const KNOT_MPS = 1852 / 3600;

/** Where a vessel is at a time, or null when it is not in the area. */
export function vesselAt(v: Vessel, timeMs: number): VesselState | null {
  if (timeMs < v.arriveMs || timeMs >= v.departMs) return null;
  let { x, y, headingDeg } = v.at;
  let status: VesselState['status'] = v.speedKn > 0 ? 'under way' : 'anchored';
  if (v.movedTo && timeMs >= v.movedTo.moveMs) {
    ({ x, y, headingDeg } = v.movedTo);
    status = 're-anchored';
  }
  if (v.speedKn > 0) {
    const d = ((timeMs - v.atMs) / 1000) * v.speedKn * KNOT_MPS;
    const h = (headingDeg * Math.PI) / 180;
    x += d * Math.sin(h);
    y += d * Math.cos(h);
  }
  return {
    id: v.id,
    x,
    y,
    headingDeg,
    speedKn: v.speedKn,
    lengthM: v.lengthM,
    widthM: v.widthM,
    scrDb: v.scrDb,
    status,
  };
}

/**
 * The harbour's vessels: at anchor off the gulf (some leave, some arrive between passes), a few that
 * shift to another anchorage, and two under way that cross the area during one
 * pass each. `isSea(x, y, marginM)` tells open water at least marginM from land; `passTimesMs` are
 * the harbour passes' times.
 */
export function harbourVessels(
  seed: number,
  a: CampaignArea,
  passTimesMs: number[],
  isSea: (x: number, y: number) => boolean,
): Vessel[] {
  const rand = mulberry32(seed * 104_729 + 11);
  const [x0, s, , y0] = a.geoTransform;
  const extent = a.size * s;
  const out: Vessel[] = [];
  const far = Number.POSITIVE_INFINITY;
  const t = [...passTimesMs].sort((p, q) => p - q);
  const between = (i: number) => (t[i] + t[i + 1]) / 2;
  // Inside the centre of the grid, where every product's footprint reaches.
  const place = (minGapM: number, inner = 0.3): { x: number; y: number } | null => {
    for (let k = 0; k < 2000; k++) {
      const x = x0 + extent * (0.5 + (rand() - 0.5) * 2 * inner);
      const y = y0 - extent * (0.5 + (rand() - 0.5) * 2 * inner);
      if (!isSea(x, y)) continue;
      if (out.some((v) => Math.hypot(v.at.x - x, v.at.y - y) < minGapM)) continue;
      if (out.some((v) => v.movedTo && Math.hypot(v.movedTo.x - x, v.movedTo.y - y) < minGapM)) continue;
      return { x, y };
    }
    return null;
  };
  const vessel = (id: string, arriveMs: number, departMs: number, p: { x: number; y: number }): Vessel => {
    const lengthM = 60 + rand() * 240;
    return {
      id,
      lengthM,
      widthM: Math.max(15, lengthM / 7),
      scrDb: 14 + rand() * 10,
      arriveMs,
      departMs,
      at: { ...p, headingDeg: rand() * 360 },
      movedTo: null,
      speedKn: 0,
      atMs: 0,
    };
  };
  // At anchor all campaign (8), leaving after the first pass (3), arriving after the first (4) and the second (2).
  const schedule: [number, number, number][] = [
    [8, -far, far],
    [3, -far, between(0)],
    [4, between(0), far],
    [2, between(1), far],
  ];
  for (const [n, arrive, depart] of schedule)
    for (let k = 0; k < n; k++) {
      const p = place(700);
      if (p) out.push(vessel(`vessel-${out.length + 1}`, arrive, depart, p));
    }
  // Three shift from the anchorage to another anchorage after the first pass.
  for (let k = 0; k < 3; k++) {
    const p = place(700);
    const q = place(700);
    if (!p || !q) continue;
    const v = vessel(`vessel-${out.length + 1}`, -far, far, p);
    v.movedTo = { ...q, headingDeg: rand() * 360, moveMs: between(0) };
    out.push(v);
  }
  // Two under way, each in the middle of the area at one pass, at 8-14 knots.
  for (let k = 0; k < Math.min(2, t.length); k++) {
    const p = place(900, 0.15);
    if (!p) continue;
    const v = vessel(`vessel-${out.length + 1}`, t[k] - 1_800_000, t[k] + 1_800_000, p);
    v.speedKn = 8 + rand() * 6;
    v.atMs = t[k];
    out.push(v);
  }
  return out;
}
