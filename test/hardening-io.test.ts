import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ValidationError } from '../src/errors.js';
import { TILE_MATRIX_SETS, webMercatorTileAt } from '../src/geo/tms.js';
import { assertCommandBudget, commandBudgets, MiB } from '../src/io/budget.js';
import { writeSicdNitf } from '../src/io/nitf/nitf-writer.js';
import { Sicd } from '../src/io/nitf/sicd.js';
import { SafeProduct } from '../src/io/s1/safe.js';
import { FileSource } from '../src/io/source.js';
import { GeoTiff } from '../src/io/tiff/reader.js';
import { writeCog } from '../src/io/tiff/writer.js';
import { ZipArchive } from '../src/io/zip.js';
import { ardGeoTiff } from '../src/ops/ard.js';
import { translateToCog } from '../src/ops/cog.js';
import { Tiler } from '../src/tiler/tiler.js';
import { mulberry32 } from '../src/util/random.js';
import {
  BOMB_EPSG,
  BOMB_GEOTRANSFORM,
  writeDeflateBomb,
  writeLyingDeflateStrip,
  writeSparseUncompressedStrip,
} from './helpers/bomb-tiff.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('hardening-io-');
afterAll(() => tmp.cleanup());
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');

const BOMB = join(tmp.dir, 'bomb.tif');
/** Lon/lat of the bomb's centre pixel (UTM 31N, 10 m pixels). */
const CENTRE: [number, number] = [3.0, 44.4];

beforeAll(async () => {
  await writeDeflateBomb(BOMB);
  writeFileSync(
    join(tmp.dir, 'bomb.json'),
    // A complete sidecar (ard refuses an incomplete one before it looks at the pixels).
    JSON.stringify({
      datetime: '2026-06-01T06:00:00Z',
      'sar:instrument_mode': 'IW',
      'sar:frequency_band': 'C',
      'sar:polarizations': ['VV'],
      'sar:product_type': 'GRD',
      unit: 'linear',
    }),
  );
}, 120_000);

const MIB_RSS = () => process.memoryUsage().rss / MiB;

/** Run the built CLI as a child under /usr/bin/time -v: exit code, stderr, peak RSS (MiB) and wall time (ms). */
function runCliMeasured(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; peakMiB: number; ms: number }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', process.execPath, CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      const peak = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({
        code: code ?? -1,
        stderr,
        peakMiB: peak ? Number(peak[1]) / 1024 : Number.NaN,
        ms: Date.now() - t0,
      });
    });
  });
}

describe('decode budget: a decompression-bomb TIFF (1 MB, one DEFLATE strip of 16384 x 16384 float32)', () => {
  const asset = { path: BOMB, unit: 'linear' as const, band: 0, stats: { mean: -10, stddev: 2 } };
  const wm = TILE_MATRIX_SETS.WebMercatorQuad;

  const rows: {
    name: string;
    run: (t: Tiler) => Promise<unknown>;
    error: new (...a: never[]) => Error;
    message: RegExp;
  }[] = [
    {
      name: 'a map tile',
      run: (t) => {
        const [x, y] = webMercatorTileAt(CENTRE[0], CENTRE[1], 14);
        return t.tile(asset, wm, 14, x, y, {});
      },
      error: FormatError,
      message: /bomb\.tif: strip 0 decodes to 1024 MiB, over the 256 MiB decode budget/,
    },
    {
      name: 'a point',
      run: (t) => t.point(asset, CENTRE[0], CENTRE[1]),
      error: FormatError,
      message: /bomb\.tif: strip 0 decodes to 1024 MiB, over the 256 MiB decode budget/,
    },
    {
      name: 'a preview (whole level, no overviews)',
      run: (t) => t.preview(asset, 512, {}),
      error: ValidationError,
      message:
        /bomb\.tif: reading 16384 x 16384 x 1 float32 at level 0 needs 1073741824 bytes, more than the 268435456-byte limit/,
    },
    {
      name: 'a zoomed-out tile on render workers (window over budget)',
      run: async (t) => {
        const [x, y] = webMercatorTileAt(CENTRE[0], CENTRE[1], 5);
        return t.tile(asset, wm, 5, x, y, {});
      },
      error: ValidationError,
      message:
        /bomb\.tif: tile 5\/\d+\/\d+ reads a 16384 x 16384 window at level 0 \(\d+ bytes\), more than the 268435456-byte decode budget/,
    },
  ];

  for (const row of rows) {
    it(`${row.name} is refused quickly, memory bounded`, async () => {
      const tiler = new Tiler({ renderWorkers: row.name.includes('workers') ? 1 : 0 });
      try {
        const rss0 = MIB_RSS();
        const t0 = performance.now();
        const err = await row.run(tiler).catch((e: unknown) => e);
        const ms = performance.now() - t0;
        expect(err).toBeInstanceOf(row.error);
        expect((err as Error).message).toMatch(row.message);
        expect(ms).toBeLessThan(2000);
        expect(MIB_RSS() - rss0).toBeLessThan(128);
      } finally {
        await tiler.close();
      }
    });
  }

  it('four parallel point requests are refused without decoding (RSS grows < 128 MiB)', async () => {
    const tiler = new Tiler();
    try {
      const rss0 = MIB_RSS();
      const ab0 = process.memoryUsage().arrayBuffers / MiB;
      const res = await Promise.allSettled([0, 1, 2, 3].map(() => tiler.point(asset, CENTRE[0], CENTRE[1])));
      for (const r of res) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(FormatError);
      }
      expect(MIB_RSS() - rss0).toBeLessThan(128);
      expect(process.memoryUsage().arrayBuffers / MiB - ab0).toBeLessThan(64);
    } finally {
      await tiler.close();
    }
  });

  it('the decode budget is an option: a 4 MiB strip is refused under 2 MiB and read under 8 MiB', async () => {
    const p = join(tmp.dir, 'small-bomb.tif');
    await writeDeflateBomb(p, 1024, 1024);
    for (const [budget, ok] of [
      [2 * MiB, false],
      [8 * MiB, true],
    ] as const) {
      const tif = await GeoTiff.open(p, { decodeBudgetBytes: budget });
      try {
        const r = tif.read({ colOff: 5, rowOff: 5, width: 1, height: 1 });
        if (ok) expect((await r).data[0]).toBe(0);
        else
          await expect(r).rejects.toThrow(
            /small-bomb\.tif: strip 0 decodes to 4 MiB, over the 2 MiB decode budget/,
          );
      } finally {
        await tif.close();
      }
    }
  });

  it('sarbridge cog refuses it with exit code 1, a clear message and bounded memory', async () => {
    const r = await runCliMeasured(['cog', BOMB, join(tmp.dir, 'bomb-cog.tif')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /sarbridge: .*bomb\.tif: strip 0 decodes to 1024 MiB, over the 512 MiB decode budget/,
    );
    expect(r.peakMiB).toBeLessThan(400);
    console.log(`cog on the bomb: exit ${r.code} in ${r.ms} ms, peak RSS ${r.peakMiB.toFixed(0)} MiB`);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('bomb-cog'))).toEqual([]);
  });

  it('sarbridge ard refuses it with exit code 1, naming the file and the 4096 MiB budget', async () => {
    const r = await runCliMeasured(['ard', BOMB, join(tmp.dir, 'bomb-ard')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /sarbridge: .*bomb\.tif: ard on 16384 x 16384 float32 pixels needs about 5120 MiB, over the 4096 MiB memory budget/,
    );
    expect(r.peakMiB).toBeLessThan(400);
    console.log(`ard on the bomb: exit ${r.code} in ${r.ms} ms, peak RSS ${r.peakMiB.toFixed(0)} MiB`);
  });
});

describe('decode budget: error paths, one row each', () => {
  const dir = join(tmp.dir, 'rows');
  mkdirSync(dir, { recursive: true });
  const rows: {
    name: string;
    run: () => Promise<unknown>;
    error: new (...a: never[]) => Error;
    message: RegExp;
  }[] = [
    {
      name: 'a DEFLATE strip that inflates past its declared size',
      run: async () => {
        const p = join(dir, 'lying.tif');
        await writeLyingDeflateStrip(p, 16, 16, 64 * 1024);
        const tif = await GeoTiff.open(p);
        try {
          return await tif.read();
        } finally {
          await tif.close();
        }
      },
      error: FormatError,
      message: /lying\.tif: DEFLATE data is corrupt or larger than its 1024-byte block/,
    },
    {
      name: 'an uncompressed strip whose window rows exceed the budget',
      run: async () => {
        const p = join(dir, 'raw-strip.tif');
        await writeSparseUncompressedStrip(p, 4096, 4096);
        const tif = await GeoTiff.open(p, { decodeBudgetBytes: MiB });
        try {
          return await tif.read({ colOff: 0, rowOff: 0, width: 10, height: 100 });
        } finally {
          await tif.close();
        }
      },
      error: FormatError,
      message:
        /raw-strip\.tif: 100 rows of strip 0 decode to 1\.56 MiB, over the 1 MiB decode budget; read a smaller window/,
    },
    {
      name: 'a decode budget that is not a positive number',
      run: () => GeoTiff.open(BOMB, { decodeBudgetBytes: -1 }),
      error: ValidationError,
      message: /decodeBudgetBytes must be a positive number of bytes, got -1/,
    },
    {
      name: 'cog strips over the command budget',
      run: () => translateToCog(BOMB, join(dir, 'small-budget.tif'), { maxMemoryBytes: 64 * MiB }),
      error: ValidationError,
      message:
        /bomb\.tif: cog of 16384 x 16384 x 1 float32 \(strips of 512 rows\) needs about 264 MiB, over the 64 MiB memory budget \(raise it with --max-memory <MiB>/,
    },
    {
      name: 'ard on a geocoded GeoTIFF over the command budget',
      run: () => ardGeoTiff(BOMB, join(dir, 'ard'), { maxMemoryBytes: 1024 * MiB, filter: 'none' }),
      error: ValidationError,
      message:
        /bomb\.tif: ard on 16384 x 16384 float32 pixels needs about 5120 MiB, over the 1024 MiB memory budget/,
    },
    {
      name: 'a command budget that is not a positive number',
      run: async () => commandBudgets({ maxMemoryBytes: Number.NaN }),
      error: ValidationError,
      message: /maxMemoryBytes must be a positive number of bytes, got NaN/,
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const err = await row.run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(row.error);
      expect((err as Error).message).toMatch(row.message);
    });
  }

  it('assertCommandBudget names the file, the need and the budget', () => {
    expect(() => assertCommandBudget('x.tif', 'ard on 16384 x 16384 pixels', 4096 * MiB, 2048 * MiB)).toThrow(
      'x.tif: ard on 16384 x 16384 pixels needs about 4096 MiB, over the 2048 MiB memory budget',
    );
  });

  it('a 1 GiB uncompressed single strip (sparse file) is read by window within a 1 MiB budget', async () => {
    const p = join(dir, 'big-raw.tif');
    await writeSparseUncompressedStrip(p, 16384, 16384, [7, 9000, 16383]);
    const tif = await GeoTiff.open(p, { decodeBudgetBytes: MiB });
    try {
      const rss0 = MIB_RSS();
      for (const row of [7, 9000, 16383]) {
        const v = await tif.read({ colOff: 100, rowOff: row, width: 3, height: 1 });
        expect(Array.from(v.data)).toEqual([row + 1, row + 1, row + 1]);
      }
      const v = await tif.read({ colOff: 0, rowOff: 8999, width: 16, height: 3 });
      expect(v.data[0]).toBe(0);
      expect(v.data[16]).toBe(9001);
      expect(v.data[32]).toBe(0);
      expect(MIB_RSS() - rss0).toBeLessThan(64);
    } finally {
      await tif.close();
    }
  });
});

/** A zip (stored entries) whose central directory may claim another size for one entry. */
function zipWith(files: { name: string; data: Uint8Array; claimSize?: number; deflate?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const body = f.deflate ? deflateRawSync(f.data) : Buffer.from(f.data);
    const size = f.claimSize ?? f.data.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(f.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(f.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

describe('metadata size limits (SAFE annotation, calibration, noise, manifest; SICD XML)', () => {
  const dir = join(tmp.dir, 'meta');
  mkdirSync(dir, { recursive: true });
  const ANN = 'annotation/s1a-iw-grd-vv-20260601t060000-20260601t060025-000001-000001-001.xml';
  const CAL =
    'annotation/calibration/calibration-s1a-iw-grd-vv-20260601t060000-20260601t060025-000001-000001-001.xml';

  /** A SAFE folder whose annotation (and calibration) are sparse files of the given sizes. */
  async function safeFolder(name: string, annBytes: number, calBytes = 100): Promise<string> {
    const safe = join(dir, `${name}.SAFE`);
    mkdirSync(join(safe, 'annotation', 'calibration'), { recursive: true });
    await writeFile(join(safe, 'manifest.safe'), '<x/>');
    await writeFile(join(safe, ANN), '');
    await truncate(join(safe, ANN), annBytes);
    await writeFile(join(safe, CAL), '');
    await truncate(join(safe, CAL), calBytes);
    return safe;
  }

  const rows: {
    name: string;
    run: () => Promise<unknown>;
    error: new (...a: never[]) => Error;
    message: RegExp;
  }[] = [
    {
      name: 'a 3 GB annotation in a SAFE folder (sparse)',
      run: async () => {
        const safe = await SafeProduct.open(await safeFolder('ann3g', 3_000_000_000));
        try {
          return await safe.annotation('VV');
        } finally {
          await safe.close();
        }
      },
      error: FormatError,
      message:
        /ann3g\.SAFE\/annotation\/s1a-iw-grd-vv-[^:]+\.xml: metadata file is 2861 MiB \(3000000000 bytes\), over the 64 MiB limit for metadata files/,
    },
    {
      name: 'a 1 GB annotation in a SAFE folder (sparse)',
      run: async () => {
        const safe = await SafeProduct.open(await safeFolder('ann1g', 1_000_000_000));
        try {
          return await safe.annotation('VV');
        } finally {
          await safe.close();
        }
      },
      error: FormatError,
      message:
        /ann1g\.SAFE\/annotation\/s1a-[^:]+\.xml: metadata file is 954 MiB \(1000000000 bytes\), over the 64 MiB limit/,
    },
    {
      name: 'a calibration file over a lowered limit',
      run: async () => {
        const safe = await SafeProduct.open(await safeFolder('cal', 100, 2 * MiB), { maxMetadataBytes: MiB });
        try {
          return await safe.calibration('VV');
        } finally {
          await safe.close();
        }
      },
      error: FormatError,
      message:
        /cal\.SAFE\/annotation\/calibration\/calibration-s1a-[^:]+\.xml: metadata file is 2 MiB \(2097152 bytes\), over the 1 MiB limit/,
    },
    {
      name: 'a zip whose central directory gives an annotation 3 GB',
      run: async () => {
        const p = join(dir, 'big-ann.zip');
        await writeFile(
          p,
          zipWith([
            { name: 'X.SAFE/manifest.safe', data: Buffer.from('<x/>') },
            { name: `X.SAFE/${ANN}`, data: Buffer.from('<a/>'), claimSize: 3_000_000_000, deflate: true },
          ]),
        );
        const safe = await SafeProduct.open(p);
        try {
          return await safe.annotation('VV');
        } finally {
          await safe.close();
        }
      },
      error: FormatError,
      message:
        /big-ann\.zip!X\.SAFE\/annotation\/s1a-[^:]+\.xml: metadata file is 2861 MiB \(3000000000 bytes\), over the 64 MiB limit/,
    },
    {
      name: 'a zip entry that inflates past its central-directory size',
      run: async () => {
        const p = join(dir, 'lying.zip');
        await writeFile(
          p,
          zipWith([
            { name: 'X.SAFE/manifest.safe', data: Buffer.from('<x/>') },
            { name: `X.SAFE/${ANN}`, data: new Uint8Array(200_000), claimSize: 1000, deflate: true },
          ]),
        );
        const safe = await SafeProduct.open(p);
        try {
          return await safe.annotation('VV');
        } finally {
          await safe.close();
        }
      },
      error: FormatError,
      message: /lying\.zip: ZIP entry 'X\.SAFE\/annotation\/s1a-[^']+\.xml' is corrupt: /,
    },
    {
      name: 'a zip entry claiming more compressed bytes than its content can need',
      run: async () => {
        const p = join(dir, 'fat.zip');
        const bytes = zipWith([{ name: 'a.xml', data: new Uint8Array(5000), claimSize: 10, deflate: false }]);
        await writeFile(p, bytes);
        const src = await FileSource.open(p);
        try {
          const zip = await ZipArchive.open(src);
          return await zip.read(zip.entries[0]);
        } finally {
          await src.close();
        }
      },
      error: FormatError,
      message: /fat\.zip: ZIP entry 'a\.xml' claims 5000 compressed bytes for 10 bytes of content/,
    },
    {
      name: 'a SICD XML segment over the limit',
      run: async () => {
        const p = join(dir, 'big-xml.nitf');
        const xml = `<SICD xmlns="urn:SICD:1.2.1">${' '.repeat(4096)}</SICD>`;
        await writeFile(
          p,
          writeSicdNitf({
            title: 't',
            dateTime: '20260601060000',
            rows: 2,
            cols: 2,
            pixels: new Float32Array(8),
            xml,
          }),
        );
        return Sicd.open(p, { maxXmlBytes: 1024 });
      },
      error: FormatError,
      message: /big-xml\.nitf: SICD XML segment is \d+ bytes, over the 1024 bytes limit for metadata files/,
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const rss0 = MIB_RSS();
      const err = await row.run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(row.error);
      expect((err as Error).message).toMatch(row.message);
      expect(MIB_RSS() - rss0).toBeLessThan(128);
    });
  }

  it('sarbridge info on a SAFE folder with a 3 GB annotation exits 1 naming the file and limit', async () => {
    const safe = await safeFolder('cli3g', 3_000_000_000);
    const r = await runCliMeasured(['info', safe]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /sarbridge: .*cli3g\.SAFE\/annotation\/s1a-.*\.xml: metadata file is 2861 MiB .*over the 64 MiB limit/,
    );
    expect(r.peakMiB).toBeLessThan(400);
  });
});

describe('a killed sarbridge cog leaves no temporary files', () => {
  const dir = join(tmp.dir, 'kill');
  const tmpdir = join(tmp.dir, 'kill-tmpdir');
  mkdirSync(dir, { recursive: true });
  mkdirSync(tmpdir, { recursive: true });
  const input = join(dir, 'in.tif');

  beforeAll(async () => {
    // 4096 x 4096 float32 speckle-like noise, uncompressed: DEFLATE takes the CLI a few seconds.
    const n = 4096;
    const data = new Float32Array(n * n);
    const rand = mulberry32(7);
    for (let i = 0; i < data.length; i++) data[i] = -Math.log(1 - rand());
    await writeCog(
      input,
      { data, width: n, height: n, bands: 1, dataType: 'float32', nodata: null },
      { epsg: BOMB_EPSG, geoTransform: [...BOMB_GEOTRANSFORM] },
      { compression: 'none', overviews: 'none' },
    );
  }, 120_000);

  it('SIGKILL mid-run: nothing in the output folder or TMPDIR', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    const out = join(dir, 'out.tif');
    const child = spawn(
      process.execPath,
      [CLI, 'cog', input, out, '--level', '9', '--deflate-strategy', 'default'],
      {
        env: { ...process.env, TMPDIR: tmpdir },
        stdio: 'ignore',
      },
    );
    const pid = child.pid as number;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Wait until the child holds its overview tile files: open, already unlinked ("(deleted)").
    let held: string[] = [];
    // Up to 30 s: on a loaded machine the child takes a while to reach its overviews.
    for (let i = 0; i < 1500 && held.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        held = readdirSync(`/proc/${pid}/fd`)
          .map((fd) => {
            try {
              return readlinkSync(`/proc/${pid}/fd/${fd}`);
            } catch {
              return '';
            }
          })
          .filter((l) => l.startsWith(`${out}.`));
      } catch {
        break;
      }
    }
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((l) => l.endsWith('(deleted)'))).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(readdirSync(dir).sort()).toEqual(['in.tif']);
    expect(readdirSync(tmpdir)).toEqual([]);
  });

  it('the .partial output of a killed run (dead pid) is removed when the next run starts', async () => {
    const out = join(dir, 'again.tif');
    // Above Linux's largest pid_max: no such process.
    const stale = `${out}.4194399-0badf00d.partial`;
    const fh = await open(stale, 'w');
    await fh.close();
    const live = `${out}.${process.pid}-00000001.partial`;
    writeFileSync(live, '');
    const small = join(dir, 'small.tif');
    await writeCog(
      small,
      {
        data: new Float32Array(64 * 64).fill(1),
        width: 64,
        height: 64,
        bands: 1,
        dataType: 'float32',
        nodata: null,
      },
      { epsg: BOMB_EPSG, geoTransform: [...BOMB_GEOTRANSFORM] },
      { overviews: 'none' },
    );
    await translateToCog(small, out);
    expect(existsSync(stale)).toBe(false);
    // A partial of a running process (this one) is left alone.
    expect(existsSync(live)).toBe(true);
    execFileSync('rm', ['-f', live]);
    expect(readdirSync(dir).filter((f) => f.startsWith('again.tif.'))).toEqual([]);
  });
});
