/** WGS84 ellipsoid and Earth-centred, Earth-fixed (ECF) coordinates, metres. */
export const WGS84_A = 6378137.0;
export const WGS84_F = 1 / 298.257223563;
export const WGS84_B = WGS84_A * (1 - WGS84_F);
const E2 = WGS84_F * (2 - WGS84_F);

export type Vec3 = [number, number, number];

/** ECF of a geodetic point: latitude and longitude in degrees, height above the ellipsoid in metres. */
export function geodeticToEcf(latDeg: number, lonDeg: number, h: number): Vec3 {
  const lat = (latDeg * Math.PI) / 180;
  const lon = (lonDeg * Math.PI) / 180;
  const s = Math.sin(lat);
  const n = WGS84_A / Math.sqrt(1 - E2 * s * s);
  return [
    (n + h) * Math.cos(lat) * Math.cos(lon),
    (n + h) * Math.cos(lat) * Math.sin(lon),
    (n * (1 - E2) + h) * s,
  ];
}

/** Geodetic [latitude deg, longitude deg, height m] of an ECF point (iterated to sub-millimetre). */
export function ecfToGeodetic(p: Vec3): Vec3 {
  const [x, y, z] = p;
  const lon = Math.atan2(y, x);
  const r = Math.hypot(x, y);
  let lat = Math.atan2(z, r * (1 - E2));
  let h = 0;
  for (let i = 0; i < 10; i++) {
    const s = Math.sin(lat);
    const n = WGS84_A / Math.sqrt(1 - E2 * s * s);
    h = Math.abs(Math.cos(lat)) > 1e-12 ? r / Math.cos(lat) - n : Math.abs(z) - WGS84_B;
    const next = Math.atan2(z, r * (1 - (E2 * n) / (n + h)));
    if (Math.abs(next - lat) < 1e-14) {
      lat = next;
      break;
    }
    lat = next;
  }
  return [(lat * 180) / Math.PI, (lon * 180) / Math.PI, h];
}

/** Unit normal of the ellipsoid (up) at a geodetic latitude and longitude, in ECF. */
export function ellipsoidNormal(latDeg: number, lonDeg: number): Vec3 {
  const lat = (latDeg * Math.PI) / 180;
  const lon = (lonDeg * Math.PI) / 180;
  return [Math.cos(lat) * Math.cos(lon), Math.cos(lat) * Math.sin(lon), Math.sin(lat)];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function add(a: Vec3, b: Vec3, s = 1): Vec3 {
  return [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
}

export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}

/** Great-circle-free distance between two geodetic points at the same height: the ECF chord, metres. */
export function groundDistanceM(lat1: number, lon1: number, lat2: number, lon2: number, h = 0): number {
  const a = geodeticToEcf(lat1, lon1, h);
  const b = geodeticToEcf(lat2, lon2, h);
  return norm(add(a, b, -1));
}
