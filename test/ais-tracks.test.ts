import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import type { SarGeometry } from '../src/exploit/ais/displacement.js';
import {
  azimuthDisplacement,
  checkGeometry,
  lookAzimuthDeg,
  radialVelocityMps,
  slantRangeFromIncidenceM,
} from '../src/exploit/ais/displacement.js';
import { buildTracks, haversineM, predictTrack } from '../src/exploit/ais/tracks.js';
import type { AisReport } from '../src/exploit/ais/types.js';

const NaN_ = Number.NaN;
const rep = (
  timeS: number,
  lon: number,
  lat: number,
  sogKn = NaN_,
  cogDeg = NaN_,
  headingDeg = NaN_,
): AisReport => ({
  mmsi: 1,
  timeMs: timeS * 1000,
  lon,
  lat,
  sogKn,
  cogDeg,
  headingDeg,
  messageType: 1,
});
const track = (...r: AisReport[]) => buildTracks(r)[0];
// One degree of a great circle on a sphere of radius 6 371 008.8 m: 111 194.93 m.
const M_PER_DEG = 111_194.926_6;

describe('AIS track positions at the image time', () => {
  it('interpolation: halfway between (0, 0) and (0.05, 0) ten minutes apart is (0.025, 0), moving east at 5559.75 m / 600 s', () => {
    const t = track(rep(0, 0, 0), rep(600, 0.05, 0));
    const p = predictTrack(t, 300_000);
    expect(p?.method).toBe('interpolated');
    expect(p?.lon).toBeCloseTo(0.025, 9);
    expect(p?.lat).toBeCloseTo(0, 9);
    expect(p?.eastMps).toBeCloseTo(9.26626, 4);
    expect(p?.northMps).toBeCloseTo(0, 9);
  });

  it('interpolation takes the velocity from the reported SOG/COG when there is one: 18 kn on 90 deg = 9.26 m/s east', () => {
    const t = track(rep(0, 0, 0, 18, 90), rep(600, 0.05, 0, 18, 90));
    const p = predictTrack(t, 300_000);
    expect(p?.lon).toBeCloseTo(0.025, 9);
    expect(p?.eastMps).toBeCloseTo((18 * 1852) / 3600, 9);
    expect(p?.northMps).toBeCloseTo(0, 9);
  });

  it('reports out of order and repeated are sorted and deduplicated per MMSI', () => {
    const [t] = buildTracks([rep(600, 0.05, 0), rep(0, 0, 0), rep(600, 0.06, 0)]);
    expect([...t.timeMs]).toEqual([0, 600_000]);
    expect(predictTrack(t, 300_000)?.lon).toBeCloseTo(0.025, 9);
  });

  it('dead reckoning after the last report: 10 kn due north for 300 s is 1543.33 m = 0.0138795 deg of latitude', () => {
    const t = track(rep(-600, 0, -0.02776, 10, 0), rep(0, 0, 0, 10, 0));
    const p = predictTrack(t, 300_000);
    expect(p?.method).toBe('dead-reckoned');
    expect(p?.lat).toBeCloseTo(1543.3333 / M_PER_DEG, 7);
    expect(p?.lon).toBeCloseTo(0, 9);
    expect(p?.fromReportS).toBe(300);
    expect(p?.headingDeg).toBe(0);
  });

  it('dead reckoning before the first report runs backwards along the course', () => {
    const t = track(rep(0, 0, 0, 10, 0));
    const p = predictTrack(t, -300_000);
    expect(p?.lat).toBeCloseTo(-1543.3333 / M_PER_DEG, 7);
    expect(p?.fromReportS).toBe(-300);
  });

  it('gap limit: no prediction farther than the limit from the nearest report (default 10 min), configurable', () => {
    const t = track(rep(0, 0, 0, 10, 0));
    expect(predictTrack(t, 600_000)).not.toBeNull();
    expect(predictTrack(t, 601_000)).toBeNull();
    expect(predictTrack(t, 1_200_000, { gapLimitMs: 1_200_000 })?.lat).toBeCloseTo(
      (1543.3333 * 4) / M_PER_DEG,
      6,
    );
  });

  it('no prediction across a larger gap: reports 2 h apart are not interpolated; near one end it is dead-reckoned from that end', () => {
    const t = track(rep(0, 0, 0, 10, 0), rep(7200, 1, 1, 10, 0));
    expect(predictTrack(t, 3_600_000)).toBeNull();
    const p = predictTrack(t, 300_000);
    expect(p?.method).toBe('dead-reckoned');
    expect(p?.lat).toBeCloseTo(1543.3333 / M_PER_DEG, 7);
    const q = predictTrack(t, 6_900_000);
    expect(q?.lat).toBeCloseTo(1 - 1543.3333 / M_PER_DEG, 7);
  });

  it('a report without speed is held for at most 60 s; heading falls back to the course', () => {
    const t = track(rep(0, 3, 4));
    expect(predictTrack(t, 30_000)).toMatchObject({ lon: 3, lat: 4, method: 'held' });
    expect(predictTrack(t, 120_000)).toBeNull();
    const u = track(rep(0, 0, 0, 12, 45));
    expect(predictTrack(u, 60_000)?.headingDeg).toBe(45);
    // A moored ship (SOG 0, course not available) stays put.
    const v = track(rep(0, 5, 5, 0));
    expect(predictTrack(v, 500_000)).toMatchObject({ lon: 5, lat: 5, method: 'dead-reckoned', eastMps: 0 });
  });

  it('haversine: a quarter of the equator is pi/2 R', () => {
    expect(haversineM(0, 0, 90, 0)).toBeCloseTo((Math.PI / 2) * 6_371_008.8, 3);
  });
});

describe('SAR azimuth displacement of moving targets: dx = -(R / V) v_r (Raney 1971)', () => {
  // Hand computation (R = 850 km, V = 7500 m/s, so R / V = 113.333 s; incidence 35 deg, sin = 0.573576):
  // ascending, right-looking, heading 348: the radar looks towards 78 deg. A ship going east at 5 m/s
  // moves away from the radar at 5 sin(78) sin(35) = 5 x 0.978148 x 0.573576 = 2.80521 m/s, so it is
  // shifted by -113.333 x 2.80521 = -317.92 m along the flight direction (backwards): east
  // -317.92 sin(348) = +66.10 m, north -317.92 cos(348) = -310.98 m.
  const asc: SarGeometry = {
    platformHeadingDeg: 348,
    lookSide: 'right',
    incidenceDeg: 35,
    slantRangeM: 850_000,
    platformVelocityMps: 7500,
  };

  it('Raney 1971: a target moving away from the radar is shifted backwards along track by (R/V) v_r', () => {
    expect(lookAzimuthDeg(asc)).toBe(78);
    const d = azimuthDisplacement(5, 0, asc);
    expect(d.radialMps).toBeCloseTo(2.80521, 4);
    expect(d.alongTrackM).toBeCloseTo(-317.924, 2);
    expect(d.eastM).toBeCloseTo(66.1, 1);
    expect(d.northM).toBeCloseTo(-310.977, 2);
  });

  it('Raney 1971: a target approaching the radar is shifted forwards, in the flight direction', () => {
    const d = azimuthDisplacement(-5, 0, asc);
    expect(d.alongTrackM).toBeCloseTo(317.924, 2);
    expect(d.northM).toBeCloseTo(310.977, 2);
  });

  it('descending right-looking (heading 192, looking towards 282): a ship going west moves away, shifted backwards (north-east)', () => {
    const desc = { ...asc, platformHeadingDeg: 192 };
    expect(lookAzimuthDeg(desc)).toBe(282);
    const d = azimuthDisplacement(-5, 0, desc);
    expect(d.alongTrackM).toBeCloseTo(-317.924, 2);
    // -317.92 x sin(192) = +66.10; -317.92 x cos(192) = +310.98.
    expect(d.eastM).toBeCloseTo(66.1, 1);
    expect(d.northM).toBeCloseTo(310.977, 2);
  });

  it('left-looking reverses the sign; motion along track shifts nothing', () => {
    const left = { ...asc, lookSide: 'left' as const };
    expect(azimuthDisplacement(5, 0, left).alongTrackM).toBeCloseTo(317.924, 2);
    const h = (348 * Math.PI) / 180;
    expect(radialVelocityMps(5 * Math.sin(h), 5 * Math.cos(h), asc)).toBeCloseTo(0, 12);
    expect(azimuthDisplacement(5 * Math.sin(h), 5 * Math.cos(h), asc).alongTrackM).toBeCloseTo(0, 9);
  });

  it('slant range from incidence and altitude agrees with the sine rule R = Re sin(gamma) / sin(look)', () => {
    const re = 6_371_008.8;
    const h = 693_000;
    const look = Math.asin((re * Math.sin((35 * Math.PI) / 180)) / (re + h));
    const gamma = (35 * Math.PI) / 180 - look;
    expect(slantRangeFromIncidenceM(35, h)).toBeCloseTo((re * Math.sin(gamma)) / Math.sin(look), 3);
    // Flat-Earth bound: a little more than H / cos(look).
    expect(slantRangeFromIncidenceM(35, h)).toBeGreaterThan(h / Math.cos(look));
  });

  const badGeometry: [string, Partial<SarGeometry>, RegExp][] = [
    ['incidence 95', { incidenceDeg: 95 }, /incidence must be in \(0, 90\) degrees \(got 95\)/],
    [
      'negative slant range',
      { slantRangeM: -1 },
      /slant range must be a positive number of metres \(got -1\)/,
    ],
    [
      'zero velocity',
      { platformVelocityMps: 0 },
      /platform velocity must be a positive number of m\/s \(got 0\)/,
    ],
    ['look side up', { lookSide: 'up' as 'left' }, /look side must be right or left \(got up\)/],
  ];
  for (const [name, patch, says] of badGeometry)
    it(`bad geometry: ${name} is a ValidationError naming the value`, () => {
      expect(() => checkGeometry({ ...asc, ...patch })).toThrow(ValidationError);
      expect(() => checkGeometry({ ...asc, ...patch })).toThrow(says);
    });
});
