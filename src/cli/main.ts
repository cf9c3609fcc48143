#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_COMMAND_BUDGET_BYTES, MiB } from '../io/budget.js';
import { GeoTiff } from '../io/tiff/reader.js';
import type { CogOptions, CogWriteResult } from '../io/tiff/writer.js';
import { ardProduct } from '../ops/ard-product.js';
import { calibrateFile } from '../ops/calibrate.js';
import { translateToCog } from '../ops/cog.js';
import { dbFile, multilookFile } from '../ops/convert.js';
import { despeckleFile } from '../ops/despeckle.js';
import { openProduct } from '../products/open-product.js';
import { contentKind } from '../products/recognise.js';
import type { SpeckleFilter } from '../raster/speckle.js';
import { SPECKLE_FILTERS } from '../raster/speckle.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerAisCommands } from './ais-commands.js';
import { choice, distinct, intArg, positiveArg, setResultMode, write } from './args.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerConfigCommand } from './config-command.js';
import { registerExploitCommands } from './exploit-commands.js';
import { registerPipelineCommands } from './pipeline-commands.js';
import { jsonOption, Output, type ProgressReporter, quietOption, reportError } from './progress.js';
import { registerServeCommands } from './serve-command.js';
import { registerSimulateCommands } from './simulate-commands.js';

/** `--max-memory <MiB>`: the memory budget of a whole-raster command. */
function maxMemoryOption(): Option {
  return new Option(
    '--max-memory <MiB>',
    `memory the command may hold in rasters (default ${DEFAULT_COMMAND_BUDGET_BYTES / MiB})`,
  ).argParser(positiveArg('--max-memory'));
}

const memoryBytes = (o: Record<string, unknown>) =>
  o.maxMemory === undefined ? undefined : Math.round((o.maxMemory as number) * MiB);

/** Exit codes: 0 success, 1 bad input (a clear one-line message), 2 usage error. */
export const EXIT_BAD_INPUT = 1;
export const EXIT_USAGE = 2;

function summary(r: CogWriteResult): Record<string, unknown> {
  return { path: r.path, bytes: r.bytes, bigTiff: r.bigTiff, levels: r.levels };
}

/** The COG writing options every command that writes a COG takes. */
function withCogOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--compress <method>', 'deflate, lzw or none')
        .default('deflate')
        .argParser(choice('--compress', ['deflate', 'lzw', 'none'] as const)),
    )
    .addOption(
      new Option('--predictor <p>', 'auto (2 for integers, 3 for floats), 1, 2 or 3')
        .default('auto')
        .argParser((v) => {
          if (v === 'auto') return 'auto';
          return choice('--predictor', ['1', '2', '3'] as const)(v);
        }),
    )
    .addOption(
      new Option('--blocksize <n>', 'tile size in pixels, a multiple of 16')
        .default(512)
        .argParser(intArg('--blocksize', 16, 4096)),
    )
    .addOption(
      new Option('--overviews <mode>', 'auto or none')
        .default('auto')
        .argParser(choice('--overviews', ['auto', 'none'] as const)),
    )
    .addOption(
      new Option('--resampling <method>', 'overview resampling: average or nearest')
        .default('average')
        .argParser(choice('--resampling', ['average', 'nearest'] as const)),
    )
    .addOption(new Option('--level <n>', 'DEFLATE level 1-9').default(6).argParser(intArg('--level', 1, 9)))
    .addOption(
      new Option(
        '--deflate-strategy <s>',
        'auto (Huffman-only for floats with predictor 3, else default), default, huffman or rle',
      )
        .default('auto')
        .argParser(choice('--deflate-strategy', ['auto', 'default', 'huffman', 'rle'] as const)),
    )
    .addOption(
      new Option('--bigtiff <mode>', 'auto, yes or no')
        .default('auto')
        .argParser(choice('--bigtiff', ['auto', 'yes', 'no'] as const)),
    );
}

function cogOptions(o: Record<string, unknown>): CogOptions {
  return {
    compression: o.compress as CogOptions['compression'],
    predictor: o.predictor === 'auto' ? 'auto' : (Number(o.predictor) as 1 | 2 | 3),
    blockSize: o.blocksize as number,
    overviews: o.overviews as 'auto' | 'none',
    resampling: o.resampling as 'average' | 'nearest',
    level: o.level as number,
    // commander camel-cases --deflate-strategy.
    deflateStrategy: o.deflateStrategy as CogOptions['deflateStrategy'],
    bigTiff: o.bigtiff as CogOptions['bigTiff'],
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sarbridge')
    .description('SAR imagery for partner agencies: products in, analysis-ready COGs, catalog and tiles')
    .version('0.1.0')
    .showHelpAfterError('(run sarbridge --help for usage)');

  program
    .command('info')
    .description(
      'print a raster file as JSON: size, bands, data type, CRS, geotransform, bounds, overviews, nodata, metadata',
    )
    .argument('<file>', 'GeoTIFF, COG, SICD (NITF) or Sentinel-1 SAFE (folder or zip)')
    .action(async (file: string) => {
      // A TIFF is described as a raster whatever it holds; anything else must be a product.
      const kind = await contentKind(file);
      if (kind === 'tiff' || kind === 'bigtiff') {
        const tif = await GeoTiff.open(file);
        try {
          write(tif.info());
        } finally {
          await tif.close();
        }
        return;
      }
      const p = await openProduct(file);
      try {
        if (p.format === 'sicd') {
          const { ampTable: _amp, ...meta } = p.sicd.meta;
          write({
            file,
            driver: 'SICD',
            acquisition: p.acquisition,
            width: p.sicd.width,
            height: p.sicd.height,
            dataType: 'cfloat32',
            nitf: { title: p.sicd.nitf.fileTitle, classification: p.sicd.nitf.classification },
            sicd: meta,
          });
        } else write({ file, driver: 'SAFE', acquisition: p.acquisition });
      } finally {
        await p.close();
      }
    });

  withCogOptions(
    program
      .command('cog')
      .description('convert a GeoTIFF into a Cloud-Optimized GeoTIFF')
      .argument('<in>', 'input GeoTIFF')
      .argument('<out>', 'output COG path')
      .addOption(maxMemoryOption()),
  ).action(async (input: string, output: string, o: Record<string, unknown>) => {
    distinct(input, output);
    write(summary(await translateToCog(input, output, { ...cogOptions(o), maxMemoryBytes: memoryBytes(o) })));
  });

  withCogOptions(
    program
      .command('despeckle')
      .description(
        'speckle-filter an intensity GeoTIFF into a float32 COG (boxcar, Lee, Kuan, Frost and Gamma-MAP as Orfeo ToolBox; Refined Lee)',
      )
      .argument('<in>', 'intensity GeoTIFF (linear power)')
      .argument('<out>', 'output COG path')
      .addOption(
        new Option('--filter <name>', SPECKLE_FILTERS.join(', '))
          .makeOptionMandatory()
          .argParser(choice('--filter', SPECKLE_FILTERS)),
      )
      .addOption(
        new Option('--window <n>', 'window side in pixels, odd (refined-lee: 7)')
          .default(7)
          .argParser(intArg('--window', 3, 101)),
      )
      .addOption(
        new Option('--looks <L>', 'number of looks of the input')
          .default(1)
          .argParser(positiveArg('--looks')),
      )
      .addOption(
        new Option('--deramp <d>', 'Frost damping factor').default(0.1).argParser((v) => {
          const n = Number(v);
          if (!(n >= 0) || !Number.isFinite(n))
            throw new InvalidArgumentError('--deramp must be a non-negative number');
          return n;
        }),
      ),
  ).action(async (input: string, output: string, o: Record<string, unknown>) => {
    distinct(input, output);
    const r = await despeckleFile(input, output, {
      filter: o.filter as SpeckleFilter,
      window: o.window as number,
      looks: o.looks as number,
      deramp: o.deramp as number,
      cog: cogOptions(o),
    });
    write(summary(r));
  });

  withCogOptions(
    program
      .command('calibrate')
      .description(
        'calibrate a Sentinel-1 GRD SAFE (folder or .zip) to sigma0, beta0 or gamma0 into a float32 COG',
      )
      .argument('<safe>', 'SAFE folder or zip')
      .argument('<out>', 'output COG path')
      .addOption(new Option('--pol <pol>', 'polarisation (default VV, else the first)'))
      .addOption(
        new Option('--to <target>', 'sigma0, beta0 or gamma0')
          .default('sigma0')
          .argParser(choice('--to', ['sigma0', 'beta0', 'gamma0'] as const)),
      )
      .addOption(new Option('--db', 'write dB instead of linear values'))
      .addOption(
        new Option('--remove-noise', 'subtract thermal noise (range x azimuth noise LUTs), clamped at 0'),
      ),
  ).action(async (input: string, output: string, o: Record<string, unknown>) => {
    distinct(input, output);
    write(
      summary(
        await calibrateFile(input, output, {
          pol: o.pol as string | undefined,
          target: o.to as 'sigma0' | 'beta0' | 'gamma0',
          db: Boolean(o.db),
          removeNoise: Boolean(o.removeNoise),
          cog: cogOptions(o),
        }),
      ),
    );
  });

  program
    .command('ard')
    .description(
      'analysis-ready imagery from a Sentinel-1 GRD SAFE or a SICD: calibrate, multilook, despeckle, geocode -> dB COG, quick-look PNG, STAC item',
    )
    .argument(
      '<product>',
      'Sentinel-1 SAFE (folder or zip), SICD (NITF), or a geocoded GeoTIFF with a sidecar',
    )
    .argument('<outdir>', 'output folder')
    .addOption(new Option('--pol <pol>', 'polarisation (default VV, else the first)'))
    .addOption(
      new Option('--to <target>', 'sigma0, beta0 or gamma0')
        .default('sigma0')
        .argParser(choice('--to', ['sigma0', 'beta0', 'gamma0'] as const)),
    )
    .addOption(
      new Option('--filter <name>', `${SPECKLE_FILTERS.join(', ')} or none`)
        .default('refined-lee')
        .argParser(choice('--filter', [...SPECKLE_FILTERS, 'none'] as const)),
    )
    .addOption(
      new Option(
        '--spacing <m>',
        'output pixel spacing in metres (default: 10; a geocoded product keeps its own)',
      ).argParser(positiveArg('--spacing')),
    )
    .addOption(
      new Option('--crs <EPSG:code>', 'output CRS (default: UTM zone of the scene centre)').argParser((v) => {
        const m = /^EPSG:(\d+)$/i.exec(v);
        if (!m) throw new InvalidArgumentError('--crs must look like EPSG:32631');
        return Number(m[1]);
      }),
    )
    .addOption(new Option('--remove-noise', 'subtract thermal noise before calibration'))
    .addOption(
      new Option(
        '--like <ref.tif>',
        "the output takes this GeoTIFF's grid (e.g. an earlier pass, for change detection)",
      ),
    )
    .addOption(
      new Option(
        '--meta <json>',
        'sidecar of a geocoded GeoTIFF (a STAC item or JSON with sar/sat/view fields)',
      ),
    )
    .addOption(maxMemoryOption())
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (product: string, outDir: string, o: Record<string, unknown>) => {
      const out = new Output(o);
      // One bar per stage: the image geometry (calibrate, multilook, despeckle), then geocode + COG.
      const titles = { image: 'ard: calibrate and despeckle (rows)', geocode: 'ard: geocode and COG (rows)' };
      let bar: { stage: string; reporter: ProgressReporter } | null = null;
      const r = await ardProduct(product, outDir, {
        onProgress: (stage, done, total) => {
          if (bar?.stage !== stage) {
            bar?.reporter.finish();
            bar = { stage, reporter: out.progress(titles[stage], total) };
          }
          bar.reporter.update(done);
        },
        meta: o.meta as string | undefined,
        pol: o.pol as string | undefined,
        target: o.to as 'sigma0' | 'beta0' | 'gamma0',
        filter: o.filter as SpeckleFilter | 'none',
        spacingM: o.spacing as number | undefined,
        epsg: o.crs as number | undefined,
        removeNoise: Boolean(o.removeNoise),
        like: o.like as string | undefined,
        maxMemoryBytes: memoryBytes(o),
      });
      (bar as { reporter: ProgressReporter } | null)?.reporter.finish();
      out.result({ cog: r.cog.path, quicklook: r.quicklook, item: r.itemPath });
    });

  registerSimulateCommands(program);
  registerConfigCommand(program);
  registerExploitCommands(program);
  registerAisCommands(program);
  registerServeCommands(program);
  registerAdminCommands(program);
  registerAuditCommands(program);
  registerPipelineCommands(program);

  withCogOptions(
    program
      .command('multilook')
      .description('average intensity over range x azimuth pixels into a float32 COG')
      .argument('<in>', 'intensity GeoTIFF (linear power)')
      .argument('<out>', 'output COG path')
      .addOption(
        new Option('--range <n>', 'looks in range (columns)')
          .default(2)
          .argParser(intArg('--range', 1, 1000)),
      )
      .addOption(
        new Option('--azimuth <n>', 'looks in azimuth (rows)')
          .default(2)
          .argParser(intArg('--azimuth', 1, 1000)),
      ),
  ).action(async (input: string, output: string, o: Record<string, unknown>) => {
    distinct(input, output);
    write(
      summary(
        await multilookFile(
          input,
          output,
          { range: o.range as number, azimuth: o.azimuth as number },
          cogOptions(o),
        ),
      ),
    );
  });

  withCogOptions(
    program
      .command('db')
      .description('convert linear power (intensity, sigma0) to dB into a float32 COG')
      .argument('<in>', 'linear GeoTIFF')
      .argument('<out>', 'output COG path'),
  ).action(async (input: string, output: string, o: Record<string, unknown>) => {
    distinct(input, output);
    write(summary(await dbFile(input, output, cogOptions(o))));
  });
  addResultModes(program);
  return program;
}

/** Commands whose output is not one result document (a server, a stream of records). */
const NO_RESULT_MODES = new Set(['sarbridge serve', 'sarbridge audit export']);

/**
 * --json and --quiet on every command that prints one result: those without their own get them
 * here, and `write` follows them (see setResultMode).
 */
function addResultModes(program: Command): void {
  const leaves = (c: Command, path: string): [string, Command][] =>
    c.commands.length ? c.commands.flatMap((s) => leaves(s, `${path} ${s.name()}`)) : [[path, c]];
  for (const [path, c] of leaves(program, program.name())) {
    if (NO_RESULT_MODES.has(path)) continue;
    const longs = new Set(c.options.map((o) => o.long));
    if (!longs.has('--json')) c.addOption(jsonOption());
    if (!longs.has('--quiet')) c.addOption(quietOption());
  }
  program.hook('preAction', (_program, action) => {
    const o = action.opts() as { json?: boolean; quiet?: boolean };
    setResultMode(o.json ? 'json' : o.quiet ? 'quiet' : 'pretty');
  });
}

/** Run the CLI; returns the exit code instead of exiting, for tests. */
export async function runCli(
  argv: string[],
  io: { stderr: (s: string) => void } = { stderr: (s) => process.stderr.write(s) },
): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: io.stderr });
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) {
    c.exitOverride();
    c.configureOutput({ writeErr: io.stderr });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // One line with a hint (a JSON line with --json); 2 for a wrong call, 1 for work that failed.
    return reportError(err, io.stderr, {
      json: argv.includes('--json'),
      debug: Boolean(process.env.SARBRIDGE_DEBUG),
    });
  }
}

/** True when this module is the program being run (directly, or through a bin link such as npx's). */
function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
