import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { ConfidentialityLabel } from '../access/labels.js';
import { ORG_CODE, RELEASABLE_TO } from '../access/labels.js';
import { ValidationError } from '../errors.js';
import { naturalEarthLand } from '../exploit/landmask.js';
import { transformPoint } from '../geo/crs.js';
import { geodeticToEcf } from '../geo/ecef.js';
import { Sicd } from '../io/nitf/sicd.js';
import type { AreaId, CampaignPass, VesselState } from './campaign-plan.js';
import { AREAS, campaignPasses, harbourVessels, vesselAt } from './campaign-plan.js';
import type { AreaBackground } from './campaign-scene.js';
import { airfieldBackground, harbourBackground, passSigma0 } from './campaign-scene.js';
import { groundToGrid, sicdTemplateForPass } from './campaign-sicd.js';
import { grdToMap, mapToGrd, writeSimulatedSafe } from './simulate-safe.js';
import { writeSceneSicd } from './simulate-scene-sicd.js';

/** Bumped when the products or the manifest change shape, so that an older campaign is rewritten. */
export const CAMPAIGN_VERSION = 3;
const MANIFEST = 'manifest.json';
/** Equivalent number of looks of the Sentinel-1-like GRDs (IW GRDH: 4.4). */
const GRD_LOOKS = 4.4;

export interface CampaignOptions {
  seed?: number;
  /** Day 0, YYYY-MM-DD (default 2026-06-01). */
  startDate?: string;
  /** The two partner organisations' releasability codes (default GBR and NLD). */
  partners?: [string, string];
  /** Called after each product: done of total, and what was written. */
  onProgress?: (done: number, total: number, message: string) => void;
}

export interface ManifestShip extends Omit<VesselState, 'x' | 'y'> {
  lon: number;
  lat: number;
  /** UTM 31N (EPSG:32631) metres. */
  x: number;
  y: number;
  /** Image position: line and pixel of a GRD, row and column of a SICD (pixel centres at integers). */
  image: { line: number; pixel: number } | { row: number; col: number };
}

export interface ManifestProduct {
  id: string;
  /** Relative to the campaign folder. */
  path: string;
  format: CampaignPass['format'];
  area: AreaId;
  datetime: string;
  platform: string;
  orbitState: CampaignPass['orbitState'];
  relativeOrbit: number | null;
  absoluteOrbit: number | null;
  track: string;
  lookSide: 'right';
  /** The previous pass of the same track over the same area (change detection's pair), or null. */
  repeatOf: string | null;
  footprint: [number, number][];
  label: ConfidentialityLabel;
  releasableTo: string[];
  truth: { ships: ManifestShip[]; changes: { id: string; present: boolean }[] };
}

export interface CampaignManifest {
  campaign: 'sarbridge demo campaign';
  version: number;
  seed: number;
  startDate: string;
  partners: [string, string];
  areas: { id: AreaId; name: string; lon: number; lat: number; bbox: [number, number, number, number] }[];
  products: ManifestProduct[];
  /** The planted area change: a lon/lat polygon, its dB change, and the passes it appears between. */
  changes: {
    id: string;
    area: AreaId;
    kind: string;
    changeDb: number;
    polygon: { type: 'Polygon'; coordinates: [number, number][][] };
    between: [string, string];
  }[];
  /** Repeat pairs of the same track, and the planted area change each should show (ships aside). */
  pairs: { before: string; after: string; area: AreaId; change: string | null }[];
  simplifications: string[];
}

const label = (codes: string[]): ConfidentialityLabel => ({
  policy: 'NATO',
  classification: 'UNCLASSIFIED',
  categories: [{ tagName: RELEASABLE_TO, type: 'permissive', values: [...codes].sort() }],
});

const compact = (iso: string) => iso.slice(0, 19).replace(/[-:]/g, '');

function checkOptions(o: CampaignOptions): { seed: number; startDate: string; partners: [string, string] } {
  const seed = o.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1)
    throw new ValidationError(`seed must be an integer from 0 to 2147483647, got ${seed}`);
  const startDate = o.startDate ?? '2026-06-01';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(startDate) || Number.isNaN(Date.parse(`${startDate}T00:00:00Z`)))
    throw new ValidationError(`start date must be YYYY-MM-DD, got '${startDate}'`);
  const partners = o.partners ?? ['GBR', 'NLD'];
  if (partners.length !== 2 || partners[0] === partners[1] || !partners.every((p) => ORG_CODE.test(p)))
    throw new ValidationError(
      `partners must be two different organisation codes (ISO 3166 alpha-3 or a tetragraph), got '${partners.join(',')}'`,
    );
  return { seed, startDate, partners: [partners[0], partners[1]] };
}

/** True when `dir` holds a finished campaign of these options whose products all exist. */
async function finished(dir: string, o: ReturnType<typeof checkOptions>): Promise<CampaignManifest | null> {
  let m: CampaignManifest;
  try {
    m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as CampaignManifest;
  } catch {
    return null;
  }
  const same =
    m.version === CAMPAIGN_VERSION &&
    m.seed === o.seed &&
    m.startDate === o.startDate &&
    m.partners?.join() === o.partners.join();
  return same && m.products.every((p) => existsSync(join(dir, p.path))) ? m : null;
}

/**
 * `sarbridge simulate campaign <dir>`: the demonstration campaign that `npm start` ingests. Six passes
 * over three days over a harbour (the Gulf of Fos: vessels at anchor, arriving, leaving, shifting
 * anchorage and under way) and an airfield (Nimes-Garons: runway, apron, hangars, aircraft, and one planted
 * change, new construction of +8 dB between the first and second passes of its track), as
 * Sentinel-1-like GRD SAFEs (descending and ascending) and as SICDs of two X-band satellites (see campaign-plan.ts for the
 * passes, orbits and labels). Writes `<dir>/products/` and, last, `<dir>/manifest.json` with each
 * product's path, footprint, suggested release label and planted truth (ships with their image
 * positions, the change polygon), the repeat pairs, and what the simulation leaves out. A folder that
 * already holds a finished campaign of the same options is kept as it is (`reused: true`); an
 * unfinished one (no manifest) is written again.
 * @example await simulateCampaign('out/campaign', { seed: 1 })
 */
export async function simulateCampaign(
  dir: string,
  opts: CampaignOptions = {},
): Promise<{ manifest: CampaignManifest; manifestPath: string; reused: boolean }> {
  const o = checkOptions(opts);
  const manifestPath = join(dir, MANIFEST);
  const done = await finished(dir, o);
  if (done) return { manifest: done, manifestPath, reused: true };
  await rm(manifestPath, { force: true });
  const productsDir = join(dir, 'products');
  const work = join(dir, '.work');
  await rm(productsDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
  await mkdir(productsDir, { recursive: true });
  await mkdir(work, { recursive: true });

  const passes = campaignPasses(o.startDate, o.partners);
  const total = passes.length;
  const land = await naturalEarthLand();
  const backgrounds: Record<AreaId, AreaBackground> = {
    harbour: harbourBackground(AREAS.harbour, land, o.seed),
    airfield: airfieldBackground(AREAS.airfield, o.seed),
  };
  const hb = backgrounds.harbour;
  const [hx0, hs, , hy0] = hb.area.geoTransform;
  const vessels = harbourVessels(
    o.seed,
    hb.area,
    passes.filter((p) => p.area === 'harbour').map((p) => Date.parse(p.datetime)),
    (x, y) => {
      const c = Math.floor((x - hx0) / hs);
      const r = Math.floor((hy0 - y) / hs);
      return (
        c >= 0 &&
        r >= 0 &&
        c < hb.area.size &&
        r < hb.area.size &&
        hb.seaClearance[r * hb.area.size + c] >= 60
      );
    },
  );
  const airfieldPasses = passes.filter((p) => p.area === 'airfield');
  const changeBetween: [string, string] = [airfieldPasses[0].id, airfieldPasses[1].id];
  const changeSinceMs = (Date.parse(airfieldPasses[0].datetime) + Date.parse(airfieldPasses[1].datetime)) / 2;
  const change = backgrounds.airfield.change as NonNullable<AreaBackground['change']>;
  const toLonLat = (x: number, y: number) => transformPoint(AREAS.airfield.epsg, 4326, x, y);
  const [bx0, by0, bx1, by1] = change.box;
  const changeRing = [
    toLonLat(bx0, by0),
    toLonLat(bx1, by0),
    toLonLat(bx1, by1),
    toLonLat(bx0, by1),
    toLonLat(bx0, by0),
  ];

  const products: ManifestProduct[] = [];
  const lastOfTrack = new Map<string, string>();
  for (const [k, pass] of passes.entries()) {
    const timeMs = Date.parse(pass.datetime);
    const bg = backgrounds[pass.area];
    const states =
      pass.area === 'harbour'
        ? vessels.map((v) => vesselAt(v, timeMs)).filter((v): v is VesselState => v !== null)
        : [];
    const changed = pass.area === 'airfield' && timeMs >= changeSinceMs;
    const planted = passSigma0(bg, states, changed, pass.datetime, o.seed * 1000 + k + 1);
    const lonLat = (s: VesselState) => transformPoint(bg.area.epsg, 4326, s.x, s.y);
    let path: string;
    let footprint: [number, number][];
    let ships: ManifestShip[];
    if (pass.format === 'sentinel-1-safe') {
      const safe = await writeSimulatedSafe(work, {
        ...planted,
        looks: GRD_LOOKS,
        orbit: {
          pass: pass.orbitState,
          absoluteOrbit: pass.absoluteOrbit ?? 0,
          relativeOrbit: pass.relativeOrbit ?? 0,
          dataTakeId: (o.seed * 7919 + k * 104_729) % 0xffffff,
        },
      });
      path = join(productsDir, basename(safe.safeDir));
      await rename(safe.safeDir, path);
      const g = safe.geometry;
      footprint = [
        [0, 0],
        [0, g.width - 1],
        [g.height - 1, g.width - 1],
        [g.height - 1, 0],
        [0, 0],
      ].map(([l, p]) => {
        const [x, y] = grdToMap(g, l, p);
        return transformPoint(bg.area.epsg, 4326, x, y);
      });
      ships = states.flatMap((s) => {
        const [line, pixel] = mapToGrd(g, s.x, s.y);
        if (line < 0 || pixel < 0 || line > g.height - 1 || pixel > g.width - 1) return [];
        const [lon, lat] = lonLat(s);
        return [{ ...s, lon, lat, image: { line, pixel } }];
      });
    } else {
      const coreName = `${pass.platform.replace('-', '')}_SM_${compact(pass.datetime)}_${pass.area.toUpperCase()}`;
      const { template, geometry } = sicdTemplateForPass({
        scpLon: bg.area.lon,
        scpLat: bg.area.lat,
        collectStart: pass.datetime,
        orbitState: pass.orbitState,
        incidenceDeg: pass.incidenceDeg ?? 30,
        collectorName: pass.platform,
        coreName,
      });
      const r = await writeSceneSicd(work, template, planted);
      path = join(productsDir, `${coreName}.nitf`);
      await rename(r.path, path);
      const sicd = await Sicd.open(path);
      await sicd.close();
      const m = sicd.meta;
      footprint = [...m.imageCorners, m.imageCorners[0]].map(([lat, lon]) => [lon, lat]);
      ships = states.flatMap((s) => {
        const [lon, lat] = lonLat(s);
        const { xrowM, ycolM } = groundToGrid(geometry, geodeticToEcf(lat, lon, 0));
        const row = xrowM / m.grid.row.ssM + m.scpPixel.row - m.firstRow;
        const col = ycolM / m.grid.col.ssM + m.scpPixel.col - m.firstCol;
        if (row < 0 || col < 0 || row > m.numRows - 1 || col > m.numCols - 1) return [];
        return [{ ...s, lon, lat, image: { row, col } }];
      });
    }
    const trackKey = `${pass.track}/${pass.area}`;
    products.push({
      id: pass.id,
      path: relative(dir, path),
      format: pass.format,
      area: pass.area,
      datetime: pass.datetime,
      platform: pass.platform,
      orbitState: pass.orbitState,
      relativeOrbit: pass.relativeOrbit,
      absoluteOrbit: pass.absoluteOrbit,
      track: pass.track,
      lookSide: 'right',
      repeatOf: lastOfTrack.get(trackKey) ?? null,
      footprint,
      label: label(pass.releasableTo),
      releasableTo: [...pass.releasableTo].sort(),
      truth: { ships, changes: pass.area === 'airfield' ? [{ id: 'change-1', present: changed }] : [] },
    });
    lastOfTrack.set(trackKey, pass.id);
    opts.onProgress?.(k + 1, total, `${pass.id} ${pass.format} ${pass.area} ${pass.datetime}`);
  }
  await rm(work, { recursive: true, force: true });

  const bbox = (a: (typeof AREAS)[AreaId]): [number, number, number, number] => {
    const [x0, s, , y0] = a.geoTransform;
    const [w, n] = transformPoint(a.epsg, 4326, x0, y0);
    const [e, sth] = transformPoint(a.epsg, 4326, x0 + a.size * s, y0 - a.size * s);
    return [w, sth, e, n];
  };
  const manifest: CampaignManifest = {
    campaign: 'sarbridge demo campaign',
    version: CAMPAIGN_VERSION,
    seed: o.seed,
    startDate: o.startDate,
    partners: o.partners,
    areas: Object.values(AREAS).map((a) => ({
      id: a.id,
      name: a.name,
      lon: a.lon,
      lat: a.lat,
      bbox: bbox(a),
    })),
    products,
    changes: [
      {
        id: 'change-1',
        area: 'airfield',
        kind: change.kind,
        changeDb: change.changeDb,
        polygon: { type: 'Polygon', coordinates: [changeRing] },
        between: changeBetween,
      },
    ],
    pairs: products
      .filter((p) => p.repeatOf !== null)
      .map((p) => ({
        before: p.repeatOf as string,
        after: p.id,
        area: p.area,
        change: p.repeatOf === changeBetween[0] && p.id === changeBetween[1] ? 'change-1' : null,
      })),
    simplifications: [
      "Sentinel-1's 12-day repeat cycle is compressed into one day: the second harbour GRD keeps the first one's relative orbit with absolute orbit + 175.",
      'The SICD platforms fly a straight line through the scene (exact for the INCA range model); SAFE geometry is a flat-earth descending pass.',
      'Moving vessels are imaged at their true position (no azimuth displacement).',
      'Heights are 0 m above the WGS84 ellipsoid (no terrain, no geoid).',
    ],
  };
  const tmp = `${manifestPath}.tmp`;
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(tmp, manifestPath);
  return { manifest, manifestPath, reused: false };
}
