import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { parseNitf } from '../src/io/nitf/nitf.js';
import { writeSicdNitf } from '../src/io/nitf/nitf-writer.js';
import { detect, parseSicdXml, Sicd } from '../src/io/nitf/sicd.js';
import { MemorySource } from '../src/io/source.js';
import { runCapture } from './helpers/cli.js';
import { SICD_CHIP as CHIP } from './helpers/data.js';
import { gdalRead, tempDir } from './helpers/gdal.js';

function writeTemp(name: string, bytes: Uint8Array): { tmp: ReturnType<typeof tempDir>; path: string } {
  const tmp = tempDir('sicd-pixel-');
  const path = join(tmp.dir, name);
  writeFileSync(path, bytes);
  return { tmp, path };
}

describe('SICD reader on the real RCM chip', () => {
  it('reads the metadata GDAL and the file state', async () => {
    const s = await Sicd.open(CHIP);
    await s.close();
    expect(s.meta.version).toBe('1.2.1');
    expect(s.meta.collectorName).toBe('RCM-1');
    expect(s.meta.modeType).toBe('STRIPMAP');
    expect(s.meta.pixelType).toBe('RE32F_IM32F');
    expect([s.meta.numRows, s.meta.numCols]).toEqual([50, 50]);
    expect(s.meta.grid.imagePlane).toBe('SLANT');
    expect(s.meta.imageCorners).toHaveLength(4);
    expect(s.meta.sigmaZeroSfPoly?.[0]?.[0]).toBeCloseTo(0.6156772744563548, 12);
    expect(s.nitf.images[0].imode).toBe('P');
    expect(s.nitf.des[0].desid).toBe('XML_DATA_CONTENT');
  });

  it('reads pixels equal to what GDAL NITF driver reads (I and Q bands)', async () => {
    const s = await Sicd.open(CHIP);
    const c = await s.readComplex();
    const win = await s.readComplex({ colOff: 7, rowOff: 11, width: 20, height: 13 });
    await s.close();
    const ref = gdalRead(CHIP, 'float32').data[0]; // band 1 (I) then band 2 (Q), 50 x 50 each
    for (let i = 0; i < 2500; i++) {
      expect(c.data[2 * i], `I at pixel ${i}`).toBe(ref[i]);
      expect(c.data[2 * i + 1], `Q at pixel ${i}`).toBe(ref[2500 + i]);
    }
    for (let y = 0; y < 13; y++)
      for (let x = 0; x < 20; x++) expect(win.data[2 * (y * 20 + x)]).toBe(ref[(11 + y) * 50 + 7 + x]);
    const inten = detect(c, 'intensity');
    const amp = detect(c, 'amplitude');
    expect(inten.data[0]).toBeCloseTo(ref[0] ** 2 + ref[2500] ** 2, 6);
    expect(amp.data[0]).toBeCloseTo(Math.hypot(ref[0], ref[2500]), 6);
  });
});

describe('SICD pixel types RE16I_IM16I and AMP8I_PHS8I', () => {
  // The real chip's XML (50 x 50) with another PixelType (and, for AMP8I_PHS8I, an AmpTable), over pixels
  // written by sarbridge's NITF writer; GDAL's NITF driver reads the two raw bands independently.
  const withPixelType = (xml: string, type: string, ampTable?: number[]) =>
    xml.replace(
      /<PixelType>RE32F_IM32F<\/PixelType>/,
      `<PixelType>${type}</PixelType>${
        ampTable
          ? `<AmpTable size="256">${ampTable.map((v, i) => `<Amplitude index="${i}">${v}</Amplitude>`).join('')}</AmpTable>`
          : ''
      }`,
    );

  /**
   * Write the chip's XML with `pixelType` over `pixels` (50 x 50, the chip's size), read it back with
   * sarbridge, and return our complex pixels beside GDAL's two raw bands.
   */
  async function roundTrip(
    pixelType: 'RE16I_IM16I' | 'AMP8I_PHS8I',
    pixels: Int16Array | Uint8Array,
    ampTable?: number[],
  ): Promise<{ ours: Float32Array; gdal: ArrayLike<number> }> {
    const chip = await Sicd.open(CHIP);
    const xml = withPixelType(chip.xml, pixelType, ampTable);
    await chip.close();
    expect(xml).toContain(`<PixelType>${pixelType}</PixelType>`);
    const bytes = writeSicdNitf({
      title: 't',
      dateTime: '20260101000000',
      rows: 50,
      cols: 50,
      pixels,
      pixelType,
      xml,
    });
    const { tmp, path } = writeTemp(`${pixelType}.nitf`, bytes);
    try {
      const s = await Sicd.open(path);
      expect(s.meta.pixelType).toBe(pixelType);
      const c = await s.readComplex();
      await s.close();
      return { ours: c.data, gdal: gdalRead(path, pixelType === 'RE16I_IM16I' ? 'int16' : 'uint8').data[0] };
    } finally {
      tmp.cleanup();
    }
  }
  const N = 2500;

  it('RE16I_IM16I: I and Q equal the int16 bands GDAL reads', async () => {
    const px = Int16Array.from({ length: N * 2 }, (_, i) => ((i * 7919) % 65536) - 32768);
    const { ours, gdal } = await roundTrip('RE16I_IM16I', px);
    for (let i = 0; i < N; i++) {
      expect(ours[2 * i], `I at pixel ${i}`).toBe(gdal[i]);
      expect(ours[2 * i + 1], `Q at pixel ${i}`).toBe(gdal[N + i]);
    }
  });

  it('AMP8I_PHS8I: amplitude from the AmpTable and phase in 1/256 cycles of the byte bands GDAL reads', async () => {
    const table = Array.from({ length: 256 }, (_, i) => (i * i) / 37 + 0.5);
    const px = Uint8Array.from({ length: N * 2 }, (_, i) => (i * 131 + (i >> 3)) % 256);
    const { ours, gdal } = await roundTrip('AMP8I_PHS8I', px, table);
    for (let i = 0; i < N; i++) {
      const amp = table[gdal[i]];
      const phase = (2 * Math.PI * gdal[N + i]) / 256;
      expect(ours[2 * i], `I at pixel ${i}`).toBeCloseTo(amp * Math.cos(phase), 3);
      expect(ours[2 * i + 1], `Q at pixel ${i}`).toBeCloseTo(amp * Math.sin(phase), 3);
    }
  });
});

describe('bad NITF / SICD input gets a FormatError naming the file and field', () => {
  const chip = new Uint8Array(readFileSync(CHIP));
  const rows: { name: string; bytes: () => Uint8Array; message: RegExp }[] = [
    {
      name: 'empty file',
      bytes: () => new Uint8Array(0),
      message: /bad\.nitf: is 0 bytes, too short for a NITF header/,
    },
    {
      name: 'not a NITF',
      bytes: () => new TextEncoder().encode('GIF89a, not a nitf file at all'),
      message: /wrong magic 'GIF8'/,
    },
    {
      name: 'truncated in the file header',
      bytes: () => chip.subarray(0, 300),
      message: /NITF file header ends inside field .* \(truncated NITF\)/,
    },
    { name: 'truncated in the pixels', bytes: () => chip.subarray(0, 5000), message: /truncated NITF/ },
    {
      name: 'truncated in the XML',
      bytes: () => chip.subarray(0, chip.length - 100),
      message: /truncated NITF/,
    },
    {
      name: 'a number field that is not a number',
      bytes: () => {
        const b = chip.slice();
        b.set(new TextEncoder().encode('ABC'), 360); // NUMI sits at byte 360 in this header
        return b;
      },
      message: /NITF file header field NUMI is 'ABC', expected a 3-digit number/,
    },
  ];
  it.each(rows)('$name', async (row) => {
    const err = await Sicd.open(new MemorySource('bad.nitf', row.bytes())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(/^bad\.nitf: /);
    expect((err as Error).message).toMatch(row.message);
  });

  it('the chip header parses where the bad-input table expects NUMI', async () => {
    expect(new TextDecoder().decode(chip.subarray(360, 363))).toMatch(/^\d{3}$/);
    const n = await parseNitf(new MemorySource('chip.nitf', chip));
    expect(n.images).toHaveLength(1);
  });

  const xml = (body: string) => `<?xml version="1.0"?><SICD xmlns="urn:SICD:1.3.0">${body}</SICD>`;
  it.each([
    [
      'missing ImageData.PixelType',
      xml('<ImageData><NumRows>1</NumRows></ImageData>'),
      /SICD XML has no ImageData\.PixelType \(a mandatory field\)/,
    ],
    [
      'an unknown pixel type',
      xml('<ImageData><PixelType>RE64F_IM64F</PixelType></ImageData>'),
      /PixelType is 'RE64F_IM64F', expected RE32F_IM32F/,
    ],
    [
      'external entities (XXE)',
      `<?xml version="1.0"?><!DOCTYPE SICD [<!ENTITY x SYSTEM "file:///etc/passwd">]><SICD>&x;</SICD>`,
      /declares a DOCTYPE or entities/,
    ],
    ['no SICD root', '<SIDD></SIDD>', /XML has no SICD root element/],
  ])('%s', (_name, doc, message) => {
    expect(() => parseSicdXml('bad.nitf', doc)).toThrow(FormatError);
    expect(() => parseSicdXml('bad.nitf', doc)).toThrow(message);
  });
});

describe('fuzz: mutated SICD files never crash or throw anything but a SarbridgeError', () => {
  it('survives 20,000 mutated copies of the real chip', async () => {
    const { default: fc } = await import('fast-check');
    const { SarbridgeError } = await import('../src/errors.js');
    const chip = new Uint8Array(readFileSync(CHIP));
    // Mutations land in the NITF header and subheaders (first 1,200 bytes) or the XML at the end.
    const xmlStart = chip.length - 20000;
    let opened = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), inXml: fc.boolean() }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat({ max: chip.length }), { nil: undefined }),
        async (muts, cut) => {
          let b = chip.slice();
          for (const m of muts) b[m.inXml ? xmlStart + (m.at % 20000) : m.at % 1200] = m.value;
          if (cut !== undefined) b = b.slice(0, cut);
          try {
            const s = await Sicd.open(new MemorySource('fuzz.nitf', b));
            await s.readComplex();
            await s.close();
            opened++;
          } catch (err) {
            if (!(err instanceof SarbridgeError)) throw err;
            rejected++;
          }
        },
      ),
      { numRuns: 20_000, seed: 7 },
    );
    expect(opened).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  }, 300_000);
});

describe('SICD sigma0 and info', () => {
  it('sigma0 is |z|^2 times SigmaZeroSFPoly at each pixel grid distance from the SCP', async () => {
    const s = await Sicd.open(CHIP);
    const win = { colOff: 10, rowOff: 5, width: 8, height: 6 };
    const c = await s.readComplex(win);
    await s.close();
    const m = s.meta;
    const sigma0 = detect(c, 'sigma0', { meta: m, rowOff: win.rowOff, colOff: win.colOff });
    // The chip's polynomial depends on the column distance only: c0 + c1 y + c2 y^2 + c3 y^3.
    const coef = m.sigmaZeroSfPoly?.[0] ?? [];
    expect(coef).toHaveLength(4);
    for (const [x, y] of [
      [0, 0],
      [7, 5],
      [3, 2],
    ]) {
      const ycol = (win.colOff + x + m.firstCol - m.scpPixel.col) * m.grid.col.ssM;
      const sf = coef[0] + coef[1] * ycol + coef[2] * ycol ** 2 + coef[3] * ycol ** 3;
      const i = y * win.width + x;
      const p = c.data[2 * i] ** 2 + c.data[2 * i + 1] ** 2;
      expect(sigma0.data[i]).toBeCloseTo(Math.fround(p * sf), 6);
    }
    expect(() => detect(c, 'sigma0')).toThrow(/sigma0 needs the SICD metadata/);
  });

  it('sarbridge info prints the SICD metadata as JSON', async () => {
    const r = await runCapture(['info', CHIP]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.driver).toBe('SICD');
    expect(info.sicd.collectorName).toBe('RCM-1');
    expect(info.sicd.grid.row.ssM).toBeCloseTo(6.971918106079102, 12);
  });
});
