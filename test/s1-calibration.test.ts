import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { parseAnnotation, parseCalibration, parseUtcSeconds, SafeProduct } from '../src/io/s1/safe.js';
import { FileSource, MemorySource } from '../src/io/source.js';
import { ZipArchive } from '../src/io/zip.js';
import { calibrateFile } from '../src/ops/calibrate.js';
import { compareImages } from './helpers/compare.js';
import { S1_VV_MEASUREMENT as MEAS, S1_SAFE_NAME as NAME, S1_ZIP as ZIP } from './helpers/data.js';
import { PYTHON, tempDir } from './helpers/gdal.js';
import { otb, readFloat32 } from './helpers/otb.js';

const tmp = tempDir('s1-cal-');
afterAll(() => tmp.cleanup());
const safeDir = join(tmp.dir, NAME);
// A crop of the annotated 25931 x 16854 raster, from the first line and sample: OTB calibrates it with
// the real LUTs as it would the full measurement.
const W = 1300;
const H = 900;

beforeAll(async () => {
  // Unpack the real SAFE with sarbridge's own zip reader.
  const src = await FileSource.open(ZIP);
  const zip = await ZipArchive.open(src);
  for (const e of zip.entries) {
    if (e.name.endsWith('/')) continue;
    const out = join(tmp.dir, e.name);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, await zip.read(e));
  }
  await src.close();
  mkdirSync(join(safeDir, 'measurement'), { recursive: true });
  // A measurement raster of gamma-distributed DN; OTB recognises it by TIFFTAG_IMAGEDESCRIPTION.
  const script = `import numpy as np\nfrom osgeo import gdal\nrng = np.random.default_rng(4)\na = (rng.gamma(1.0, 1.0, (${H}, ${W})) * 300 + 1).clip(0, 65535).astype(np.uint16)\nds = gdal.GetDriverByName('GTiff').Create(${JSON.stringify(join(safeDir, MEAS))}, ${W}, ${H}, 1, gdal.GDT_UInt16)\nds.GetRasterBand(1).WriteArray(a)\nds.SetMetadataItem('TIFFTAG_IMAGEDESCRIPTION', 'Sentinel-1A IW GRD HR L1')\nds = None`;
  execFileSync(PYTHON, ['-c', script]);
});

describe('Sentinel-1 SAFE: metadata from the real product', () => {
  it('reads polarisations, annotation and calibration vectors from the zip', async () => {
    const safe = await SafeProduct.open(ZIP);
    expect(safe.polarisations()).toEqual(['VH', 'VV']);
    const ann = await safe.annotation('VV');
    expect([ann.numberOfSamples, ann.numberOfLines]).toEqual([25931, 16854]);
    expect(ann.mission).toBe('S1A');
    expect(ann.mode).toBe('IW');
    expect(ann.geolocationGrid.length).toBeGreaterThan(100);
    const cal = await safe.calibration('VV');
    expect(cal).toHaveLength(27);
    expect(cal[0].pixel.length).toBe(650);
    await expect(safe.measurement('VV')).rejects.toThrow(
      /has no measurement TIFF for VV \(measurement\/ is empty\)/,
    );
    await safe.close();
  });

  it('parses times to the microsecond', () => {
    const dt =
      parseUtcSeconds('f', 't', '2021-01-19T03:16:53.799379') -
      parseUtcSeconds('f', 't', '2021-01-19T03:16:53.000000');
    expect(Math.abs(dt - 0.799379)).toBeLessThan(1e-6);
  });
});

describe('Sentinel-1 calibration equals otbcli_SARCalibration within 1e-5 relative', () => {
  it.each([
    ['sigma0', 'sigma'],
    ['beta0', 'beta'],
    ['gamma0', 'gamma'],
  ] as const)('%s', async (target, lut) => {
    const ours = join(tmp.dir, `${target}.tif`);
    const ref = join(tmp.dir, `${target}-otb.tif`);
    otb('SARCalibration', ['-in', join(safeDir, MEAS), '-out', ref, 'float', '-lut', lut]);
    await calibrateFile(safeDir, ours, { pol: 'VV', target, allowCrop: true });
    const a = await readFloat32(ours);
    const b = await readFloat32(ref);
    const { max, first } = compareImages(a, b, W);
    console.log(`${target}: max relative difference from OTB ${max.toExponential(2)}`);
    expect(first, `first differing pixel: ${first}`).toBeNull();
  });
});

describe('thermal noise removal equals otbcli_SARCalibration -removenoise true', () => {
  it('range x azimuth noise LUTs, subtracted and clamped at 0', async () => {
    const ours = join(tmp.dir, 'sigma0-denoised.tif');
    const ref = join(tmp.dir, 'sigma0-denoised-otb.tif');
    const refRaw = join(tmp.dir, 'sigma0-raw-otb.tif');
    otb('SARCalibration', [
      '-in',
      join(safeDir, MEAS),
      '-out',
      ref,
      'float',
      '-lut',
      'sigma',
      '-removenoise',
      'true',
    ]);
    otb('SARCalibration', ['-in', join(safeDir, MEAS), '-out', refRaw, 'float', '-lut', 'sigma']);
    await calibrateFile(safeDir, ours, { pol: 'VV', target: 'sigma0', allowCrop: true, removeNoise: true });
    const a = await readFloat32(ours);
    const b = await readFloat32(ref);
    const raw = await readFloat32(refRaw);
    // Noise removal subtracts nearly all of the signal in dark areas, so the error is measured against
    // sigma0 before the subtraction (the result itself can be a tiny difference of two large numbers).
    let max = 0;
    let clamped = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0) clamped++;
      const scale = Math.max(raw[i], 1e-12);
      max = Math.max(max, Math.abs(a[i] - b[i]) / scale);
      if ((a[i] === 0) !== (b[i] === 0) && Math.abs(a[i] - b[i]) / scale > 1e-6)
        throw new Error(`pixel ${i}: clamping differs (ours ${a[i]}, OTB ${b[i]})`);
    }
    console.log(
      `noise removal: max |ours - OTB| / sigma0 before removal = ${max.toExponential(2)}; ${clamped} pixels clamped to 0`,
    );
    expect(max).toBeLessThan(1e-5);
    expect(clamped).toBeGreaterThan(0);
  });
});

describe('bad SAFE input', () => {
  it('a zip entry with a path outside the archive is refused', async () => {
    // A one-entry zip whose name climbs out of the folder.
    const name = Buffer.from('../evil.txt');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(name.length, 28);
    const cdOffset = local.length + name.length;
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(1, 8);
    eocd.writeUInt16LE(1, 10);
    eocd.writeUInt32LE(central.length + name.length, 12);
    eocd.writeUInt32LE(cdOffset, 16);
    const bytes = Buffer.concat([local, name, central, name, eocd]);
    await expect(ZipArchive.open(new MemorySource('evil.zip', bytes))).rejects.toThrow(
      /evil\.zip: ZIP entry '\.\.\/evil\.txt' points outside the archive \(path traversal\)/,
    );
  });

  it('a file that is not a zip, a folder without manifest, missing calibration, a size mismatch', async () => {
    await expect(ZipArchive.open(new MemorySource('x.zip', Buffer.alloc(100)))).rejects.toThrow(
      /has no ZIP end-of-central-directory record/,
    );
    const empty = join(tmp.dir, 'empty.SAFE');
    mkdirSync(empty);
    await expect(SafeProduct.open(empty)).rejects.toThrow(/is not a SAFE product \(no manifest\.safe\)/);
    const noCal = join(tmp.dir, 'nocal.SAFE');
    mkdirSync(join(noCal, 'annotation'), { recursive: true });
    writeFileSync(join(noCal, 'manifest.safe'), '<x/>');
    writeFileSync(join(noCal, 'annotation', 's1a-iw-grd-vv-x.xml'), '<product/>');
    const p = await SafeProduct.open(noCal);
    await expect(p.calibration('VV')).rejects.toThrow(/has no calibration annotation for VV/);
    await p.close();
    const safe = await SafeProduct.open(safeDir);
    const ann = await safe.annotation('VV');
    await expect(safe.measurement('VV', ann)).rejects.toThrow(
      /is 1300 x 900 pixels but the annotation says 25931 x 16854/,
    );
    await safe.close();
  });

  it.each([
    [
      'external entities',
      '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><calibration>&x;</calibration>',
      /declares a DOCTYPE or entities/,
    ],
    [
      'no vector list',
      '<calibration><adsHeader/></calibration>',
      /has no calibration\/calibrationVectorList \(a mandatory field\)/,
    ],
    [
      'mismatched LUT length',
      '<calibration><calibrationVectorList><calibrationVector><azimuthTime>2021-01-19T03:16:53.799379</azimuthTime><line>0</line><pixel>0 40</pixel><sigmaNought>1</sigmaNought><betaNought>1 2</betaNought><gamma>1 2</gamma></calibrationVector></calibrationVectorList></calibration>',
      /has 2 pixels but 1 sigmaNought values/,
    ],
    [
      'a bad time',
      '<calibration><calibrationVectorList><calibrationVector><azimuthTime>yesterday</azimuthTime></calibrationVector></calibrationVectorList></calibration>',
      /azimuthTime is 'yesterday', expected an ISO time/,
    ],
  ])('calibration XML with %s', (_name, xml, message) => {
    expect(() => parseCalibration('cal.xml', xml)).toThrow(FormatError);
    expect(() => parseCalibration('cal.xml', xml)).toThrow(message);
  });

  it('annotation XML missing its image information', () => {
    expect(() => parseAnnotation('ann.xml', '<product><adsHeader/></product>')).toThrow(
      /ann\.xml: has no product\/imageAnnotation\/imageInformation|has no imageAnnotation/,
    );
  });
});
