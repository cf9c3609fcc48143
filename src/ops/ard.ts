import { ValidationError } from '../errors.js';
import { assertCommandBudget, commandBudgets } from '../io/budget.js';
import { detect, Sicd } from '../io/nitf/sicd.js';
import { sicdImageToGround } from '../io/nitf/sicd-projection.js';
import { SafeProduct } from '../io/s1/safe.js';
import { acquisitionFromSicd } from '../products/acquisition.js';
import { calibrateRows, calibrateRowsDenoised } from '../raster/calibration.js';
import { dataTypeInfo } from '../raster/dtype.js';
import { finishImageGeometry } from './ard/image-geometry.js';
import { STRIP_BYTES } from './ard/image-stages.js';
import { sentinel1RelativeOrbit } from './ard/item.js';
import type { ArdOptions } from './ard/options.js';
import { frequencyBand, spacingAndGrid } from './ard/options.js';
import type { ArdResult } from './ard/outputs.js';
import { calibrationGrids, choosePolarisation } from './calibrate.js';

export { ardGeoTiff } from './ard/geocoded.js';
export type { GridSpec } from './ard/image-geometry.js';
export type { ArdOptions } from './ard/options.js';
export { frequencyBand } from './ard/options.js';
export type { ArdResult } from './ard/outputs.js';

/**
 * Bytes a streamed image-geometry ard holds at once (estimate): a strip of the input as read and
 * calibrated (`fullBytes` per pixel), the despeckle's halo strip and output strip, and the geocoded
 * strips of the COG writer (its own buffers are bounded by its block size); about 0.5 GB for a
 * full IW GRDH whatever its length.
 */
function streamedArdBytes(width: number, fullBytes: number): number {
  const rows = Math.max(1, Math.floor(STRIP_BYTES / (width * 4)));
  return rows * width * fullBytes + 3 * STRIP_BYTES + 2 * 512 * width * 2 * 4;
}

function iso(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}

/**
 * The analysis-ready step for a Sentinel-1 GRD SAFE (behind `sarbridge ard`): calibrate (optionally
 * removing thermal noise), multilook towards the output spacing, despeckle, geocode through the
 * geolocation grid, convert to dB, and write a COG (float32, NaN nodata, DEFLATE + predictor 3), a
 * quick-look PNG and a STAC 1.0.0 item with the sar, sat, view, projection, processing, raster and file
 * extensions. Streams strip by strip (see finishImageGeometry): a full IW GRDH takes well under 2 GB.
 */
export async function ardSafe(safePath: string, outDir: string, opts: ArdOptions = {}): Promise<ArdResult> {
  const target = opts.target ?? 'sigma0';
  const { spacingM, like } = await spacingAndGrid(opts);
  const filter = opts.filter ?? 'refined-lee';
  const { memoryBytes, decodeBytes } = commandBudgets(opts);
  const safe = await SafeProduct.open(safePath, { maxMetadataBytes: opts.maxMetadataBytes });
  try {
    const pol = choosePolarisation(safe, opts.pol);
    const ann = await safe.annotation(pol);
    const tif = await safe.measurement(pol, ann, opts.allowCrop, { decodeBudgetBytes: decodeBytes });
    try {
      const W = tif.width;
      const H = tif.height;
      const dnBytes = dataTypeInfo(tif.dataType).componentBytes * dataTypeInfo(tif.dataType).components;
      assertCommandBudget(
        `${safePath} (${pol})`,
        `ard on ${W} x ${H} ${tif.dataType} pixels`,
        streamedArdBytes(W, dnBytes + 4),
        memoryBytes,
      );
      const { grid, noise } = await calibrationGrids(
        safe,
        pol,
        ann,
        target,
        W,
        opts.removeNoise ? 'range-azimuth' : 'none',
      );
      const image = {
        width: W,
        height: H,
        async readRows(rowOff: number, rows: number): Promise<Float32Array> {
          const dn = await tif.read(
            { colOff: 0, rowOff, width: W, height: rows },
            { bands: [0], maxBytes: memoryBytes },
          );
          const data = new Float32Array(W * rows);
          if (noise) calibrateRowsDenoised(dn.data, rowOff, rows, grid, noise, data);
          else calibrateRows(dn.data, rowOff, rows, grid, data);
          // GRD nodata: DN 0 at the swath edges.
          for (let i = 0; i < data.length; i++) if (dn.data[i] === 0) data[i] = Number.NaN;
          return data;
        },
      };
      const productName =
        safePath
          .replace(/\/+$/, '')
          .split('/')
          .pop()
          ?.replace(/\.(SAFE|zip)$/i, '') ?? 'product';
      const looksRange = Math.max(1, Math.floor(spacingM / ann.rangePixelSpacingM));
      const looksAzimuth = Math.max(1, Math.floor(spacingM / ann.azimuthPixelSpacingM));
      const orbitState = ann.pass?.toLowerCase();
      const absoluteOrbit = ann.absoluteOrbit ?? undefined;
      return await finishImageGeometry(
        {
          id: `${productName}_${pol}_${target}_dB`,
          image,
          looks: { x: looksRange, y: looksAzimuth },
          sarLooks: { range: looksRange, azimuth: looksAzimuth },
          enl: (opts.productLooks ?? 4.4) * looksRange * looksAzimuth,
          ties: ann.geolocationGrid.map((g) => ({ line: g.line, pixel: g.pixel, lat: g.lat, lon: g.lon })),
          target,
          pol,
          acquisition: {
            time: {
              datetime: iso(ann.firstLineTimeS),
              start: iso(ann.firstLineTimeS),
              end: iso(ann.lastLineTimeS),
            },
            platform: `sentinel-${ann.mission.slice(1).toLowerCase()}`,
            constellation: 'sentinel-1',
            instruments: ['c-sar'],
            sar: {
              instrumentMode: ann.mode,
              frequencyBand: 'C',
              centerFrequencyGHz: 5.405,
              polarizations: [pol],
              productType: ann.productType,
              observationDirection: 'right',
            },
            sat: {
              orbitState: orbitState === 'ascending' || orbitState === 'descending' ? orbitState : undefined,
              absoluteOrbit: absoluteOrbit && absoluteOrbit > 0 ? absoluteOrbit : undefined,
              relativeOrbit: sentinel1RelativeOrbit(ann.mission, absoluteOrbit ?? 0) ?? undefined,
            },
            view:
              ann.incidenceAngleMidSwathDeg !== null
                ? { incidenceAngleDeg: ann.incidenceAngleMidSwathDeg }
                : undefined,
          },
          metadata: { MISSION: ann.mission, MODE: ann.mode },
          lineage: `calibrated to ${target}${opts.removeNoise ? ' with thermal noise removed' : ''}`,
        },
        outDir,
        {
          spacingM,
          epsg: opts.epsg,
          filter,
          like,
          signal: opts.signal,
          streaming: opts.streaming,
          onProgress: opts.onProgress,
        },
      );
    } finally {
      await tif.close();
    }
  } finally {
    await safe.close();
  }
}

/**
 * The analysis-ready step for a SICD: sigma0 from Radiometric.SigmaZeroSFPoly, tie points from the
 * SICD image-to-ground projection on a 33 x 33 lattice, then the shared steps (multilook, despeckle,
 * geocode, dB, COG, quick-look, STAC item), streamed: the complex image is read and detected strip by
 * strip.
 */
export async function ardSicd(path: string, outDir: string, opts: ArdOptions = {}): Promise<ArdResult> {
  const { spacingM, like } = await spacingAndGrid(opts);
  if ((opts.target ?? 'sigma0') !== 'sigma0')
    throw new ValidationError(`--to ${opts.target} is not available for a SICD (sigma0 only)`);
  const { memoryBytes } = commandBudgets(opts);
  const sicd = await Sicd.open(path, { maxXmlBytes: opts.maxMetadataBytes });
  try {
    const m = sicd.meta;
    assertCommandBudget(
      path,
      `ard on a ${sicd.width} x ${sicd.height} SICD`,
      streamedArdBytes(sicd.width, 8 + 4),
      memoryBytes,
    );
    if (!m.sigmaZeroSfPoly)
      throw new ValidationError(
        `${path}: the SICD has no Radiometric.SigmaZeroSFPoly, so sigma0 is not available`,
      );
    const W = sicd.width;
    const image = {
      width: W,
      height: sicd.height,
      async readRows(rowOff: number, rows: number): Promise<Float32Array> {
        const complex = await sicd.readComplex({ colOff: 0, rowOff, width: W, height: rows });
        return detect(complex, 'sigma0', { meta: m, rowOff, colOff: 0 }).data;
      },
    };
    const pts: [number, number][] = [];
    const N = 32;
    for (let i = 0; i <= N; i++)
      for (let j = 0; j <= N; j++) pts.push([(i * (m.numRows - 1)) / N, (j * (m.numCols - 1)) / N]);
    const ground = sicdImageToGround(m, pts);
    const acq = acquisitionFromSicd(sicd);
    const pol = acq.polarisations[0] ?? 'XX';
    const looksX = Math.max(1, Math.floor(spacingM / m.grid.col.ssM));
    const looksY = Math.max(1, Math.floor(spacingM / m.grid.row.ssM));
    const band = m.centreFrequencyHz ? frequencyBand(m.centreFrequencyHz) : null;
    if (band === null)
      throw new ValidationError(
        `${path}: the SICD's centre frequency (${m.centreFrequencyHz ?? 'none'} Hz) is in no radar band (P to Ka), so sar:frequency_band is unknown`,
      );
    return await finishImageGeometry(
      {
        id: `${m.coreName}_${pol}_sigma0_dB`,
        image,
        looks: { x: looksX, y: looksY },
        // SICD rows run in range and columns in azimuth.
        sarLooks: { range: looksY, azimuth: looksX },
        enl: looksX * looksY,
        ties: pts.map(([line, pixel], k) => ({ line, pixel, lat: ground[k][0], lon: ground[k][1] })),
        target: 'sigma0',
        pol,
        acquisition: {
          time: { datetime: acq.startTime, start: acq.startTime, end: acq.endTime },
          platform: m.collectorName.toLowerCase(),
          sar: {
            instrumentMode: m.modeType,
            frequencyBand: band,
            centerFrequencyGHz: m.centreFrequencyHz ? m.centreFrequencyHz / 1e9 : undefined,
            polarizations: [pol],
            productType: 'SICD',
            observationDirection: acq.lookSide ?? undefined,
            resolutionRangeM: acq.resolutionM?.range,
            resolutionAzimuthM: acq.resolutionM?.azimuth,
          },
          sat: acq.orbitDirection ? { orbitState: acq.orbitDirection } : undefined,
          view: m.incidenceAngleDeg !== null ? { incidenceAngleDeg: m.incidenceAngleDeg } : undefined,
        },
        metadata: { COLLECTOR: m.collectorName, CORE_NAME: m.coreName, MODE: m.modeType },
        lineage: 'sigma0 from the SICD radiometric polynomial',
      },
      outDir,
      {
        spacingM,
        epsg: opts.epsg,
        filter: opts.filter ?? 'refined-lee',
        like,
        signal: opts.signal,
        streaming: opts.streaming,
        onProgress: opts.onProgress,
      },
    );
  } finally {
    await sicd.close();
  }
}
