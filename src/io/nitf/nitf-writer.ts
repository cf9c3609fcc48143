import { ValidationError } from '../../errors.js';
import type { SicdPixelType } from './sicd.js';

/** The NITF pixel value type and bits per band of each SICD pixel type (SICD Volume 2). */
const PIXEL: Record<SicdPixelType, { pvtype: string; nbpp: number }> = {
  RE32F_IM32F: { pvtype: 'R', nbpp: 32 },
  RE16I_IM16I: { pvtype: 'SI', nbpp: 16 },
  AMP8I_PHS8I: { pvtype: 'INT', nbpp: 8 },
};

/** Left-justified, space-padded ASCII field of exactly `len` characters. */
function a(v: string, len: number, name: string): string {
  if (v.length > len) throw new ValidationError(`NITF field ${name} '${v}' is longer than ${len} characters`);
  return v.padEnd(len, ' ');
}

/** Zero-padded number field of exactly `len` digits. */
function n(v: number, len: number, name: string): string {
  const s = String(v);
  if (!Number.isInteger(v) || v < 0 || s.length > len)
    throw new ValidationError(`NITF field ${name} = ${v} does not fit ${len} digits`);
  return s.padStart(len, '0');
}

/** An unclassified NITF 2.1 security block (167 bytes) with the given prefix's classification. */
function security(): string {
  return 'U' + ' '.repeat(166);
}

/**
 * A NITF 2.1 file holding one complex SAR image segment (two bands, I and Q or amplitude and phase
 * indices, pixel-interleaved, one block per row) and one XML_DATA_CONTENT DES, as SICD files are laid
 * out. `pixels` holds rows of interleaved band values (host order; written big-endian): float32 for
 * RE32F_IM32F (the default), int16 for RE16I_IM16I, bytes for AMP8I_PHS8I. The XML must name the same
 * ImageData.PixelType.
 */
export function writeSicdNitf(opts: {
  title: string;
  dateTime: string;
  rows: number;
  cols: number;
  pixels: Float32Array | Int16Array | Uint8Array;
  pixelType?: SicdPixelType;
  xml: string;
}): Buffer {
  const { rows, cols, pixels } = opts;
  const pixelType = opts.pixelType ?? 'RE32F_IM32F';
  const { pvtype, nbpp } = PIXEL[pixelType];
  const want = { RE32F_IM32F: Float32Array, RE16I_IM16I: Int16Array, AMP8I_PHS8I: Uint8Array }[pixelType];
  if (!(pixels instanceof want))
    throw new ValidationError(
      `SICD ${pixelType} pixels must be a ${want.name}, got ${pixels.constructor.name}`,
    );
  if (pixels.length !== rows * cols * 2)
    throw new ValidationError(`SICD pixels hold ${pixels.length} values, expected ${rows * cols * 2}`);
  if (rows > 99999999 || cols > 99999999)
    throw new ValidationError(`a ${rows} x ${cols} image does not fit one NITF image segment`);
  // Image subheader.
  let ish =
    'IM' +
    a('SICD000', 10, 'IID1') +
    a(opts.dateTime, 14, 'IDATIM') +
    a('', 17, 'TGTID') +
    a(opts.title, 80, 'IID2');
  ish += security() + '0' + a('', 42, 'ISORCE') + n(rows, 8, 'NROWS') + n(cols, 8, 'NCOLS');
  ish +=
    a(pvtype, 3, 'PVTYPE') +
    a('NODISPLY', 8, 'IREP') +
    a('SAR', 8, 'ICAT') +
    n(nbpp, 2, 'ABPP') +
    'R' +
    ' ' +
    '0' +
    'NC' +
    '2';
  for (const sub of pixelType === 'AMP8I_PHS8I' ? ['M', 'P'] : ['I', 'Q'])
    ish += a('', 2, 'IREPBAND') + a(sub, 6, 'ISUBCAT') + 'N' + a('', 3, 'IMFLT') + '0';
  const blockRows = 1;
  const blocksPerCol = Math.ceil(rows / blockRows);
  if (cols > 8192 || blocksPerCol > 9999)
    throw new ValidationError(
      `${rows} x ${cols} needs larger NITF blocks than this writer makes (columns <= 8192, rows <= 9999)`,
    );
  ish +=
    '0' +
    'P' +
    n(1, 4, 'NBPR') +
    n(blocksPerCol, 4, 'NBPC') +
    n(cols, 4, 'NPPBH') +
    n(blockRows, 4, 'NPPBV') +
    n(nbpp, 2, 'NBPP');
  ish +=
    n(1, 3, 'IDLVL') +
    n(0, 3, 'IALVL') +
    n(0, 10, 'ILOC') +
    a('1.0', 4, 'IMAG') +
    n(0, 5, 'UDIDL') +
    n(0, 5, 'IXSHDL');
  const data = Buffer.alloc(rows * cols * 2 * (nbpp / 8));
  if (pixels instanceof Float32Array)
    for (let i = 0; i < pixels.length; i++) data.writeFloatBE(pixels[i], i * 4);
  else if (pixels instanceof Int16Array)
    for (let i = 0; i < pixels.length; i++) data.writeInt16BE(pixels[i], i * 2);
  else data.set(pixels);
  // DES subheader for the XML.
  const desshf = '';
  const des =
    'DE' +
    a('XML_DATA_CONTENT', 25, 'DESID') +
    n(1, 2, 'DESVER') +
    security() +
    n(desshf.length, 4, 'DESSHL') +
    desshf;
  const xml = Buffer.from(opts.xml, 'utf8');
  // File header (its length known once the segment lengths are).
  const headerWithout = (fl: number, hl: number) =>
    'NITF' +
    '02.10' +
    (rows <= 2048 && cols <= 2048 ? '03' : rows <= 8192 && cols <= 8192 ? '05' : '06') +
    'BF01' +
    a('SARBRIDGE', 10, 'OSTAID') +
    a(opts.dateTime, 14, 'FDT') +
    a(opts.title, 80, 'FTITLE') +
    security() +
    n(0, 5, 'FSCOP') +
    n(0, 5, 'FSCPYS') +
    '0' +
    '\0\0\0' +
    a('', 24, 'ONAME') +
    a('', 18, 'OPHONE') +
    n(fl, 12, 'FL') +
    n(hl, 6, 'HL') +
    n(1, 3, 'NUMI') +
    n(ish.length, 6, 'LISH') +
    n(data.length, 10, 'LI') +
    n(0, 3, 'NUMS') +
    n(0, 3, 'NUMX') +
    n(0, 3, 'NUMT') +
    n(1, 3, 'NUMDES') +
    n(des.length, 4, 'LDSH') +
    n(xml.length, 9, 'LD') +
    n(0, 3, 'NUMRES') +
    n(0, 5, 'UDHDL') +
    n(0, 5, 'XHDL');
  const hl = headerWithout(0, 0).length;
  const fl = hl + ish.length + data.length + des.length + xml.length;
  return Buffer.concat([
    Buffer.from(headerWithout(fl, hl), 'latin1'),
    Buffer.from(ish, 'latin1'),
    data,
    Buffer.from(des, 'latin1'),
    xml,
  ]);
}
