import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SarbridgeError } from '../src/errors.js';
import { MemorySource } from '../src/io/source.js';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { syntheticRaster } from './fixtures.js';
import { gdalMake, tempDir } from './helpers/gdal.js';

/** Iterations of the mutation fuzz run; the issue asks for at least 100,000. */
const RUNS = Number(process.env.SARBRIDGE_FUZZ_RUNS ?? 100_000);

const tmp = tempDir('tiff-fuzz-');
afterAll(() => tmp.cleanup());
const seeds: Uint8Array[] = [];

beforeAll(async () => {
  const p = (n: string) => join(tmp.dir, n);
  await writeCog(
    p('a.tif'),
    syntheticRaster(40, 30, 1, 'uint16', 1),
    { epsg: 32633, geoTransform: [0, 1, 0, 0, 0, -1], nodata: 0 },
    { blockSize: 16 },
  );
  await writeCog(
    p('b.tif'),
    syntheticRaster(33, 20, 2, 'float32', 2),
    { epsg: 4326, geoTransform: [0, 1, 0, 0, 0, -1] },
    { blockSize: 16, compression: 'lzw' },
  );
  await writeCog(
    p('c.tif'),
    syntheticRaster(20, 20, 1, 'cint16', 3),
    {},
    { blockSize: 16, compression: 'none' },
  );
  gdalMake(p('d.tif'), syntheticRaster(30, 25, 1, 'int16', 4).data, {
    width: 30,
    height: 25,
    bands: 1,
    dtype: 'int16',
    options: ['COMPRESS=PACKBITS', 'BLOCKYSIZE=4'],
  });
  gdalMake(p('e.tif'), syntheticRaster(30, 25, 3, 'uint8', 5).data, {
    width: 30,
    height: 25,
    bands: 3,
    dtype: 'uint8',
    options: ['COMPRESS=DEFLATE', 'PREDICTOR=2', 'BIGTIFF=YES', 'ENDIANNESS=BIG', 'INTERLEAVE=BAND'],
  });
  gdalMake(p('f.tif'), syntheticRaster(30, 25, 1, 'float64', 6).data, {
    width: 30,
    height: 25,
    bands: 1,
    dtype: 'float64',
    options: ['COMPRESS=LZW', 'PREDICTOR=3', 'TILED=YES', 'BLOCKXSIZE=16', 'BLOCKYSIZE=16'],
  });
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) seeds.push(new Uint8Array(readFileSync(p(`${n}.tif`))));
});

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'word'; at: number; value: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('word' as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 8, 16, 65535, 4096),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(seed: Uint8Array, muts: Mutation[], headerBias: boolean): Uint8Array {
  let b = seed.slice();
  for (const m of muts) {
    // Most mutations land in the first 600 bytes, where the header and IFDs of these files are.
    const span = headerBias ? Math.min(b.length, 600) : b.length;
    if (span === 0) break;
    const at = m.at % span;
    if (m.kind === 'flip') b[at] ^= 1 << m.bit;
    else if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'word') {
      for (let k = 0; k < 4 && at + k < b.length; k++) b[at + k] = (m.value >>> (8 * k)) & 0xff;
    } else b = b.slice(0, at);
  }
  return b;
}

describe('fuzz: mutated TIFFs never crash, hang or throw anything but a SarbridgeError', () => {
  it(`survives ${RUNS} mutated files`, async () => {
    let opened = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (s, muts, headerBias) => {
          const bytes = mutate(seeds[s], muts, headerBias);
          try {
            const tif = await GeoTiff.open(new MemorySource('fuzz.tif', bytes));
            tif.info();
            for (let level = 0; level < tif.levels.length; level++)
              await tif.read(undefined, { level, maxBytes: 16 * 1024 * 1024 });
            opened++;
          } catch (err) {
            if (!(err instanceof SarbridgeError)) throw err;
            expect(err.message.startsWith('fuzz.tif')).toBe(true);
            rejected++;
          }
        },
      ),
      { numRuns: RUNS, seed: 20261125 },
    );
    expect(opened + rejected).toBe(RUNS);
    expect(opened).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  }, 600_000);
});
