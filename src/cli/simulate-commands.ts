import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { ORG_CODE } from '../access/labels.js';
import { fillSafe } from '../ops/simulate.js';
import { simulateCampaign } from '../ops/simulate-campaign.js';
import { simulateScene } from '../ops/simulate-scene.js';
import { fillSicd } from '../ops/simulate-sicd.js';
import { choice, distinct, intArg, positiveArg } from './args.js';
import { addOutputOptions, Output } from './progress.js';

/** `sarbridge simulate fill-safe|fill-sicd|scene|campaign`: simulated products with planted truth. */
export function registerSimulateCommands(program: Command): void {
  const simulate = program.command('simulate').description('simulated products with planted truth');
  addOutputOptions(
    simulate
      .command('fill-safe')
      .description(
        'write measurement TIFFs for a real Sentinel-1 SAFE (metadata only) whose calibration recovers a planted sigma0',
      )
      .argument('<safe-zip>', 'the SAFE zip, as distributed')
      .argument('<outdir>', 'folder to unpack the SAFE into')
      .addOption(
        new Option('--seed <n>', 'random seed').default(1).argParser(intArg('--seed', 0, 2 ** 31 - 1)),
      )
      .addOption(new Option('--pol <pols>', 'polarisations, comma-separated (default: all)'))
      .addOption(
        new Option('--crop <WxH>', 'only the first W x H pixels').argParser((v) => {
          const m = /^(\d+)x(\d+)$/.exec(v);
          if (!m) throw new InvalidArgumentError('--crop must look like 2000x1500');
          return { width: Number(m[1]), height: Number(m[2]) };
        }),
      )
      .addOption(
        new Option('--ships <n>', 'ships to plant on the sea (truth in <outdir>/truth.geojson)')
          .default(40)
          .argParser(intArg('--ships', 0, 10000)),
      ),
  ).action(async (zip: string, outDir: string, o: Record<string, unknown>) => {
    const out = new Output(o);
    const dir = await fillSafe(zip, outDir, {
      seed: o.seed as number,
      pols: typeof o.pol === 'string' ? o.pol.split(',') : undefined,
      crop: o.crop as { width: number; height: number } | undefined,
      ships: o.ships as number,
    });
    out.result({ safe: dir, truth: (o.ships as number) > 0 ? join(outDir, 'truth.geojson') : null });
  });

  addOutputOptions(
    simulate
      .command('fill-sicd')
      .description(
        'a SICD with the geometry and radiometry of a real one and a planted scene (sea clutter, point targets)',
      )
      .argument('<template>', 'a real SICD (NITF)')
      .argument('<out>', 'output SICD path (truth goes to <out>.geojson)')
      .addOption(
        new Option('--seed <n>', 'random seed').default(1).argParser(intArg('--seed', 0, 2 ** 31 - 1)),
      )
      .addOption(new Option('--rows <n>', 'rows (range)').default(512).argParser(intArg('--rows', 8, 9999)))
      .addOption(
        new Option('--cols <n>', 'columns (azimuth)').default(512).argParser(intArg('--cols', 8, 8192)),
      ),
  ).action(async (template: string, outPath: string, o: Record<string, unknown>) => {
    distinct(template, outPath);
    const out = new Output(o);
    const r = await fillSicd(template, outPath, {
      seed: o.seed as number,
      rows: o.rows as number,
      cols: o.cols as number,
    });
    out.result({ sicd: r.path, truth: r.truth, targets: r.targets.length });
  });

  addOutputOptions(
    simulate
      .command('scene')
      .description(
        'a seeded series of geocoded sigma0 scenes (sea clutter, land, ships, changes) with ground truth GeoJSON',
      )
      .argument('<outdir>', 'output folder')
      .addOption(
        new Option('--seed <n>', 'random seed').default(1).argParser(intArg('--seed', 0, 2 ** 31 - 1)),
      )
      .addOption(
        new Option('--size <n>', 'pixels on a side').default(2048).argParser(intArg('--size', 64, 16384)),
      )
      .addOption(
        new Option('--spacing <m>', 'pixel spacing in metres')
          .default(10)
          .argParser(positiveArg('--spacing')),
      )
      .addOption(
        new Option('--ships <n>', 'ships to plant').default(30).argParser(intArg('--ships', 0, 10000)),
      )
      .addOption(
        new Option('--dates <list>', 'comma-separated ISO dates, one scene each').default(
          '2026-06-01T06:00:00Z,2026-06-13T06:00:00Z',
        ),
      )
      .addOption(
        new Option('--layout <name>', 'coast, open-sea or harbour (ships packed 50-200 m apart)')
          .default('coast')
          .argParser(choice('--layout', ['coast', 'open-sea', 'harbour'] as const)),
      )
      .addOption(
        new Option('--looks <L>', 'looks of the speckle').default(4.4).argParser(positiveArg('--looks')),
      )
      .addOption(
        new Option('--sea-order <nu>', 'K-distribution order of the sea clutter (small is spiky)')
          .default(4)
          .argParser(positiveArg('--sea-order')),
      )
      .addOption(
        new Option(
          '--safe',
          'also write each date as a Sentinel-1-like GRD SAFE (image geometry, calibration and noise LUTs)',
        ),
      )
      .addOption(
        new Option(
          '--sicd <template.nitf>',
          "also write each date as a SICD with this real SICD's collection geometry (the scene is centred on its SCP)",
        ),
      )
      .addOption(
        new Option(
          '--ais',
          'also write an AIS archive per date (ais_<date>.csv): dark ships, AIS-only tracks, moving ships displaced in azimuth',
        ),
      ),
  ).action(async (outDir: string, o: Record<string, unknown>) => {
    const out = new Output(o);
    const r = await simulateScene(outDir, {
      safe: Boolean(o.safe),
      ais: Boolean(o.ais),
      sicdTemplate: o.sicd as string | undefined,
      seed: o.seed as number,
      size: o.size as number,
      spacingM: o.spacing as number,
      ships: o.ships as number,
      dates: String(o.dates).split(','),
      layout: o.layout as 'coast' | 'open-sea' | 'harbour',
      looks: o.looks as number,
      seaOrder: o.seaOrder as number,
    });
    out.result({
      scenes: r.scenes.map((x) => ({
        date: x.date,
        scene: x.path,
        truth: x.truth,
        ships: x.ships.length,
        ...(x.safe ? { safe: x.safe.safeDir, safeTruth: x.safe.truthPath } : {}),
        ...(x.sicd ? { sicd: x.sicd.path, sicdTruth: x.sicd.truthPath } : {}),
        ...(x.ais ? { ais: x.ais.path, aisReports: x.ais.reports, aisOnlyTracks: x.ais.aisOnly.length } : {}),
      })),
      changes: r.changesPath,
      land: r.landPath,
    });
  });

  addOutputOptions(
    simulate
      .command('campaign')
      .description(
        'the demonstration campaign: six passes over a harbour and an airfield across three days, as Sentinel-1-like SAFEs and SICDs, with a manifest of paths, labels and planted truth',
      )
      .argument('<dir>', 'output folder (products/ and manifest.json; a finished campaign is reused)')
      .addOption(
        new Option('--seed <n>', 'random seed').default(1).argParser(intArg('--seed', 0, 2 ** 31 - 1)),
      )
      .addOption(
        new Option('--start <date>', 'day 0 of the campaign, YYYY-MM-DD')
          .default('2026-06-01')
          .argParser((v) => {
            if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))
              throw new InvalidArgumentError('--start must be a date YYYY-MM-DD');
            return v;
          }),
      )
      .addOption(
        new Option('--partners <a,b>', 'the two partner organisations (releasability codes)')
          .default('GBR,NLD')
          .argParser((v) => {
            const p = v.split(',').map((x) => x.trim());
            if (p.length !== 2 || p[0] === p[1] || !p.every((x) => ORG_CODE.test(x)))
              throw new InvalidArgumentError('--partners must be two different codes such as GBR,NLD');
            return p;
          }),
      ),
  ).action(async (dir: string, o: Record<string, unknown>) => {
    const out = new Output(o);
    const bar = out.progress('simulate campaign', 6);
    const partners = (typeof o.partners === 'string' ? o.partners.split(',') : o.partners) as [
      string,
      string,
    ];
    const r = await simulateCampaign(dir, {
      seed: o.seed as number,
      startDate: o.start as string,
      partners,
      onProgress: (done, _total, message) => bar.update(done, message),
    });
    if (r.reused) bar.update(6, `reused the finished campaign in ${dir}`);
    bar.finish(r.reused ? 'reused' : 'written');
    out.result({
      manifest: r.manifestPath,
      reused: r.reused,
      products: r.manifest.products.map((p) => ({
        id: p.id,
        path: join(dir, p.path),
        format: p.format,
        area: p.area,
        datetime: p.datetime,
        releasableTo: p.releasableTo,
      })),
    });
  });
}
