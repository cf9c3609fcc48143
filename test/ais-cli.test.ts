import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nmeaChecksum } from '../src/exploit/ais/nmea.js';
import { runCapture } from './helpers/cli.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('ais-cli-');
afterAll(() => tmp.cleanup());

const M_PER_DEG = 111_194.9266;
const LON0 = 11;
const LAT0 = 55;
const at = (x: number, y: number): [number, number] => [
  LON0 + x / (M_PER_DEG * Math.cos((LAT0 * Math.PI) / 180)),
  LAT0 + y / M_PER_DEG,
];
const T = Date.UTC(2026, 5, 1, 6, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** Detections as `sarbridge detect` writes them. */
function detections(points: { x: number; y: number; lengthM: number; headingDeg: number }[]): string {
  const path = join(tmp.dir, `det-${Math.random().toString(36).slice(2)}.geojson`);
  writeFileSync(
    path,
    JSON.stringify({
      type: 'FeatureCollection',
      sarbridge: { source: 'scene.tif', method: 'k' },
      features: points.map((p, i) => ({
        type: 'Feature',
        id: `vessel-${i + 1}`,
        geometry: { type: 'Point', coordinates: at(p.x, p.y) },
        properties: { length_m: p.lengthM, width_m: p.lengthM / 6, heading_deg: p.headingDeg },
      })),
    }),
  );
  return path;
}

// Planted: ships 1-3 broadcast (ship 3 moving north at 10 kn, reports every 2 min), ship 4 is dark;
// MMSI 219000005 reports inside the footprint with no ship; 219000006 reports outside it.
const SHIPS = [
  { x: 0, y: 0, lengthM: 100, headingDeg: 90 },
  { x: 5000, y: 5000, lengthM: 200, headingDeg: 45 },
  { x: -4000, y: 3000, lengthM: 150, headingDeg: 0 },
  { x: 8000, y: -6000, lengthM: 120, headingDeg: 30 },
];
const BBOX = (() => {
  const [w, s] = at(-15000, -15000);
  const [e, n] = at(15000, 15000);
  return `${w},${s},${e},${n}`;
})();

function csvRows(): string[] {
  const rows = ['mmsi,time,lat,lon,sog,cog,heading,ship_type,length'];
  const v = (10 * 1852) / 3600;
  for (let t = -1200; t <= 1200; t += 120) {
    const tm = iso(T + t * 1000);
    let [lon, lat] = at(0, 0);
    rows.push(`219000001,${tm},${lat},${lon},0,,,70,100`);
    [lon, lat] = at(5000, 5000);
    rows.push(`219000002,${tm},${lat},${lon},0,,,70,200`);
    [lon, lat] = at(-4000, 3000 + v * t);
    rows.push(`219000003,${tm},${lat},${lon},10,0,0,70,150`);
    [lon, lat] = at(-9000, -9000);
    rows.push(`219000005,${tm},${lat},${lon},0,,,30,40`);
    [lon, lat] = at(40000, 40000);
    rows.push(`219000006,${tm},${lat},${lon},0,,,30,40`);
  }
  return rows;
}

describe('sarbridge ais match', () => {
  it('CSV AIS: matched MMSIs and distances, the dark ship, AIS-only tracks inside the footprint listed, bad rows reported with line numbers', async () => {
    const det = detections(SHIPS);
    const ais = join(tmp.dir, 'ais.csv');
    const rows = csvRows();
    rows.splice(5, 0, '219000009,2026-06-01T05:59:00Z,95,11,0,,,,'); // line 6: latitude out of range
    rows.push('not,a,row');
    writeFileSync(ais, `${rows.join('\n')}\n`);
    const out = join(tmp.dir, 'out.geojson');
    const r = await runCapture([
      'ais',
      'match',
      det,
      ais,
      '-o',
      out,
      '--time',
      iso(T),
      '--bbox',
      BBOX,
      '--look',
      'right',
      '--orbit-heading',
      '348',
      '--incidence',
      '35',
      '--slant-range-m',
      '850000',
      '--velocity-mps',
      '7500',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      detections: 4,
      matched: 3,
      dark: 1,
      coverage: true,
      unmatched_tracks: 1,
      bad_lines: 2,
    });
    expect(summary.first_bad_lines[0]).toEqual({
      line: 6,
      problem: 'bad CSV field: lat = "95", expected a latitude in [-90, 90]',
    });
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    const props = doc.features.map((f: { properties: Record<string, unknown> }) => f.properties);
    expect(props.map((p: Record<string, unknown>) => p.ais_mmsi)).toEqual([
      219000001,
      219000002,
      219000003,
      null,
    ]);
    expect(props.map((p: Record<string, unknown>) => p.dark)).toEqual([false, false, false, true]);
    expect(props[0].ais_distance_m).toBeLessThan(1);
    // Ship 3 moves north (heading 348 flight, looking 78): v_r = 5.144 cos(78) sin(35) m/s away, shift -(R/V) v_r.
    const vr = ((10 * 1852) / 3600) * Math.cos((78 * Math.PI) / 180) * Math.sin((35 * Math.PI) / 180);
    expect(props[2].ais_azimuth_shift_m).toBeCloseTo(-(850000 / 7500) * vr, 0);
    expect(doc.sarbridge_ais.unmatched_tracks.map((u: { mmsi: number }) => u.mmsi)).toEqual([219000005]);
    expect(doc.sarbridge_ais.issues.count).toBe(2);
    expect(doc.sarbridge.source).toBe('scene.tif');
    // RFC 7946 output as GDAL's GeoJSON driver reads it: dark a Boolean field, one dark detection.
    const info = execFileSync(
      'ogrinfo',
      ['-ro', '-q', '-sql', 'SELECT COUNT(*) AS n FROM out WHERE dark = 1', out],
      {
        encoding: 'utf8',
      },
    );
    expect(info).toMatch(/n \(Integer\) = 1/);
    expect(execFileSync('ogrinfo', ['-ro', '-so', '-al', out], { encoding: 'utf8' })).toMatch(
      /dark: Integer\(Boolean\)[\s\S]*ais_mmsi: Integer/,
    );
  });

  it('the image time, footprint and viewing geometry come from the STAC item (datetime, geometry, sar:observation_direction, view:incidence_angle, sat:orbit_state)', async () => {
    const det = detections(SHIPS);
    const ais = join(tmp.dir, 'ais2.csv');
    writeFileSync(ais, `${csvRows().join('\n')}\n`);
    const [w, s, e, n] = BBOX.split(',').map(Number);
    const item = join(tmp.dir, 'item.json');
    writeFileSync(
      item,
      JSON.stringify({
        type: 'Feature',
        stac_version: '1.0.0',
        id: 'scene',
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [w, s],
              [e, s],
              [e, n],
              [w, n],
              [w, s],
            ],
          ],
        },
        properties: {
          datetime: iso(T),
          'sar:observation_direction': 'right',
          'view:incidence_angle': 35,
          'sat:orbit_state': 'ascending',
        },
      }),
    );
    const out = join(tmp.dir, 'out2.geojson');
    const r = await runCapture(['ais', 'match', det, ais, '-o', out, '--item', item]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      image_time: iso(T),
      matched: 3,
      dark: 1,
      unmatched_tracks: 1,
      displacement: true,
    });
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.sarbridge_ais.displacement.look_side).toBe('right');
    // Ascending sun-synchronous ground track near 55 N: heading a little west of north.
    expect(doc.sarbridge_ais.displacement.orbit_heading_deg).toBeGreaterThan(340);
  });

  it('--stac-item: the item gets the matched detections as asset vessels-ais and says how many were dark', async () => {
    const det = detections(SHIPS);
    const ais = join(tmp.dir, 'ais3.csv');
    writeFileSync(ais, `${csvRows().join('\n')}\n`);
    const item = join(tmp.dir, 'item3.json');
    writeFileSync(
      item,
      JSON.stringify({
        type: 'Feature',
        id: 's',
        geometry: null,
        properties: { datetime: iso(T) },
        assets: {},
      }),
    );
    const out = join(tmp.dir, 'out3.geojson');
    const r = await runCapture([
      'ais',
      'match',
      det,
      ais,
      '-o',
      out,
      '--item',
      item,
      '--stac-item',
      item,
      '--bbox',
      BBOX,
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(item, 'utf8'));
    expect(doc.properties).toMatchObject({
      'sarbridge:vessels': 4,
      'sarbridge:vessels_ais_matched': 3,
      'sarbridge:vessels_dark': 1,
      'sarbridge:ais_unmatched_tracks': 1,
    });
    expect(doc.assets['vessels-ais']).toMatchObject({ href: './out3.geojson', type: 'application/geo+json' });
    expect(doc.assets['vessels-ais']['file:size']).toBe(readFileSync(out).length);
  });

  it('NMEA AIS with tag-block times: the published GPSD type 1 sentence dead-reckoned 30 s to the image time and matched; a type 5 read alongside; a bad checksum reported by line', async () => {
    // GPSD sample.aivdm: 371798000 at -123.395383333, 48.38163333333; 351759000 (EVER DIADEM) 225 + 70 m.
    const t = Math.round(T / 1000);
    const ais = join(tmp.dir, 'feed.nmea');
    writeFileSync(
      ais,
      [
        `\\c:${t - 30}*00\\!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A`,
        `\\c:${t - 20}*00\\!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C`,
        `\\c:${t - 20}*00\\!AIVDM,2,2,1,A,88888888880,2*25`,
        `\\c:${t - 10}*00\\!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B`,
      ].join('\n'),
    );
    const det = join(tmp.dir, 'det-nmea.geojson');
    writeFileSync(
      det,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            geometry: { type: 'Point', coordinates: [-123.3953, 48.3816] },
            properties: { length_m: 60 },
          },
        ],
      }),
    );
    const out = join(tmp.dir, 'out-nmea.geojson');
    const r = await runCapture(['ais', 'match', det, ais, '-o', out, '--time', iso(T), '--no-displacement']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ ais_format: 'nmea', matched: 1, dark: 0, bad_lines: 1 });
    expect(summary.first_bad_lines[0].line).toBe(4);
    expect(summary.first_bad_lines[0].problem).toMatch(/^bad checksum/);
    const f = JSON.parse(readFileSync(out, 'utf8')).features[0];
    expect(f.properties.ais_mmsi).toBe(371798000);
    // 12.3 kn on 224 deg for 30 s = 189.8 m; the detection sits 7 m from the report.
    expect(f.properties.ais_distance_m).toBeGreaterThan(150);
    expect(f.properties.ais_distance_m).toBeLessThan(230);
  });

  it('an AIS file with no reports in the time window says so, calls no detection dark and exits 1 (as detect --ais)', async () => {
    const det = detections(SHIPS);
    const ais = join(tmp.dir, 'old.csv');
    writeFileSync(ais, 'mmsi,time,lat,lon\n219000001,2020-01-01T00:00:00Z,55,11\n');
    const out = join(tmp.dir, 'out-old.geojson');
    const r = await runCapture(['ais', 'match', det, ais, '-o', out, '--time', iso(T), '--no-displacement']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'no AIS reports between 2026-06-01T05:30:00.000Z and 2026-06-01T06:30:00.000Z',
    );
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ coverage: false, matched: 0, dark: 0, reports_in_window: 0 });
    expect(summary.warnings[0]).toBe(
      `${ais}: no AIS reports between 2026-06-01T05:30:00.000Z and 2026-06-01T06:30:00.000Z ` +
        '(its reports span 2020-01-01T00:00:00.000Z to 2020-01-01T00:00:00.000Z); no detection can be called dark',
    );
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.features.every((f: { properties: { dark: unknown } }) => f.properties.dark === null)).toBe(
      true,
    );
  });

  it('--gap-limit: a ship whose last report is 15 min old is dark with the default 10 min, matched with --gap-limit 20m', async () => {
    const det = detections([SHIPS[0]]);
    const ais = join(tmp.dir, 'stale.csv');
    const [lon, lat] = at(0, 0);
    writeFileSync(ais, `mmsi,time,lat,lon,sog\n219000001,${iso(T - 900_000)},${lat},${lon},0\n`);
    const base = ['ais', 'match', det, ais, '--time', iso(T), '--no-displacement'];
    const a = JSON.parse((await runCapture([...base, '-o', join(tmp.dir, 'g1.geojson')])).stdout);
    expect(a).toMatchObject({ matched: 0, dark: 1 });
    const b = JSON.parse(
      (await runCapture([...base, '-o', join(tmp.dir, 'g2.geojson'), '--gap-limit', '20m'])).stdout,
    );
    expect(b).toMatchObject({ matched: 1, dark: 0 });
  });

  const bad: { name: string; args: (det: string, ais: string) => string[]; code: number; says: RegExp }[] = [
    {
      name: '--gap-limit not a duration',
      args: (d, a) => ['ais', 'match', d, a, '--gap-limit', 'soon'],
      code: 2,
      says: /--gap-limit must be a duration such as 600, 600s, 10m or 1h/,
    },
    {
      name: 'no image time anywhere',
      args: (d, a) => ['ais', 'match', d, a],
      code: 1,
      says: /the image time is not known; give --time <ISO 8601> or --item <stac-item.json>/,
    },
    {
      name: '--time not ISO 8601',
      args: (d, a) => ['ais', 'match', d, a, '--time', 'yesterday'],
      code: 1,
      says: /--time: "yesterday" is not an ISO 8601 time/,
    },
    {
      name: '--bbox reversed',
      args: (d, a) => ['ais', 'match', d, a, '--time', iso(T), '--bbox', '12,56,11,55'],
      code: 1,
      says: /--bbox must be minLon,minLat,maxLon,maxLat with min < max/,
    },
    {
      name: '--incidence out of range',
      args: (d, a) => ['ais', 'match', d, a, '--incidence', '95'],
      code: 2,
      says: /--incidence must be a number of degrees from 0.1 to 89.9/,
    },
  ];
  for (const b of bad)
    it(`bad input: ${b.name} (exit ${b.code}, the parameter named)`, async () => {
      const det = detections(SHIPS);
      const ais = join(tmp.dir, 'ok.csv');
      writeFileSync(ais, `${csvRows().join('\n')}\n`);
      const r = await runCapture(b.args(det, ais));
      expect(r.code).toBe(b.code);
      expect(r.stderr).toMatch(b.says);
    });

  it('bad input: detections that are not a FeatureCollection, and an AIS CSV of unknown layout, fail naming the file', async () => {
    const notFc = join(tmp.dir, 'x.geojson');
    writeFileSync(notFc, '{"type":"Feature"}');
    const ais = join(tmp.dir, 'ok2.csv');
    writeFileSync(ais, `${csvRows().join('\n')}\n`);
    const r = await runCapture(['ais', 'match', notFc, ais, '--time', iso(T)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${notFc}: expected a GeoJSON FeatureCollection of detections`);
    const odd = join(tmp.dir, 'odd.csv');
    writeFileSync(odd, 'vessel;when;where\n');
    const r2 = await runCapture(['ais', 'match', detections(SHIPS), odd, '--time', iso(T)]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`${odd}: unknown CSV layout: header "vessel;when;where"`);
    // Checksum helper sanity for the NMEA test above: the published *4A sentence.
    expect(nmeaChecksum('AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0')).toBe(0x4a);
  });
});
