/**
 * An independent SICD image-to-ground reference for tests, written from SICD Volume 3 (Image
 * Projections Description) and the WGS 84 definition, sharing no code with src/io/nitf/sicd-projection.ts
 * or src/geo/ecef.ts:
 * - the INCA range and range rate of an image point (Volume 3, "INCA" image formation parameters);
 * - the R/Rdot contour as the circle it is (the points at range R from the ARP whose range rate is
 *   Rdot lie on a cone about the velocity vector, cut by the sphere of radius R), and its
 *   intersection with the surface of constant height above the ellipsoid found by bisection on the
 *   circle's angle, not by the projection's iterated tangent planes.
 */
import type { SicdMetadata } from '../../src/io/nitf/sicd.js';

type V3 = [number, number, number];

const WGS84_A = 6378137;
const WGS84_F = 1 / 298.257223563;
const WGS84_E2 = WGS84_F * (2 - WGS84_F);
const DEG = Math.PI / 180;

const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const scale = (a: V3, k: number): V3 => [a[0] * k, a[1] * k, a[2] * k];
const plus = (...vs: V3[]): V3 => vs.reduce((s, v) => [s[0] + v[0], s[1] + v[1], s[2] + v[2]], [0, 0, 0]);
const dotp = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const len = (a: V3) => Math.sqrt(dotp(a, a));
const unit = (a: V3): V3 => scale(a, 1 / len(a));
const crossp = (a: V3, b: V3): V3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/** sum c[i] x^i, term by term. */
function poly1(c: number[], x: number): number {
  let s = 0;
  for (let i = 0; i < c.length; i++) s += c[i] * x ** i;
  return s;
}

/** d/dx sum c[i] x^i. */
function dpoly1(c: number[], x: number): number {
  let s = 0;
  for (let i = 1; i < c.length; i++) s += i * c[i] * x ** (i - 1);
  return s;
}

/** sum c[i][j] x^i y^j. */
function poly2(c: number[][], x: number, y: number): number {
  let s = 0;
  for (let i = 0; i < c.length; i++)
    for (let j = 0; j < (c[i]?.length ?? 0); j++) s += c[i][j] * x ** i * y ** j;
  return s;
}

/** WGS 84 geodetic (degrees, metres) to ECF. */
export function llhToEcf(latDeg: number, lonDeg: number, h: number): V3 {
  const lat = latDeg * DEG;
  const lon = lonDeg * DEG;
  const n = WGS84_A / Math.sqrt(1 - WGS84_E2 * Math.sin(lat) ** 2);
  return [
    (n + h) * Math.cos(lat) * Math.cos(lon),
    (n + h) * Math.cos(lat) * Math.sin(lon),
    (n * (1 - WGS84_E2) + h) * Math.sin(lat),
  ];
}

/** ECF to WGS 84 geodetic [lat, lon, h] by fixed-point iteration on the latitude. */
export function ecfToLlh(p: V3): V3 {
  const r = Math.hypot(p[0], p[1]);
  let lat = Math.atan2(p[2], r * (1 - WGS84_E2));
  let h = 0;
  for (let i = 0; i < 20; i++) {
    const n = WGS84_A / Math.sqrt(1 - WGS84_E2 * Math.sin(lat) ** 2);
    h = r / Math.cos(lat) - n;
    lat = Math.atan2(p[2], r * (1 - (WGS84_E2 * n) / (n + h)));
  }
  return [lat / DEG, Math.atan2(p[1], p[0]) / DEG, h];
}

/** The ellipsoid's upward unit normal at a geodetic position. */
export function upAt(latDeg: number, lonDeg: number): V3 {
  const lat = latDeg * DEG;
  const lon = lonDeg * DEG;
  return [Math.cos(lat) * Math.cos(lon), Math.cos(lat) * Math.sin(lon), Math.sin(lat)];
}

/** The ARP position and velocity at time t (ARPPoly and its derivative). */
export function arpAt(m: SicdMetadata, t: number): { arp: V3; varp: V3 } {
  const a = m.arpPoly as NonNullable<SicdMetadata['arpPoly']>;
  return {
    arp: [poly1(a.x, t), poly1(a.y, t), poly1(a.z, t)],
    varp: [dpoly1(a.x, t), dpoly1(a.y, t), dpoly1(a.z, t)],
  };
}

/** An image point's time of centre of aperture (TimeCOAPoly at its grid distances from the SCP). */
export function tCoaOf(m: SicdMetadata, row: number, col: number): number {
  const xrow = (row + m.firstRow - m.scpPixel.row) * m.grid.row.ssM;
  const ycol = (col + m.firstCol - m.scpPixel.col) * m.grid.col.ssM;
  return poly2(m.timeCoaPoly as number[][], xrow, ycol);
}

/**
 * Range and range rate of an image point under the INCA model (SICD Volume 3): t_COA from TimeCOAPoly,
 * t_CA = TimeCAPoly(ycol), R_CA = R_CA_SCP + xrow, DRSF = DRateSFPoly(xrow, ycol), V_CA the ARP speed
 * at t_CA, R = sqrt(R_CA^2 + DRSF V_CA^2 (t_COA - t_CA)^2), Rdot = DRSF V_CA^2 (t_COA - t_CA) / R.
 */
export function incaRangeRate(
  m: SicdMetadata,
  row: number,
  col: number,
): { t: number; R: number; Rdot: number } {
  const inca = m.inca as NonNullable<SicdMetadata['inca']>;
  const xrow = (row + m.firstRow - m.scpPixel.row) * m.grid.row.ssM;
  const ycol = (col + m.firstCol - m.scpPixel.col) * m.grid.col.ssM;
  const t = tCoaOf(m, row, col);
  const tCa = poly1(inca.timeCaPoly, ycol);
  const vCa = len(arpAt(m, tCa).varp);
  const rCa = inca.rCaScpM + xrow;
  const k = poly2(inca.dRateSfPoly, xrow, ycol) * vCa * vCa * (t - tCa);
  const R = Math.sqrt(rCa * rCa + k * (t - tCa));
  return { t, R, Rdot: k / R };
}

/** Range and range rate of a ground point seen from the ARP (Rdot = V . (ARP - P) / R). */
export function rangeRateTo(arp: V3, varp: V3, p: V3): { R: number; Rdot: number } {
  const los = sub(arp, p);
  const R = len(los);
  return { R, Rdot: dotp(varp, los) / R };
}

/**
 * The point at range R and range rate Rdot from an ARP moving at `varp`, at height `hae` above the
 * ellipsoid, on the left (`look` 1) or right (-1) of the track. The contour is the circle of radius
 * sqrt(R^2 - a^2) about the velocity axis, a = R Rdot / |V| behind the ARP; its lowest point faces the
 * Earth's centre, and the height grows monotonically to the horizontal on each side, where bisection
 * on the angle finds `hae` to a nanoradian (a few millimetres at 1000 km).
 */
export function contourAtHeight(arp: V3, varp: V3, R: number, Rdot: number, hae: number, look: 1 | -1): V3 {
  const vHat = unit(varp);
  const a = (R * Rdot) / len(varp);
  const centre = sub(arp, scale(vHat, a));
  const rho = Math.sqrt(R * R - a * a);
  const down = scale(arp, -1);
  const e1 = unit(sub(down, scale(vHat, dotp(down, vHat))));
  const e2 = crossp(vHat, e1); // to the left of the track
  const at = (theta: number): V3 =>
    plus(centre, scale(e1, rho * Math.cos(theta)), scale(e2, rho * Math.sin(theta)));
  let lo = 0;
  let hi = Math.PI / 2;
  if (ecfToLlh(at(look * lo))[2] > hae || ecfToLlh(at(look * hi))[2] < hae)
    throw new Error(`the R/Rdot contour does not reach ${hae} m above the ellipsoid`);
  for (let i = 0; i < 80 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (ecfToLlh(at(look * mid))[2] < hae) lo = mid;
    else hi = mid;
  }
  return at((look * (lo + hi)) / 2);
}

/** The point of the plane through `p0` with normal `n` that has geodetic latitude and longitude (lat, lon). */
export function onPlane(latDeg: number, lonDeg: number, p0: V3, n: V3): V3 {
  const q0 = llhToEcf(latDeg, lonDeg, 0);
  const up = upAt(latDeg, lonDeg);
  const h = -dotp(sub(q0, p0), n) / dotp(up, n);
  return plus(q0, scale(up, h));
}

/** Distance in metres between two ECF points. */
export const distanceM = (a: V3, b: V3): number => len(sub(a, b));

/** The SICD's look side as the contour wants it. */
export const lookOf = (m: SicdMetadata): 1 | -1 => (m.sideOfTrack === 'L' ? 1 : -1);

/** Independent ground positions [lat, lon, h] of image pixels at height `hae` (INCA + the contour circle). */
export function referenceImageToGround(m: SicdMetadata, pixels: [number, number][], hae = m.scpLlh[2]): V3[] {
  return pixels.map(([row, col]) => {
    const { t, R, Rdot } = incaRangeRate(m, row, col);
    const { arp, varp } = arpAt(m, t);
    return ecfToLlh(contourAtHeight(arp, varp, R, Rdot, hae, lookOf(m)));
  });
}
