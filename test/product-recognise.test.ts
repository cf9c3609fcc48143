import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../src/errors.js';
import { MemorySource } from '../src/io/source.js';
import { openProduct } from '../src/products/open-product.js';
import type { RecognisedProduct } from '../src/products/recognise.js';
import { recogniseProduct, UnrecognisedProductError } from '../src/products/recognise.js';
import { mulberry32 } from '../src/util/random.js';
import { runCapture } from './helpers/cli.js';
import { PYROSAR_DB, S1_SAFE_NAME, S1_ZIP, SICD_CHIP } from './helpers/data.js';
import { PYTHON, tempDir } from './helpers/gdal.js';
import { tinyTiff } from './helpers/tiny-tiff.js';

const tmp = tempDir('recognise-');
afterAll(() => tmp.cleanup());
const at = (name: string) => join(tmp.dir, name);

/** A zip written by Python's zipfile (an independent writer): entries name -> text. */
function pyZip(path: string, entries: Record<string, string>): string {
  const spec = at(`${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(spec, JSON.stringify(entries));
  execFileSync(PYTHON, [
    '-c',
    `import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for k, v in json.load(open(sys.argv[2])).items(): z.writestr(k, v)`,
    path,
    spec,
  ]);
  return path;
}

/** The chip with `from` replaced by `to` (same length, so every NITF length field stays right). */
function patchedChip(from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('patch must keep the length');
  const b = Buffer.from(readFileSync(SICD_CHIP));
  const i = b.indexOf(from, 0, 'latin1');
  if (i < 0) throw new Error(`'${from}' is not in the chip`);
  b.write(to, i, 'latin1');
  return b;
}

const MANIFEST_S2 =
  '<?xml version="1.0"?><xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel/1.1"><safe:platform><safe:familyName>SENTINEL-2</safe:familyName><safe:number>A</safe:number></safe:platform></xfdu:XFDU>';

let safeDir: string;
beforeAll(() => {
  const unpacked = at('unpacked');
  mkdirSync(unpacked);
  execFileSync('unzip', ['-q', S1_ZIP, '-d', unpacked]);
  safeDir = join(unpacked, S1_SAFE_NAME);
});

describe('recogniseProduct: the format from the content, whatever the name says', () => {
  // Expected facts from the files themselves (data/README.md, the SAFE's manifest, the SICD XML).
  const S1 = { mission: 'SENTINEL-1A', productType: 'GRD', mode: 'IW', polarisations: ['VV', 'VH'] };
  const RCM = { mission: 'RCM-1', productType: 'SICD', mode: 'STRIPMAP', polarisations: ['HH'] };
  const rows: { name: string; make: () => string; format: RecognisedProduct['format']; facts: object }[] = [
    { name: 'the real SAFE zip', make: () => S1_ZIP, format: 'safe-zip', facts: S1 },
    {
      name: 'the real SAFE zip renamed scene.nitf',
      make: () => {
        copyFileSync(S1_ZIP, at('scene.nitf'));
        return at('scene.nitf');
      },
      format: 'safe-zip',
      facts: S1,
    },
    { name: 'the SAFE folder unzipped', make: () => safeDir, format: 'safe', facts: S1 },
    {
      name: 'a zip with manifest.safe at its top',
      make: () =>
        pyZip(at('flat.zip'), {
          'manifest.safe': readFileSync(join(safeDir, 'manifest.safe'), 'utf8'),
        }),
      format: 'safe-zip',
      facts: S1,
    },
    { name: 'the real SICD chip', make: () => SICD_CHIP, format: 'sicd', facts: RCM },
    {
      name: 'the SICD renamed product.zip',
      make: () => {
        copyFileSync(SICD_CHIP, at('product.zip'));
        return at('product.zip');
      },
      format: 'sicd',
      facts: RCM,
    },
    {
      name: 'the geocoded GeoTIFF, no sidecar',
      make: () => PYROSAR_DB,
      format: 'geotiff',
      facts: { epsg: 32631, sidecar: null, mission: null, polarisations: [] },
    },
    {
      name: 'the geocoded GeoTIFF renamed x.SAFE, with a STAC item beside it',
      make: () => {
        copyFileSync(PYROSAR_DB, at('x.SAFE'));
        writeFileSync(
          at('x.SAFE.json'),
          JSON.stringify({
            type: 'Feature',
            properties: {
              datetime: '2015-03-09T17:30:17Z',
              platform: 'sentinel-1a',
              'sar:product_type': 'GRD',
              'sar:instrument_mode': 'IW',
              'sar:polarizations': ['VV'],
            },
          }),
        );
        return at('x.SAFE');
      },
      format: 'geotiff',
      facts: {
        epsg: 32631,
        sidecar: at('x.SAFE.json'),
        mission: 'sentinel-1a',
        productType: 'GRD',
        polarisations: ['VV'],
      },
    },
  ];
  it.each(rows)('$name -> $format', async ({ make, format, facts }) => {
    const path = make();
    const r = await recogniseProduct(path);
    expect(r).toMatchObject({ path, format, ...facts });
    expect(r.evidence.length).toBeGreaterThan(10);
  });
});

describe('recogniseProduct: bad input is a ValidationError naming the file, what was found and expected', () => {
  const rows: { name: string; make: () => string; msg: RegExp }[] = [
    {
      name: 'an empty file named .nitf',
      make: () => {
        writeFileSync(at('empty.nitf'), '');
        return at('empty.nitf');
      },
      msg: /empty\.nitf: an empty file \(0 bytes\); expected a Sentinel-1 SAFE/,
    },
    {
      name: 'a NITF cut inside its file header',
      make: () => {
        writeFileSync(at('head.nitf'), readFileSync(SICD_CHIP).subarray(0, 300));
        return at('head.nitf');
      },
      msg: /head\.nitf: a NITF file, but NITF file header ends inside field \w+ \(truncated NITF\)/,
    },
    {
      name: 'a NITF cut inside its SICD XML',
      make: () => {
        const b = readFileSync(SICD_CHIP);
        writeFileSync(at('cut.nitf'), b.subarray(0, b.length - 2000));
        return at('cut.nitf');
      },
      msg: /cut\.nitf: a NITF file, but header field FL says 79220 bytes but the file has 77220 \(truncated NITF\)/,
    },
    {
      name: 'a NITF without a SICD DES',
      make: () => {
        writeFileSync(at('nodes.nitf'), patchedChip('XML_DATA_CONTENT', 'XML_DATA_CONTENX'));
        return at('nodes.nitf');
      },
      msg: /nodes\.nitf: a NITF file, but has no SICD XML data extension segment/,
    },
    {
      name: 'a NITF whose XML DES is not SICD',
      make: () => {
        writeFileSync(at('sidd.nitf'), patchedChip('<SICD ', '<SIDD '));
        return at('sidd.nitf');
      },
      msg: /sidd\.nitf: a NITF file, but XML/,
    },
    {
      name: 'a zip without manifest.safe',
      make: () => pyZip(at('nomanifest.zip'), { 'A.SAFE/annotation/x.xml': '<x/>', 'readme.txt': 'hi' }),
      msg: /nomanifest\.zip: a ZIP archive of 2 entries \(A\.SAFE\/annotation\/x\.xml, readme\.txt\) without a manifest\.safe/,
    },
    {
      name: 'a zip with manifest.safe in a folder not named .SAFE',
      make: () => pyZip(at('wrongdir.zip'), { 'product/manifest.safe': '<x/>' }),
      msg: /wrongdir\.zip: a ZIP archive of 1 entries \(product\/manifest\.safe\) without a manifest\.safe at its top or in a \*\.SAFE folder/,
    },
    {
      name: 'a zip holding two SAFEs',
      make: () => pyZip(at('two.zip'), { 'A.SAFE/manifest.safe': '<x/>', 'B.SAFE/manifest.safe': '<x/>' }),
      msg: /two\.zip: a ZIP archive holding 2 SAFE products \(A\.SAFE\/manifest\.safe, B\.SAFE\/manifest\.safe\); expected one SAFE per zip/,
    },
    {
      name: 'a Sentinel-2 SAFE in a zip',
      make: () => pyZip(at('s2.zip'), { 'S2A.SAFE/manifest.safe': MANIFEST_S2 }),
      msg: /s2\.zip: a ZIP archive with S2A\.SAFE\/manifest\.safe, but manifest\.safe names the platform 'SENTINEL-2'/,
    },
    {
      name: 'a truncated zip',
      make: () => {
        writeFileSync(at('cut.zip'), readFileSync(S1_ZIP).subarray(0, 100_000));
        return at('cut.zip');
      },
      msg: /cut\.zip: a ZIP signature, but has no ZIP end-of-central-directory record/,
    },
    {
      name: 'a directory without manifest.safe',
      make: () => {
        mkdirSync(at('folder.SAFE'));
        writeFileSync(at('folder.SAFE/a.xml'), '<x/>');
        return at('folder.SAFE');
      },
      msg: /folder\.SAFE: a directory without manifest\.safe; it holds a\.xml/,
    },
    {
      name: 'the folder around a SAFE',
      make: () => join(safeDir, '..'),
      msg: new RegExp(
        `unpacked: a directory without manifest\\.safe \\(it holds ${S1_SAFE_NAME}: pass that folder\\); expected`,
      ),
    },
    {
      name: 'a TIFF that is not georeferenced, named .tif',
      make: () => {
        writeFileSync(at('plain.tif'), tinyTiff());
        return at('plain.tif');
      },
      msg: /plain\.tif: a TIFF of 4 x 3 uint8 pixels that is not georeferenced \(no EPSG CRS/,
    },
    {
      name: 'a GeoTIFF in a CRS sarbridge cannot transform (EPSG:2154)',
      make: () => {
        execFileSync('gdal_translate', ['-q', '-a_srs', 'EPSG:2154', PYROSAR_DB, at('lambert.tif')]);
        return at('lambert.tif');
      },
      msg: /lambert\.tif: a TIFF of 268 x 217 float32 pixels in EPSG:2154, a CRS sarbridge cannot transform/,
    },
    {
      name: 'a GeoTIFF whose sidecar is not JSON',
      make: () => {
        copyFileSync(PYROSAR_DB, at('side.tif'));
        writeFileSync(at('side.json'), '{"datetime": ');
        return at('side.tif');
      },
      msg: /side\.tif: a geocoded TIFF .* with the sidecar .*side\.json, but .*side\.json: is not valid JSON/,
    },
    {
      name: 'a bad TIFF header',
      make: () => {
        writeFileSync(at('bad.tif'), Buffer.from('II*\0\xff\xff\xff\x7f', 'latin1'));
        return at('bad.tif');
      },
      msg: /bad\.tif: a TIFF signature, but /,
    },
    {
      name: 'text named .nitf',
      make: () => {
        writeFileSync(at('text.nitf'), 'NIT is not NITF');
        return at('text.nitf');
      },
      msg: /text\.nitf: unknown content starting 0x4e 0x49 0x54 0x20 0x69 0x73 0x20 0x6e \('NIT is n'\)/,
    },
    {
      name: 'a PNG named .tif',
      make: () => {
        const zip = readFileSync(S1_ZIP);
        const i = zip.indexOf('\x89PNG', 0, 'latin1');
        writeFileSync(at('quicklook.tif'), zip.subarray(i, i + 64));
        return at('quicklook.tif');
      },
      msg: /quicklook\.tif: found a PNG image; expected/,
    },
    {
      name: 'a gzip named .zip',
      make: () => {
        writeFileSync(at('g.zip'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
        return at('g.zip');
      },
      msg: /g\.zip: found gzip-compressed data \(unpack it first\)/,
    },
    {
      name: 'a named pipe (no hang waiting for a writer)',
      make: () => {
        execFileSync('mkfifo', [at('pipe.tif')]);
        return at('pipe.tif');
      },
      msg: /pipe\.tif: neither a regular file nor a directory/,
    },
  ];
  it.each(rows)('$name', async ({ make, msg }) => {
    const path = make();
    const err = await recogniseProduct(path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnrecognisedProductError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as UnrecognisedProductError).file).toBe(path);
    expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
    expect((err as Error).message).toMatch(msg);
  });

  it('a path that does not exist is a NotFoundError', async () => {
    await expect(recogniseProduct(at('nothing.zip'))).rejects.toThrow(NotFoundError);
    await expect(recogniseProduct(at('nothing.zip'))).rejects.toThrow(/nothing\.zip: cannot open \(ENOENT\)/);
  });
});

describe('openProduct: the reader and the Acquisition', () => {
  it('opens the SAFE zip, the SAFE folder, the SICD and the GeoTIFF with its sidecar', async () => {
    const seen: Record<string, unknown>[] = [];
    copyFileSync(PYROSAR_DB, at('geo.tif'));
    writeFileSync(
      at('geo.json'),
      JSON.stringify({
        start_datetime: '2015-03-09T17:30:17Z',
        end_datetime: '2015-03-09T17:30:42Z',
        'sar:polarizations': ['VV'],
        'sat:orbit_state': 'ascending',
      }),
    );
    for (const path of [S1_ZIP, safeDir, SICD_CHIP, at('geo.tif')]) {
      const p = await openProduct(path);
      try {
        seen.push({ format: p.format, acq: p.acquisition.format, pols: p.acquisition.polarisations });
        if (p.format === 'geotiff') {
          // pyrosar_db.tif: 268 x 217 pixels of 20 m in UTM 31N (data/README.md).
          expect(p.acquisition.size).toEqual({ width: 268, height: 217 });
          expect(p.acquisition.pixelSpacingM.range).toBeCloseTo(20, 6);
          expect(p.acquisition.startTime).toBe('2015-03-09T17:30:17.000Z');
          expect(p.acquisition.orbitDirection).toBe('ascending');
          const lons = p.acquisition.footprint.map((q) => q[0]);
          // UTM 31N spans 0-6 degrees east.
          for (const lon of lons) expect(lon > 0 && lon < 6).toBe(true);
        }
      } finally {
        await p.close();
      }
    }
    expect(seen).toEqual([
      { format: 'safe-zip', acq: 'sentinel-1-safe', pols: ['VH', 'VV'] },
      { format: 'safe', acq: 'sentinel-1-safe', pols: ['VH', 'VV'] },
      { format: 'sicd', acq: 'sicd', pols: ['HH'] },
      { format: 'geotiff', acq: 'geocoded-geotiff', pols: ['VV'] },
    ]);
  });

  it('refuses a geocoded GeoTIFF without a sidecar, naming the names it tried', async () => {
    copyFileSync(PYROSAR_DB, at('alone.tif'));
    await expect(openProduct(at('alone.tif'))).rejects.toThrow(
      /alone\.tif: a geocoded GeoTIFF needs a sidecar .* none found \(tried .*alone\.tif\.json, .*alone\.json, .*alone_metadata\.json, .*alone\.stac\.json\)/,
    );
  });
});

describe('sarbridge info and ard choose by content, not by the name', () => {
  it('ard takes a geocoded GeoTIFF named .img (the old name rule sent it to the SAFE reader)', {
    timeout: 120_000,
  }, async () => {
    copyFileSync(PYROSAR_DB, at('geo.img'));
    writeFileSync(
      at('geo.img.json'),
      JSON.stringify({
        datetime: '2015-03-09T17:30:17Z',
        'sar:instrument_mode': 'IW',
        'sar:frequency_band': 'C',
        'sar:polarizations': ['VV'],
        'sar:product_type': 'GRD',
      }),
    );
    const r = await runCapture(['ard', at('geo.img'), at('ard-geo'), '--filter', 'none']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { item: string };
    const item = JSON.parse(readFileSync(out.item, 'utf8')) as { properties: Record<string, unknown> };
    expect(item.properties.datetime).toBe('2015-03-09T17:30:17Z');
  });

  it('ard takes a SICD named .tif', { timeout: 120_000 }, async () => {
    copyFileSync(SICD_CHIP, at('sicd-named.tif'));
    const r = await runCapture([
      'ard',
      at('sicd-named.tif'),
      at('ard-out'),
      '--filter',
      'none',
      '--spacing',
      '20',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { cog: string; item: string };
    const item = JSON.parse(readFileSync(out.item, 'utf8')) as { properties: Record<string, unknown> };
    // The RCM chip's collector and polarisation reached the item: it went through the SICD reader.
    expect(item.properties.platform).toMatch(/rcm-1/i);
    expect(item.properties['sar:polarizations']).toEqual(['HH']);
  });

  it('info on a SAFE zip named .tif prints the SAFE, and on text exits 1 with one line', async () => {
    copyFileSync(S1_ZIP, at('safe-named.tif'));
    const ok = await runCapture(['info', at('safe-named.tif')]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ driver: 'SAFE', acquisition: { platform: 'sentinel-1a' } });
    writeFileSync(at('notes.zip'), 'not a zip');
    for (const cmd of ['info', 'ard']) {
      const bad = await runCapture(cmd === 'ard' ? [cmd, at('notes.zip'), at('x')] : [cmd, at('notes.zip')]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe(
        `sarbridge: ${at('notes.zip')}: unknown content starting 0x6e 0x6f 0x74 0x20 0x61 0x20 0x7a 0x69 ('not a zi'); expected a Sentinel-1 SAFE (a folder or zip holding manifest.safe), a SICD (NITF with the SICD XML in a DES) or a geocoded GeoTIFF\n`,
      );
    }
  });
});

describe('recogniseProduct survives mutated headers', () => {
  /** Copies of `bytes` with random bytes changed in `regions`, or cut short; every outcome checked. */
  async function fuzz(
    label: string,
    bytes: Uint8Array,
    regions: [number, number][],
    runs: number,
    seed: number,
  ) {
    const rand = mulberry32(seed);
    const outcomes = { recognised: 0, refused: 0 };
    let slowestMs = 0;
    for (let i = 0; i < runs; i++) {
      let b: Uint8Array = bytes.slice();
      const kind = rand();
      if (kind < 0.15) b = b.subarray(0, Math.floor(rand() * b.length));
      else {
        const n = 1 + Math.floor(rand() * 8);
        for (let k = 0; k < n; k++) {
          const [lo, hi] = regions[Math.floor(rand() * regions.length)];
          const at = lo + Math.floor(rand() * (Math.min(hi, b.length) - lo));
          // Digits and spaces matter to NITF's ASCII fields; any byte to TIFF and ZIP structures.
          b[at] = rand() < 0.5 ? '0123456789 '.charCodeAt(Math.floor(rand() * 11)) : Math.floor(rand() * 256);
        }
      }
      const name = `${label}-mutant-${i}`;
      const t0 = performance.now();
      try {
        await recogniseProduct(new MemorySource(name, b));
        outcomes.recognised++;
      } catch (err) {
        if (!(err instanceof UnrecognisedProductError) || !err.message.startsWith(`${name}: `))
          throw new Error(`mutant ${i} of ${label} threw ${String(err)}`, { cause: err });
        outcomes.refused++;
      }
      slowestMs = Math.max(slowestMs, performance.now() - t0);
    }
    console.log(
      `${label}: ${runs} mutants, ${outcomes.recognised} still recognised, ${outcomes.refused} refused with a ValidationError naming the file; slowest ${slowestMs.toFixed(1)} ms`,
    );
    expect(outcomes.refused).toBeGreaterThan(runs / 10);
    expect(slowestMs).toBeLessThan(2000);
  }

  it('the SICD chip: NITF file header, DES subheader and SICD XML', { timeout: 120_000 }, async () => {
    const b = new Uint8Array(readFileSync(SICD_CHIP));
    const des = Buffer.from(b).indexOf('DEXML_DATA_CONTENT', 0, 'latin1');
    await fuzz(
      'sicd',
      b,
      [
        [0, 400],
        [des, des + 400],
        [des, b.length],
      ],
      600,
      14,
    );
  });

  it('the geocoded GeoTIFF: header, IFD and GeoKeys', { timeout: 120_000 }, async () => {
    const b = new Uint8Array(readFileSync(PYROSAR_DB));
    await fuzz('geotiff', b, [[0, 2048]], 2000, 15);
  });

  it('the SAFE zip: local headers, central directory and end record', { timeout: 120_000 }, async () => {
    const b = new Uint8Array(readFileSync(S1_ZIP));
    await fuzz(
      'safe-zip',
      b,
      [
        [0, 4096],
        [b.length - 8192, b.length],
      ],
      1000,
      16,
    );
  });
});
