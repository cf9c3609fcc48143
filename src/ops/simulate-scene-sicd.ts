import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { transformPoint } from '../geo/crs.js';
import { add, geodeticToEcf, norm } from '../geo/ecef.js';
import { writeSicdNitf } from '../io/nitf/nitf-writer.js';
import type { SicdMetadata } from '../io/nitf/sicd.js';
import { Sicd } from '../io/nitf/sicd.js';
import { polyval2, sicdImageToGround } from '../io/nitf/sicd-projection.js';
import { complexGaussian, mulberry32 } from '../util/random.js';
import type { PlantedDate } from './simulate-scene.js';

/** A real SICD whose collection geometry and radiometry simulated SICDs take. */
export interface SicdTemplate {
  path: string;
  meta: SicdMetadata;
  xml: string;
}

export async function openSicdTemplate(path: string): Promise<SicdTemplate> {
  const sicd = await Sicd.open(path);
  await sicd.close();
  if (!sicd.meta.sigmaZeroSfPoly)
    throw new ValidationError(`${path}: the SICD template has no Radiometric.SigmaZeroSFPoly`);
  // Projects, or says why not (RGZERO / INCA only).
  sicdImageToGround(sicd.meta, [[0, 0]]);
  return { path, meta: sicd.meta, xml: sicd.xml };
}

const LATTICE = 16;

/**
 * Map coordinates (in `epsg`) of every pixel of a rows x cols SICD image: the SICD projection at the
 * SCP height on a lattice every 16 pixels, interpolated bilinearly in between.
 */
function pixelMap(m: SicdMetadata, epsg: number): { x: Float64Array; y: Float64Array } {
  const { numRows: rows, numCols: cols } = m;
  const lr = Array.from({ length: Math.ceil((rows - 1) / LATTICE) + 1 }, (_, i) =>
    Math.min(i * LATTICE, rows - 1),
  );
  const lc = Array.from({ length: Math.ceil((cols - 1) / LATTICE) + 1 }, (_, i) =>
    Math.min(i * LATTICE, cols - 1),
  );
  const pts: [number, number][] = [];
  for (const r of lr) for (const c of lc) pts.push([r, c]);
  const ground = sicdImageToGround(m, pts).map(([lat, lon]) => transformPoint(4326, epsg, lon, lat));
  const x = new Float64Array(rows * cols);
  const y = new Float64Array(rows * cols);
  const nc = lc.length;
  for (let r = 0; r < rows; r++) {
    const j = Math.min(Math.floor(r / LATTICE), lr.length - 2);
    const fy = lr[j + 1] > lr[j] ? (r - lr[j]) / (lr[j + 1] - lr[j]) : 0;
    for (let c = 0; c < cols; c++) {
      const i = Math.min(Math.floor(c / LATTICE), nc - 2);
      const fx = lc[i + 1] > lc[i] ? (c - lc[i]) / (lc[i + 1] - lc[i]) : 0;
      const k = j * nc + i;
      const w00 = (1 - fy) * (1 - fx);
      const w01 = (1 - fy) * fx;
      const w10 = fy * (1 - fx);
      const w11 = fy * fx;
      x[r * cols + c] =
        w00 * ground[k][0] + w01 * ground[k + 1][0] + w10 * ground[k + nc][0] + w11 * ground[k + nc + 1][0];
      y[r * cols + c] =
        w00 * ground[k][1] + w01 * ground[k + 1][1] + w10 * ground[k + nc][1] + w11 * ground[k + nc + 1][1];
    }
  }
  return { x, y };
}

/** Ground metres per image row and per image column near the SCP. */
function groundSpacing(m: SicdMetadata): { row: number; col: number } {
  const r0 = m.scpPixel.row - m.firstRow;
  const c0 = m.scpPixel.col - m.firstCol;
  const [a, b, c] = sicdImageToGround(m, [
    [r0, c0],
    [r0 + 10, c0],
    [r0, c0 + 10],
  ]).map(([lat, lon, h]) => geodeticToEcf(lat, lon, h));
  return { row: norm(add(b, a, -1)) / 10, col: norm(add(c, a, -1)) / 10 };
}

/**
 * The SICD XML of `xml` for the image `m` describes (its size and offset in the full image): ImageData
 * NumRows, NumCols, FirstRow and FirstCol, and GeoData.ImageCorners, the image's corner pixels
 * projected at the SCP height (or `corners`, already projected).
 */
export function resizedSicdXml(
  xml: string,
  m: SicdMetadata,
  corners: [number, number, number][] = sicdImageToGround(m, [
    [0, 0],
    [0, m.numCols - 1],
    [m.numRows - 1, m.numCols - 1],
    [m.numRows - 1, 0],
  ]),
): string {
  const imageData = (x: string, tag: string, v: number) =>
    x.replace(new RegExp(`(<(?:\\w+:)?ImageData>[\\s\\S]*?<(?:\\w+:)?${tag}>)\\d+(<)`), `$1${v}$2`);
  let out = imageData(xml, 'NumRows', m.numRows);
  out = imageData(out, 'NumCols', m.numCols);
  out = imageData(out, 'FirstRow', m.firstRow);
  out = imageData(out, 'FirstCol', m.firstCol);
  let k = 0;
  return out.replace(
    /(<(?:\w+:)?ICP\b[^>]*>\s*<(?:\w+:)?Lat>)[^<]*(<\/(?:\w+:)?Lat>\s*<(?:\w+:)?Lon>)[^<]*(<)/g,
    (_s, p1, p2, p3) => {
      const [lat, lon] = corners[k++] ?? [Number.NaN, Number.NaN];
      return `${p1}${lat.toPrecision(17)}${p2}${lon.toPrecision(17)}${p3}`;
    },
  );
}

/**
 * One acquisition of a simulated scene as a SICD: the template's collection geometry and radiometry,
 * an image centred on its SCP and small enough to lie inside the scene at any orientation (at most
 * 8192 columns), CollectStart set to the date, ImageData and ImageCorners rewritten; single-look
 * complex pixels z = sqrt(sigma0 / SF) (g1 + i g2) / sqrt(2) with sigma0 the scene's planted mean at
 * the nearest grid pixel of the pixel's ground position and SF the template's SigmaZeroSFPoly.
 * The ships whose centre falls inside the image go to `<name>.truth.geojson`.
 */
export async function writeSceneSicd(
  outDir: string,
  template: SicdTemplate,
  scene: PlantedDate,
): Promise<{ path: string; truthPath: string; rows: number; cols: number }> {
  const t = template.meta;
  const { mean, size, geoTransform: gt, epsg } = scene;
  const s = gt[1];
  // The image's half-diagonal stays within half the scene's side.
  const spacing = groundSpacing({ ...t, firstRow: 0, firstCol: 0 });
  const half = (0.5 * size * s) / Math.SQRT2;
  const scpRow = t.scpPixel.row;
  const scpCol = t.scpPixel.col;
  const rows = Math.min(
    2 * Math.min(scpRow, t.fullImage.numRows - 1 - scpRow),
    Math.floor(half / spacing.row),
    9999,
  );
  const cols = Math.min(
    2 * Math.min(scpCol, t.fullImage.numCols - 1 - scpCol),
    Math.floor(half / spacing.col),
    8192,
  );
  if (rows < 8 || cols < 8)
    throw new ValidationError(
      `${template.path}: a scene of ${size} x ${size} pixels at ${s} m leaves room for a ${cols} x ${rows} SICD; make it larger`,
    );
  const firstRow = scpRow - Math.floor(rows / 2);
  const firstCol = scpCol - Math.floor(cols / 2);
  const m: SicdMetadata = { ...t, numRows: rows, numCols: cols, firstRow, firstCol };
  const corners = sicdImageToGround(m, [
    [0, 0],
    [0, cols - 1],
    [rows - 1, cols - 1],
    [rows - 1, 0],
  ]);
  const xml = resizedSicdXml(template.xml, m, corners).replace(
    /(<(?:\w+:)?CollectStart>)[^<]*(<)/,
    `$1${new Date(scene.date).toISOString()}$2`,
  );

  const { x, y } = pixelMap(m, epsg);
  const sf = t.sigmaZeroSfPoly as number[][];
  const rand = mulberry32(scene.seed * 9_176_461 + Math.round(Date.parse(scene.date) / 1000));
  const pixels = new Float32Array(rows * cols * 2);
  for (let r = 0; r < rows; r++) {
    const xrow = (r + firstRow - scpRow) * t.grid.row.ssM;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const gc = Math.min(size - 1, Math.max(0, Math.floor((x[i] - gt[0]) / s)));
      const gr = Math.min(size - 1, Math.max(0, Math.floor((gt[3] - y[i]) / s)));
      const ycol = (c + firstCol - scpCol) * t.grid.col.ssM;
      const amp = Math.sqrt(mean[gr * size + gc] / polyval2(sf, xrow, ycol) / 2);
      complexGaussian(rand, amp, pixels, 2 * i);
    }
  }
  const tag = scene.date.slice(0, 10);
  const path = join(outDir, `scene_${tag}.sicd.nitf`);
  await writeFile(
    path,
    writeSicdNitf({
      title: `SICD: sarbridge simulate scene ${scene.seed} ${tag}`,
      dateTime: scene.date.replace(/[-:T]/g, '').slice(0, 14),
      rows,
      cols,
      pixels,
      xml,
    }),
  );
  // Ships inside the image: the footprint's corners in map coordinates, a convex quadrilateral.
  const quad = corners.map(([lat, lon]) => transformPoint(4326, epsg, lon, lat));
  const inside = (px: number, py: number) => {
    let sign = 0;
    for (let e = 0; e < 4; e++) {
      const [ax, ay] = quad[e];
      const [bx, by] = quad[(e + 1) % 4];
      const cr = Math.sign((bx - ax) * (py - ay) - (by - ay) * (px - ax));
      if (cr !== 0 && sign !== 0 && cr !== sign) return false;
      if (cr !== 0) sign = cr;
    }
    return true;
  };
  const truthPath = join(outDir, `scene_${tag}.sicd.truth.geojson`);
  await writeFile(
    truthPath,
    `${JSON.stringify({
      type: 'FeatureCollection',
      features: scene.ships
        .filter((q) => inside(q.x, q.y))
        .map((q) => ({
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [q.lon, q.lat] },
          properties: { id: q.id, length_m: q.lengthM, heading_deg: q.headingDeg, scr_db: q.scrDb },
        })),
    })}\n`,
  );
  return { path, truthPath, rows, cols };
}
