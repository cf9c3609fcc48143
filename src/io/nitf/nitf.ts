import { FormatError, UnsupportedError } from '../../errors.js';
import type { ByteSource } from '../source.js';

/** An image segment of a NITF 2.1 file: the fields sarbridge reads, and where its pixels are. */
export interface NitfImageSegment {
  iid1: string;
  idatim: string;
  rows: number;
  cols: number;
  /** INT, B, SI, R or C. */
  pvtype: string;
  irep: string;
  icat: string;
  abpp: number;
  icords: string;
  igeolo: string;
  /** Compression code: NC (none) is the one SICD uses. */
  ic: string;
  bands: { irepband: string; isubcat: string }[];
  /** B, P, R or S. */
  imode: string;
  blocksPerRow: number;
  blocksPerCol: number;
  pixelsPerBlockH: number;
  pixelsPerBlockV: number;
  nbpp: number;
  idlvl: number;
  ialvl: number;
  /** ILOC: row and column of this segment relative to the one it is attached to. */
  iloc: [number, number];
  dataOffset: number;
  dataLength: number;
}

/** A data extension segment (DES): SICD and SIDD carry their XML in one. */
export interface NitfDesSegment {
  desid: string;
  desver: string;
  subheaderFields: string;
  dataOffset: number;
  dataLength: number;
}

export interface NitfFile {
  version: string;
  fileTitle: string;
  fileDateTime: string;
  classification: string;
  images: NitfImageSegment[];
  des: NitfDesSegment[];
}

/** Sequential reader of a NITF header's fixed-width ASCII fields, with bounds and number checks. */
class Fields {
  pos = 0;
  constructor(
    private readonly file: string,
    private readonly bytes: Uint8Array,
    private readonly where: string,
  ) {}

  str(len: number, name: string): string {
    if (this.pos + len > this.bytes.length)
      throw new FormatError(this.file, `${this.where} ends inside field ${name} (truncated NITF)`);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(this.bytes[this.pos + i]);
    this.pos += len;
    return s;
  }

  int(len: number, name: string): number {
    const s = this.str(len, name);
    const t = s.trim();
    if (!/^\d+$/.test(t))
      throw new FormatError(
        this.file,
        `${this.where} field ${name} is '${s}', expected a ${len}-digit number`,
      );
    return Number(t);
  }

  skip(len: number, name: string): void {
    this.str(len, name);
  }
}

/** The 16 fields of a NITF 2.1 security block (167 bytes); returns the classification code. */
function security(f: Fields, prefix: string): string {
  const clas = f.str(1, `${prefix}CLAS`);
  const lens: [number, string][] = [
    [2, 'CLSY'],
    [11, 'CODE'],
    [2, 'CTLH'],
    [20, 'REL'],
    [2, 'DCTP'],
    [8, 'DCDT'],
    [4, 'DCXM'],
    [1, 'DG'],
    [8, 'DGDT'],
    [43, 'CLTX'],
    [1, 'CATP'],
    [40, 'CAUT'],
    [1, 'CRSN'],
    [8, 'SRDT'],
    [15, 'CTLN'],
  ];
  for (const [len, name] of lens) f.skip(len, prefix + name);
  return clas;
}

const MAX_HEADER = 1 << 20;

async function readAt(src: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  const len = Math.max(0, Math.min(length, src.size - offset));
  if (offset > src.size)
    throw new FormatError(
      src.name,
      `${what} at byte ${offset} lies past the end of the ${src.size}-byte file (truncated NITF)`,
    );
  return src.read(offset, len, what);
}

/**
 * Parse a NITF 2.1 (or 2.0-compatible) file's header, image subheaders and DES subheaders.
 * Every length is checked against the file: a truncated file is a FormatError naming the field.
 */
export async function parseNitf(src: ByteSource): Promise<NitfFile> {
  const file = src.name;
  if (src.size < 9) throw new FormatError(file, `is ${src.size} bytes, too short for a NITF header`);
  const head = await readAt(src, 0, Math.min(src.size, MAX_HEADER), 'NITF header');
  const f = new Fields(file, head, 'NITF file header');
  const fhdr = f.str(4, 'FHDR');
  if (fhdr !== 'NITF' && fhdr !== 'NSIF')
    throw new FormatError(file, `wrong magic '${fhdr}' (expected 'NITF' of a NITF 2.1 file)`);
  const version = f.str(5, 'FVER');
  if (version !== '02.10' && version !== '01.00')
    throw new UnsupportedError(file, `NITF version '${version}' is not supported (expected 02.10)`);
  f.skip(2, 'CLEVEL');
  f.skip(4, 'STYPE');
  f.skip(10, 'OSTAID');
  const fileDateTime = f.str(14, 'FDT');
  const fileTitle = f.str(80, 'FTITLE').trim();
  const classification = security(f, 'FS');
  f.skip(5, 'FSCOP');
  f.skip(5, 'FSCPYS');
  f.skip(1, 'ENCRYP');
  f.skip(3, 'FBKGC');
  f.skip(24, 'ONAME');
  f.skip(18, 'OPHONE');
  const fl = f.int(12, 'FL');
  const hl = f.int(6, 'HL');
  if (fl !== 999999999999 && fl > src.size)
    throw new FormatError(
      file,
      `header field FL says ${fl} bytes but the file has ${src.size} (truncated NITF)`,
    );
  const numi = f.int(3, 'NUMI');
  const imageLens: [number, number][] = [];
  for (let i = 0; i < numi; i++) imageLens.push([f.int(6, `LISH${i + 1}`), f.int(10, `LI${i + 1}`)]);
  const nums = f.int(3, 'NUMS');
  const graphicLens: [number, number][] = [];
  for (let i = 0; i < nums; i++) graphicLens.push([f.int(4, `LSSH${i + 1}`), f.int(6, `LS${i + 1}`)]);
  f.skip(3, 'NUMX');
  const numt = f.int(3, 'NUMT');
  const textLens: [number, number][] = [];
  for (let i = 0; i < numt; i++) textLens.push([f.int(4, `LTSH${i + 1}`), f.int(5, `LT${i + 1}`)]);
  const numdes = f.int(3, 'NUMDES');
  const desLens: [number, number][] = [];
  for (let i = 0; i < numdes; i++) desLens.push([f.int(4, `LDSH${i + 1}`), f.int(9, `LD${i + 1}`)]);

  let pos = hl;
  const images: NitfImageSegment[] = [];
  for (let i = 0; i < numi; i++) {
    const [lish, li] = imageLens[i];
    const sub = await readAt(src, pos, lish, `image subheader ${i + 1}`);
    if (sub.length < lish)
      throw new FormatError(file, `image subheader ${i + 1} at byte ${pos} is cut off (truncated NITF)`);
    images.push(parseImageSubheader(file, sub, i + 1, pos + lish, li));
    if (pos + lish + li > src.size)
      throw new FormatError(
        file,
        `image segment ${i + 1} needs bytes up to ${pos + lish + li} but the file has ${src.size} (truncated NITF)`,
      );
    pos += lish + li;
  }
  for (const [a, b] of graphicLens) pos += a + b;
  for (const [a, b] of textLens) pos += a + b;
  const des: NitfDesSegment[] = [];
  for (let i = 0; i < numdes; i++) {
    const [ldsh, ld] = desLens[i];
    const sub = await readAt(src, pos, ldsh, `DES subheader ${i + 1}`);
    if (sub.length < ldsh)
      throw new FormatError(file, `DES subheader ${i + 1} at byte ${pos} is cut off (truncated NITF)`);
    const d = new Fields(file, sub, `DES subheader ${i + 1}`);
    if (d.str(2, 'DE') !== 'DE')
      throw new FormatError(file, `DES subheader ${i + 1} at byte ${pos} does not start with 'DE'`);
    const desid = d.str(25, 'DESID').trim();
    const desver = d.str(2, 'DESVER');
    security(d, 'DES');
    if (desid === 'TRE_OVERFLOW') {
      d.skip(6, 'DESOFLW');
      d.skip(3, 'DESITEM');
    }
    const desshl = d.int(4, 'DESSHL');
    const subheaderFields = d.str(desshl, 'DESSHF');
    if (pos + ldsh + ld > src.size)
      throw new FormatError(
        file,
        `DES ${i + 1} (${desid}) needs bytes up to ${pos + ldsh + ld} but the file has ${src.size} (truncated NITF)`,
      );
    des.push({ desid, desver, subheaderFields, dataOffset: pos + ldsh, dataLength: ld });
    pos += ldsh + ld;
  }
  return { version, fileTitle, fileDateTime, classification, images, des };
}

function parseImageSubheader(
  file: string,
  sub: Uint8Array,
  n: number,
  dataOffset: number,
  dataLength: number,
): NitfImageSegment {
  const f = new Fields(file, sub, `image subheader ${n}`);
  if (f.str(2, 'IM') !== 'IM') throw new FormatError(file, `image subheader ${n} does not start with 'IM'`);
  const iid1 = f.str(10, 'IID1').trim();
  const idatim = f.str(14, 'IDATIM');
  f.skip(17, 'TGTID');
  f.skip(80, 'IID2');
  security(f, 'IS');
  f.skip(1, 'ENCRYP');
  f.skip(42, 'ISORCE');
  const rows = f.int(8, 'NROWS');
  const cols = f.int(8, 'NCOLS');
  const pvtype = f.str(3, 'PVTYPE').trim();
  const irep = f.str(8, 'IREP').trim();
  const icat = f.str(8, 'ICAT').trim();
  const abpp = f.int(2, 'ABPP');
  f.skip(1, 'PJUST');
  const icords = f.str(1, 'ICORDS');
  const igeolo = icords.trim() === '' ? '' : f.str(60, 'IGEOLO');
  const nicom = f.int(1, 'NICOM');
  for (let k = 0; k < nicom; k++) f.skip(80, `ICOM${k + 1}`);
  const ic = f.str(2, 'IC');
  if (ic !== 'NC' && ic !== 'NM') f.skip(4, 'COMRAT');
  let nbands = f.int(1, 'NBANDS');
  if (nbands === 0) nbands = f.int(5, 'XBANDS');
  const bands: { irepband: string; isubcat: string }[] = [];
  for (let b = 0; b < nbands; b++) {
    const irepband = f.str(2, 'IREPBAND').trim();
    const isubcat = f.str(6, 'ISUBCAT').trim();
    f.skip(1, 'IFC');
    f.skip(3, 'IMFLT');
    const nluts = f.int(1, 'NLUTS');
    if (nluts > 0) {
      const nelut = f.int(5, 'NELUT');
      f.skip(nluts * nelut, 'LUTD');
    }
    bands.push({ irepband, isubcat });
  }
  f.skip(1, 'ISYNC');
  const imode = f.str(1, 'IMODE');
  const blocksPerRow = f.int(4, 'NBPR');
  const blocksPerCol = f.int(4, 'NBPC');
  const pixelsPerBlockH = f.int(4, 'NPPBH');
  const pixelsPerBlockV = f.int(4, 'NPPBV');
  const nbpp = f.int(2, 'NBPP');
  const idlvl = f.int(3, 'IDLVL');
  const ialvl = f.int(3, 'IALVL');
  const iloc = f.str(10, 'ILOC');
  const ilocRow = Number(iloc.slice(0, 5));
  const ilocCol = Number(iloc.slice(5));
  if (rows <= 0 || cols <= 0) throw new FormatError(file, `image segment ${n} is ${rows} x ${cols} pixels`);
  return {
    iid1,
    idatim,
    rows,
    cols,
    pvtype,
    irep,
    icat,
    abpp,
    icords,
    igeolo,
    ic,
    bands,
    imode,
    // NPPBH/NPPBV of 0 mean "one block the size of the image" when there are more than 8192 pixels.
    blocksPerRow,
    blocksPerCol,
    pixelsPerBlockH: pixelsPerBlockH === 0 ? cols : pixelsPerBlockH,
    pixelsPerBlockV: pixelsPerBlockV === 0 ? rows : pixelsPerBlockV,
    nbpp,
    idlvl,
    ialvl,
    iloc: [Number.isFinite(ilocRow) ? ilocRow : 0, Number.isFinite(ilocCol) ? ilocCol : 0],
    dataOffset,
    dataLength,
  };
}
