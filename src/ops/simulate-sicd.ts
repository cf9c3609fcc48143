import { writeFile } from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import { writeSicdNitf } from '../io/nitf/nitf-writer.js';
import { Sicd } from '../io/nitf/sicd.js';
import { polyval2, sicdImageToGround } from '../io/nitf/sicd-projection.js';
import { complexGaussian, gammaUnitMean, mulberry32 } from '../util/random.js';
import { resizedSicdXml } from './simulate-scene-sicd.js';

export interface FillSicdOptions {
  rows?: number;
  cols?: number;
  seed?: number;
  /** Sea sigma0 (default 0.02) and the number of bright point targets (default 12). */
  seaSigma0?: number;
  targets?: number;
}

export interface PlantedTarget {
  id: string;
  row: number;
  col: number;
  lat: number;
  lon: number;
  sigma0: number;
}

/**
 * `sarbridge simulate fill-sicd`: a SICD with the template's collection geometry and radiometry and a
 * planted scene: single-look complex pixels z = sqrt(sigma0 / SF) (g1 + i g2) / sqrt(2), g1, g2 standard
 * normal, SF the template's SigmaZeroSFPoly at the pixel, so that detected sigma0 recovers the planted
 * value: sea (gamma texture, order 4) and bright point targets. ImageData size and GeoData.ImageCorners
 * are rewritten for the new size (corners by sarbridge's projection). Truth goes to `<out>.geojson`.
 */
export async function fillSicd(
  template: string,
  out: string,
  opts: FillSicdOptions = {},
): Promise<{ path: string; truth: string; targets: PlantedTarget[] }> {
  const rows = opts.rows ?? 512;
  const cols = opts.cols ?? 512;
  if (
    !Number.isInteger(rows) ||
    !Number.isInteger(cols) ||
    rows < 8 ||
    cols < 8 ||
    cols > 8192 ||
    rows > 9999
  ) {
    throw new ValidationError(`size ${cols} x ${rows} must be 8..8192 columns by 8..9999 rows`);
  }
  const sicd = await Sicd.open(template);
  await sicd.close();
  let xml = sicd.xml;
  const m = { ...sicd.meta, numRows: rows, numCols: cols };
  if (!m.sigmaZeroSfPoly)
    throw new ValidationError(`${template}: the template has no Radiometric.SigmaZeroSFPoly`);
  xml = resizedSicdXml(xml, m);
  const seed = opts.seed ?? 1;
  const rand = mulberry32(seed);
  const sea = opts.seaSigma0 ?? 0.02;
  const targets: PlantedTarget[] = [];
  const nT = opts.targets ?? 12;
  for (let t = 0; t < nT; t++) {
    const row = 4 + Math.floor(rand() * (rows - 8));
    const col = 4 + Math.floor(rand() * (cols - 8));
    targets.push({
      id: `target-${t + 1}`,
      row,
      col,
      lat: 0,
      lon: 0,
      sigma0: sea * 10 ** ((15 + rand() * 15) / 10),
    });
  }
  const ground = sicdImageToGround(
    m,
    targets.map((t) => [t.row, t.col]),
  );
  targets.forEach((t, i) => {
    t.lat = ground[i][0];
    t.lon = ground[i][1];
  });
  const bright = new Map(targets.map((t) => [t.row * cols + t.col, t.sigma0]));
  const pixels = new Float32Array(rows * cols * 2);
  for (let r = 0; r < rows; r++) {
    const xrow = (r + m.firstRow - m.scpPixel.row) * m.grid.row.ssM;
    for (let c = 0; c < cols; c++) {
      const ycol = (c + m.firstCol - m.scpPixel.col) * m.grid.col.ssM;
      const sf = polyval2(m.sigmaZeroSfPoly, xrow, ycol);
      const s0 = bright.get(r * cols + c) ?? sea * gammaUnitMean(rand, 4);
      const amp = Math.sqrt(s0 / sf / 2);
      complexGaussian(rand, amp, pixels, 2 * (r * cols + c));
    }
  }
  const nitf = writeSicdNitf({
    title: `SICD: sarbridge simulation ${seed}`,
    dateTime: '20260601060000',
    rows,
    cols,
    pixels,
    xml,
  });
  await writeFile(out, nitf);
  const truth = `${out}.geojson`;
  await writeFile(
    truth,
    `${JSON.stringify({
      type: 'FeatureCollection',
      features: targets.map((t) => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [t.lon, t.lat] },
        properties: { id: t.id, row: t.row, col: t.col, sigma0: t.sigma0 },
      })),
    })}\n`,
  );
  return { path: out, truth, targets };
}
