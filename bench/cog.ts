import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeCog } from '../src/io/tiff/writer.js';
import { createRaster } from '../src/raster/view.js';
import { exponential, mulberry32 } from '../src/util/random.js';
import { benchDir, CLI, fmt, gdalVersion, median, PYTHON, timed } from './util.js';

const SIZE = 4096;
const RUNS = 3;

/**
 * `npm run bench -- cog`: a seeded 4096 x 4096 float32 single-look speckle image (exponential
 * intensity, gamma L = 1); write a COG (DEFLATE, predictor 3, overviews) with `sarbridge cog` beside
 * `gdal_translate -of COG`, both from the same uncompressed GeoTIFF, then read each COG in full.
 */
export async function benchCog(): Promise<void> {
  const dir = benchDir('cog');
  const input = join(dir, 'speckle-4096.tif');
  const rand = mulberry32(42);
  const img = createRaster(SIZE, SIZE, 1, 'float32');
  for (let i = 0; i < img.data.length; i++) img.data[i] = exponential(rand);
  await writeCog(
    input,
    img,
    { epsg: 32633, geoTransform: [500000, 10, 0, 6000000, 0, -10] },
    { compression: 'none', overviews: 'none', statistics: false },
  );
  const rawMiB = (SIZE * SIZE * 4) / 2 ** 20;
  console.log(`input: ${input} (${SIZE} x ${SIZE} float32, ${rawMiB} MiB raw)`);
  console.log(
    `reference: ${gdalVersion()}; machine: ${execFileSync('nproc').toString().trim()} cores, node ${process.version}\n`,
  );

  const ours = join(dir, 'ours.tif');
  const ref = join(dir, 'gdal.tif');
  const w: { ours: number[]; oursRss: number[]; gdal: number[]; gdalRss: number[] } = {
    ours: [],
    oursRss: [],
    gdal: [],
    gdalRss: [],
  };
  for (let run = 0; run < RUNS; run++) {
    rmSync(ours, { force: true });
    rmSync(ref, { force: true });
    const a = timed(process.execPath, [CLI, 'cog', input, ours, '--compress', 'deflate', '--predictor', '3']);
    const b = timed('gdal_translate', [
      '-q',
      '-of',
      'COG',
      '-co',
      'COMPRESS=DEFLATE',
      '-co',
      'PREDICTOR=YES',
      '-co',
      'NUM_THREADS=ALL_CPUS',
      '-co',
      'RESAMPLING=AVERAGE',
      input,
      ref,
    ]);
    w.ours.push(a.seconds);
    w.oursRss.push(a.peakMiB);
    w.gdal.push(b.seconds);
    w.gdalRss.push(b.peakMiB);
  }
  const wo = median(w.ours);
  const wg = median(w.gdal);
  const rssO = Math.max(...w.oursRss);
  const rssG = Math.max(...w.gdalRss);
  console.log('write (whole command, median of 3)');
  console.log(
    `  sarbridge cog : ${fmt(wo)} s  peak RSS ${fmt(rssO, 0)} MiB (${fmt(rssO / rawMiB)} x raw)  size ${fmt(statSync(ours).size / 2 ** 20, 1)} MiB`,
  );
  console.log(
    `  gdal_translate: ${fmt(wg)} s  peak RSS ${fmt(rssG, 0)} MiB  size ${fmt(statSync(ref).size / 2 ** 20, 1)} MiB`,
  );
  console.log(
    `  ratio ours/GDAL time: ${fmt(wo / wg)} (target <= 0.70); peak RSS / raw: ${fmt(rssO / rawMiB)} (target <= 1.50)\n`,
  );

  // Full read of each COG: timed inside the process (open + read all pixels), median of 3.
  const readOurs = (file: string) =>
    Number(
      execFileSync(process.execPath, [
        '--input-type=module',
        '-e',
        `import { GeoTiff } from '${join(process.cwd(), 'dist/src/io/tiff/reader.js')}';
         const t0 = performance.now(); const t = await GeoTiff.open(${JSON.stringify(file)}); const v = await t.read(); await t.close();
         if (v.data.length !== ${SIZE * SIZE}) throw new Error('short read');
         process.stdout.write(String((performance.now() - t0) / 1000));`,
      ]).toString(),
    );
  const readGdal = (file: string) =>
    Number(
      execFileSync(PYTHON, [
        '-c',
        `import time\nfrom osgeo import gdal\ngdal.UseExceptions()\nt0=time.perf_counter()\nds=gdal.Open(${JSON.stringify(file)})\na=ds.GetRasterBand(1).ReadAsArray()\nassert a.size==${SIZE * SIZE}\nprint(time.perf_counter()-t0)`,
      ]).toString(),
    );
  for (const file of [ours, ref]) {
    const o: number[] = [];
    const g: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      o.push(readOurs(file));
      g.push(readGdal(file));
    }
    const label = file === ours ? "sarbridge's COG" : "GDAL's COG";
    console.log(`full read of ${label} (in-process, median of 3)`);
    console.log(
      `  sarbridge: ${fmt(median(o), 3)} s   GDAL: ${fmt(median(g), 3)} s   ratio ${fmt(median(o) / median(g))} (target <= 1.50)`,
    );
  }
}
