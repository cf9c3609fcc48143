import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { FormatError, NotFoundError } from '../../errors.js';
import type { AzimuthNoiseBlock } from '../../raster/calibration.js';
import { assertMetadataSize, checkBudget, DEFAULT_METADATA_LIMIT_BYTES } from '../budget.js';
import type { ByteSource } from '../source.js';
import { FileSource } from '../source.js';
import type { GeoTiffOpenOptions } from '../tiff/reader.js';
import { GeoTiff } from '../tiff/reader.js';
import type { ZipArchive } from '../zip.js';
import { ZipArchive as Zip, ZipEntrySource } from '../zip.js';

/** Seconds since 1970 of an ISO UTC time without zone ("2021-01-19T03:16:53.799379"), to better than a microsecond. */
export function parseUtcSeconds(file: string, field: string, s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z?$/.exec(s.trim());
  if (!m)
    throw new FormatError(file, `${field} is '${s}', expected an ISO time like 2021-01-19T03:16:53.799379`);
  const whole = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
  return whole + (m[7] ? Number(m[7]) : 0);
}

/** One calibration vector: LUT values at pixel positions of one line. */
export interface CalibrationVector {
  timeS: number;
  line: number;
  pixel: Float64Array;
  sigmaNought: Float64Array;
  betaNought: Float64Array;
  gamma: Float64Array;
}

export interface S1Annotation {
  mission: string;
  productType: string;
  mode: string;
  polarisation: string;
  pass: string | null;
  absoluteOrbit: number | null;
  numberOfSamples: number;
  numberOfLines: number;
  firstLineTimeS: number;
  lastLineTimeS: number;
  rangePixelSpacingM: number;
  azimuthPixelSpacingM: number;
  incidenceAngleMidSwathDeg: number | null;
  geolocationGrid: {
    line: number;
    pixel: number;
    lat: number;
    lon: number;
    height: number;
    incidenceDeg: number;
  }[];
  /** Orbit state vectors: time (s since 1970), ECF position (m) and velocity (m/s). */
  orbit: { timeS: number; position: [number, number, number]; velocity: [number, number, number] }[];
  radarFrequencyHz: number | null;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  processEntities: false,
  parseTagValue: false,
  trimValues: true,
});

function parseXml(file: string, xml: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new FormatError(file, 'XML declares a DOCTYPE or entities, which sarbridge does not process');
  try {
    return parser.parse(xml) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(file, `XML is not well-formed: ${(err as Error).message}`, { cause: err });
  }
}

function field(file: string, node: unknown, path: string[]): unknown {
  let cur = node;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in (cur as Record<string, unknown>)))
      throw new FormatError(file, `has no ${path.join('/')} (a mandatory field)`);
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function str(v: unknown): string {
  if (v !== null && typeof v === 'object' && '#text' in (v as Record<string, unknown>))
    return String((v as Record<string, unknown>)['#text']);
  return String(v ?? '');
}

function fnum(file: string, node: unknown, path: string[]): number {
  const s = str(field(file, node, path));
  const n = Number(s);
  if (!Number.isFinite(n)) throw new FormatError(file, `${path.join('/')} is '${s}', expected a number`);
  return n;
}

function numList(file: string, node: unknown, path: string[]): Float64Array {
  const s = str(field(file, node, path)).trim();
  const parts = s === '' ? [] : s.split(/\s+/);
  const out = new Float64Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    out[i] = Number(parts[i]);
    if (!Number.isFinite(out[i]))
      throw new FormatError(file, `${path.join('/')} holds '${parts[i]}', expected numbers`);
  }
  return out;
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Parse a Sentinel-1 calibration annotation (calibration-*.xml). */
export function parseCalibration(file: string, xml: string): CalibrationVector[] {
  const doc = parseXml(file, xml);
  const list = field(file, doc, ['calibration', 'calibrationVectorList']) as Record<string, unknown>;
  const vectors = asArray(list.calibrationVector).map((v) => {
    const vec: CalibrationVector = {
      timeS: parseUtcSeconds(file, 'calibrationVector/azimuthTime', str(field(file, v, ['azimuthTime']))),
      line: fnum(file, v, ['line']),
      pixel: numList(file, v, ['pixel']),
      sigmaNought: numList(file, v, ['sigmaNought']),
      betaNought: numList(file, v, ['betaNought']),
      gamma: numList(file, v, ['gamma']),
    };
    const n = vec.pixel.length;
    if (n < 2 || vec.sigmaNought.length !== n || vec.betaNought.length !== n || vec.gamma.length !== n) {
      throw new FormatError(
        file,
        `calibration vector at line ${vec.line} has ${n} pixels but ${vec.sigmaNought.length} sigmaNought values (expected equal counts, at least 2)`,
      );
    }
    return vec;
  });
  if (vectors.length < 2)
    throw new FormatError(file, `has ${vectors.length} calibration vectors, expected at least 2`);
  return vectors;
}

/** Thermal noise annotation: range vectors (like calibration vectors) and azimuth blocks (IPF >= 2.9). */
export interface NoiseAnnotation {
  range: { timeS: number; line: number; pixel: Float64Array; lut: Float64Array }[];
  azimuth: AzimuthNoiseBlock[];
}

/** Parse a Sentinel-1 noise annotation (noise-*.xml); older products have `noiseVectorList` and no azimuth LUT. */
export function parseNoise(file: string, xml: string): NoiseAnnotation {
  const doc = parseXml(file, xml);
  const root = field(file, doc, ['noise']) as Record<string, unknown>;
  const rangeList = (root.noiseRangeVectorList ?? root.noiseVectorList) as
    | Record<string, unknown>
    | undefined;
  if (!rangeList) throw new FormatError(file, 'has no noise/noiseRangeVectorList (a mandatory field)');
  const range = asArray((rangeList.noiseRangeVector ?? rangeList.noiseVector) as unknown[]).map((v) => {
    const lutKey = 'noiseRangeLut' in (v as Record<string, unknown>) ? 'noiseRangeLut' : 'noiseLut';
    const vec = {
      timeS: parseUtcSeconds(file, 'noiseRangeVector/azimuthTime', str(field(file, v, ['azimuthTime']))),
      line: fnum(file, v, ['line']),
      pixel: numList(file, v, ['pixel']),
      lut: numList(file, v, [lutKey]),
    };
    if (vec.pixel.length < 2 || vec.lut.length !== vec.pixel.length)
      throw new FormatError(
        file,
        `noise range vector at line ${vec.line} has ${vec.pixel.length} pixels and ${vec.lut.length} LUT values`,
      );
    return vec;
  });
  const azList = root.noiseAzimuthVectorList as Record<string, unknown> | undefined;
  const azimuth = asArray(azList?.noiseAzimuthVector as unknown[]).map((v) => {
    const block = {
      firstLine: fnum(file, v, ['firstAzimuthLine']),
      lastLine: fnum(file, v, ['lastAzimuthLine']),
      firstSample: fnum(file, v, ['firstRangeSample']),
      lastSample: fnum(file, v, ['lastRangeSample']),
      line: numList(file, v, ['line']),
      lut: numList(file, v, ['noiseAzimuthLut']),
    };
    if (block.line.length < 1 || block.lut.length !== block.line.length)
      throw new FormatError(
        file,
        `noise azimuth vector has ${block.line.length} lines and ${block.lut.length} LUT values`,
      );
    return block;
  });
  return { range, azimuth };
}

/** Parse a Sentinel-1 product annotation (annotation/s1?-*.xml). */
export function parseAnnotation(file: string, xml: string): S1Annotation {
  const doc = parseXml(file, xml);
  const product = field(file, doc, ['product']);
  const info = field(file, product, ['imageAnnotation', 'imageInformation']);
  const grid = asArray(
    (field(file, product, ['geolocationGrid', 'geolocationGridPointList']) as Record<string, unknown>)
      .geolocationGridPoint,
  );
  const passNode = (product as Record<string, Record<string, Record<string, unknown>>>).generalAnnotation
    ?.productInformation?.pass;
  return {
    mission: str(field(file, product, ['adsHeader', 'missionId'])),
    productType: str(field(file, product, ['adsHeader', 'productType'])),
    mode: str(field(file, product, ['adsHeader', 'mode'])),
    polarisation: str(field(file, product, ['adsHeader', 'polarisation'])),
    pass: passNode === undefined ? null : str(passNode),
    absoluteOrbit:
      Number(str((field(file, product, ['adsHeader']) as Record<string, unknown>).absoluteOrbitNumber)) ||
      null,
    numberOfSamples: fnum(file, info, ['numberOfSamples']),
    numberOfLines: fnum(file, info, ['numberOfLines']),
    firstLineTimeS: parseUtcSeconds(
      file,
      'productFirstLineUtcTime',
      str(field(file, info, ['productFirstLineUtcTime'])),
    ),
    lastLineTimeS: parseUtcSeconds(
      file,
      'productLastLineUtcTime',
      str(field(file, info, ['productLastLineUtcTime'])),
    ),
    rangePixelSpacingM: fnum(file, info, ['rangePixelSpacing']),
    azimuthPixelSpacingM: fnum(file, info, ['azimuthPixelSpacing']),
    incidenceAngleMidSwathDeg: Number(str((info as Record<string, unknown>).incidenceAngleMidSwath)) || null,
    orbit: asArray(
      (
        (product as Record<string, Record<string, Record<string, unknown>>>).generalAnnotation?.orbitList as
          | Record<string, unknown>
          | undefined
      )?.orbit as unknown[],
    ).map((o) => ({
      timeS: parseUtcSeconds(file, 'orbit/time', str(field(file, o, ['time']))),
      position: [
        fnum(file, o, ['position', 'x']),
        fnum(file, o, ['position', 'y']),
        fnum(file, o, ['position', 'z']),
      ] as [number, number, number],
      velocity: [
        fnum(file, o, ['velocity', 'x']),
        fnum(file, o, ['velocity', 'y']),
        fnum(file, o, ['velocity', 'z']),
      ] as [number, number, number],
    })),
    radarFrequencyHz:
      Number(
        str(
          (product as Record<string, Record<string, Record<string, unknown>>>).generalAnnotation
            ?.productInformation?.radarFrequency,
        ),
      ) || null,
    geolocationGrid: grid.map((g) => ({
      line: fnum(file, g, ['line']),
      pixel: fnum(file, g, ['pixel']),
      lat: fnum(file, g, ['latitude']),
      lon: fnum(file, g, ['longitude']),
      height: fnum(file, g, ['height']),
      incidenceDeg: fnum(file, g, ['incidenceAngle']),
    })),
  };
}

/** Files of a SAFE product, in a folder or a .zip, by their path inside the SAFE folder. */
interface SafeFiles {
  list(): string[];
  read(path: string): Promise<Uint8Array>;
  /** A random-access source for a raster (a stored zip entry is read in place). */
  source(path: string): Promise<ByteSource>;
  close(): Promise<void>;
}

async function listDir(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(root, p).replace(/\\/g, '/'));
    }
  };
  await walk(root);
  return out;
}

/** Options of SafeProduct.open. */
export interface SafeOpenOptions {
  /**
   * Bytes of one metadata file (manifest, annotation, calibration, noise) read into memory (default
   * 64 MiB): checked by stat in a folder, from the central directory in a zip and while inflating.
   */
  maxMetadataBytes?: number;
}

async function openFiles(path: string, maxMetadataBytes: number): Promise<SafeFiles> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    throw new NotFoundError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
  if (st.isDirectory()) {
    const files = await listDir(path);
    return {
      list: () => files,
      read: async (p) => {
        const src = await FileSource.open(join(path, p));
        try {
          assertMetadataSize(join(path, p), src.size, maxMetadataBytes);
          return await src.read(0, src.size);
        } finally {
          await src.close();
        }
      },
      source: (p) => FileSource.open(join(path, p)),
      close: async () => {},
    };
  }
  const src = await FileSource.open(path);
  let zip: ZipArchive;
  try {
    zip = await Zip.open(src);
  } catch (err) {
    await src.close();
    throw err;
  }
  // Paths inside the SAFE folder: drop the top folder (X.SAFE/).
  const byPath = new Map(
    zip.entries.filter((e) => !e.name.endsWith('/')).map((e) => [e.name.replace(/^[^/]+\.SAFE\//, ''), e]),
  );
  return {
    list: () => [...byPath.keys()],
    read: async (p) => {
      const e = byPath.get(p) as NonNullable<ReturnType<typeof byPath.get>>;
      // The central directory's size first; inflating stops at it, so a lying entry cannot pass it.
      assertMetadataSize(`${path}!${e.name}`, e.size, maxMetadataBytes);
      return zip.read(e, maxMetadataBytes);
    },
    source: async (p) => {
      const e = byPath.get(p) as NonNullable<ReturnType<typeof byPath.get>>;
      if (e.method !== 0)
        throw new FormatError(
          path,
          `measurement '${p}' is compressed inside the zip; extract the SAFE folder first`,
        );
      return new ZipEntrySource(zip, await zip.dataOffset(e), e.size, `${path}!${p}`);
    },
    close: () => src.close(),
  };
}

/** A Sentinel-1 SAFE product (GRD), from its folder or zip. */
export class SafeProduct {
  private constructor(
    readonly path: string,
    private readonly files: SafeFiles,
  ) {}

  static async open(path: string, opts: SafeOpenOptions = {}): Promise<SafeProduct> {
    const limit = checkBudget('maxMetadataBytes', opts.maxMetadataBytes ?? DEFAULT_METADATA_LIMIT_BYTES);
    const files = await openFiles(path, limit);
    if (!files.list().includes('manifest.safe')) {
      await files.close();
      throw new FormatError(path, 'is not a SAFE product (no manifest.safe)');
    }
    return new SafeProduct(path, files);
  }

  /** Polarisations with a product annotation (upper case, e.g. ["VH", "VV"]). */
  polarisations(): string[] {
    const out = new Set<string>();
    for (const f of this.files.list()) {
      const m = /^annotation\/s1[abcd]-[a-z0-9]+-[a-z]+-([a-z]{2})-.*\.xml$/.exec(f);
      if (m) out.add(m[1].toUpperCase());
    }
    return [...out].sort();
  }

  async noise(pol: string): Promise<NoiseAnnotation> {
    const f = this.find(
      new RegExp(`^annotation/calibration/noise-${this.polRe(pol)}.*\\.xml$`),
      `noise annotation for ${pol} (annotation/calibration/noise-*.xml)`,
    );
    return parseNoise(`${this.path}/${f}`, Buffer.from(await this.files.read(f)).toString('utf8'));
  }

  /** The base name of a polarisation's annotation file (measurement TIFFs share it), or null. */
  polarisationFile(pol: string): string | null {
    const re = new RegExp(`^annotation/(${this.polRe(pol)}.*)\\.xml$`);
    for (const f of this.files.list()) {
      const m = re.exec(f);
      if (m) return m[1];
    }
    return null;
  }

  private find(pattern: RegExp, what: string): string {
    const f = this.files.list().find((p) => pattern.test(p));
    if (!f) throw new FormatError(this.path, `has no ${what}`);
    return f;
  }

  private polRe(pol: string): string {
    return `s1[abcd]-[a-z0-9]+-[a-z]+-${pol.toLowerCase()}-`;
  }

  async annotation(pol: string): Promise<S1Annotation> {
    const f = this.find(
      new RegExp(`^annotation/${this.polRe(pol)}.*\\.xml$`),
      `product annotation for ${pol}`,
    );
    return parseAnnotation(`${this.path}/${f}`, Buffer.from(await this.files.read(f)).toString('utf8'));
  }

  async calibration(pol: string): Promise<CalibrationVector[]> {
    const f = this.find(
      new RegExp(`^annotation/calibration/calibration-${this.polRe(pol)}.*\\.xml$`),
      `calibration annotation for ${pol} (annotation/calibration/calibration-*.xml)`,
    );
    return parseCalibration(`${this.path}/${f}`, Buffer.from(await this.files.read(f)).toString('utf8'));
  }

  /**
   * The measurement TIFF of a polarisation, opened; its size must equal the annotation's (or, with
   * `allowCrop`, fit inside it from the first line and sample, for tests on cropped rasters).
   */
  async measurement(
    pol: string,
    annotation?: S1Annotation,
    allowCrop = false,
    open: GeoTiffOpenOptions = {},
  ): Promise<GeoTiff> {
    const f = this.find(
      new RegExp(`^measurement/${this.polRe(pol)}.*\\.tiff?$`),
      `measurement TIFF for ${pol} (measurement/ is empty)`,
    );
    const tif = await GeoTiff.open(await this.files.source(f), open);
    const mismatch =
      annotation &&
      (allowCrop
        ? tif.width > annotation.numberOfSamples || tif.height > annotation.numberOfLines
        : tif.width !== annotation.numberOfSamples || tif.height !== annotation.numberOfLines);
    if (annotation && mismatch) {
      await tif.close();
      throw new FormatError(
        `${this.path}/${f}`,
        `is ${tif.width} x ${tif.height} pixels but the annotation says ${annotation.numberOfSamples} x ${annotation.numberOfLines}`,
      );
    }
    return tif;
  }

  async close(): Promise<void> {
    await this.files.close();
  }
}
