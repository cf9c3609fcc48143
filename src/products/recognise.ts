import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, SarbridgeError, ValidationError } from '../errors.js';
import { isKnownEpsg } from '../geo/crs.js';
import { checkBudget, DEFAULT_METADATA_LIMIT_BYTES, fmtMiB, fmtSize } from '../io/budget.js';
import { Sicd } from '../io/nitf/sicd.js';
import type { ByteSource } from '../io/source.js';
import { FileSource } from '../io/source.js';
import { GeoTiff } from '../io/tiff/reader.js';
import { ZipArchive } from '../io/zip.js';
import { findSidecar, readSidecar } from './sidecar.js';

/**
 * The product formats sarbridge takes in: a Sentinel-1 SAFE folder, a SAFE in a zip, a SICD (NITF
 * 2.1 / NSIF with the SICD XML in a data extension segment), or a geocoded GeoTIFF (with or without a
 * STAC/JSON sidecar).
 */
export type ProductFormat = 'safe' | 'safe-zip' | 'sicd' | 'geotiff';

/** What recogniseProduct found in a product's bytes. */
export interface RecognisedProduct {
  path: string;
  format: ProductFormat;
  /** In words, what the bytes showed (for logs, job records and `sarbridge ingest`). */
  evidence: string;
  /** SENTINEL-1A, the SICD's CollectorName (RCM-1), the sidecar's platform; null when nothing says. */
  mission: string | null;
  /** GRD, SLC, SICD, the sidecar's sar:product_type; null when nothing says. */
  productType: string | null;
  /** IW, STRIPMAP, SPOTLIGHT ...; null when nothing says. */
  mode: string | null;
  /** Upper case, e.g. ["VV", "VH"]; empty when nothing says. */
  polarisations: string[];
  /** A geocoded GeoTIFF's sidecar (STAC item or JSON), or null. */
  sidecar: string | null;
  /** A geocoded GeoTIFF's EPSG code, else null. */
  epsg: number | null;
}

export interface RecogniseOptions {
  /** A geocoded GeoTIFF's sidecar; by default one is looked for beside it (see sidecarCandidates). */
  sidecar?: string;
  /** Bytes of one metadata file (SAFE manifest, SICD XML) read into memory (default 64 MiB). */
  maxMetadataBytes?: number;
}

export const EXPECTED_PRODUCT =
  'a Sentinel-1 SAFE (a folder or zip holding manifest.safe), a SICD (NITF with the SICD XML in a DES) or a geocoded GeoTIFF';

/** Content that is not a product sarbridge takes: names the file, what was found and what was expected. */
export class UnrecognisedProductError extends ValidationError {
  override readonly code: string = 'UnrecognisedProduct';
  constructor(
    readonly file: string,
    readonly found: string,
    readonly expected: string = EXPECTED_PRODUCT,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${found}; expected ${expected}`, options);
  }
}

/** What the first bytes of a file are. */
export type ContentKind = 'nitf' | 'tiff' | 'bigtiff' | 'zip' | 'empty' | 'unknown';

/** The kind of content from its first bytes (at least 8 are looked at when there are that many). */
export function contentKindOf(head: Uint8Array): ContentKind {
  if (head.length === 0) return 'empty';
  const s = String.fromCharCode(...head.subarray(0, 4));
  if (s === 'NITF' || s === 'NSIF') return 'nitf';
  if (s === 'II*\0' || s === 'MM\0*') return 'tiff';
  if (s === 'II+\0' || s === 'MM\0+') return 'bigtiff';
  // Local file header; an empty archive starts with its end record; a spanned archive with a marker.
  if (s === 'PK\x03\x04' || s === 'PK\x05\x06' || s === 'PK\x07\x08') return 'zip';
  return 'unknown';
}

const KNOWN_OTHERS: [RegExp, string][] = [
  [/^\x89PNG/, 'a PNG image'],
  [/^\xff\xd8\xff/, 'a JPEG image'],
  [/^%PDF/, 'a PDF document'],
  [/^\x1f\x8b/, 'gzip-compressed data (unpack it first)'],
  [/^BZh/, 'bzip2-compressed data (unpack it first)'],
  [/^\xfd7zXZ/, 'xz-compressed data (unpack it first)'],
  [/^ustar|^.{257}ustar/s, 'a tar archive (unpack it first)'],
  [/^\s*<\?xml|^\s*</, 'XML or HTML text'],
  [/^\s*[[{]/, 'JSON text (a sidecar goes beside its GeoTIFF)'],
  [/^\x89HDF|^CDF\x01|^CDF\x02/, 'an HDF5 or netCDF file'],
];

/** "a PNG image" or "unknown content starting 0x68 0x65 ... ('he...')". */
function describeUnknown(head: Uint8Array): string {
  const latin = String.fromCharCode(...head);
  for (const [re, what] of KNOWN_OTHERS) if (re.test(latin)) return `found ${what}`;
  const first = head.subarray(0, 8);
  const hex = [...first].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
  const text = [...first].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `unknown content starting ${hex} ('${text}')`;
}

/** A view of a source that readers may close without closing it. */
function borrowed(src: ByteSource): ByteSource {
  return {
    name: src.name,
    size: src.size,
    read: (o, l, w) => src.read(o, l, w),
    readInto: (o, l, t, w) => src.readInto(o, l, t, w),
    close: async () => {},
  };
}

/** A reader's error message without the leading "<file>: ". */
function problemOf(file: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.startsWith(`${file}: `) ? msg.slice(file.length + 2) : msg;
}

/** Reader errors (FormatError, UnsupportedError ...) become the recognition error; bugs propagate. */
function wrap(file: string, what: string, err: unknown): never {
  if (err instanceof SarbridgeError)
    throw new UnrecognisedProductError(file, `${what}, but ${problemOf(file, err)}`, undefined, {
      cause: err,
    });
  throw err;
}

const tagText = (xml: string, tag: string): string | null => {
  const m = new RegExp(`<(?:[\\w-]+:)?${tag}>([^<]*)<`).exec(xml);
  return m ? m[1].trim() : null;
};

/** Mission, product type, mode and polarisations from a Sentinel-1 manifest.safe. */
function manifestFacts(
  file: string,
  what: string,
  xml: string,
): Pick<RecognisedProduct, 'mission' | 'productType' | 'mode' | 'polarisations'> {
  // manifest.safe decides the format; its facts are read when it carries them (a bare or damaged
  // manifest leaves them null, and the annotations decide later). Another mission's SAFE is refused.
  const family = tagText(xml, 'familyName');
  if (family !== null && !/^SENTINEL-1$/i.test(family))
    throw new UnrecognisedProductError(
      file,
      `${what}, but manifest.safe names the platform '${family}'`,
      'a Sentinel-1 SAFE (SENTINEL-1), a SICD or a geocoded GeoTIFF',
    );
  const number = tagText(xml, 'number') ?? '';
  const pols = [...xml.matchAll(/<(?:[\w-]+:)?transmitterReceiverPolarisation>([^<]*)</g)].map((m) =>
    m[1].trim().toUpperCase(),
  );
  return {
    mission: family === null ? null : `${family.toUpperCase()}${number.toUpperCase()}`,
    productType: tagText(xml, 'productType'),
    mode: tagText(xml, 'mode'),
    polarisations: [...new Set(pols)],
  };
}

function base(path: string, format: ProductFormat, evidence: string): RecognisedProduct {
  return {
    path,
    format,
    evidence,
    mission: null,
    productType: null,
    mode: null,
    polarisations: [],
    sidecar: null,
    epsg: null,
  };
}

async function recogniseDirectory(dir: string, limitBytes: number): Promise<RecognisedProduct> {
  const manifest = join(dir, 'manifest.safe');
  let st: Awaited<ReturnType<typeof stat>> | null = null;
  try {
    st = await stat(manifest);
  } catch {
    st = null;
  }
  if (!st?.isFile()) {
    const names = (await readdir(dir)).sort();
    const safes = names.filter((n) => /\.SAFE$/i.test(n));
    const hint =
      safes.length === 1
        ? ` (it holds ${safes[0]}: pass that folder)`
        : names.length === 0
          ? ' (it is empty)'
          : '';
    const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length} entries)` : '');
    throw new UnrecognisedProductError(
      dir,
      `a directory without manifest.safe${hint || (names.length ? `; it holds ${shown}` : '')}`,
    );
  }
  if (st.size > limitBytes)
    throw new UnrecognisedProductError(
      dir,
      `a directory whose manifest.safe is ${fmtSize(st.size)}, over the ${fmtMiB(limitBytes)} limit for metadata files`,
    );
  const src = await FileSource.open(manifest);
  let xml: string;
  try {
    xml = Buffer.from(await src.read(0, src.size, 'manifest.safe')).toString('utf8');
  } finally {
    await src.close();
  }
  const what = 'a SAFE folder with manifest.safe';
  return { ...base(dir, 'safe', what), ...manifestFacts(dir, what, xml) };
}

async function recogniseZip(file: string, src: ByteSource, limitBytes: number): Promise<RecognisedProduct> {
  let zip: ZipArchive;
  try {
    zip = await ZipArchive.open(borrowed(src));
  } catch (err) {
    wrap(file, 'a ZIP signature', err);
  }
  // As SafeProduct reads a zip: manifest.safe at the top, or in one top folder named *.SAFE.
  const manifests = zip.entries.filter((e) => /^(?:[^/]+\.SAFE\/)?manifest\.safe$/.test(e.name));
  if (manifests.length === 0) {
    const shown = zip.entries
      .slice(0, 3)
      .map((e) => e.name)
      .join(', ');
    throw new UnrecognisedProductError(
      file,
      `a ZIP archive of ${zip.entries.length} entries${shown ? ` (${shown}${zip.entries.length > 3 ? ', ...' : ''})` : ''} without a manifest.safe at its top or in a *.SAFE folder`,
    );
  }
  if (manifests.length > 1)
    throw new UnrecognisedProductError(
      file,
      `a ZIP archive holding ${manifests.length} SAFE products (${manifests.map((e) => e.name).join(', ')})`,
      'one SAFE per zip',
    );
  const e = manifests[0];
  const what = `a ZIP archive with ${e.name}`;
  if (e.size > limitBytes)
    throw new UnrecognisedProductError(
      file,
      `${what}, but it is ${fmtSize(e.size)}, over the ${fmtMiB(limitBytes)} limit for metadata files`,
    );
  let xml: string;
  try {
    xml = Buffer.from(await zip.read(e, limitBytes)).toString('utf8');
  } catch (err) {
    wrap(file, what, err);
  }
  return { ...base(file, 'safe-zip', what), ...manifestFacts(file, what, xml) };
}

async function recogniseNitf(file: string, src: ByteSource, limitBytes: number): Promise<RecognisedProduct> {
  let sicd: Sicd;
  try {
    sicd = await Sicd.open(borrowed(src), { maxXmlBytes: limitBytes });
  } catch (err) {
    wrap(file, 'a NITF file', err);
  }
  const m = sicd.meta;
  return {
    ...base(
      file,
      'sicd',
      `a NITF ${sicd.nitf.version} file with SICD XML (${m.numRows} x ${m.numCols} ${m.pixelType})`,
    ),
    mission: m.collectorName || null,
    productType: 'SICD',
    mode: m.modeType || null,
    polarisations: m.polarization ? [m.polarization.replace(':', '').toUpperCase()] : [],
  };
}

async function recogniseTiff(
  file: string,
  src: ByteSource,
  sidecarPath: string | null,
): Promise<RecognisedProduct> {
  let tif: GeoTiff;
  try {
    tif = await GeoTiff.open(borrowed(src));
  } catch (err) {
    wrap(file, 'a TIFF signature', err);
  }
  const what = `a ${tif.bigTiff ? 'BigTIFF' : 'TIFF'} of ${tif.width} x ${tif.height} ${tif.dataType} pixels`;
  if (tif.epsg === null || tif.geoTransform === null)
    throw new UnrecognisedProductError(
      file,
      `${what} that is not georeferenced (${tif.epsg === null ? 'no EPSG CRS' : 'no geotransform'}; a SAFE measurement TIFF goes in with its SAFE)`,
    );
  if (!isKnownEpsg(tif.epsg))
    throw new UnrecognisedProductError(
      file,
      `${what} in EPSG:${tif.epsg}, a CRS sarbridge cannot transform`,
      'a geocoded GeoTIFF in WGS84, Web Mercator, UTM or a polar stereographic CRS',
    );
  const out: RecognisedProduct = {
    ...base(file, 'geotiff', `a geocoded ${what.slice(2)} in EPSG:${tif.epsg}`),
    epsg: tif.epsg,
  };
  if (sidecarPath === null) return out;
  let props: Record<string, unknown>;
  try {
    props = (await readSidecar(sidecarPath)).properties;
  } catch (err) {
    wrap(file, `${out.evidence} with the sidecar ${sidecarPath}`, err);
  }
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const pols = props['sar:polarizations'];
  return {
    ...out,
    sidecar: sidecarPath,
    mission: str(props.platform),
    productType: str(props['sar:product_type']),
    mode: str(props['sar:instrument_mode']),
    polarisations: Array.isArray(pols)
      ? pols.filter((p) => typeof p === 'string').map((p) => p.toUpperCase())
      : [],
  };
}

/**
 * What a path holds, from its first bytes: a directory, or the ContentKind of a file. A NotFoundError
 * when it does not exist.
 */
export async function contentKind(path: string): Promise<ContentKind | 'directory'> {
  const st = await statOrNotFound(path);
  if (st.isDirectory()) return 'directory';
  if (!st.isFile()) return 'unknown';
  const src = await FileSource.open(path);
  try {
    return contentKindOf(await src.read(0, Math.min(src.size, 8), 'file signature'));
  } finally {
    await src.close();
  }
}

async function statOrNotFound(path: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(path);
  } catch (err) {
    throw new NotFoundError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
}

/**
 * Recognise a product by its content, never by its name: a folder holding manifest.safe (SAFE), a
 * zip (`PK\3\4`) with manifest.safe at its top or in a `*.SAFE/` folder, a NITF/NSIF file with the
 * SICD XML in a data extension segment, a TIFF or BigTIFF (`II*\0`, `MM\0*`, `II+\0`, `MM\0+`) with an
 * EPSG CRS and a geotransform (its sidecar, a STAC item or JSON, is found beside it by name). What
 * else is found is read from the metadata the format carries: mission, product type, mode and
 * polarisations.
 *
 * Throws UnrecognisedProductError (a ValidationError: HTTP 400, exit code 1) naming the file, what was
 * found and what was expected for anything else, including a truncated or damaged header; a
 * NotFoundError when the path does not exist.
 * @example
 * const p = await recogniseProduct('/drop/S1A_IW_GRDH_1SDV_...zip');
 * // { format: 'safe-zip', mission: 'SENTINEL-1A', productType: 'GRD', polarisations: ['VV', 'VH'], ... }
 */
export async function recogniseProduct(
  input: string | ByteSource,
  opts: RecogniseOptions = {},
): Promise<RecognisedProduct> {
  const limitBytes = checkBudget('maxMetadataBytes', opts.maxMetadataBytes ?? DEFAULT_METADATA_LIMIT_BYTES);
  if (typeof input !== 'string') return recogniseSource(input, limitBytes, opts.sidecar ?? null);
  const st = await statOrNotFound(input);
  if (st.isDirectory()) return recogniseDirectory(input, limitBytes);
  if (!st.isFile())
    throw new UnrecognisedProductError(
      input,
      'neither a regular file nor a directory (a device, socket or pipe)',
    );
  const src = await FileSource.open(input);
  try {
    const head = await src.read(0, Math.min(src.size, 8), 'file signature');
    const sidecar =
      contentKindOf(head) === 'tiff' || contentKindOf(head) === 'bigtiff'
        ? (opts.sidecar ?? (await findSidecar(input)))
        : null;
    return await recogniseSource(src, limitBytes, sidecar);
  } finally {
    await src.close();
  }
}

async function recogniseSource(
  src: ByteSource,
  limitBytes: number,
  sidecar: string | null,
): Promise<RecognisedProduct> {
  const file = src.name;
  // Enough for the signatures and the tar magic at byte 257.
  const head = await src.read(0, Math.min(src.size, 264), 'file signature');
  const kind = contentKindOf(head);
  switch (kind) {
    case 'empty':
      throw new UnrecognisedProductError(file, 'an empty file (0 bytes)');
    case 'nitf':
      return recogniseNitf(file, src, limitBytes);
    case 'tiff':
    case 'bigtiff':
      return recogniseTiff(file, src, sidecar);
    case 'zip':
      return recogniseZip(file, src, limitBytes);
    default:
      throw new UnrecognisedProductError(file, describeUnknown(head));
  }
}
