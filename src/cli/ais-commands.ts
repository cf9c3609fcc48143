import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { ValidationError } from '../errors.js';
import type { AisMatchOptions } from '../exploit/ais/match-file.js';
import { aisMatchFile, bboxFootprint, footprintOf } from '../exploit/ais/match-file.js';
import { recordAisMatch } from '../exploit/ais/stac.js';
import { choice, distinct, positiveArg, write } from './args.js';

/** A duration: a number of seconds, or with a unit (90s, 10m, 1.5h). */
export function durationMsArg(name: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h)?$/.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} must be a duration such as 600, 600s, 10m or 1h`);
    const unit = m[2] ?? 's';
    const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
    return Number(m[1]) * factor;
  };
}

function degreesArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number of degrees from ${min} to ${max}`);
    return n;
  };
}

/** `sarbridge ais match`. */
export function registerAisCommands(program: Command): void {
  const ais = program
    .command('ais')
    .description('AIS: match vessel detections against AIS reports (dark vessels)');
  ais
    .command('match')
    .description(
      'match detections (GeoJSON of sarbridge detect) to AIS tracks predicted at the image time; dark: true for a detection no track explains',
    )
    .argument('<detections.geojson>', 'vessel detections (GeoJSON FeatureCollection of points)')
    .argument(
      '<ais-file>',
      'AIS: NMEA 0183 !AIVDM/!AIVDO sentences, or a MarineCadastre, DMA or mmsi,time,lat,lon CSV',
    )
    .addOption(new Option('-o, --out <out.geojson>', 'output path (default: <detections>.ais.geojson)'))
    .addOption(new Option('--time <iso>', "image time (default: the detections' STAC item datetime)"))
    .addOption(
      new Option(
        '--item <stac-item.json>',
        'STAC item of the image: datetime, footprint, sar/view/sat geometry',
      ),
    )
    .addOption(
      new Option('--gap-limit <duration>', 'dead reckoning reaches at most this far from a report')
        .default(600_000, '10m')
        .argParser(durationMsArg('--gap-limit')),
    )
    .addOption(
      new Option(
        '--interpolation-limit <duration>',
        'interpolate between reports at most this far apart (default 3 x gap limit)',
      ).argParser(durationMsArg('--interpolation-limit')),
    )
    .addOption(
      new Option('--gate-m <m>', 'largest detection-track distance, metres')
        .default(1500)
        .argParser(positiveArg('--gate-m')),
    )
    .addOption(
      new Option('--heading-gate-deg <deg>', 'largest axis-heading difference, degrees')
        .default(35)
        .argParser(degreesArg('--heading-gate-deg', 0, 90)),
    )
    .addOption(
      new Option('--footprint <geojson>', 'image footprint polygon (default: the STAC item geometry)'),
    )
    .addOption(new Option('--bbox <minLon,minLat,maxLon,maxLat>', 'image footprint as a box'))
    .addOption(
      new Option('--look <side>', 'radar look side').argParser(choice('--look', ['right', 'left'] as const)),
    )
    .addOption(
      new Option('--orbit-heading <deg>', 'platform heading, degrees from north').argParser(
        degreesArg('--orbit-heading', 0, 360),
      ),
    )
    .addOption(
      new Option('--incidence <deg>', 'incidence angle at the scene, degrees').argParser(
        degreesArg('--incidence', 0.1, 89.9),
      ),
    )
    .addOption(
      new Option('--slant-range-m <m>', 'slant range (default: from incidence and --altitude-m)').argParser(
        positiveArg('--slant-range-m'),
      ),
    )
    .addOption(
      new Option('--altitude-m <m>', 'platform altitude (default 693000)').argParser(
        positiveArg('--altitude-m'),
      ),
    )
    .addOption(
      new Option('--velocity-mps <v>', 'platform velocity (default 7500)').argParser(
        positiveArg('--velocity-mps'),
      ),
    )
    .addOption(
      new Option(
        '--stac-item <item.json>',
        'record the result in this STAC item: asset vessels-ais, dark and matched counts',
      ),
    )
    .addOption(new Option('--no-displacement', 'do not correct AIS positions for the azimuth displacement'))
    .action(async (detections: string, aisFile: string, o: Record<string, unknown>) => {
      distinct(detections, aisFile);
      const out = (o.out as string | undefined) ?? `${detections.replace(/\.(geo)?json$/i, '')}.ais.geojson`;
      if (out === detections || out === aisFile)
        throw new ValidationError('--out must differ from the inputs');
      let footprint: AisMatchOptions['footprint'];
      if (typeof o.bbox === 'string') footprint = bboxFootprint(o.bbox);
      if (typeof o.footprint === 'string') {
        let doc: unknown;
        try {
          doc = JSON.parse(await readFile(o.footprint, 'utf8'));
        } catch (err) {
          throw new ValidationError(`--footprint ${o.footprint}: ${(err as Error).message}`);
        }
        const d = doc as { type?: string; features?: unknown[] };
        footprint = footprintOf(
          d.type === 'FeatureCollection' ? d.features?.[0] : doc,
          `--footprint ${o.footprint}`,
        );
      }
      const r = await aisMatchFile(detections, aisFile, out, {
        time: o.time as string | undefined,
        itemPath: o.item as string | undefined,
        gapLimitMs: o.gapLimit as number,
        interpolationLimitMs: o.interpolationLimit as number | undefined,
        gateM: o.gateM as number,
        headingGateDeg: o.headingGateDeg as number,
        footprint,
        noDisplacement: o.displacement === false,
        geometry: {
          lookSide: o.look as 'right' | 'left' | undefined,
          platformHeadingDeg: o.orbitHeading as number | undefined,
          incidenceDeg: o.incidence as number | undefined,
          slantRangeM: o.slantRangeM as number | undefined,
          altitudeM: o.altitudeM as number | undefined,
          platformVelocityMps: o.velocityMps as number | undefined,
        },
      });
      if (typeof o.stacItem === 'string') await recordAisMatch(o.stacItem, r);
      write({
        path: r.output,
        image_time: r.imageTime,
        ais_format: r.read.format,
        detections: r.detections,
        matched: r.matched,
        dark: r.dark,
        coverage: r.coverage,
        tracks: r.tracks,
        predicted: r.predicted,
        unmatched_tracks: r.unmatchedTracks.length,
        reports_in_window: r.read.reports.length,
        ais_lines: r.read.lines,
        bad_lines: r.read.issues.count,
        first_bad_lines: r.read.issues.first.slice(0, 5),
        displacement: r.geometry !== null,
        warnings: r.warnings,
      });
      // As `detect --ais`: the output and summary are written, but an AIS file that does not cover
      // the image time is bad input (exit 1), so a script cannot take "no dark vessel" from it.
      if (!r.coverage) throw new ValidationError(r.warnings[0]);
    });
}
