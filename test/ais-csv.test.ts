import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../src/errors.js';
import { detectCsvLayout, parseCsvRow, splitCsv } from '../src/exploit/ais/csv.js';
import { nmeaChecksum } from '../src/exploit/ais/nmea.js';
import { readAisFile } from '../src/exploit/ais/read.js';
import { AisFormatError } from '../src/exploit/ais/types.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('ais-csv-');
afterAll(() => tmp.cleanup());

// The header of the US MarineCadastre.gov / NOAA Office for Coastal Management AIS files (2015-2023).
const MARINECADASTRE =
  'MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass';
// The header of the Danish Maritime Authority's AIS CSV files (aisdata.ais.dk).
const DMA =
  '# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,Data source type,A,B,C,D';

describe('AIS archive CSV layouts', () => {
  it('MarineCadastre layout: BaseDateTime is UTC without a zone, Heading 511 is "not available", Length and Width in metres', () => {
    const l = detectCsvLayout(MARINECADASTRE, 'AIS_2023_01_01.csv');
    expect(l.name).toBe('marinecadastre');
    const row = parseCsvRow(
      '367000000,2023-01-01T00:00:05,29.95,-90.07,10.5,181.2,511,SOME VESSEL,IMO1234567,WDA1234,70,0,180,30,8.5,70,A',
      l,
    );
    expect(row.report).toEqual({
      mmsi: 367000000,
      timeMs: Date.UTC(2023, 0, 1, 0, 0, 5),
      lat: 29.95,
      lon: -90.07,
      sogKn: 10.5,
      cogDeg: 181.2,
      headingDeg: Number.NaN,
      messageType: 0,
    });
    expect(row.static).toEqual({
      mmsi: 367000000,
      lengthM: 180,
      widthM: 30,
      shipType: 70,
      name: 'SOME VESSEL',
    });
  });

  it('Danish Maritime Authority layout: "# Timestamp" header, dd/mm/yyyy times in UTC, base stations are not vessels', () => {
    const l = detectCsvLayout(DMA, 'aisdk-2026-06-01.csv');
    expect(l.name).toBe('dma');
    const row = parseCsvRow(
      '01/06/2026 06:00:10,Class A,219000001,55.5,11.25,Under way using engine,0,12.0,45.0,44,Unknown,OXAB2,"NAME, WITH COMMA",Cargo,,20,120,GPS,7.0,AARHUS,,AIS,60,60,10,10',
      l,
    );
    expect(row.report?.timeMs).toBe(Date.UTC(2026, 5, 1, 6, 0, 10));
    expect([
      row.report?.lat,
      row.report?.lon,
      row.report?.sogKn,
      row.report?.cogDeg,
      row.report?.headingDeg,
    ]).toEqual([55.5, 11.25, 12, 45, 44]);
    expect(row.static?.name).toBe('NAME, WITH COMMA');
    expect(row.static?.lengthM).toBe(120);
    const base = parseCsvRow(
      '01/06/2026 06:00:10,Base Station,2190064,55.0,12.0,Unknown value,,,,,,,,,,,,,,,,AIS,,,,',
      l,
    );
    expect(base.report).toBeNull();
  });

  it('generic layout mmsi,time,lat,lon,sog,cog,heading,ship_type,length: ISO 8601 or Unix seconds', () => {
    const l = detectCsvLayout('mmsi,time,lat,lon,sog,cog,heading,ship_type,length', 'a.csv');
    expect(l.name).toBe('generic');
    expect(parseCsvRow('1,1780293600,1,2,,,,,', l).report?.timeMs).toBe(1780293600_000);
    expect(parseCsvRow('1,2026-06-01T06:00:00+02:00,1,2,,,,,', l).report?.timeMs).toBe(
      Date.UTC(2026, 5, 1, 4),
    );
  });

  it('RFC 4180 quoting: commas and doubled quotes inside quoted fields', () => {
    expect(splitCsv('a,"b,c","d ""e""",f')).toEqual(['a', 'b,c', 'd "e"', 'f']);
  });

  it('an unknown header is an AisFormatError naming the file and quoting the header', () => {
    expect(() => detectCsvLayout('ship,when,where', 'mystery.csv')).toThrow(AisFormatError);
    expect(() => detectCsvLayout('ship,when,where', 'mystery.csv')).toThrow(
      /^mystery\.csv: unknown CSV layout: header "ship,when,where"; expected MarineCadastre/,
    );
  });

  const layout = detectCsvLayout(MARINECADASTRE, 'x.csv');
  const good = '367000000,2023-01-01T00:00:05,29.95,-90.07,10.5,181.2,511,V,,,70,0,180,30,8.5,70,A';
  const bad: { name: string; row: string; says: RegExp }[] = [
    {
      name: 'MMSI not a number',
      row: good.replace('367000000', '36700000X'),
      says: /MMSI = "36700000X", expected an MMSI of 1-9 digits/,
    },
    { name: 'MMSI of 10 digits', row: good.replace('367000000', '3670000001'), says: /MMSI = "3670000001"/ },
    {
      name: 'time not ISO 8601',
      row: good.replace('2023-01-01T00:00:05', '01/01/2023 00:00'),
      says: /BaseDateTime = "01\/01\/2023 00:00", expected a marinecadastre time/,
    },
    {
      name: 'latitude beyond 90',
      row: good.replace('29.95', '91.5'),
      says: /LAT = "91.5", expected a latitude in \[-90, 90\]/,
    },
    {
      name: 'longitude not a number',
      row: good.replace('-90.07', 'west'),
      says: /LON = "west", expected a longitude/,
    },
    { name: 'latitude empty', row: good.replace('29.95', ''), says: /LAT = "", expected a latitude/ },
    {
      name: 'truncated row',
      row: '367000000,2023-01-01T00:00:05',
      says: /truncated CSV row: 2 fields, the header has 17/,
    },
  ];
  for (const b of bad)
    it(`CSV bad input: ${b.name} throws AisFormatError naming the column`, () => {
      let err: unknown;
      try {
        parseCsvRow(b.row, layout, 'x.csv');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AisFormatError);
      expect((err as Error).message).toMatch(/^x\.csv: /);
      expect((err as Error).message).toMatch(b.says);
    });

  it('CSV fuzz: any row either parses to a report with a valid position or throws AisFormatError', () => {
    const field = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.double().map(String),
      fc.integer().map(String),
      fc.constant(''),
    );
    fc.assert(
      fc.property(fc.array(field, { minLength: 0, maxLength: 20 }), (fields) => {
        try {
          const r = parseCsvRow(fields.join(','), layout, 'fuzz.csv');
          if (r.report)
            return Math.abs(r.report.lat) <= 90 && Math.abs(r.report.lon) <= 180 && r.report.mmsi > 0;
          return true;
        } catch (e) {
          if (!(e instanceof AisFormatError)) throw e;
          return true;
        }
      }),
      { numRuns: 2000, seed: 5 },
    );
  });
});

describe('reading AIS files (streamed, bad lines counted with their numbers)', () => {
  it('a CSV with bad rows: every good row read, every bad one counted and reported by line number, the time window applied', async () => {
    const path = join(tmp.dir, 'mc.csv');
    const lines = [MARINECADASTRE];
    for (let k = 0; k < 50; k++) {
      const t = new Date(Date.UTC(2023, 0, 1, 0, k)).toISOString().slice(0, 19);
      lines.push(`367000001,${t},29.95,-90.07,10,90,90,A,,,70,0,100,20,5,70,A`);
    }
    lines[10] = '367000001,2023-01-01T00:09:00,29.95,,10,90,90,A,,,70,0,100,20,5,70,A'; // line 11
    lines[20] = 'garbage'; // line 21
    lines.push('');
    lines.push('367000002,not-a-time,1,1,,,,,,,,,,,,,'); // line 53
    writeFileSync(path, `${lines.join('\n')}\n`);
    const r = await readAisFile(path, {
      fromMs: Date.UTC(2023, 0, 1, 0, 10),
      toMs: Date.UTC(2023, 0, 1, 0, 29),
    });
    expect(r.format).toBe('csv:marinecadastre');
    expect(r.issues.count).toBe(3);
    expect(r.issues.first.map((i) => i.line)).toEqual([11, 21, 53]);
    expect(r.issues.first[0].problem).toMatch(/bad CSV field: LON = "", expected a longitude/);
    expect(r.issues.first[1].problem).toMatch(/truncated CSV row/);
    // Minutes 0-49 minus minutes 9 and 19 (lines 11 and 21): 48 positions; 10..29 minus 19 in the window.
    expect(r.positions).toBe(48);
    expect(r.reports).toHaveLength(19);
    expect(r.beforeWindow).toBe(9);
    expect(r.afterWindow).toBe(20);
    expect(r.statics.get(367000001)?.lengthM).toBe(100);
    expect(r.firstTime).toBe('2023-01-01T00:00:00.000Z');
    expect(r.lastTime).toBe('2023-01-01T00:49:00.000Z');
  });

  it('an NMEA file: comments skipped, tag-block times, type 5 lengths, bad checksums and an unfinished message counted by line', async () => {
    const path = join(tmp.dir, 'feed.nmea');
    const tag = (t: number) => `\\c:${t}*00\\`;
    const withSum = (body: string) =>
      `!${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
    writeFileSync(
      path,
      [
        '# a receiver log',
        `${tag(1700000000)}!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A`,
        `${tag(1700000010)}!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B`, // line 3: bad checksum
        `${tag(1700000020)}!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C`,
        `${tag(1700000020)}!AIVDM,2,2,1,A,88888888880,2*25`,
        '!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ087r,0*42', // line 6: no time
        withSum('AIVDM,1,1,,B,w0000000,0'), // line 7: unknown type
        `${tag(1700000030)}${withSum('AIVDM,2,1,7,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0')}`, // line 8: never finished
        '',
      ].join('\n'),
    );
    const r = await readAisFile(path);
    expect(r.format).toBe('nmea');
    expect(r.reports).toHaveLength(1);
    expect(r.reports[0].mmsi).toBe(371798000);
    expect(r.reports[0].timeMs).toBe(1700000000_000);
    expect(r.statics.get(351759000)?.lengthM).toBe(295);
    expect(r.issues.count).toBe(4);
    expect(r.issues.first.map((i) => [i.line, i.problem.split(':')[0]])).toEqual([
      [3, 'bad checksum'],
      [6, 'no time'],
      [7, 'unknown message type'],
      [8, 'incomplete multi-sentence message'],
    ]);
  });

  it('a gzip-compressed archive (.csv.gz) is read the same, line numbers included', async () => {
    const path = join(tmp.dir, 'mc.csv.gz');
    const text = `${MARINECADASTRE}\n367000001,2023-01-01T00:00:05,29.95,-90.07,10,90,90,A,,,70,0,100,20,5,70,A\nbad\n`;
    writeFileSync(path, gzipSync(text));
    const r = await readAisFile(path);
    expect(r.format).toBe('csv:marinecadastre');
    expect(r.reports).toHaveLength(1);
    expect(r.issues.first.map((i) => i.line)).toEqual([3]);
    const broken = join(tmp.dir, 'broken.csv.gz');
    writeFileSync(broken, gzipSync(text).subarray(0, 30));
    await expect(readAisFile(broken)).rejects.toThrow(/broken\.csv\.gz: not a readable gzip file/);
  });

  it('a missing file is NotFoundError; an unknown CSV header fails naming the file', async () => {
    await expect(readAisFile(join(tmp.dir, 'nope.csv'))).rejects.toThrow(NotFoundError);
    const path = join(tmp.dir, 'odd.csv');
    writeFileSync(path, 'a,b,c\n1,2,3\n');
    await expect(readAisFile(path)).rejects.toThrow(/odd\.csv: unknown CSV layout: header "a,b,c"/);
  });
});
