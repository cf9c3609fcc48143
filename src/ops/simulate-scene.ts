import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { isKnownEpsg, transformPoint, utmEpsgForLonLat } from '../geo/crs.js';
import type { GeoTransform } from '../geo/transform.js';
import { writeCog } from '../io/tiff/writer.js';
import { gammaUnitMean, mulberry32 } from '../util/random.js';
import type { AisOnlyTrack, PlantedShipAis, SceneAisOptions } from './simulate-ais.js';
import {
  aisSidecar,
  aisTruthProperties,
  broadcasters,
  darkShips,
  dateAis,
  sceneAisPlan,
  writeAisCsv,
} from './simulate-ais.js';
import type { SimulatedSafe } from './simulate-safe.js';
import { writeSimulatedSafe } from './simulate-safe.js';
import { openSicdTemplate, writeSceneSicd } from './simulate-scene-sicd.js';

export interface SceneOptions {
  seed?: number;
  /** Pixels on a side (default 2048). */
  size?: number;
  /** Pixel spacing, metres (default 10). */
  spacingM?: number;
  /** CRS and upper-left corner of the grid (default UTM 31N, in the Gulf of Lion off the Rhone delta). */
  epsg?: number;
  origin?: [number, number];
  ships?: number;
  /** Acquisition dates (ISO); one scene is written per date, with changes planted between them. */
  dates?: string[];
  /** Looks of the speckle (default 4.4). */
  looks?: number;
  /** Shape parameter of the K-distributed sea clutter texture (default 4; larger is calmer). */
  seaOrder?: number;
  /** Sea sigma0 (default 0.02, -17 dB). */
  seaSigma0?: number;
  /**
   * 'coast' (default): sea, a wavy coastline and land, ships spread over the sea; 'open-sea': no land;
   * 'harbour': the coast with the ships packed in a cluster, 50-200 m apart.
   */
  layout?: 'coast' | 'open-sea' | 'harbour';
  /** Ship lengths, metres (default 20-300). */
  shipLengthM?: [number, number];
  /** Ships' signal-to-clutter ratio, dB (default 10-25). */
  scrDb?: [number, number];
  /** Backscatter change of construction and of flooding areas, dB (default +6 and -8). */
  changeDb?: [number, number];
  /** Side of the changed squares, pixels (default 40-100). */
  changeSizePx?: [number, number];
  /** Also write each date as a Sentinel-1-like GRD SAFE in image geometry (see writeSimulatedSafe). */
  safe?: boolean;
  /**
   * A real SICD: also write each date as a SICD with its collection geometry (see writeSceneSicd). The
   * scene is then centred on its SCP, in the SCP's UTM zone, unless `epsg` and `origin` say otherwise.
   */
  sicdTemplate?: string;
  /**
   * Also write an AIS archive per date (`ais_<date>.csv`, MarineCadastre layout; see simulate-ais.ts):
   * most ships broadcast, some are dark, some tracks have no ship, and moving ships are shown in the
   * image displaced in azimuth from their true (AIS) position. The sidecar then carries the footprint
   * and the viewing geometry. Without it every output is the same as before.
   */
  ais?: boolean | SceneAisOptions;
}

export interface PlantedShip {
  id: string;
  /** Centre, map coordinates and lon/lat. */
  x: number;
  y: number;
  lon: number;
  lat: number;
  lengthM: number;
  widthM: number;
  headingDeg: number;
  /** Signal-to-clutter ratio planted, dB. */
  scrDb: number;
  /** With `ais`: the ship's AIS (MMSI or dark), motion and true position. */
  ais?: PlantedShipAis;
}

/** One date of a scene as the product writers take it: the planted sigma0 before speckle, and the ships. */
export interface PlantedDate {
  /** Planted sigma0 (the sea's texture included, no speckle), size x size on geoTransform in epsg. */
  mean: Float32Array;
  size: number;
  geoTransform: GeoTransform;
  epsg: number;
  date: string;
  seed: number;
  ships: PlantedShip[];
}

export interface PlantedChange {
  id: string;
  kind: 'construction' | 'flooding';
  /** Rectangle [minX, minY, maxX, maxY] in map coordinates. */
  box: [number, number, number, number];
  changeDb: number;
}

export interface SceneResult {
  scenes: {
    date: string;
    path: string;
    sidecar: string;
    truth: string;
    ships: PlantedShip[];
    /** The date as a SAFE-like GRD and its ships' truth in image positions (with `safe`). */
    safe?: SimulatedSafe;
    /** The date as a SICD and the truth of the ships inside it (with `sicdTemplate`). */
    sicd?: { path: string; truthPath: string; rows: number; cols: number };
    /** With `ais`: the AIS archive, its row count and the tracks with no ship. */
    ais?: { path: string; reports: number; aisOnly: AisOnlyTrack[] };
  }[];
  changes: PlantedChange[];
  changesPath: string;
  /** The land as GeoJSON polygons (empty for open sea). */
  landPath: string;
  epsg: number;
  geoTransform: GeoTransform;
  size: number;
}

/** A smooth random field in [-1, 1]: a sum of a few seeded sine waves. */
function smoothField(rand: () => number, waves = 6): (x: number, y: number) => number {
  const w = Array.from({ length: waves }, () => ({
    fx: (rand() - 0.5) * 0.02,
    fy: (rand() - 0.5) * 0.02,
    ph: rand() * 2 * Math.PI,
  }));
  return (x, y) => w.reduce((s, q) => s + Math.sin(q.fx * x + q.fy * y + q.ph), 0) / waves;
}

/**
 * `sarbridge simulate scene`: a seeded series of geocoded sigma0 scenes (float32 COG, linear, with a
 * STAC sidecar) with planted truth: sea of K-distributed clutter (gamma texture of order `seaOrder` times
 * gamma speckle), textured land beyond a wavy coastline with bright built-up blocks, ships (20-300 m,
 * any heading, 10-25 dB above the clutter) on the sea only, and between dates ships that move, arrive
 * and leave and areas whose backscatter changes (construction +6 dB, flooding -8 dB). Ground truth:
 * a GeoJSON of the ships per date and of the changed areas. With `safe`, each date is also written as a
 * Sentinel-1-like GRD SAFE (image geometry, calibration and noise LUTs) sampling the same planted sigma0.
 */
export async function simulateScene(outDir: string, opts: SceneOptions = {}): Promise<SceneResult> {
  const seed = opts.seed ?? 1;
  const size = opts.size ?? 2048;
  const s = opts.spacingM ?? 10;
  const template = opts.sicdTemplate === undefined ? null : await openSicdTemplate(opts.sicdTemplate);
  const scp = template?.meta.scpLlh;
  const epsg = opts.epsg ?? (scp ? utmEpsgForLonLat(scp[1], scp[0]) : 32631);
  if (!Number.isInteger(size) || size < 64 || size > 16384)
    throw new ValidationError(`size must be an integer from 64 to 16384, got ${size}`);
  if (!(s > 0)) throw new ValidationError(`spacing must be positive, got ${s}`);
  if (!isKnownEpsg(epsg)) throw new ValidationError(`EPSG:${epsg} is not a CRS sarbridge can write`);
  let defaultOrigin: [number, number] = [640000, 4760000];
  if (scp) {
    const [cx, cy] = transformPoint(4326, epsg, scp[1], scp[0]);
    defaultOrigin = [Math.round(cx - (size * s) / 2), Math.round(cy + (size * s) / 2)];
  }
  const [x0, y0] = opts.origin ?? defaultOrigin;
  const gt: GeoTransform = [x0, s, 0, y0, 0, -s];
  const dates = opts.dates ?? ['2026-06-01T06:00:00Z', '2026-06-13T06:00:00Z'];
  const looks = opts.looks ?? 4.4;
  const nu = opts.seaOrder ?? 4;
  const sea = opts.seaSigma0 ?? 0.02;
  const rand = mulberry32(seed);
  const coast = smoothField(rand, 4);
  const landTexture = smoothField(rand, 8);
  const layout = opts.layout ?? 'coast';
  if (!['coast', 'open-sea', 'harbour'].includes(layout))
    throw new ValidationError(`layout must be coast, open-sea or harbour, got '${layout}'`);
  const range = (name: string, v: [number, number] | undefined, d: [number, number]): [number, number] => {
    const r = v ?? d;
    const ordered = name === 'changeDb' || r[0] <= r[1];
    if (!(Array.isArray(r) && r.length === 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) && ordered))
      throw new ValidationError(`${name} must be two numbers, got ${JSON.stringify(v)}`);
    return r;
  };
  const [len0, len1] = range('shipLengthM', opts.shipLengthM, [20, 300]);
  const [scr0, scr1] = range('scrDb', opts.scrDb, [10, 25]);
  const [upDb, downDb] = range('changeDb', opts.changeDb, [6, -8]);
  const [cs0, cs1] = range('changeSizePx', opts.changeSizePx, [40, 100]);
  const coastCol =
    layout === 'open-sea'
      ? () => Number.POSITIVE_INFINITY
      : (row: number) => size * (0.62 + 0.12 * coast(0, row * 3));
  const isLand = (col: number, row: number) => col > coastCol(row);
  // Built-up blocks on land.
  const builtUp: [number, number, number, number][] = [];
  for (let k = 0; k < 6; k++) {
    const r = Math.floor(rand() * (size - 80));
    const c0 = Math.ceil(coastCol(r)) + 20 + Math.floor(rand() * size * 0.1);
    if (c0 + 60 < size)
      builtUp.push([c0, r, c0 + 30 + Math.floor(rand() * 40), r + 30 + Math.floor(rand() * 40)]);
  }
  // Ships on the sea, apart from each other and from the coast.
  const nShips = opts.ships ?? 30;
  const ships: PlantedShip[] = [];
  // Harbour: ships packed around a point 1 km off the coast, each 50-200 m from a neighbour.
  const harbourRow = size / 2;
  const harbourCol = Math.min(coastCol(harbourRow), size) - 1000 / s;
  for (let tries = 0; ships.length < nShips && tries < nShips * 200; tries++) {
    const lengthM = len0 + rand() * (len1 - len0);
    let col = 40 + rand() * (size - 80);
    let row = 40 + rand() * (size - 80);
    let minGap = 60;
    if (layout === 'harbour') {
      minGap = 50;
      if (ships.length === 0) {
        col = harbourCol;
        row = harbourRow;
      } else {
        const q = ships[Math.floor(rand() * ships.length)];
        const a = rand() * 2 * Math.PI;
        const d = (q.lengthM + lengthM) / 2 + 50 + rand() * 150;
        col = (q.x - x0) / s - 0.5 + (Math.cos(a) * d) / s;
        row = (y0 - q.y) / s - 0.5 + (Math.sin(a) * d) / s;
      }
      if (col < 40 || row < 40 || col > size - 40 || row > size - 40) continue;
    }
    if (col + lengthM / s + 25 > coastCol(row)) continue;
    const x = x0 + (col + 0.5) * s;
    const y = y0 - (row + 0.5) * s;
    if (ships.some((q) => Math.hypot(q.x - x, q.y - y) < (q.lengthM + lengthM) / 2 + minGap)) continue;
    const [lon, lat] = transformPoint(epsg, 4326, x, y);
    ships.push({
      id: `ship-${ships.length + 1}`,
      x,
      y,
      lon,
      lat,
      lengthM,
      // At least 1.5 pixels wide, so a rotated ship rasterises without gaps.
      widthM: Math.max(1.5 * s, lengthM / 7),
      headingDeg: rand() * 180,
      scrDb: scr0 + rand() * (scr1 - scr0),
    });
  }
  // Changes between the first and later dates.
  const changes: PlantedChange[] = [];
  for (let k = 0; k < 4; k++) {
    const r = Math.floor(rand() * (size - 120));
    const c = Math.ceil(coastCol(r)) + 10 + Math.floor(rand() * Math.max(1, size - coastCol(r) - 130));
    if (c + 100 >= size) continue;
    const w = cs0 + Math.floor(rand() * (cs1 - cs0));
    const kind = k % 2 === 0 ? 'construction' : 'flooding';
    changes.push({
      id: `change-${changes.length + 1}`,
      kind,
      box: [x0 + c * s, y0 - (r + w) * s, x0 + (c + w) * s, y0 - r * s],
      changeDb: kind === 'construction' ? upDb : downDb,
    });
  }
  const sceneLat = transformPoint(epsg, 4326, x0 + (size * s) / 2, y0 - (size * s) / 2)[1];
  const aisPlan = opts.ais ? sceneAisPlan(opts.ais, sceneLat, ships.length) : null;
  const dark = aisPlan ? darkShips(ships.length, aisPlan, seed) : null;
  const pixelOf = (lon: number, lat: number) => {
    const [x, y] = transformPoint(4326, epsg, lon, lat);
    return [(x - x0) / s, (y0 - y) / s];
  };
  const footprint = [
    [0, size],
    [size, size],
    [size, 0],
    [0, 0],
    [0, size],
  ].map(([c, r]) => transformPoint(epsg, 4326, x0 + c * s, y0 - r * s));
  await mkdir(outDir, { recursive: true });
  const result: SceneResult = {
    scenes: [],
    changes,
    changesPath: join(outDir, 'changes.geojson'),
    landPath: join(outDir, 'land.geojson'),
    epsg,
    geoTransform: gt,
    size,
  };
  // The land polygon: pixel (col, row) is land when its centre lies right of coastCol(row) + 0.5.
  const toLonLat = (px: number, py: number) => transformPoint(epsg, 4326, x0 + px * s, y0 - py * s);
  const landRing: [number, number][] = [];
  if (layout !== 'open-sea') {
    landRing.push(toLonLat(coastCol(0) + 0.5, -50));
    for (let row = 0; row < size; row += 2) landRing.push(toLonLat(coastCol(row) + 0.5, row + 0.5));
    landRing.push(toLonLat(coastCol(size - 1) + 0.5, size + 50));
    landRing.push(toLonLat(size + 50, size + 50), toLonLat(size + 50, -50), landRing[0]);
  }
  await writeFile(
    result.landPath,
    `${JSON.stringify({
      type: 'FeatureCollection',
      features:
        landRing.length > 0
          ? [
              {
                type: 'Feature',
                geometry: { type: 'Polygon', coordinates: [landRing] },
                properties: { kind: 'land' },
              },
            ]
          : [],
    })}\n`,
  );
  for (let d = 0; d < dates.length; d++) {
    const drand = mulberry32(seed * 1000 + d + 1);
    // Ships of this date: the first two thirds stay (some move), later ones arrive, a few leave.
    const dateShips = ships
      .filter((_, i) => (d === 0 ? i < Math.floor(ships.length * 0.8) : i >= Math.floor(ships.length * 0.1)))
      .map((q, i) => {
        if (d === 0 || i % 3 !== 0) return q;
        const moved = { ...q, x: q.x + (drand() - 0.5) * 600, y: q.y + (drand() - 0.5) * 600 };
        const col = (moved.x - x0) / s;
        const row = (y0 - moved.y) / s;
        if (col < 20 || row < 20 || row > size - 20 || col + moved.lengthM / s + 20 > coastCol(row)) return q;
        const [lon, lat] = transformPoint(epsg, 4326, moved.x, moved.y);
        return { ...moved, lon, lat };
      });
    // AIS: motion, true positions and the tracks with no ship, from a generator of their own.
    const arand = mulberry32(seed * 7919 + 1000 * (d + 1) + 7);
    const { shown, aisOnly }: { shown: PlantedShip[]; aisOnly: AisOnlyTrack[] } =
      aisPlan && dark
        ? dateAis(dateShips, aisPlan, dark, arand, d, {
            isSea: (lon, lat) => {
              const [col, row] = pixelOf(lon, lat);
              return col >= 20 && row >= 20 && row < size - 20 && col < size - 20 && col + 10 < coastCol(row);
            },
            place: () => {
              const col = 40 + arand() * (size - 80);
              const row = 40 + arand() * (size - 80);
              if (col + 30 > coastCol(row)) return null;
              return transformPoint(epsg, 4326, x0 + col * s, y0 - row * s);
            },
          })
        : { shown: dateShips, aisOnly: [] };
    // `mean`: the planted sigma0 before speckle (the sea's K-distribution texture included), which the
    // SAFE-like products sample with speckle of their own; `sigma`: with this grid's speckle.
    const sigma = new Float32Array(size * size);
    const mean = new Float32Array(size * size);
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        let v: number;
        if (isLand(col, row)) {
          v = 0.15 * 10 ** (0.35 * landTexture(col, row));
          for (const [a, b, c2, e] of builtUp) if (col >= a && col < c2 && row >= b && row < e) v = 1.5;
          if (d > 0) {
            const x = x0 + (col + 0.5) * s;
            const y = y0 - (row + 0.5) * s;
            for (const ch of changes)
              if (x >= ch.box[0] && x < ch.box[2] && y >= ch.box[1] && y < ch.box[3])
                v *= 10 ** (ch.changeDb / 10);
          }
          mean[row * size + col] = v;
          v *= gammaUnitMean(drand, looks);
        } else {
          v = sea * gammaUnitMean(drand, nu);
          mean[row * size + col] = v;
          v *= gammaUnitMean(drand, looks);
        }
        sigma[row * size + col] = v;
      }
    }
    // Ships: oriented rectangles of constant sigma0 (SCR above the mean clutter), with speckle.
    for (const q of dateShips) {
      const h = (q.headingDeg * Math.PI) / 180;
      const ux = Math.sin(h);
      const uy = Math.cos(h);
      const half = q.lengthM / 2 + s;
      const c0 = Math.floor((q.x - half - x0) / s);
      const c1 = Math.ceil((q.x + half - x0) / s);
      const r0 = Math.floor((y0 - q.y - half) / s);
      const r1 = Math.ceil((y0 - q.y + half) / s);
      const bright = sea * 10 ** (q.scrDb / 10);
      for (let row = Math.max(0, r0); row <= Math.min(size - 1, r1); row++) {
        for (let col = Math.max(0, c0); col <= Math.min(size - 1, c1); col++) {
          const dx = x0 + (col + 0.5) * s - q.x;
          const dy = y0 - (row + 0.5) * s - q.y;
          const along = dx * ux + dy * uy;
          const across = -dx * uy + dy * ux;
          if (Math.abs(along) <= q.lengthM / 2 && Math.abs(across) <= q.widthM / 2) {
            mean[row * size + col] = bright;
            sigma[row * size + col] = bright * gammaUnitMean(drand, looks);
          }
        }
      }
    }
    const date = dates[d];
    const tag = date.slice(0, 10);
    const path = join(outDir, `scene_${tag}.tif`);
    await writeCog(
      path,
      { data: sigma, width: size, height: size, bands: 1, dataType: 'float32', nodata: null },
      {
        epsg,
        geoTransform: gt,
        bands: [{ description: 'sigma0 VV' }],
        metadata: { UNITS: 'linear', SIMULATED: 'sarbridge simulate scene' },
      },
    );
    const sidecar = join(outDir, `scene_${tag}.json`);
    const aisItem = aisPlan ? aisSidecar(aisPlan, footprint, `scene_${tag}`) : null;
    await writeFile(
      sidecar,
      `${JSON.stringify(
        {
          type: 'Feature',
          ...aisItem?.head,
          properties: {
            datetime: date,
            platform: 'sarbridge-sim',
            'sar:instrument_mode': 'STRIPMAP',
            'sar:frequency_band': 'C',
            'sar:polarizations': ['VV'],
            'sar:product_type': 'GEC',
            'sar:looks_equivalent_number': looks,
            unit: 'linear',
            ...aisItem?.properties,
          },
          ...aisItem?.tail,
        },
        null,
        2,
      )}\n`,
    );
    const truth = join(outDir, `truth_${tag}.geojson`);
    const aisPath = join(outDir, `ais_${tag}.csv`);
    await writeFile(
      truth,
      `${JSON.stringify({
        type: 'FeatureCollection',
        ...(aisPlan ? { ais_file: aisPath, ais_only_tracks: aisOnly } : {}),
        features: shown.map((q) => ({
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [q.lon, q.lat] },
          properties: {
            id: q.id,
            length_m: q.lengthM,
            width_m: q.widthM,
            heading_deg: q.headingDeg,
            scr_db: q.scrDb,
            x: q.x,
            y: q.y,
            ...(q.ais ? aisTruthProperties(q.ais) : {}),
          },
        })),
      })}\n`,
    );
    const planted: PlantedDate = { mean, size, geoTransform: gt, epsg, date, seed, ships: dateShips };
    const safe = opts.safe ? await writeSimulatedSafe(outDir, { ...planted, looks }) : undefined;
    const sicd = template ? await writeSceneSicd(outDir, template, planted) : undefined;
    const ais =
      aisPlan === null
        ? undefined
        : {
            path: aisPath,
            reports: await writeAisCsv(
              aisPath,
              Date.parse(date),
              broadcasters(shown, aisOnly),
              aisPlan,
              arand,
            ),
            aisOnly,
          };
    result.scenes.push({ date, path, sidecar, truth, ships: shown, safe, sicd, ais });
  }
  const ringOf = (b: [number, number, number, number]) =>
    [
      [b[0], b[1]],
      [b[2], b[1]],
      [b[2], b[3]],
      [b[0], b[3]],
      [b[0], b[1]],
    ].map(([x, y]) => transformPoint(epsg, 4326, x, y));
  await writeFile(
    result.changesPath,
    `${JSON.stringify({
      type: 'FeatureCollection',
      features: changes.map((c) => ({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [ringOf(c.box)] },
        properties: { id: c.id, kind: c.kind, change_db: c.changeDb, box: c.box },
      })),
    })}\n`,
  );
  return result;
}

/**
 * The planted changes as a class map on the scenes' grid (1 increase, 2 decrease, 0 none), and a
 * mask of every pixel within `marginM` of a ship of any date (ships that move, come or go are real
 * changes too, which an evaluation of area changes leaves out).
 */
export function plantedChangeRasters(r: SceneResult, marginM = 60): { truth: Uint8Array; ships: Uint8Array } {
  const { size, geoTransform: gt } = r;
  const s = gt[1];
  const truth = new Uint8Array(size * size);
  for (const c of r.changes) {
    const c0 = Math.round((c.box[0] - gt[0]) / s);
    const c1 = Math.round((c.box[2] - gt[0]) / s);
    const r0 = Math.round((gt[3] - c.box[3]) / s);
    const r1 = Math.round((gt[3] - c.box[1]) / s);
    for (let y = Math.max(0, r0); y < Math.min(size, r1); y++)
      truth.fill(c.changeDb > 0 ? 1 : 2, y * size + Math.max(0, c0), y * size + Math.min(size, c1));
  }
  const ships = new Uint8Array(size * size);
  for (const sc of r.scenes)
    for (const q of sc.ships) {
      const rad = (q.lengthM / 2 + marginM) / s;
      const cx = (q.x - gt[0]) / s;
      const cy = (gt[3] - q.y) / s;
      for (let y = Math.max(0, Math.floor(cy - rad)); y <= Math.min(size - 1, Math.ceil(cy + rad)); y++)
        for (let x = Math.max(0, Math.floor(cx - rad)); x <= Math.min(size - 1, Math.ceil(cx + rad)); x++)
          if (Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= rad) ships[y * size + x] = 1;
    }
  return { truth, ships };
}
