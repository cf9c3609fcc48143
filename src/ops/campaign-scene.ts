import type { LonLatPolygon } from '../exploit/landmask.js';
import { rasterizeLand } from '../exploit/landmask.js';
import { transformPoint } from '../geo/crs.js';
import { gammaUnitMean, mulberry32 } from '../util/random.js';
import type { CampaignArea, VesselState } from './campaign-plan.js';
import type { PlantedDate, PlantedShip } from './simulate-scene.js';

/**
 * The planted sigma0 of the campaign's areas (linear, before speckle, on each area's 10 m UTM grid):
 * a static background per area, and per pass the sea's K-distribution texture, the vessels present
 * and the airfield's planted change. The product writers sample it with speckle of their own.
 */

/** Sea sigma0 (-17 dB, C/X band VV at 30-40 degrees, moderate wind) and its texture order. */
export const SEA_SIGMA0 = 0.02;
const SEA_ORDER = 4;

/** A box [minX, minY, maxX, maxY] in map coordinates and its sigma0. */
type Box = [number, number, number, number];

export interface AreaBackground {
  area: CampaignArea;
  /** Static sigma0 (sea without its texture). */
  sigma0: Float32Array;
  /** 1 where the pixel is sea (textured per pass, where vessels may be). */
  sea: Uint8Array;
  /** The planted change: a box whose sigma0 rises by changeDb from `sinceMs` on (airfield only). */
  change: { box: Box; changeDb: number; kind: 'construction' } | null;
  /** Distance of each sea pixel's centre from land, pixels, capped (for placing vessels). */
  seaClearance: Uint8Array;
}

/** A smooth field in [-1, 1]: a sum of seeded plane waves of wavelength about 400 m to 3 km. */
function smoothField(rand: () => number, waves: number): (x: number, y: number) => number {
  const w = Array.from({ length: waves }, () => {
    const k = (2 * Math.PI) / (400 + rand() * 2600);
    const a = rand() * Math.PI;
    return { kx: k * Math.cos(a), ky: k * Math.sin(a), ph: rand() * 2 * Math.PI };
  });
  return (x, y) => {
    let s = 0;
    for (const q of w) s += Math.sin(q.kx * x + q.ky * y + q.ph);
    return s / waves;
  };
}

function fillBox(a: CampaignArea, out: Float32Array, b: Box, v: number | ((old: number) => number)): void {
  const [x0, s, , y0] = a.geoTransform;
  const c0 = Math.max(0, Math.round((b[0] - x0) / s));
  const c1 = Math.min(a.size, Math.round((b[2] - x0) / s));
  const r0 = Math.max(0, Math.round((y0 - b[3]) / s));
  const r1 = Math.min(a.size, Math.round((y0 - b[1]) / s));
  for (let r = r0; r < r1; r++)
    for (let c = c0; c < c1; c++) {
      const i = r * a.size + c;
      out[i] = typeof v === 'number' ? v : v(out[i]);
    }
}

/** Chessboard distance to land in pixels, capped at 255 (two passes). */
function clearance(sea: Uint8Array, n: number): Uint8Array {
  const d = new Uint8Array(n * n);
  for (let i = 0; i < d.length; i++) d[i] = sea[i] ? 255 : 0;
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      const i = r * n + c;
      if (d[i] === 0) continue;
      let m = d[i];
      if (r > 0)
        m = Math.min(m, d[i - n] + 1, c > 0 ? d[i - n - 1] + 1 : 255, c < n - 1 ? d[i - n + 1] + 1 : 255);
      if (c > 0) m = Math.min(m, d[i - 1] + 1);
      d[i] = m;
    }
  for (let r = n - 1; r >= 0; r--)
    for (let c = n - 1; c >= 0; c--) {
      const i = r * n + c;
      if (d[i] === 0) continue;
      let m = d[i];
      if (r < n - 1)
        m = Math.min(m, d[i + n] + 1, c > 0 ? d[i + n - 1] + 1 : 255, c < n - 1 ? d[i + n + 1] + 1 : 255);
      if (c < n - 1) m = Math.min(m, d[i + 1] + 1);
      d[i] = m;
    }
  return d;
}

/**
 * The harbour: Natural Earth's coast (the land the detector masks by default), textured land, bright
 * port blocks within 2 km of the water, and sea.
 */
export function harbourBackground(a: CampaignArea, land: LonLatPolygon[], seed: number): AreaBackground {
  const n = a.size;
  const mask = rasterizeLand(land, { epsg: a.epsg, geoTransform: a.geoTransform, width: n, height: n }, 0);
  const rand = mulberry32(seed * 7_919 + 1);
  const tex = smoothField(rand, 8);
  const sigma0 = new Float32Array(n * n);
  const sea = new Uint8Array(n * n);
  const [x0, s, , y0] = a.geoTransform;
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      const i = r * n + c;
      if (mask[i]) sigma0[i] = 0.08 * 10 ** (0.35 * tex(c * s, r * s));
      else {
        sea[i] = 1;
        sigma0[i] = SEA_SIGMA0;
      }
    }
  const seaClearance = clearance(sea, n);
  // Port blocks: land pixels with water 100-1,500 m to their west or south (the gulf's shores).
  for (let k = 0, placed = 0; k < 4000 && placed < 24; k++) {
    const c = Math.floor(rand() * n);
    const r = Math.floor(rand() * n);
    if (!mask[r * n + c]) continue;
    const reach = Math.floor(10 + rand() * 140);
    const wc = c - reach;
    const sr = r + reach;
    const nearWater = (wc >= 0 && sea[r * n + wc] === 1) || (sr < n && sea[sr * n + c] === 1);
    if (!nearWater) continue;
    const w = 60 + rand() * 180;
    const h = 40 + rand() * 120;
    const x = x0 + (c + 0.5) * s;
    const y = y0 - (r + 0.5) * s;
    fillBox(a, sigma0, [x, y - h, x + w, y], 1 + rand() * 1.5);
    placed++;
  }
  // Blocks must not spill onto the sea.
  for (let i = 0; i < sigma0.length; i++) if (sea[i]) sigma0[i] = SEA_SIGMA0;
  return { area: a, sigma0, sea, change: null, seaClearance };
}

/** The airfield's runway, taxiway, apron, hangars and parked aircraft, map boxes. */
export function airfieldLayout(a: CampaignArea): {
  runway: Box;
  taxiway: Box;
  apron: Box;
  hangars: Box[];
  aircraft: Box[];
  change: Box;
} {
  const [x0, s, , y0] = a.geoTransform;
  const cx = x0 + (a.size * s) / 2;
  const cy = y0 - (a.size * s) / 2;
  const box = (dx: number, dy: number, w: number, h: number): Box => [
    cx + dx,
    cy + dy,
    cx + dx + w,
    cy + dy + h,
  ];
  return {
    runway: box(-22, -1225, 45, 2450),
    taxiway: box(170, -1100, 23, 2200),
    apron: box(200, -300, 220, 600),
    hangars: [0, 1, 2, 3, 4].map((k) => box(450, -280 + k * 120, 60, 80)),
    aircraft: [0, 1, 2, 3, 4, 5].map((k) => box(260, -260 + k * 95, 35, 35)),
    // The planted change: new construction (hard standing, buildings) north-east of the apron.
    change: box(480, 420, 450, 300),
  };
}

/** The airfield: field parcels, a village, the airfield, and the planted change (+8 dB). */
export function airfieldBackground(a: CampaignArea, seed: number): AreaBackground {
  const n = a.size;
  const rand = mulberry32(seed * 6_151 + 3);
  const tex = smoothField(rand, 6);
  const sigma0 = new Float32Array(n * n);
  // Parcels of 300-600 m: a grid with jittered edges, each -15 to -7 dB.
  const parcel = 40;
  const cells = Math.ceil(n / parcel) + 1;
  const level = Float32Array.from({ length: cells * cells }, () => 10 ** ((-15 + rand() * 8) / 10));
  const s = a.spacingM;
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      const pr = Math.floor((r + 8 * tex(c * s * 0.3, 0)) / parcel + 1);
      const pc = Math.floor((c + 8 * tex(0, r * s * 0.3)) / parcel + 1);
      const p = Math.max(0, Math.min(cells - 1, pr)) * cells + Math.max(0, Math.min(cells - 1, pc));
      sigma0[r * n + c] = level[p] * 10 ** (0.1 * tex(c * s, r * s));
    }
  const [x0, , , y0] = a.geoTransform;
  // A village in the south-west quarter: bright blocks.
  for (let k = 0; k < 40; k++) {
    const x = x0 + (0.15 + rand() * 0.15) * n * s;
    const y = y0 - (0.65 + rand() * 0.15) * n * s;
    fillBox(a, sigma0, [x, y, x + 30 + rand() * 60, y + 30 + rand() * 60], 0.8 + rand() * 1.5);
  }
  const l = airfieldLayout(a);
  fillBox(a, sigma0, l.runway, 0.002);
  fillBox(a, sigma0, l.taxiway, 0.003);
  fillBox(a, sigma0, l.apron, 0.005);
  for (const h of l.hangars) fillBox(a, sigma0, h, 2.5);
  for (const p of l.aircraft) fillBox(a, sigma0, p, 8);
  // The change's box is a plain field before it (one level, so the change is one ratio).
  fillBox(a, sigma0, l.change, 0.05);
  return {
    area: a,
    sigma0,
    sea: new Uint8Array(n * n),
    change: { box: l.change, changeDb: 8, kind: 'construction' },
    seaClearance: new Uint8Array(n * n),
  };
}

/**
 * The planted sigma0 of one pass: the background, the sea's texture (gamma of order 4, drawn anew
 * each pass), the change when `changed`, and the vessels as oriented rectangles `scrDb` above the sea.
 */
export function passSigma0(
  bg: AreaBackground,
  vessels: VesselState[],
  changed: boolean,
  date: string,
  seed: number,
): PlantedDate {
  const a = bg.area;
  const n = a.size;
  const mean = new Float32Array(bg.sigma0);
  const rand = mulberry32(seed);
  for (let i = 0; i < mean.length; i++) if (bg.sea[i]) mean[i] *= gammaUnitMean(rand, SEA_ORDER);
  if (changed && bg.change) {
    const f = 10 ** (bg.change.changeDb / 10);
    fillBox(a, mean, bg.change.box, (old) => old * f);
  }
  const [x0, s, , y0] = a.geoTransform;
  const ships: PlantedShip[] = [];
  for (const v of vessels) {
    const h = (v.headingDeg * Math.PI) / 180;
    const ux = Math.sin(h);
    const uy = Math.cos(h);
    const half = v.lengthM / 2 + s;
    const bright = SEA_SIGMA0 * 10 ** (v.scrDb / 10);
    const c0 = Math.max(0, Math.floor((v.x - half - x0) / s));
    const c1 = Math.min(n - 1, Math.ceil((v.x + half - x0) / s));
    const r0 = Math.max(0, Math.floor((y0 - v.y - half) / s));
    const r1 = Math.min(n - 1, Math.ceil((y0 - v.y + half) / s));
    for (let r = r0; r <= r1; r++)
      for (let c = c0; c <= c1; c++) {
        const dx = x0 + (c + 0.5) * s - v.x;
        const dy = y0 - (r + 0.5) * s - v.y;
        if (Math.abs(dx * ux + dy * uy) <= v.lengthM / 2 && Math.abs(-dx * uy + dy * ux) <= v.widthM / 2)
          mean[r * n + c] = bright;
      }
    const [lon, lat] = transformPoint(a.epsg, 4326, v.x, v.y);
    ships.push({
      id: v.id,
      x: v.x,
      y: v.y,
      lon,
      lat,
      lengthM: v.lengthM,
      widthM: v.widthM,
      headingDeg: v.headingDeg,
      scrDb: v.scrDb,
    });
  }
  return { mean, size: n, geoTransform: a.geoTransform, epsg: a.epsg, date, seed, ships };
}
