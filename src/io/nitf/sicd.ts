import { XMLParser } from 'fast-xml-parser';
import { FormatError, UnsupportedError, ValidationError } from '../../errors.js';
import type { Window } from '../../geo/window.js';
import { assertWindowInside, fullWindow } from '../../geo/window.js';
import type { RasterView } from '../../raster/view.js';
import { checkBudget, DEFAULT_METADATA_LIMIT_BYTES, fmtMiB, fmtSize } from '../budget.js';
import type { ByteSource } from '../source.js';
import { FileSource } from '../source.js';
import type { NitfFile, NitfImageSegment } from './nitf.js';
import { parseNitf } from './nitf.js';
import { polyval2 } from './sicd-projection.js';

export type SicdPixelType = 'RE32F_IM32F' | 'RE16I_IM16I' | 'AMP8I_PHS8I';

/** The parts of a SICD's XML sarbridge uses (SICD Volume 1, versions 0.4 to 1.3). */
export interface SicdMetadata {
  /** From the XML namespace, e.g. "1.1.0"; null when absent. */
  version: string | null;
  collectorName: string;
  coreName: string;
  collectType: string | null;
  modeType: string;
  classification: string;
  pixelType: SicdPixelType;
  ampTable: Float64Array | null;
  numRows: number;
  numCols: number;
  firstRow: number;
  firstCol: number;
  scpPixel: { row: number; col: number };
  /** Scene centre point: ECF metres and lat/lon/height (degrees, metres). */
  scpEcf: [number, number, number];
  scpLlh: [number, number, number];
  /** GeoData.ImageCorners: [lat, lon] of the corners in order (1: first row/col, 2: first row/last col ...). */
  imageCorners: [number, number][];
  grid: {
    imagePlane: string;
    type: string;
    row: { uVectEcf: [number, number, number]; ssM: number; impRespWidM: number | null };
    col: { uVectEcf: [number, number, number]; ssM: number; impRespWidM: number | null };
  };
  collectStart: string;
  collectDurationS: number;
  sideOfTrack: string | null;
  grazeAngleDeg: number | null;
  incidenceAngleDeg: number | null;
  /** Radiometric.SigmaZeroSFPoly coefficients [i][j] (row distance^i col distance^j, metres), or null. */
  sigmaZeroSfPoly: number[][] | null;
  /** Size of the full image this one was cut from (FirstRow/FirstCol place it there). */
  fullImage: { numRows: number; numCols: number };
  /** Grid.TimeCOAPoly [i][j]: time of centre of aperture (s) from row and column distance to the SCP (m). */
  timeCoaPoly: number[][] | null;
  /** Position.ARPPoly: aperture reference point X, Y, Z (ECF m) as polynomials of time (s). */
  arpPoly: { x: number[]; y: number[]; z: number[] } | null;
  /** Centre of RadarCollection.TxFrequency (Min, Max), Hz; null when absent. */
  centreFrequencyHz: number | null;
  /** ImageFormation.TxRcvPolarizationProc, e.g. "V:V"; null when absent. */
  polarization: string | null;
  /** RMA with INCA image formation (RGZERO grids): closest-approach time and Doppler rate polynomials. */
  inca: { timeCaPoly: number[]; rCaScpM: number; dRateSfPoly: number[][] } | null;
}

type Node = Record<string, unknown>;

function child(file: string, node: unknown, path: string[], required = true): unknown {
  let cur: unknown = node;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in (cur as Node))) {
      if (required) throw new FormatError(file, `SICD XML has no ${path.join('.')} (a mandatory field)`);
      return undefined;
    }
    cur = (cur as Node)[p];
  }
  return cur;
}

function text(v: unknown): string {
  if (v !== null && typeof v === 'object' && '#text' in (v as Node)) return String((v as Node)['#text']);
  return v === undefined || v === null ? '' : String(v);
}

function num(file: string, node: unknown, path: string[]): number {
  const v = Number(text(child(file, node, path)));
  if (!Number.isFinite(v))
    throw new FormatError(
      file,
      `SICD XML field ${path.join('.')} is '${text(child(file, node, path))}', expected a number`,
    );
  return v;
}

function optNum(file: string, node: unknown, path: string[]): number | null {
  const v = child(file, node, path, false);
  if (v === undefined) return null;
  const n = Number(text(v));
  return Number.isFinite(n) ? n : null;
}

function xyz(file: string, node: unknown, path: string[]): [number, number, number] {
  return [num(file, node, [...path, 'X']), num(file, node, [...path, 'Y']), num(file, node, [...path, 'Z'])];
}

function poly1d(node: unknown): number[] | null {
  if (node === undefined) return null;
  const coefs = (node as Node).Coef;
  const list = Array.isArray(coefs) ? coefs : coefs === undefined ? [] : [coefs];
  const out: number[] = [];
  for (const c of list) {
    const i = Number((c as Node)['@_exponent1']);
    const v = Number(text(c));
    if (Number.isInteger(i) && i >= 0 && i < 64 && Number.isFinite(v)) out[i] = v;
  }
  for (let i = 0; i < out.length; i++) out[i] ??= 0;
  return out;
}

function poly2d(node: unknown): number[][] | null {
  if (node === undefined) return null;
  const coefs = (node as Node).Coef;
  const list = Array.isArray(coefs) ? coefs : coefs === undefined ? [] : [coefs];
  const out: number[][] = [];
  for (const c of list) {
    const o = c as Node;
    const i = Number(o['@_exponent1']);
    const j = Number(o['@_exponent2']);
    const v = Number(text(c));
    if (
      !Number.isInteger(i) ||
      !Number.isInteger(j) ||
      i < 0 ||
      j < 0 ||
      i > 63 ||
      j > 63 ||
      !Number.isFinite(v)
    )
      continue;
    out[i] ??= [];
    out[i][j] = v;
  }
  for (const row of out) if (row) for (let j = 0; j < row.length; j++) row[j] ??= 0;
  for (let i = 0; i < out.length; i++) out[i] ??= [];
  return out;
}

/** Parse the SICD XML (no DTD, no external or internal entity expansion). */
export function parseSicdXml(file: string, xml: string): SicdMetadata {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new FormatError(file, 'SICD XML declares a DOCTYPE or entities, which sarbridge does not process');
  const parser = new XMLParser({
    ignoreAttributes: false,
    removeNSPrefix: true,
    processEntities: false,
    parseTagValue: false,
    trimValues: true,
  });
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new FormatError(file, `SICD XML is not well-formed: ${(err as Error).message}`, { cause: err });
  }
  const root = doc.SICD as Node | undefined;
  if (!root) throw new FormatError(file, 'XML has no SICD root element');
  // The namespace (urn:SICD:1.2.1) names the version; the parser drops xmlns attributes, so read it raw.
  const version =
    /<(?:\w+:)?SICD\b[^>]*xmlns(?::\w+)?="urn:SICD:(\d+\.\d+(?:\.\d+)?)"/.exec(xml)?.[1] ?? null;
  const pixelType = text(child(file, root, ['ImageData', 'PixelType'])) as SicdPixelType;
  if (!['RE32F_IM32F', 'RE16I_IM16I', 'AMP8I_PHS8I'].includes(pixelType)) {
    throw new FormatError(
      file,
      `SICD ImageData.PixelType is '${pixelType}', expected RE32F_IM32F, RE16I_IM16I or AMP8I_PHS8I`,
    );
  }
  let ampTable: Float64Array | null = null;
  const amp = child(file, root, ['ImageData', 'AmpTable'], false) as Node | undefined;
  if (amp) {
    ampTable = new Float64Array(256);
    const entries = Array.isArray(amp.Amplitude) ? amp.Amplitude : [amp.Amplitude];
    for (const e of entries) ampTable[Number((e as Node)['@_index'])] = Number(text(e));
  } else if (pixelType === 'AMP8I_PHS8I') {
    ampTable = Float64Array.from({ length: 256 }, (_, i) => i);
  }
  const icp = child(file, root, ['GeoData', 'ImageCorners', 'ICP']);
  const corners = (Array.isArray(icp) ? icp : [icp]).map(
    (p) => [Number(text((p as Node).Lat)), Number(text((p as Node).Lon))] as [number, number],
  );
  if (corners.length !== 4 || corners.some(([a, b]) => !Number.isFinite(a) || !Number.isFinite(b))) {
    throw new FormatError(file, 'SICD GeoData.ImageCorners must hold 4 ICP points with Lat and Lon');
  }
  const rad = child(file, root, ['Radiometric'], false);
  return {
    version,
    collectorName: text(child(file, root, ['CollectionInfo', 'CollectorName'])),
    coreName: text(child(file, root, ['CollectionInfo', 'CoreName'])),
    collectType: text(child(file, root, ['CollectionInfo', 'CollectType'], false)) || null,
    modeType: text(child(file, root, ['CollectionInfo', 'RadarMode', 'ModeType'])),
    classification: text(child(file, root, ['CollectionInfo', 'Classification'])),
    pixelType,
    ampTable,
    numRows: num(file, root, ['ImageData', 'NumRows']),
    numCols: num(file, root, ['ImageData', 'NumCols']),
    firstRow: num(file, root, ['ImageData', 'FirstRow']),
    firstCol: num(file, root, ['ImageData', 'FirstCol']),
    scpPixel: {
      row: num(file, root, ['ImageData', 'SCPPixel', 'Row']),
      col: num(file, root, ['ImageData', 'SCPPixel', 'Col']),
    },
    scpEcf: xyz(file, root, ['GeoData', 'SCP', 'ECF']),
    scpLlh: [
      num(file, root, ['GeoData', 'SCP', 'LLH', 'Lat']),
      num(file, root, ['GeoData', 'SCP', 'LLH', 'Lon']),
      num(file, root, ['GeoData', 'SCP', 'LLH', 'HAE']),
    ],
    imageCorners: corners,
    grid: {
      imagePlane: text(child(file, root, ['Grid', 'ImagePlane'])),
      type: text(child(file, root, ['Grid', 'Type'])),
      row: {
        uVectEcf: xyz(file, root, ['Grid', 'Row', 'UVectECF']),
        ssM: num(file, root, ['Grid', 'Row', 'SS']),
        impRespWidM: optNum(file, root, ['Grid', 'Row', 'ImpRespWid']),
      },
      col: {
        uVectEcf: xyz(file, root, ['Grid', 'Col', 'UVectECF']),
        ssM: num(file, root, ['Grid', 'Col', 'SS']),
        impRespWidM: optNum(file, root, ['Grid', 'Col', 'ImpRespWid']),
      },
    },
    collectStart: text(child(file, root, ['Timeline', 'CollectStart'])),
    collectDurationS: num(file, root, ['Timeline', 'CollectDuration']),
    sideOfTrack: text(child(file, root, ['SCPCOA', 'SideOfTrack'], false)) || null,
    grazeAngleDeg: optNum(file, root, ['SCPCOA', 'GrazeAng']),
    incidenceAngleDeg: optNum(file, root, ['SCPCOA', 'IncidenceAng']),
    sigmaZeroSfPoly: poly2d(child(file, rad, ['SigmaZeroSFPoly'], false)),
    fullImage: {
      numRows:
        optNum(file, root, ['ImageData', 'FullImage', 'NumRows']) ??
        num(file, root, ['ImageData', 'NumRows']),
      numCols:
        optNum(file, root, ['ImageData', 'FullImage', 'NumCols']) ??
        num(file, root, ['ImageData', 'NumCols']),
    },
    timeCoaPoly: poly2d(child(file, root, ['Grid', 'TimeCOAPoly'], false)),
    polarization: text(child(file, root, ['ImageFormation', 'TxRcvPolarizationProc'], false)) || null,
    centreFrequencyHz: (() => {
      const lo = optNum(file, root, ['RadarCollection', 'TxFrequency', 'Min']);
      const hi = optNum(file, root, ['RadarCollection', 'TxFrequency', 'Max']);
      return lo !== null && hi !== null ? (lo + hi) / 2 : null;
    })(),
    arpPoly: (() => {
      const arp = child(file, root, ['Position', 'ARPPoly'], false) as Node | undefined;
      if (!arp) return null;
      const [x, y, z] = [poly1d(arp.X), poly1d(arp.Y), poly1d(arp.Z)];
      return x && y && z ? { x, y, z } : null;
    })(),
    inca: (() => {
      const inca = child(file, root, ['RMA', 'INCA'], false) as Node | undefined;
      if (!inca) return null;
      const timeCaPoly = poly1d(inca.TimeCAPoly);
      const dRateSfPoly = poly2d(inca.DRateSFPoly);
      const rCaScpM = Number(text(inca.R_CA_SCP));
      return timeCaPoly && dRateSfPoly && Number.isFinite(rCaScpM)
        ? { timeCaPoly, rCaScpM, dRateSfPoly }
        : null;
    })(),
  };
}

/** A SICD (complex SAR image in NITF 2.1), opened for metadata and windowed pixel reads. */
export class Sicd {
  private constructor(
    readonly source: ByteSource,
    readonly nitf: NitfFile,
    readonly meta: SicdMetadata,
    /** The SICD XML as stored in the file. */
    readonly xml: string,
    /** Image segments in row order with the first image row of each. */
    private readonly segments: { seg: NitfImageSegment; row0: number }[],
  ) {}

  /**
   * Open a SICD (NITF). `maxXmlBytes` (default 64 MiB) bounds the SICD XML segment read into memory.
   */
  static async open(src: string | ByteSource, opts: { maxXmlBytes?: number } = {}): Promise<Sicd> {
    const maxXml = checkBudget('maxXmlBytes', opts.maxXmlBytes ?? DEFAULT_METADATA_LIMIT_BYTES);
    const source = typeof src === 'string' ? await FileSource.open(src) : src;
    try {
      const file = source.name;
      const nitf = await parseNitf(source);
      const des = nitf.des.find((d) => d.desid === 'XML_DATA_CONTENT' || d.desid === 'SICD_XML');
      if (!des)
        throw new FormatError(file, 'has no SICD XML data extension segment (DESID XML_DATA_CONTENT)');
      if (des.dataLength > maxXml)
        throw new FormatError(
          file,
          `SICD XML segment is ${fmtSize(des.dataLength)}, over the ${fmtMiB(maxXml)} limit for metadata files`,
        );
      const xml = Buffer.from(await source.read(des.dataOffset, des.dataLength, 'SICD XML')).toString('utf8');
      const meta = parseSicdXml(file, xml);
      const images = nitf.images.filter((im) => im.icat === 'SAR' || im.bands.length === 2);
      if (images.length === 0) throw new FormatError(file, 'has no SAR image segment');
      let row0 = 0;
      const segments = images.map((seg) => {
        const s = { seg, row0 };
        row0 += seg.rows;
        return s;
      });
      const width = images[0].cols;
      if (row0 !== meta.numRows || width !== meta.numCols) {
        throw new FormatError(
          file,
          `image segments hold ${row0} x ${width} pixels but ImageData says ${meta.numRows} x ${meta.numCols}`,
        );
      }
      for (const { seg } of segments) checkSegment(file, seg, meta.pixelType, width);
      return new Sicd(source, nitf, meta, xml, segments);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  get width(): number {
    return this.meta.numCols;
  }

  get height(): number {
    return this.meta.numRows;
  }

  /** Complex pixels (I, Q interleaved, float32) of a window, rows and columns as in the SICD. */
  async readComplex(win: Window = fullWindow(this.width, this.height)): Promise<RasterView<Float32Array>> {
    assertWindowInside(win, this.width, this.height, 'SICD window');
    const out = new Float32Array(win.width * win.height * 2);
    for (const { seg, row0 } of this.segments) {
      const y0 = Math.max(win.rowOff, row0);
      const y1 = Math.min(win.rowOff + win.height, row0 + seg.rows);
      if (y1 <= y0) continue;
      await readSegment(
        this.source,
        seg,
        this.meta,
        y0 - row0,
        y1 - row0,
        win.colOff,
        win.width,
        out,
        (y0 - win.rowOff) * win.width * 2,
      );
    }
    return { data: out, width: win.width, height: win.height, bands: 1, dataType: 'cfloat32', nodata: null };
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

const EXPECTED: Record<SicdPixelType, { pvtype: string; nbpp: number }> = {
  RE32F_IM32F: { pvtype: 'R', nbpp: 32 },
  RE16I_IM16I: { pvtype: 'SI', nbpp: 16 },
  AMP8I_PHS8I: { pvtype: 'INT', nbpp: 8 },
};

function checkSegment(file: string, seg: NitfImageSegment, pixelType: SicdPixelType, width: number): void {
  const e = EXPECTED[pixelType];
  if (seg.bands.length !== 2 || seg.pvtype !== e.pvtype || seg.nbpp !== e.nbpp) {
    throw new FormatError(
      file,
      `image segment is ${seg.bands.length} bands of ${seg.pvtype} ${seg.nbpp}-bit, expected 2 bands of ${e.pvtype} ${e.nbpp}-bit for ${pixelType}`,
    );
  }
  if (seg.ic !== 'NC')
    throw new UnsupportedError(file, `image compression ${seg.ic} is not supported for SICD (expected NC)`);
  if (!['P', 'B', 'R', 'S'].includes(seg.imode))
    throw new FormatError(file, `IMODE '${seg.imode}' is not one of B, P, R, S`);
  if (seg.cols !== width)
    throw new FormatError(file, `image segments have different widths (${seg.cols} and ${width})`);
  const need =
    seg.blocksPerRow * seg.blocksPerCol * seg.pixelsPerBlockH * seg.pixelsPerBlockV * 2 * (seg.nbpp / 8);
  if (need > seg.dataLength)
    throw new FormatError(
      file,
      `image segment needs ${need} bytes of pixels but holds ${seg.dataLength} (truncated NITF)`,
    );
  if (
    seg.blocksPerRow * seg.pixelsPerBlockH < seg.cols ||
    seg.blocksPerCol * seg.pixelsPerBlockV < seg.rows
  ) {
    throw new FormatError(
      file,
      `image segment blocks (${seg.blocksPerRow} x ${seg.pixelsPerBlockH}, ${seg.blocksPerCol} x ${seg.pixelsPerBlockV}) do not cover ${seg.cols} x ${seg.rows} pixels`,
    );
  }
}

/** Decode rows [r0, r1) of a segment, columns [c0, c0 + w), into complex float32 at `out[o..]`. */
async function readSegment(
  src: ByteSource,
  seg: NitfImageSegment,
  meta: SicdMetadata,
  r0: number,
  r1: number,
  c0: number,
  w: number,
  out: Float32Array,
  o: number,
): Promise<void> {
  const bytes = seg.nbpp / 8;
  const H = seg.pixelsPerBlockH;
  const V = seg.pixelsPerBlockV;
  const blockBytes = H * V * 2 * bytes;
  const nBlocks = seg.blocksPerRow * seg.blocksPerCol;
  const bc0 = Math.floor(c0 / H);
  const bc1 = Math.floor((c0 + w - 1) / H);
  const amp = meta.ampTable;
  const phaseScale = (2 * Math.PI) / 256;
  for (let br = Math.floor(r0 / V); br <= Math.floor((r1 - 1) / V); br++) {
    for (let bc = bc0; bc <= bc1; bc++) {
      const blockIndex = br * seg.blocksPerRow + bc;
      // Bytes of the block, per band when the mode keeps bands apart (S: band-sequential over blocks).
      const bandBlock = async (b: number): Promise<DataView> => {
        const off =
          seg.imode === 'S' ? (b * nBlocks + blockIndex) * (blockBytes / 2) : blockIndex * blockBytes;
        const len = seg.imode === 'S' ? blockBytes / 2 : blockBytes;
        const buf = await src.read(seg.dataOffset + off, len, `SICD block ${blockIndex}`);
        return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      };
      const v0 = await bandBlock(0);
      const v1 = seg.imode === 'S' ? await bandBlock(1) : v0;
      for (let y = Math.max(r0, br * V); y < Math.min(r1, (br + 1) * V); y++) {
        const rr = y - br * V;
        for (let x = Math.max(c0, bc * H); x < Math.min(c0 + w, (bc + 1) * H); x++) {
          const cc = x - bc * H;
          let pI: number;
          let pQ: number;
          switch (seg.imode) {
            case 'P':
              pI = (rr * H + cc) * 2 * bytes;
              pQ = pI + bytes;
              break;
            case 'B':
              pI = (rr * H + cc) * bytes;
              pQ = pI + H * V * bytes;
              break;
            case 'R':
              pI = (rr * 2 * H + cc) * bytes;
              pQ = pI + H * bytes;
              break;
            default:
              pI = (rr * H + cc) * bytes;
              pQ = pI;
          }
          let re: number;
          let im: number;
          if (meta.pixelType === 'RE32F_IM32F') {
            re = v0.getFloat32(pI, false);
            im = v1.getFloat32(pQ, false);
          } else if (meta.pixelType === 'RE16I_IM16I') {
            re = v0.getInt16(pI, false);
            im = v1.getInt16(pQ, false);
          } else {
            const a = (amp as Float64Array)[v0.getUint8(pI)];
            const ph = v1.getUint8(pQ) * phaseScale;
            re = a * Math.cos(ph);
            im = a * Math.sin(ph);
          }
          const k = o + ((y - r0) * w + (x - c0)) * 2;
          out[k] = re;
          out[k + 1] = im;
        }
      }
    }
  }
}

/**
 * Detected image from complex pixels: amplitude |z|, intensity |z|^2, or sigma0 = |z|^2 times
 * Radiometric.SigmaZeroSFPoly(xrow, ycol), the grid distances (m) of each pixel from the SCP
 * (`meta` and the window's offset needed for sigma0).
 */
export function detect(
  complex: RasterView<Float32Array>,
  kind: 'amplitude' | 'intensity' | 'sigma0',
  sigma0?: { meta: SicdMetadata; rowOff: number; colOff: number },
): RasterView<Float32Array> {
  if (complex.dataType !== 'cfloat32')
    throw new ValidationError(`detection needs cfloat32 pixels, got ${complex.dataType}`);
  const W = complex.width;
  const n = W * complex.height;
  const out = new Float32Array(n);
  const d = complex.data;
  if (kind !== 'sigma0') {
    for (let i = 0; i < n; i++) {
      const p = d[2 * i] * d[2 * i] + d[2 * i + 1] * d[2 * i + 1];
      out[i] = kind === 'intensity' ? p : Math.sqrt(p);
    }
  } else {
    const poly = sigma0?.meta.sigmaZeroSfPoly;
    if (!sigma0 || !poly)
      throw new ValidationError('sigma0 needs the SICD metadata with Radiometric.SigmaZeroSFPoly');
    const m = sigma0.meta;
    for (let i = 0; i < n; i++) {
      const p = d[2 * i] * d[2 * i] + d[2 * i + 1] * d[2 * i + 1];
      const xrow = (Math.floor(i / W) + sigma0.rowOff + m.firstRow - m.scpPixel.row) * m.grid.row.ssM;
      const ycol = ((i % W) + sigma0.colOff + m.firstCol - m.scpPixel.col) * m.grid.col.ssM;
      out[i] = p * polyval2(poly, xrow, ycol);
    }
  }
  return { data: out, width: W, height: complex.height, bands: 1, dataType: 'float32', nodata: null };
}
