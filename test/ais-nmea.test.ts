import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AisMessage, PositionMessage, StaticMessage } from '../src/exploit/ais/nmea.js';
import { NmeaAssembler, nmeaChecksum, parseSentence } from '../src/exploit/ais/nmea.js';
import { AisFormatError } from '../src/exploit/ais/types.js';

/*
 * Published example sentences and their decoded fields, from the GPSD project's AIVDM test data
 * (BSD licence): test/sample.aivdm (sentences with the decodes their contributors checked with the
 * noaadata tools and the Maritec decoder) and test/sample.aivdm.js.chk (GPSD's scaled JSON
 * decode of the same sentences, used for type 27 and the type 24 pair). The expected values below
 * are copied from those files, not produced by sarbridge.
 */

function decodeAll(lines: string[]): AisMessage[] {
  const a = new NmeaAssembler('sample.aivdm');
  const out: AisMessage[] = [];
  lines.forEach((l, i) => {
    const d = a.push(l, i + 1);
    if (d) out.push(d.message);
  });
  return out;
}

const one = (line: string) => decodeAll([line])[0];

describe('ITU-R M.1371 position reports (GPSD sample.aivdm)', () => {
  const cases: {
    name: string;
    line: string;
    type: number;
    mmsi: number;
    lon: number;
    lat: number;
    sog: number;
    cog: number;
    heading: number;
    second: number;
  }[] = [
    {
      name: 'type 1 (Kurt Schwehr, noaadata and Maritec)',
      line: '!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A',
      type: 1,
      mmsi: 371798000,
      lon: -123.395383333,
      lat: 48.38163333333,
      sog: 12.3,
      cog: 224,
      heading: 215,
      second: 33,
    },
    {
      name: 'type 1, heading 511 = not available',
      line: '!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ087r,0*42',
      type: 1,
      mmsi: 440348000,
      lon: -70.7582,
      lat: 43.08015,
      sog: 0,
      cog: 93.4,
      heading: Number.NaN,
      second: 13,
    },
    {
      name: 'type 2',
      line: '!AIVDM,1,1,,B,25Cjtd0Oj;Jp7ilG7=UkKBoB0<06,0*60',
      type: 2,
      mmsi: 356302000,
      lon: -71.62614333333333,
      lat: 40.39235833333333,
      sog: 13.9,
      cog: 87.7,
      heading: 91,
      second: 41,
    },
    {
      name: 'type 3',
      line: '!AIVDM,1,1,,A,38Id705000rRVJhE7cl9n;160000,0*40',
      type: 3,
      mmsi: 563808000,
      lon: -76.3275333333,
      lat: 36.91,
      sog: 0,
      cog: 252,
      heading: 352,
      second: 35,
    },
    {
      name: 'type 18 (class B)',
      line: '!AIVDM,1,1,,A,B52K>;h00Fc>jpUlNV@ikwpUoP06,0*4C',
      type: 18,
      mmsi: 338087471,
      lon: -74.07213166666666,
      lat: 40.68454,
      sog: 0.1,
      cog: 79.6,
      heading: Number.NaN,
      second: 49,
    },
    {
      // sample.aivdm lists the raw fields (SOG 51, COG 349 in tenths); sample.aivdm.js.chk the scaled 5.1 kn, 34.9 deg.
      name: 'type 18, raw tenths scaled',
      line: '!AIVDM,1,1,,B,B5O6hr00<veEKmUaMFdEow`UWP06,0*4F',
      type: 18,
      mmsi: 368161000,
      lon: -72.2338483333,
      lat: 39.480925,
      sog: 5.1,
      cog: 34.9,
      heading: Number.NaN,
      second: 17,
    },
    {
      name: 'type 19 (class B extended, Mike Greene, noaadata and Maritec)',
      line: '!AIVDM,1,1,,B,C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ:V00000000S0D:R220,0*0B',
      type: 19,
      mmsi: 367059850,
      lon: -88.8103916667,
      lat: 29.543695,
      sog: 8.7,
      cog: 335.9,
      heading: Number.NaN,
      second: 46,
    },
  ];
  for (const c of cases)
    it(`ITU-R M.1371 message ${c.type}: ${c.name}`, () => {
      const m = one(c.line) as PositionMessage;
      expect(m.kind).toBe('position');
      expect(m.type).toBe(c.type);
      expect(m.mmsi).toBe(c.mmsi);
      expect(m.lon).toBeCloseTo(c.lon, 6);
      expect(m.lat).toBeCloseTo(c.lat, 6);
      expect(m.sogKn).toBeCloseTo(c.sog, 6);
      expect(m.cogDeg).toBeCloseTo(c.cog, 6);
      if (Number.isNaN(c.heading)) expect(m.headingDeg).toBeNaN();
      else expect(m.headingDeg).toBe(c.heading);
      expect(m.second).toBe(c.second);
    });

  it('ITU-R M.1371 message 19 carries name, ship type and dimensions A+B = length (sample.aivdm: dimA 5, dimB 21, dimC 4, dimD 4)', () => {
    const m = one(
      '!AIVDM,1,1,,B,C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ:V00000000S0D:R220,0*0B',
    ) as PositionMessage;
    expect(m.static).toEqual({ mmsi: 367059850, name: 'CAPT.J.RIMES', shipType: 70, lengthM: 26, widthM: 8 });
  });

  it('ITU-R M.1371 message 27 (long range, 1/10 minute): sample.aivdm.js.chk decodes', () => {
    const a = one('!AIVDM,1,1,,A,KCQ9r=hrFUnH7P00,0*41') as PositionMessage;
    expect([a.type, a.mmsi, a.status, a.sogKn, a.cogDeg]).toEqual([27, 236091959, 3, 0, 0]);
    expect(a.lon).toBeCloseTo(-154.2017, 4);
    expect(a.lat).toBeCloseTo(87.065, 4);
    const b = one('!AIVDM,1,1,,B,KC5E2b@U19PFdLbMuc5=ROv62<7m,0*16') as PositionMessage;
    expect([b.type, b.mmsi, b.status, b.sogKn, b.cogDeg]).toEqual([27, 206914217, 2, 57, 167]);
    expect(b.lon).toBeCloseTo(137.0233, 4);
    expect(b.lat).toBeCloseTo(4.84, 4);
  });
});

describe('ITU-R M.1371 static reports (GPSD sample.aivdm)', () => {
  it('ITU-R M.1371 message 5 over two sentences: EVER DIADEM, dimA 225 + dimB 70 = 295 m, dimC 1 + dimD 31', () => {
    const [m] = decodeAll([
      '!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C',
      '!AIVDM,2,2,1,A,88888888880,2*25',
    ]) as StaticMessage[];
    expect(m.type).toBe(5);
    expect(m.mmsi).toBe(351759000);
    expect(m.imo).toBe(9134270);
    expect(m.callsign).toBe('3FOF8');
    expect(m.dims).toEqual([225, 70, 1, 31]);
    expect(m.static).toEqual({
      mmsi: 351759000,
      name: 'EVER DIADEM',
      shipType: 70,
      lengthM: 295,
      widthM: 32,
    });
  });

  it('ITU-R M.1371 message 24 parts A and B: PROGUY, ship type 60, callsign TC6163, to_bow 0 + to_stern 15', () => {
    const [a, b] = decodeAll([
      '!AIVDM,1,1,,A,H42O55i18tMET00000000000000,2*6D',
      '!AIVDM,1,1,,A,H42O55lti4hhhilD3nink000?050,0*40',
    ]) as StaticMessage[];
    expect([a.type, a.mmsi, a.part, a.static.name]).toEqual([24, 271041815, 0, 'PROGUY']);
    expect([b.type, b.mmsi, b.part, b.callsign, b.static.shipType]).toEqual([24, 271041815, 1, 'TC6163', 60]);
    expect(b.dims).toEqual([0, 15, 0, 5]);
    expect(b.static.lengthM).toBe(15);
  });

  it('NMEA 0183 multi-sentence messages on channels A and B interleaved are reassembled per channel (sample.aivdm channel multiplexing)', () => {
    const ms = decodeAll([
      '!AIVDM,2,1,6,B,542M92h00001@<7;?G0PD4i@R0<tqA8tj37>220o0h:2240Ht50000000000,0*3B',
      '!AIVDM,2,1,2,A,542M92h00001@<7;?G0PD4i@R0<tqA8tj37>220o0h:2240Ht500000000000000,0*3C',
      '!AIVDM,2,2,2,A,0000002,2*24',
      '!AIVDM,2,2,6,B,00000000000,2*21',
    ]);
    expect(ms).toHaveLength(2);
    expect(ms.every((m) => m.type === 5)).toBe(true);
  });

  it('ITU-R M.1371 types sarbridge does not use are recognised, not errors (sample.aivdm type 10 with USCG suffix)', () => {
    const m = one('!AIVDM,1,1,,B,:6TMCD1GOS60,0*5B,s36310,d-081,T59.01777335');
    expect(m).toEqual({ kind: 'other', type: 10, mmsi: 440882000 });
  });
});

describe('NMEA 0183 sentence framing', () => {
  it('NMEA 0183 checksum: XOR of the characters between ! and * (sample.aivdm *4A)', () => {
    expect(nmeaChecksum('AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0')).toBe(0x4a);
  });

  it('NMEA 4.10 tag block c: is the Unix time of reception; a trailing USCG Unix time and a leading ISO time also count', () => {
    const s = '!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A';
    expect(parseSentence(`\\s:rORBCOMM,c:1426032000*7A\\${s}`).timeMs).toBe(1426032000_000);
    // sample.aivdm type 11 line: ",r08TPHI1,1242958962" after the checksum.
    expect(parseSentence(`${s},s28089,d-103,T39.44353985,x147521,r08TPHI1,1242958962`).timeMs).toBe(
      1242958962_000,
    );
    expect(parseSentence(`2012-05-18 18:15:37 ${s}`).timeMs).toBe(Date.UTC(2012, 4, 18, 18, 15, 37));
    expect(parseSentence(s).timeMs).toBeNaN();
  });

  // One row per bad input: the error class, its kind and what the message names.
  const bad: { name: string; lines: string[]; kind: string; says: RegExp }[] = [
    {
      name: 'bad checksum',
      lines: ['!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B'],
      kind: 'bad checksum',
      says: /\*4B given, the sentence sums to \*4A/,
    },
    {
      name: 'truncated payload (type 1 cut to 60 bits)',
      lines: [
        `!AIVDM,1,1,,A,15RTgt0PAs,0*${nmeaChecksum('AIVDM,1,1,,A,15RTgt0PAs,0').toString(16).padStart(2, '0')}`,
      ],
      kind: 'truncated message',
      says: /type 1 has 60 bits, needs 143/,
    },
    {
      name: 'unknown message type 63',
      lines: [
        `!AIVDM,1,1,,A,w000000000,0*${nmeaChecksum('AIVDM,1,1,,A,w000000000,0').toString(16).padStart(2, '0')}`,
      ],
      kind: 'unknown message type',
      says: /type 63/,
    },
    {
      name: 'character outside the six-bit alphabet',
      lines: [
        `!AIVDM,1,1,,A,15RT{t0PAso,0*${nmeaChecksum('AIVDM,1,1,,A,15RT{t0PAso,0').toString(16).padStart(2, '0')}`,
      ],
      kind: 'bad payload character',
      says: /"\{" at payload position 5/,
    },
    {
      name: 'missing fields',
      lines: [
        `!AIVDM,1,1,A,15RTgt0PAso,0*${nmeaChecksum('AIVDM,1,1,A,15RTgt0PAso,0').toString(16).padStart(2, '0')}`,
      ],
      kind: 'wrong field count',
      says: /6 fields, AIVDM has 7/,
    },
    {
      name: 'fragment 2 without fragment 1 (sample.aivdm invalid packet test)',
      lines: ['!AIVDM,2,2,1,B,00000000000,2*26'],
      kind: 'fragment out of order',
      says: /fragment 2 of 2 .* without fragment 1/,
    },
    {
      name: 'no sentence at all',
      lines: ['$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47'],
      kind: 'not an AIVDM/AIVDO sentence',
      says: /GPGGA/,
    },
    {
      name: 'sequential message id of two digits',
      lines: [
        `!AIVDM,2,1,12,A,15RTgt0PAso,0*${nmeaChecksum('AIVDM,2,1,12,A,15RTgt0PAso,0').toString(16).padStart(2, '0')}`,
      ],
      kind: 'bad sequence id',
      says: /"12", expected 0-9 or empty/,
    },
    {
      name: 'fill bits out of range',
      lines: [
        `!AIVDM,1,1,,A,15RTgt0PAso,7*${nmeaChecksum('AIVDM,1,1,,A,15RTgt0PAso,7').toString(16).padStart(2, '0')}`,
      ],
      kind: 'bad fill bits',
      says: /"7", expected 0-5/,
    },
  ];
  for (const b of bad)
    it(`NMEA 0183 bad input: ${b.name} throws AisFormatError naming the problem`, () => {
      const a = new NmeaAssembler('bad.nmea');
      let err: unknown;
      try {
        for (const [i, l] of b.lines.entries()) a.push(l, i + 1);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AisFormatError);
      expect((err as AisFormatError).kind).toBe(b.kind);
      expect((err as Error).message).toMatch(/^bad\.nmea: /);
      expect((err as Error).message).toMatch(b.says);
    });

  it('NMEA 0183 fuzz: any line either decodes or throws AisFormatError, never anything else', () => {
    const six = '0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw';
    const payload = fc
      .array(fc.constantFrom(...six.split('')), { minLength: 0, maxLength: 80 })
      .map((a) => a.join(''));
    const sentence = fc
      .record({
        payload,
        fill: fc.integer({ min: 0, max: 5 }),
        frag: fc.constantFrom('1,1', '2,1', '2,2', '3,2'),
      })
      .map(({ payload: p, fill, frag }) => {
        const body = `AIVDM,${frag},3,A,${p},${fill}`;
        return `!${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
      });
    const line = fc.oneof(sentence, fc.string({ maxLength: 120 }));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), (lines) => {
        const a = new NmeaAssembler('fuzz');
        for (const [i, l] of lines.entries()) {
          try {
            const d = a.push(l, i + 1);
            if (d && d.message.kind === 'position') {
              const m = d.message;
              if (!(Number.isNaN(m.lat) || Math.abs(m.lat) <= 90)) return false;
              if (!(Number.isNaN(m.lon) || Math.abs(m.lon) <= 180)) return false;
            }
          } catch (e) {
            if (!(e instanceof AisFormatError)) throw e;
          }
        }
        return true;
      }),
      { numRuns: 2000, seed: 13 },
    );
  });
});
