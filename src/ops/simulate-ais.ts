import { writeFile } from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import type { SarGeometry } from '../exploit/ais/displacement.js';
import { azimuthDisplacement, checkGeometry, slantRangeFromIncidenceM } from '../exploit/ais/displacement.js';
import { orbitHeadingDeg } from '../exploit/ais/match-file.js';
import { KNOT_MPS, offsetLonLat } from '../exploit/ais/tracks.js';
import { mulberry32 } from '../util/random.js';

/**
 * AIS for the scene simulator: which planted ships broadcast, how they move, where the SAR shows
 * them, and the AIS archive a receiver network would have recorded around the image time.
 *
 * A planted ship is drawn in the image where the SAR shows it. A moving ship is really somewhere
 * else: the azimuth displacement of a moving target (Raney 1971; see exploit/ais/displacement.ts)
 * moves it along track by -(R / V) v_r, so its true position, the one its AIS reports give, is its
 * image position minus that shift. The image itself is the same with or without AIS.
 */
export interface SceneAisOptions {
  /** Share of the ships that broadcast no AIS (default 0.2). */
  darkFraction?: number;
  /** AIS tracks with no ship in the image (spoofed, or too small to see); default 10% of the ships, at least 1. */
  aisOnlyTracks?: number;
  /** Share of the ships under way; the others are anchored (default 0.6). */
  movingFraction?: number;
  /** Viewing geometry written into the sidecar (sat:orbit_state, sar:observation_direction, view:incidence_angle). */
  orbitState?: 'ascending' | 'descending';
  lookSide?: 'right' | 'left';
  incidenceDeg?: number;
  /** Reports are written from this many seconds before to this many after the image time (default 900). */
  windowS?: number;
  /** Standard deviation of the GNSS position noise of each report, metres, per axis (default 8). */
  positionNoiseM?: number;
  /** Share of the reports that no receiver picked up (default 0.1). */
  dropFraction?: number;
  /**
   * AIS gives the GNSS antenna's position, not the hull's centre: the antenna is put at 15-85% of
   * the length from the bow (bridge forward to bridge aft). Default true; false reports the centre.
   */
  antennaOffset?: boolean;
}

/** A planted ship's AIS and motion at the image time. */
export interface PlantedShipAis {
  /** null: a dark ship, broadcasting nothing. */
  mmsi: number | null;
  /** Transponder class (a dark ship still has the class it would broadcast with). */
  aisClass: 'A' | 'B';
  sogKn: number;
  /** Course over ground, degrees from north (the ship's axis, one of its two directions). */
  cogDeg: number;
  /** Where the ship really is (lon/lat and map x/y); the ship's x/y/lon/lat are where the SAR shows it. */
  trueLon: number;
  trueLat: number;
  /** The along-track shift from the true to the image position, metres (positive in the flight direction). */
  azimuthShiftM: number;
  /** Where the AIS antenna sits: metres from the hull's centre towards the bow (along cogDeg). */
  antennaForwardM: number;
}

/** An AIS track with no ship in the image. */
export interface AisOnlyTrack {
  mmsi: number;
  lon: number;
  lat: number;
  lengthM: number;
  sogKn: number;
  cogDeg: number;
}

export interface SceneAisPlan {
  geometry: SarGeometry;
  orbitState: 'ascending' | 'descending';
  opts: Required<SceneAisOptions>;
}

const ALTITUDE_M = 693_000;
const VELOCITY_MPS = 7500;
/** Ships shorter than this carry a class B transponder. */
const CLASS_B_BELOW_M = 45;

/** Validate the options and derive the viewing geometry at the scene's latitude. */
export function sceneAisPlan(opts: SceneAisOptions | true, sceneLatDeg: number, ships: number): SceneAisPlan {
  const o = opts === true ? {} : opts;
  const full: Required<SceneAisOptions> = {
    darkFraction: o.darkFraction ?? 0.2,
    aisOnlyTracks: o.aisOnlyTracks ?? Math.max(1, Math.round(ships * 0.1)),
    movingFraction: o.movingFraction ?? 0.6,
    orbitState: o.orbitState ?? 'ascending',
    lookSide: o.lookSide ?? 'right',
    incidenceDeg: o.incidenceDeg ?? 35,
    windowS: o.windowS ?? 900,
    positionNoiseM: o.positionNoiseM ?? 8,
    dropFraction: o.dropFraction ?? 0.1,
    antennaOffset: o.antennaOffset ?? true,
  };
  for (const k of ['darkFraction', 'movingFraction', 'dropFraction'] as const)
    if (!(full[k] >= 0 && full[k] <= 1))
      throw new ValidationError(`ais.${k} must be from 0 to 1, got ${full[k]}`);
  if (!(Number.isInteger(full.aisOnlyTracks) && full.aisOnlyTracks >= 0))
    throw new ValidationError(`ais.aisOnlyTracks must be a whole number >= 0, got ${full.aisOnlyTracks}`);
  if (!(full.windowS > 0 && full.windowS <= 6 * 3600))
    throw new ValidationError(`ais.windowS must be from 0 to 21600 s, got ${full.windowS}`);
  if (!(full.positionNoiseM >= 0)) throw new ValidationError(`ais.positionNoiseM must be >= 0`);
  const geometry = checkGeometry({
    platformHeadingDeg: orbitHeadingDeg(full.orbitState, sceneLatDeg),
    lookSide: full.lookSide,
    incidenceDeg: full.incidenceDeg,
    slantRangeM: slantRangeFromIncidenceM(full.incidenceDeg, ALTITUDE_M),
    platformVelocityMps: VELOCITY_MPS,
  });
  return { geometry, orbitState: full.orbitState, opts: full };
}

/** Which of `n` ships are dark: a seeded choice of round(n * darkFraction), the same for every date. */
export function darkShips(n: number, plan: SceneAisPlan, seed: number): Set<number> {
  const rand = mulberry32(seed * 7919 + 101);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return new Set(idx.slice(0, Math.round(n * plan.opts.darkFraction)));
}

/** The MMSI of the planted ship with this index (ids ship-1, ship-2, ...): 227000001, ... (France's MID 227). */
export const shipMmsi = (index: number) => 227_000_001 + index;

interface ShipIn {
  id: string;
  lon: number;
  lat: number;
  lengthM: number;
  headingDeg: number;
}

/**
 * Each ship's motion at the image time and its true position. `isSea(lon, lat)` says whether a
 * true position is acceptable (on the sea, inside the grid); a moving ship whose true position
 * would not be is anchored instead.
 */
export function shipMotion(
  ships: readonly ShipIn[],
  plan: SceneAisPlan,
  dark: Set<number>,
  rand: () => number,
  isSea: (lon: number, lat: number) => boolean,
): PlantedShipAis[] {
  return ships.map((q) => {
    const index = Number(q.id.slice(5)) - 1;
    const aisClass = q.lengthM < CLASS_B_BELOW_M ? 'B' : 'A';
    const moving = rand() < plan.opts.movingFraction;
    const speed = aisClass === 'A' ? 4 + rand() * 16 : 3 + rand() * 9;
    const cogDeg = (q.headingDeg + (rand() < 0.5 ? 0 : 180)) % 360;
    let sogKn = moving ? speed : 0;
    let trueLon = q.lon;
    let trueLat = q.lat;
    let shift = 0;
    if (sogKn > 0) {
      const v = sogKn * KNOT_MPS;
      const c = (cogDeg * Math.PI) / 180;
      const d = azimuthDisplacement(v * Math.sin(c), v * Math.cos(c), plan.geometry);
      const [lon, lat] = offsetLonLat(q.lon, q.lat, -d.eastM, -d.northM);
      if (isSea(lon, lat)) {
        trueLon = lon;
        trueLat = lat;
        shift = d.alongTrackM;
      } else sogKn = 0;
    }
    const antennaForwardM = plan.opts.antennaOffset ? (0.5 - (0.15 + 0.7 * rand())) * q.lengthM : 0;
    return {
      mmsi: dark.has(index) ? null : shipMmsi(index),
      aisClass,
      sogKn,
      cogDeg,
      trueLon,
      trueLat,
      azimuthShiftM: shift,
      antennaForwardM,
    };
  });
}

/**
 * AIS tracks with no ship: positions on the sea (`place` draws one, or null), at least `clearM`
 * from every ship's image and true position, so that no planted ship could explain them.
 */
export function aisOnlyTracks(
  plan: SceneAisPlan,
  rand: () => number,
  place: () => [number, number] | null,
  taken: [number, number][],
  clearM: number,
  dateIndex: number,
): AisOnlyTrack[] {
  const out: AisOnlyTrack[] = [];
  const mPerDeg = 111_195;
  const far = (lon: number, lat: number) =>
    taken.every(
      ([a, b]) =>
        Math.hypot((a - lon) * mPerDeg * Math.cos((lat * Math.PI) / 180), (b - lat) * mPerDeg) > clearM,
    );
  for (let tries = 0; out.length < plan.opts.aisOnlyTracks && tries < 5000; tries++) {
    const p = place();
    if (!p || !far(p[0], p[1])) continue;
    const moving = rand() < plan.opts.movingFraction;
    out.push({
      mmsi: 227_900_001 + dateIndex * 1000 + out.length,
      lon: p[0],
      lat: p[1],
      lengthM: 30 + rand() * 220,
      sogKn: moving ? 4 + rand() * 14 : 0,
      cogDeg: rand() * 360,
    });
    taken.push(p);
  }
  return out;
}

/**
 * The report interval of a transponder, seconds (ITU-R M.1371-5, Table 1 and 2): class A under way
 * 10 s (0-14 kn), 6 s (14-23 kn), 2 s (over 23 kn), anchored 3 min; class B "CS" 30 s under way
 * (over 2 kn), 3 min otherwise.
 */
export function reportIntervalS(aisClass: 'A' | 'B', sogKn: number): number {
  if (aisClass === 'B') return sogKn > 2 ? 30 : 180;
  if (sogKn < 0.5) return 180;
  if (sogKn <= 14) return 10;
  return sogKn <= 23 ? 6 : 2;
}

interface Broadcaster {
  mmsi: number;
  aisClass: 'A' | 'B';
  lon: number;
  lat: number;
  sogKn: number;
  cogDeg: number;
  /** The ship's bow direction (anchored ships swing, but their heading is still given). */
  headingDeg: number;
  /** The antenna's offset from the centre towards the bow, metres. */
  antennaForwardM: number;
  lengthM: number;
  widthM: number;
  name: string;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** MarineCadastre's BaseDateTime: ISO 8601 without a zone, UTC, whole seconds. */
const baseDateTime = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};

/**
 * Write the AIS archive of one image as a MarineCadastre/NOAA CSV (MMSI, BaseDateTime, LAT, LON,
 * SOG, COG, Heading, VesselName, IMO, CallSign, VesselType, Status, Length, Width, Draft, Cargo,
 * TransceiverClass), time-ordered: each broadcaster's reports at its report interval (jittered by
 * 10%, a share dropped) from `windowS` before to `windowS` after the image time, on a straight
 * course at constant speed through its true position at the image time, at its antenna (off the
 * hull's centre along the bow direction), with GNSS noise on the positions and a little on SOG, COG and heading. Class B transponders give no heading (511).
 */
export async function writeAisCsv(
  path: string,
  imageMs: number,
  broadcasters: readonly Broadcaster[],
  plan: SceneAisPlan,
  rand: () => number,
): Promise<number> {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const rows: { t: number; line: string }[] = [];
  const { windowS, positionNoiseM: noise, dropFraction } = plan.opts;
  for (const b of broadcasters) {
    const interval = reportIntervalS(b.aisClass, b.sogKn);
    const v = b.sogKn * KNOT_MPS;
    const c = (b.cogDeg * Math.PI) / 180;
    const h = (b.headingDeg * Math.PI) / 180;
    const ae = b.antennaForwardM * Math.sin(h);
    const an = b.antennaForwardM * Math.cos(h);
    const type = b.aisClass === 'A' ? (b.lengthM > 100 ? 70 : 30) : 37;
    const status = b.aisClass === 'B' ? '' : b.sogKn > 0 ? '0' : '1';
    for (let t = -windowS + rand() * interval; t <= windowS; t += interval * (0.9 + 0.2 * rand())) {
      if (rand() < dropFraction) continue;
      const ts = Math.round(t);
      const [lon, lat] = offsetLonLat(
        b.lon,
        b.lat,
        v * Math.sin(c) * ts + ae + gauss() * noise,
        v * Math.cos(c) * ts + an + gauss() * noise,
      );
      const sog = Math.max(0, b.sogKn + (b.sogKn > 0 ? gauss() * 0.1 : 0));
      const cog = (((b.cogDeg + gauss() * (b.sogKn > 0 ? 1 : 20)) % 360) + 360) % 360;
      const heading =
        b.aisClass === 'B' ? 511 : Math.round((((b.headingDeg + gauss() * 2) % 360) + 360) % 360) % 360;
      rows.push({
        t: ts,
        line: [
          b.mmsi,
          baseDateTime(imageMs + ts * 1000),
          lat.toFixed(5),
          lon.toFixed(5),
          sog.toFixed(1),
          cog.toFixed(1),
          heading,
          b.name,
          '',
          '',
          type,
          status,
          Math.round(b.lengthM),
          Math.round(b.widthM),
          '',
          '',
          b.aisClass,
        ].join(','),
      });
    }
  }
  rows.sort((a, b) => a.t - b.t);
  const header =
    'MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass';
  await writeFile(path, `${header}\n${rows.map((r) => r.line).join('\n')}\n`);
  return rows.length;
}

/** The ships and AIS-only tracks of one date as broadcasters. */
export function broadcasters(
  ships: readonly (ShipIn & { widthM: number; ais?: PlantedShipAis })[],
  only: readonly AisOnlyTrack[],
): Broadcaster[] {
  const out: Broadcaster[] = [];
  for (const q of ships) {
    const a = q.ais;
    if (!a || a.mmsi === null) continue;
    out.push({
      mmsi: a.mmsi,
      aisClass: a.aisClass,
      lon: a.trueLon,
      lat: a.trueLat,
      sogKn: a.sogKn,
      cogDeg: a.cogDeg,
      headingDeg: a.cogDeg,
      antennaForwardM: a.antennaForwardM,
      lengthM: q.lengthM,
      widthM: q.widthM,
      name: `SIM ${q.id.toUpperCase()}`,
    });
  }
  for (const t of only)
    out.push({
      mmsi: t.mmsi,
      aisClass: 'A',
      lon: t.lon,
      lat: t.lat,
      sogKn: t.sogKn,
      cogDeg: t.cogDeg,
      headingDeg: t.cogDeg,
      antennaForwardM: 0,
      lengthM: t.lengthM,
      widthM: t.lengthM / 6,
      name: `SIM TRACK ${t.mmsi}`,
    });
  return out;
}

/**
 * One date's AIS: each ship's motion and true position (shipMotion) attached as `ais`, and the AIS
 * tracks with no ship, 1.6 km (beyond the matcher's default 1.5 km cap) from every ship's image and
 * true position. `isSea` accepts a true position, `place` draws a sea position for a track.
 */
export function dateAis<T extends ShipIn>(
  ships: readonly T[],
  plan: SceneAisPlan,
  dark: Set<number>,
  rand: () => number,
  dateIndex: number,
  sea: { isSea: (lon: number, lat: number) => boolean; place: () => [number, number] | null },
): { shown: (T & { ais: PlantedShipAis })[]; aisOnly: AisOnlyTrack[] } {
  const motion = shipMotion(ships, plan, dark, rand, sea.isSea);
  const shown = ships.map((q, i) => ({ ...q, ais: motion[i] }));
  const taken: [number, number][] = shown.flatMap((q, i): [number, number][] => [
    [q.lon, q.lat],
    [motion[i].trueLon, motion[i].trueLat],
  ]);
  return { shown, aisOnly: aisOnlyTracks(plan, rand, sea.place, taken, 1600, dateIndex) };
}

/**
 * What the sidecar gains with AIS, so that it is a STAC item `ais match` reads: id, bbox and the
 * footprint first, the sar/sat/view geometry in the properties, an asset for the COG last.
 */
export function aisSidecar(
  plan: SceneAisPlan,
  footprint: [number, number][],
  id: string,
): { head: object; properties: object; tail: object } {
  const lons = footprint.map((p) => p[0]);
  const lats = footprint.map((p) => p[1]);
  return {
    head: {
      stac_version: '1.0.0',
      id,
      bbox: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
      geometry: { type: 'Polygon', coordinates: [footprint] },
    },
    properties: {
      'sar:observation_direction': plan.opts.lookSide,
      'sat:orbit_state': plan.orbitState,
      'view:incidence_angle': plan.opts.incidenceDeg,
    },
    tail: {
      links: [],
      assets: {
        data: {
          href: `./${id}.tif`,
          type: 'image/tiff; application=geotiff; profile=cloud-optimized',
          roles: ['data'],
        },
      },
    },
  };
}

/** A planted ship's AIS as truth GeoJSON properties. */
export function aisTruthProperties(a: PlantedShipAis): Record<string, unknown> {
  return {
    mmsi: a.mmsi,
    dark: a.mmsi === null,
    ais_class: a.aisClass,
    sog_kn: a.sogKn,
    cog_deg: a.cogDeg,
    true_lon: a.trueLon,
    true_lat: a.trueLat,
    azimuth_shift_m: a.azimuthShiftM,
    antenna_forward_m: a.antennaForwardM,
  };
}
