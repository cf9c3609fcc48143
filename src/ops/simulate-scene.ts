import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { isKnownEpsg, transformPoint } from '../geo/crs.js';
import type { GeoTransform } from '../geo/transform.js';
import { writeCog } from '../io/tiff/writer.js';
import { gammaUnitMean, mulberry32 } from '../util/random.js';

export interface SceneOptions {
  seed?: number;
  /** Pixels on a side (default 2048). */
  size?: number;
  /** Pixel spacing, metres (default 10). */
  spacingM?: number;
  /** CRS and upper-left corner of the grid (default UTM 31N near the Rhone delta). */
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
}

export interface PlantedChange {
  id: string;
  kind: 'construction' | 'flooding';
  /** Rectangle [minX, minY, maxX, maxY] in map coordinates. */
  box: [number, number, number, number];
  changeDb: number;
}

export interface SceneResult {
  scenes: { date: string; path: string; sidecar: string; truth: string; ships: PlantedShip[] }[];
  changes: PlantedChange[];
  changesPath: string;
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
 * a GeoJSON of the ships per date and of the changed areas.
 */
export async function simulateScene(outDir: string, opts: SceneOptions = {}): Promise<SceneResult> {
  const seed = opts.seed ?? 1;
  const size = opts.size ?? 2048;
  const s = opts.spacingM ?? 10;
  const epsg = opts.epsg ?? 32631;
  if (!Number.isInteger(size) || size < 64 || size > 16384)
    throw new ValidationError(`size must be an integer from 64 to 16384, got ${size}`);
  if (!(s > 0)) throw new ValidationError(`spacing must be positive, got ${s}`);
  if (!isKnownEpsg(epsg)) throw new ValidationError(`EPSG:${epsg} is not a CRS sarbridge can write`);
  const [x0, y0] = opts.origin ?? [640000, 4820000];
  const gt: GeoTransform = [x0, s, 0, y0, 0, -s];
  const dates = opts.dates ?? ['2026-06-01T06:00:00Z', '2026-06-13T06:00:00Z'];
  const looks = opts.looks ?? 4.4;
  const nu = opts.seaOrder ?? 4;
  const sea = opts.seaSigma0 ?? 0.02;
  const rand = mulberry32(seed);
  const coast = smoothField(rand, 4);
  const landTexture = smoothField(rand, 8);
  const coastCol = (row: number) => size * (0.62 + 0.12 * coast(0, row * 3));
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
  for (let tries = 0; ships.length < nShips && tries < nShips * 50; tries++) {
    const col = 40 + rand() * (size - 80);
    const row = 40 + rand() * (size - 80);
    const lengthM = 20 + rand() * 280;
    if (col + lengthM / s + 20 > coastCol(row)) continue;
    const x = x0 + (col + 0.5) * s;
    const y = y0 - (row + 0.5) * s;
    if (ships.some((q) => Math.hypot(q.x - x, q.y - y) < (q.lengthM + lengthM) / 2 + 60)) continue;
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
      scrDb: 10 + rand() * 15,
    });
  }
  // Changes between the first and later dates.
  const changes: PlantedChange[] = [];
  for (let k = 0; k < 4; k++) {
    const r = Math.floor(rand() * (size - 120));
    const c = Math.ceil(coastCol(r)) + 10 + Math.floor(rand() * Math.max(1, size - coastCol(r) - 130));
    if (c + 100 >= size) continue;
    const w = 40 + Math.floor(rand() * 60);
    const kind = k % 2 === 0 ? 'construction' : 'flooding';
    changes.push({
      id: `change-${changes.length + 1}`,
      kind,
      box: [x0 + c * s, y0 - (r + w) * s, x0 + (c + w) * s, y0 - r * s],
      changeDb: kind === 'construction' ? 6 : -8,
    });
  }
  await mkdir(outDir, { recursive: true });
  const result: SceneResult = { scenes: [], changes, changesPath: join(outDir, 'changes.geojson') };
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
    const sigma = new Float32Array(size * size);
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
          v *= gammaUnitMean(drand, looks);
        } else {
          v = sea * gammaUnitMean(drand, nu) * gammaUnitMean(drand, looks);
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
          if (Math.abs(along) <= q.lengthM / 2 && Math.abs(across) <= q.widthM / 2)
            sigma[row * size + col] = bright * gammaUnitMean(drand, looks);
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
    await writeFile(
      sidecar,
      `${JSON.stringify(
        {
          type: 'Feature',
          properties: {
            datetime: date,
            platform: 'sarbridge-sim',
            'sar:instrument_mode': 'STRIPMAP',
            'sar:frequency_band': 'C',
            'sar:polarizations': ['VV'],
            'sar:product_type': 'GEC',
            'sar:looks_equivalent_number': looks,
            unit: 'linear',
          },
        },
        null,
        2,
      )}\n`,
    );
    const truth = join(outDir, `truth_${tag}.geojson`);
    await writeFile(
      truth,
      `${JSON.stringify({
        type: 'FeatureCollection',
        features: dateShips.map((q) => ({
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
          },
        })),
      })}\n`,
    );
    result.scenes.push({ date, path, sidecar, truth, ships: dateShips });
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
