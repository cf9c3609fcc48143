import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { transformPoint } from '../geo/crs.js';
import { geodeticToEcf } from '../geo/ecef.js';
import type { GeoTransform } from '../geo/transform.js';
import type { StripSource } from '../io/tiff/writer.js';
import { writeCog } from '../io/tiff/writer.js';
import { gammaUnitMean, mulberry32 } from '../util/random.js';
import type { PlantedDate } from './simulate-scene.js';

/**
 * The geometry of a simulated ground-range image over a map grid: a descending pass (heading 193
 * degrees, right-looking, so range runs west-north-west), lines along the flight direction and pixels
 * along ground range, both at the grid's spacing, centred on the grid and inscribed in it.
 */
export interface GrdGeometry {
  width: number;
  height: number;
  spacingM: number;
  /** Map coordinates of the image centre, and the unit vectors of increasing pixel and line. */
  centre: [number, number];
  rangeDir: [number, number];
  azimuthDir: [number, number];
}

const HEADING_DEG = 193;
/** The ascending pass's heading, degrees (Sentinel-1 over Europe: about -13). */
const ASCENDING_HEADING_DEG = 347;
/** Platform height and the ground range of the image's near edge (flat-earth model), metres. */
const ORBIT_HEIGHT_M = 693_000;
const NEAR_GROUND_RANGE_M = 550_000;
const LIGHT_SPEED = 299_792_458;
/** Azimuth time between lines, seconds (Sentinel-1 IW GRDH writes about 2 ms at 10 m). */
const LINE_INTERVAL_S = 0.0015;
/** Sentinel-1's betaNought calibration constant; sigmaNought and gamma follow from the incidence angle. */
const BETA_NOUGHT = 237;
/** Noise-equivalent sigma0 at mid swath, dB, rising by 3 dB towards both edges. */
const NESZ_MID_DB = -24;

export function grdGeometry(gt: GeoTransform, size: number, headingDeg = HEADING_DEG): GrdGeometry {
  const s = gt[1];
  const h = (headingDeg * Math.PI) / 180;
  const azimuthDir: [number, number] = [Math.sin(h), Math.cos(h)];
  const rangeDir: [number, number] = [Math.sin(h + Math.PI / 2), Math.cos(h + Math.PI / 2)];
  // A square rotated by the heading fits in the grid when its side is size / (|cos| + |sin|).
  const side = Math.floor(size / (Math.abs(azimuthDir[0]) + Math.abs(azimuthDir[1]))) - 2;
  return {
    width: side,
    height: side,
    spacingM: s,
    centre: [gt[0] + (size / 2) * s, gt[3] - (size / 2) * s],
    rangeDir,
    azimuthDir,
  };
}

/** Map coordinates of image position (line, pixel), pixel centres at integers. */
export function grdToMap(g: GrdGeometry, line: number, pixel: number): [number, number] {
  const dp = (pixel - (g.width - 1) / 2) * g.spacingM;
  const dl = (line - (g.height - 1) / 2) * g.spacingM;
  return [
    g.centre[0] + dp * g.rangeDir[0] + dl * g.azimuthDir[0],
    g.centre[1] + dp * g.rangeDir[1] + dl * g.azimuthDir[1],
  ];
}

/** Image position (line, pixel) of map coordinates. */
export function mapToGrd(g: GrdGeometry, x: number, y: number): [number, number] {
  const dx = x - g.centre[0];
  const dy = y - g.centre[1];
  return [
    (dx * g.azimuthDir[0] + dy * g.azimuthDir[1]) / g.spacingM + (g.height - 1) / 2,
    (dx * g.rangeDir[0] + dy * g.rangeDir[1]) / g.spacingM + (g.width - 1) / 2,
  ];
}

function incidenceDeg(g: GrdGeometry, pixel: number): number {
  return (Math.atan((NEAR_GROUND_RANGE_M + pixel * g.spacingM) / ORBIT_HEIGHT_M) * 180) / Math.PI;
}

function slantRangeTime(g: GrdGeometry, pixel: number): number {
  return (2 * Math.hypot(NEAR_GROUND_RANGE_M + pixel * g.spacingM, ORBIT_HEIGHT_M)) / LIGHT_SPEED;
}

/** The three calibration LUT values at a pixel: beta0 constant, sigma0 and gamma0 from the incidence angle. */
export function simulatedLuts(g: GrdGeometry, pixel: number): { sigma: number; beta: number; gamma: number } {
  const t = (incidenceDeg(g, pixel) * Math.PI) / 180;
  const sigma = BETA_NOUGHT / Math.sqrt(Math.sin(t));
  return { sigma, beta: BETA_NOUGHT, gamma: sigma * Math.sqrt(Math.cos(t)) };
}

/** The thermal noise power at a pixel, DN^2 (the noise range LUT): NESZ times sigmaNought^2. */
export function simulatedNoise(g: GrdGeometry, pixel: number): number {
  const f = (2 * pixel) / Math.max(1, g.width - 1) - 1;
  return 10 ** ((NESZ_MID_DB + 3 * f * f) / 10) * simulatedLuts(g, pixel).sigma ** 2;
}

function utc(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('Z', '').padEnd(26, '0');
}

function compact(seconds: number): string {
  return new Date(Math.round(seconds) * 1000).toISOString().slice(0, 19).replace(/[-:]/g, '');
}

/** Evenly spaced positions from 0 to last inclusive, `n` of them (at least 2). */
function positions(last: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round((i * last) / (n - 1)));
}

/**
 * Orbit state vectors every 10 s from 20 s before the first line to 20 s after the last: the platform
 * at ORBIT_HEIGHT_M above the nadir track, NEAR_GROUND_RANGE_M to the left of the image's near edge,
 * moving along the azimuth direction at the ground speed the line spacing and interval give.
 */
function stateVectors(
  g: GrdGeometry,
  epsg: number,
  t0: number,
  t1: number,
): { time: number; position: number[]; velocity: number[] }[] {
  const speed = g.spacingM / LINE_INTERVAL_S;
  const tMid = (t0 + t1) / 2;
  const offset = NEAR_GROUND_RANGE_M + ((g.width - 1) / 2) * g.spacingM;
  const at = (t: number) => {
    const along = (t - tMid) * speed;
    const x = g.centre[0] - offset * g.rangeDir[0] + along * g.azimuthDir[0];
    const y = g.centre[1] - offset * g.rangeDir[1] + along * g.azimuthDir[1];
    const [lon, lat] = transformPoint(epsg, 4326, x, y);
    return geodeticToEcf(lat, lon, ORBIT_HEIGHT_M);
  };
  const out: { time: number; position: number[]; velocity: number[] }[] = [];
  for (let t = Math.floor(t0 / 10) * 10 - 20; t <= t1 + 20; t += 10) {
    const a = at(t - 0.5);
    const b = at(t + 0.5);
    out.push({ time: t, position: at(t), velocity: [b[0] - a[0], b[1] - a[1], b[2] - a[2]] });
  }
  return out;
}

export interface SimulatedSafe {
  safeDir: string;
  geometry: GrdGeometry;
  /** Ground truth of this acquisition's ships inside the image, with their image positions. */
  truthPath: string;
}

/**
 * Write one acquisition of a simulated scene as a Sentinel-1-like GRD SAFE folder: manifest, product
 * annotation (image information, geolocation grid of 10 x 21 tie points, pass), calibration vectors
 * (sigmaNought, betaNought, gamma) and thermal noise (range vectors and an azimuth block), and a
 * uint16 measurement TIFF with DN^2 = sigmaNought^2 * sigma0 * speckle + noise * speckle, so that
 * calibration with noise removal recovers the planted sigma0 (`mean`, sampled at the nearest grid
 * pixel) on average.
 */
export async function writeSimulatedSafe(
  outDir: string,
  scene: PlantedDate & {
    looks: number;
    /**
     * The image's size and pixel spacing (metres), centred on the scene (default: inscribed in it at
     * its spacing); a full-size IW GRDH is 25,931 x 16,854 pixels at 10 m. Outside the scene the
     * planted sigma0 is its nearest edge pixel's.
     */
    grd?: { width: number; height: number; spacingM: number };
    /**
     * The pass (default descending, heading 193 degrees), its Sentinel-1 absolute and relative orbit and
     * data take (default 0, and the manifest lists no orbit reference): in the annotations, the SAFE's
     * and its files' names and manifest.safe's orbitReference, as Sentinel-1 writes them.
     */
    orbit?: {
      pass: 'ascending' | 'descending';
      absoluteOrbit: number;
      relativeOrbit: number;
      dataTakeId: number;
    };
  },
): Promise<SimulatedSafe> {
  const { mean, size, geoTransform: gt, epsg, orbit: orbitRef } = scene;
  const heading = orbitRef?.pass === 'ascending' ? ASCENDING_HEADING_DEG : HEADING_DEG;
  const g = { ...grdGeometry(gt, size, heading), ...scene.grd };
  const W = g.width;
  const H = g.height;
  const s = g.spacingM;
  const sceneSpacing = gt[1];
  const t0 = Date.parse(scene.date) / 1000;
  const t1 = t0 + (H - 1) * LINE_INTERVAL_S;
  const absOrbit = String(orbitRef?.absoluteOrbit ?? 0).padStart(6, '0');
  const dataTake = (orbitRef?.dataTakeId ?? 0).toString(16).toUpperCase().padStart(6, '0');
  const base = `s1a-iw-grd-vv-${compact(t0).toLowerCase()}-${compact(t1).toLowerCase()}-${absOrbit}-${dataTake.toLowerCase()}-001`;
  const name = `S1A_IW_GRDH_1SSV_${compact(t0)}_${compact(t1)}_${absOrbit}_${dataTake}_${scene.seed.toString(16).toUpperCase().padStart(4, '0').slice(-4)}.SAFE`;
  const safeDir = join(outDir, name);
  await mkdir(join(safeDir, 'annotation', 'calibration'), { recursive: true });
  await mkdir(join(safeDir, 'measurement'), { recursive: true });

  const lineTime = (line: number) => t0 + line * LINE_INTERVAL_S;
  const lines = positions(H - 1, 10);
  const pixels = positions(W - 1, 21);
  const points: string[] = [];
  const lonlat = (line: number, pixel: number) => {
    const [x, y] = grdToMap(g, line, pixel);
    return transformPoint(epsg, 4326, x, y);
  };
  for (const line of lines)
    for (const pixel of pixels) {
      const [lon, lat] = lonlat(line, pixel);
      const inc = incidenceDeg(g, pixel);
      points.push(
        `<geolocationGridPoint><azimuthTime>${utc(lineTime(line))}</azimuthTime><slantRangeTime>${slantRangeTime(g, pixel).toExponential(9)}</slantRangeTime><line>${line}</line><pixel>${pixel}</pixel><latitude>${lat.toFixed(9)}</latitude><longitude>${lon.toFixed(9)}</longitude><height>0</height><incidenceAngle>${inc.toFixed(9)}</incidenceAngle><elevationAngle>${((Math.atan(ORBIT_HEIGHT_M / (NEAR_GROUND_RANGE_M + pixel * s)) * 180) / Math.PI).toFixed(9)}</elevationAngle></geolocationGridPoint>`,
      );
    }
  const mid = incidenceDeg(g, (W - 1) / 2);
  const orbit = stateVectors(g, epsg, t0, t1);
  const adsHeader = `<adsHeader><missionId>S1A</missionId><productType>GRD</productType><polarisation>VV</polarisation><mode>IW</mode><swath>IW</swath><startTime>${utc(t0)}</startTime><stopTime>${utc(t1)}</stopTime><absoluteOrbitNumber>${orbitRef?.absoluteOrbit ?? 0}</absoluteOrbitNumber><missionDataTakeId>${orbitRef?.dataTakeId ?? 0}</missionDataTakeId><imageNumber>001</imageNumber></adsHeader>`;
  const annotation = `<?xml version="1.0" encoding="UTF-8"?>
<product>${adsHeader}<generalAnnotation><productInformation><pass>${orbitRef?.pass === 'ascending' ? 'Ascending' : 'Descending'}</pass><timelinessCategory>Fast-24h</timelinessCategory><platformHeading>${heading - 360}</platformHeading><projection>Ground Range</projection><rangeSamplingRate>6.4345241e+07</rangeSamplingRate><radarFrequency>5.405000454334350e+09</radarFrequency><azimuthSteeringRate>0</azimuthSteeringRate></productInformation><orbitList count="${orbit.length}">${orbit.map((o) => `<orbit><time>${utc(o.time)}</time><frame>Earth Fixed</frame><position><x>${o.position[0].toExponential(15)}</x><y>${o.position[1].toExponential(15)}</y><z>${o.position[2].toExponential(15)}</z></position><velocity><x>${o.velocity[0].toExponential(15)}</x><y>${o.velocity[1].toExponential(15)}</y><z>${o.velocity[2].toExponential(15)}</z></velocity></orbit>`).join('')}</orbitList><terrainHeightList count="2"><terrainHeight><azimuthTime>${utc(t0)}</azimuthTime><value>0</value></terrainHeight><terrainHeight><azimuthTime>${utc(t1)}</azimuthTime><value>0</value></terrainHeight></terrainHeightList><azimuthFmRateList count="0"/></generalAnnotation><imageAnnotation><imageInformation><productFirstLineUtcTime>${utc(t0)}</productFirstLineUtcTime><productLastLineUtcTime>${utc(t1)}</productLastLineUtcTime><ascendingNodeTime>${utc(t0 - 1800)}</ascendingNodeTime><anchorTime>${utc(t0)}</anchorTime><productComposition>Individual</productComposition><sliceNumber>0</sliceNumber><slantRangeTime>${slantRangeTime(g, 0).toExponential(9)}</slantRangeTime><pixelValue>Detected</pixelValue><outputPixels>16 bit Unsigned Integer</outputPixels><rangePixelSpacing>${s}</rangePixelSpacing><azimuthPixelSpacing>${s}</azimuthPixelSpacing><azimuthTimeInterval>${LINE_INTERVAL_S}</azimuthTimeInterval><azimuthFrequency>${1 / LINE_INTERVAL_S}</azimuthFrequency><numberOfSamples>${W}</numberOfSamples><numberOfLines>${H}</numberOfLines><zeroDopMinusAcqTime>0</zeroDopMinusAcqTime><incidenceAngleMidSwath>${mid.toFixed(9)}</incidenceAngleMidSwath></imageInformation><processingInformation><ellipsoidName>WGS84</ellipsoidName><ellipsoidSemiMajorAxis>6378137</ellipsoidSemiMajorAxis><ellipsoidSemiMinorAxis>6356752.314245179</ellipsoidSemiMinorAxis></processingInformation></imageAnnotation><dopplerCentroid><dcEstimateList count="0"/></dopplerCentroid><coordinateConversion><coordinateConversionList count="0"/></coordinateConversion><swathTiming><linesPerBurst>0</linesPerBurst><samplesPerBurst>0</samplesPerBurst><burstList count="0"/></swathTiming><geolocationGrid><geolocationGridPointList count="${points.length}">${points.join('')}</geolocationGridPointList></geolocationGrid></product>
`;
  await writeFile(join(safeDir, 'annotation', `${base}.xml`), annotation);

  // Calibration and noise vectors every 40 pixels (and the last), on lines about H / 6 apart from the
  // first to beyond the last (as Sentinel-1's are: a reader interpolates between two of them anywhere).
  const lutPixels = [...Array.from({ length: Math.ceil((W - 1) / 40) }, (_, i) => i * 40), W - 1];
  const lineStep = Math.max(1, Math.ceil((H - 1) / 6));
  const vecLines = Array.from({ length: Math.floor((H - 1) / lineStep) + 2 }, (_, i) => i * lineStep);
  const list = (f: (p: number) => number, digits: number) =>
    lutPixels.map((p) => f(p).toFixed(digits)).join(' ');
  const calVectors = vecLines
    .map(
      (line) =>
        `<calibrationVector><azimuthTime>${utc(lineTime(line))}</azimuthTime><line>${line}</line><pixel count="${lutPixels.length}">${lutPixels.join(' ')}</pixel><sigmaNought count="${lutPixels.length}">${list((p) => simulatedLuts(g, p).sigma, 6)}</sigmaNought><betaNought count="${lutPixels.length}">${list((p) => simulatedLuts(g, p).beta, 6)}</betaNought><gamma count="${lutPixels.length}">${list((p) => simulatedLuts(g, p).gamma, 6)}</gamma><dn count="${lutPixels.length}">${list(() => BETA_NOUGHT, 6)}</dn></calibrationVector>`,
    )
    .join('');
  await writeFile(
    join(safeDir, 'annotation', 'calibration', `calibration-${base}.xml`),
    `<?xml version="1.0" encoding="UTF-8"?>
<calibration>${adsHeader}<calibrationInformation><absoluteCalibrationConstant>1</absoluteCalibrationConstant></calibrationInformation><calibrationVectorList count="${vecLines.length}">${calVectors}</calibrationVectorList></calibration>
`,
  );
  const noiseVectors = vecLines
    .map(
      (line) =>
        `<noiseRangeVector><azimuthTime>${utc(lineTime(line))}</azimuthTime><line>${line}</line><pixel count="${lutPixels.length}">${lutPixels.join(' ')}</pixel><noiseRangeLut count="${lutPixels.length}">${list((p) => simulatedNoise(g, p), 6)}</noiseRangeLut></noiseRangeVector>`,
    )
    .join('');
  await writeFile(
    join(safeDir, 'annotation', 'calibration', `noise-${base}.xml`),
    `<?xml version="1.0" encoding="UTF-8"?>
<noise>${adsHeader}<noiseRangeVectorList count="${vecLines.length}">${noiseVectors}</noiseRangeVectorList><noiseAzimuthVectorList count="1"><noiseAzimuthVector><swath>IW</swath><firstAzimuthLine>0</firstAzimuthLine><firstRangeSample>0</firstRangeSample><lastAzimuthLine>${H - 1}</lastAzimuthLine><lastRangeSample>${W - 1}</lastRangeSample><line count="2">0 ${H - 1}</line><noiseAzimuthLut count="2">1.000000 1.000000</noiseAzimuthLut></noiseAzimuthVector></noiseAzimuthVectorList></noise>
`,
  );

  // The measurement: DN from the planted sigma0 at the nearest grid pixel, speckled, plus noise.
  const rand = mulberry32(scene.seed * 7_368_787 + Math.round(t0));
  const sigmaLut = Float64Array.from({ length: W }, (_, p) => simulatedLuts(g, p).sigma ** 2);
  const noiseLut = Float64Array.from({ length: W }, (_, p) => simulatedNoise(g, p));
  const source: StripSource = {
    width: W,
    height: H,
    bands: 1,
    dataType: 'uint16',
    readRows: (rowOff, rows) => {
      const data = new Uint16Array(W * rows);
      for (let r = 0; r < rows; r++) {
        for (let p = 0; p < W; p++) {
          const [x, y] = grdToMap(g, rowOff + r, p);
          const col = Math.min(size - 1, Math.max(0, Math.floor((x - gt[0]) / sceneSpacing)));
          const row = Math.min(size - 1, Math.max(0, Math.floor((gt[3] - y) / sceneSpacing)));
          const power =
            sigmaLut[p] * mean[row * size + col] * gammaUnitMean(rand, scene.looks) +
            noiseLut[p] * gammaUnitMean(rand, scene.looks);
          data[r * W + p] = Math.min(65535, Math.round(Math.sqrt(power)));
        }
      }
      return { data, width: W, height: rows, bands: 1, dataType: 'uint16', nodata: null };
    },
  };
  await writeCog(
    join(safeDir, 'measurement', `${base}.tiff`),
    source,
    { imageDescription: 'Sentinel-1A IW GRD HR L1' },
    { compression: 'none', overviews: 'none', statistics: false },
  );

  const files = [
    `annotation/${base}.xml`,
    `annotation/calibration/calibration-${base}.xml`,
    `annotation/calibration/noise-${base}.xml`,
    `measurement/${base}.tiff`,
  ];
  const footprint = [
    [0, 0],
    [0, W - 1],
    [H - 1, W - 1],
    [H - 1, 0],
  ].map(([l, p]) => lonlat(l, p));
  await writeFile(
    join(safeDir, 'manifest.safe'),
    `<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0" xmlns:s1="http://www.esa.int/safe/sentinel-1.0/sentinel-1" xmlns:s1sarl1="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1" xmlns:gml="http://www.opengis.net/gml" version="esa/safe/sentinel-1.0/sentinel-1/sar/level-1/standard/iwgrdh">
<metadataSection>
<metadataObject ID="processing"><metadataWrap><xmlData><safe:processing name="sarbridge simulate scene" start="${utc(t1 + 3600)}" stop="${utc(t1 + 3600)}"><safe:facility name="sarbridge simulator" organisation="sarbridge" country="-" site="-"><safe:software name="sarbridge" version="0"/></safe:facility></safe:processing></xmlData></metadataWrap></metadataObject>
<metadataObject ID="platform"><metadataWrap><xmlData><safe:platform><safe:nssdcIdentifier>2014-016A</safe:nssdcIdentifier><safe:familyName>SENTINEL-1</safe:familyName><safe:number>A</safe:number><safe:instrument><safe:familyName abbreviation="SAR">Synthetic Aperture Radar</safe:familyName><safe:extension><s1sarl1:instrumentMode><s1sarl1:mode>IW</s1sarl1:mode><s1sarl1:swath>IW</s1sarl1:swath></s1sarl1:instrumentMode></safe:extension></safe:instrument></safe:platform></xmlData></metadataWrap></metadataObject>
<metadataObject ID="acquisitionPeriod"><metadataWrap><xmlData><safe:acquisitionPeriod><safe:startTime>${utc(t0)}</safe:startTime><safe:stopTime>${utc(t1)}</safe:stopTime></safe:acquisitionPeriod></xmlData></metadataWrap></metadataObject>
<metadataObject ID="measurementFrameSet"><metadataWrap><xmlData><safe:frameSet><safe:frame><safe:footPrint srsName="http://www.opengis.net/gml/srs/epsg.xml#4326"><gml:coordinates>${footprint.map(([lon, lat]) => `${lat.toFixed(6)},${lon.toFixed(6)}`).join(' ')}</gml:coordinates></safe:footPrint></safe:frame></safe:frameSet></xmlData></metadataWrap></metadataObject>
<metadataObject ID="generalProductInformation"><metadataWrap><xmlData><s1:standAloneProductInformation><s1:productClass>S</s1:productClass><s1:productClassDescription>SAR Standard L1 Product (simulated by sarbridge)</s1:productClassDescription><s1:productType>GRD</s1:productType><s1:transmitterReceiverPolarisation>VV</s1:transmitterReceiverPolarisation></s1:standAloneProductInformation></xmlData></metadataWrap></metadataObject>
${orbitRef ? `<metadataObject ID="measurementOrbitReference"><metadataWrap><xmlData><safe:orbitReference><safe:orbitNumber type="start">${orbitRef.absoluteOrbit}</safe:orbitNumber><safe:orbitNumber type="stop">${orbitRef.absoluteOrbit}</safe:orbitNumber><safe:relativeOrbitNumber type="start">${orbitRef.relativeOrbit}</safe:relativeOrbitNumber><safe:relativeOrbitNumber type="stop">${orbitRef.relativeOrbit}</safe:relativeOrbitNumber><safe:phaseIdentifier>1</safe:phaseIdentifier><safe:extension><s1:orbitProperties><s1:pass>${orbitRef.pass.toUpperCase()}</s1:pass></s1:orbitProperties></safe:extension></safe:orbitReference></xmlData></metadataWrap></metadataObject>\n` : ''}</metadataSection>
<dataObjectSection>
${files.map((f, i) => `<dataObject ID="file${i + 1}"><byteStream><fileLocation locatorType="URL" href="./${f}"/></byteStream></dataObject>`).join('\n')}
</dataObjectSection>
</xfdu:XFDU>
`,
  );

  const truthPath = join(outDir, `${name.replace(/\.SAFE$/, '')}.truth.geojson`);
  const features = scene.ships
    .map((q) => {
      const [line, pixel] = mapToGrd(g, q.x, q.y);
      return { q, line, pixel };
    })
    .filter(({ line, pixel }) => line >= 0 && line <= H - 1 && pixel >= 0 && pixel <= W - 1)
    .map(({ q, line, pixel }) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [q.lon, q.lat] },
      properties: { id: q.id, line, pixel, length_m: q.lengthM, heading_deg: q.headingDeg },
    }));
  await writeFile(truthPath, `${JSON.stringify({ type: 'FeatureCollection', features })}\n`);
  return { safeDir, geometry: g, truthPath };
}
