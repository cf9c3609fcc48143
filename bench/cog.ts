import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, CLI, fmt, gdalVersion, median, PYTHON, speckleInput, timed } from './util.js';

const SIZE = 4096;
const RUNS = 5;

interface Series {
  seconds: number[];
  peakMiB: number[];
}

function run(series: Series, cmd: string, args: string[], out: string): void {
  rmSync(out, { force: true });
  const r = timed(cmd, args);
  series.seconds.push(r.seconds);
  series.peakMiB.push(r.peakMiB);
}

/**
 * `npm run bench -- cog`: a seeded 4096 x 4096 float32 single-look speckle image (exponential
 * intensity, gamma L = 1); write a COG (DEFLATE, predictor 3, overviews) with `sarbridge cog` beside
 * `gdal_translate -of COG`, both from the same uncompressed GeoTIFF, then read each COG in full.
 */
export async function benchCog(): Promise<void> {
  const dir = benchDir('cog');
  const input = join(dir, 'speckle-4096.tif');
  await speckleInput(input, SIZE);
  const rawMiB = (SIZE * SIZE * 4) / 2 ** 20;
  console.log(`input: ${input} (${SIZE} x ${SIZE} float32, ${rawMiB} MiB raw)`);
  console.log(
    `reference: ${gdalVersion()}; machine: ${execFileSync('nproc').toString().trim()} cores, node ${process.version}\n`,
  );

  const ours = join(dir, 'ours.tif');
  const oursLz = join(dir, 'ours-lz77.tif');
  const ref = join(dir, 'gdal.tif');
  const s = {
    ours: { seconds: [], peakMiB: [] } as Series,
    lz: { seconds: [], peakMiB: [] } as Series,
    gdal: { seconds: [], peakMiB: [] } as Series,
  };
  const gdalArgs = [
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
  ];
  for (let i = 0; i < RUNS; i++) {
    run(
      s.ours,
      process.execPath,
      [CLI, 'cog', input, ours, '--compress', 'deflate', '--predictor', '3'],
      ours,
    );
    // GDAL's encoder settings (zlib LZ77 + Huffman at level 6), for a like-for-like size comparison.
    run(
      s.lz,
      process.execPath,
      [
        CLI,
        'cog',
        input,
        oursLz,
        '--compress',
        'deflate',
        '--predictor',
        '3',
        '--deflate-strategy',
        'default',
        '--level',
        '6',
      ],
      oursLz,
    );
    run(s.gdal, 'gdal_translate', gdalArgs, ref);
  }
  const g = median(s.gdal.seconds);
  const mib = (p: string) => statSync(p).size / 2 ** 20;
  const line = (label: string, x: Series, file: string) =>
    `  ${label.padEnd(44)} ${fmt(median(x.seconds))} s (x${fmt(median(x.seconds) / g)} GDAL)  peak RSS median ${fmt(median(x.peakMiB), 0)} MiB, max ${fmt(Math.max(...x.peakMiB), 0)} MiB (${fmt(median(x.peakMiB) / rawMiB)} x raw)  size ${fmt(mib(file), 1)} MiB`;
  console.log(`write, whole command, median of ${RUNS}`);
  console.log(line('sarbridge cog (defaults: Huffman-only)', s.ours, ours));
  console.log(line('sarbridge cog --deflate-strategy default', s.lz, oursLz));
  console.log(
    line(
      `gdal_translate -of COG (${gdalArgs
        .slice(3, 11)
        .filter((a) => a !== '-co')
        .join(' ')})`,
      s.gdal,
      ref,
    ),
  );
  console.log(`  targets: time <= 0.70 x GDAL, peak RSS <= 1.50 x raw (${fmt(1.5 * rawMiB, 0)} MiB)\n`);

  // Full read of each COG: open + read every pixel, timed inside the process.
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
  console.log(`full read, in-process (open + all pixels), median of ${RUNS}; target <= 1.50 x GDAL`);
  for (const [label, file] of [
    ["sarbridge's COG", ours],
    ["sarbridge's COG (LZ77)", oursLz],
    ["GDAL's COG", ref],
  ] as const) {
    const o: number[] = [];
    const r: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      o.push(readOurs(file));
      r.push(readGdal(file));
    }
    console.log(
      `  ${label.padEnd(24)} sarbridge ${fmt(median(o), 3)} s   GDAL ${fmt(median(r), 3)} s   ratio ${fmt(median(o) / median(r))}`,
    );
  }
}
