import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError, SarbridgeError } from '../src/errors.js';
import { parseAnnotation, parseCalibration, parseNoise } from '../src/io/s1/safe.js';
import { MemorySource } from '../src/io/source.js';
import { ZipArchive } from '../src/io/zip.js';
import { S1_ZIP } from './helpers/data.js';

const zipBytes = new Uint8Array(readFileSync(S1_ZIP));

/** The real product's XML files, by their name inside the SAFE. */
async function realXml(pattern: RegExp): Promise<string> {
  const zip = await ZipArchive.open(new MemorySource('real.zip', zipBytes));
  const e = zip.entries.find((x) => pattern.test(x.name));
  if (!e) throw new Error(`no ${pattern} in the real SAFE`);
  return Buffer.from(await zip.read(e)).toString('utf8');
}

/**
 * The document with each list of repeated `element`s cut to its first `keep`: the real structure and
 * values, small enough to parse thousands of mutated copies.
 */
function firstOf(xml: string, element: string, keep: number): string {
  let n = 0;
  return xml.replace(new RegExp(`\\s*<${element}>[\\s\\S]*?</${element}>`, 'g'), (m) =>
    n++ < keep ? m : '',
  );
}

/** Lists in the annotation the reader does not use (none holds an element of its own name). */
const UNREAD_ANNOTATION = [
  'qualityDataList',
  'downlinkInformationList',
  'attitudeList',
  'rawDataAnalysisList',
  'replicaInformationList',
  'noiseList',
  'terrainHeightList',
  'azimuthFmRateList',
  'swathProcParamsList',
  'dcEstimateList',
  'antennaPatternList',
  'burstList',
  'coordinateConversionList',
  'swathMergeList',
];

/** The document without the named elements (and their content). */
function without(xml: string, elements: string[]): string {
  return elements.reduce((x, e) => x.replace(new RegExp(`\\s*<${e}[\\s>][\\s\\S]*?</${e}>`, 'g'), ''), xml);
}

/** Mutations of a text: characters replaced, spans deleted, and a truncation. */
const textMutation = (length: number) =>
  fc.record({
    replace: fc.array(
      fc.record({
        at: fc.nat({ max: length - 1 }),
        ch: fc.constantFrom('<', '>', '/', '"', '9', '-', 'e', ' ', '&', '\u0000', 'x'),
      }),
      { maxLength: 6 },
    ),
    remove: fc.option(fc.record({ at: fc.nat({ max: length - 1 }), len: fc.integer({ min: 1, max: 200 }) }), {
      nil: undefined,
    }),
    cut: fc.option(fc.nat({ max: length }), { nil: undefined }),
  });

function mutate(
  text: string,
  m: { replace: { at: number; ch: string }[]; remove?: { at: number; len: number }; cut?: number },
): string {
  const chars = text.split('');
  for (const r of m.replace) chars[r.at] = r.ch;
  let out = chars.join('');
  if (m.remove) out = out.slice(0, m.remove.at) + out.slice(m.remove.at + m.remove.len);
  if (m.cut !== undefined) out = out.slice(0, m.cut);
  return out;
}

describe('fuzz: mutated Sentinel-1 XML and zips never crash or throw anything but a FormatError', () => {
  it.each([
    [
      'annotation',
      /annotation\/s1a-iw-grd-vv-[^/]*\.xml$/,
      (x: string) => firstOf(firstOf(without(x, UNREAD_ANNOTATION), 'geolocationGridPoint', 12), 'orbit', 3),
      parseAnnotation,
    ],
    [
      'calibration',
      /calibration\/calibration-s1a-iw-grd-vv-[^/]*\.xml$/,
      (x: string) => firstOf(x, 'calibrationVector', 3),
      parseCalibration,
    ],
    [
      'noise',
      /calibration\/noise-s1a-iw-grd-vv-[^/]*\.xml$/,
      (x: string) => firstOf(firstOf(x, 'noiseRangeVector', 3), 'noiseAzimuthVector', 2),
      parseNoise,
    ],
  ] as const)(
    '%s: 1,500 mutated copies of the real file',
    async (_name, pattern, shrink, parse) => {
      const doc = shrink(await realXml(pattern));
      console.log(`${_name}: ${doc.length} characters after shrinking`);
      expect(doc.length).toBeLessThan(150_000);
      // The shrunken real document parses.
      expect(() => (parse as (f: string, x: string) => unknown)('real.xml', doc)).not.toThrow();
      let parsed = 0;
      let rejected = 0;
      fc.assert(
        fc.property(textMutation(doc.length), (m) => {
          try {
            (parse as (f: string, x: string) => unknown)('fuzz.xml', mutate(doc, m));
            parsed++;
          } catch (err) {
            if (!(err instanceof FormatError)) throw err;
            expect(err.message).toMatch(/^fuzz\.xml: /);
            rejected++;
          }
        }),
        { numRuns: 1500, seed: 11 },
      );
      console.log(`${_name}: ${parsed} mutated copies parsed, ${rejected} refused with a FormatError`);
      expect(parsed).toBeGreaterThan(0);
      expect(rejected).toBeGreaterThan(0);
    },
    120_000,
  );

  it('the zip: 2,000 copies with headers and central directory mutated open and read, or throw a SarbridgeError', async () => {
    const zip = await ZipArchive.open(new MemorySource('real.zip', zipBytes));
    // The byte ranges that steer a reader: local headers and the central directory up to the end.
    const headers = await Promise.all(
      zip.entries.map(async (e) => ({ start: e.localHeaderOffset, end: await zip.dataOffset(e) })),
    );
    const cdStart = Math.max(...zip.entries.map((e, i) => headers[i].end + e.compressedSize));
    const spots = headers.flatMap((h) => Array.from({ length: h.end - h.start }, (_, i) => h.start + i));
    let opened = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            inCd: fc.boolean(),
            at: fc.nat({ max: 1 << 30 }),
            value: fc.integer({ min: 0, max: 255 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        async (muts) => {
          const b = zipBytes.slice();
          for (const m of muts) {
            const at = m.inCd ? cdStart + (m.at % (b.length - cdStart)) : spots[m.at % spots.length];
            b[at] = m.value;
          }
          try {
            const z = await ZipArchive.open(new MemorySource('fuzz.zip', b));
            for (const e of z.entries.filter((x) => x.size < 100_000 && !x.name.endsWith('/')).slice(0, 4))
              await z.read(e);
            opened++;
          } catch (err) {
            if (!(err instanceof SarbridgeError)) throw err;
            rejected++;
          }
        },
      ),
      { numRuns: 2000, seed: 5 },
    );
    console.log(`zip: ${opened} mutated copies opened and read, ${rejected} refused with a SarbridgeError`);
    expect(opened).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  }, 300_000);
});
