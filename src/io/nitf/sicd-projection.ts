import { UnsupportedError } from '../../errors.js';
import type { Vec3 } from '../../geo/ecef.js';
import { add, cross, dot, ecfToGeodetic, ellipsoidNormal, geodeticToEcf, norm } from '../../geo/ecef.js';
import type { SicdMetadata } from './sicd.js';

/** p(x) = sum c[i] x^i. */
export function polyval1(c: number[], x: number): number {
  let v = 0;
  for (let i = c.length - 1; i >= 0; i--) v = v * x + c[i];
  return v;
}

/** p'(x). */
export function polyder1(c: number[], x: number): number {
  let v = 0;
  for (let i = c.length - 1; i >= 1; i--) v = v * x + i * c[i];
  return v;
}

/** p(x, y) = sum c[i][j] x^i y^j. */
export function polyval2(c: number[][], x: number, y: number): number {
  let v = 0;
  for (let i = c.length - 1; i >= 0; i--) v = v * x + polyval1(c[i] ?? [], y);
  return v;
}

/** Range R and range rate Rdot of a pixel from the ARP at its time of centre of aperture (steps 1-3). */
interface RangeRate {
  arp: Vec3;
  varp: Vec3;
  R: number;
  Rdot: number;
}

function checkProjectable(meta: SicdMetadata): void {
  if (meta.grid.type !== 'RGZERO' || !meta.inca || !meta.timeCoaPoly || !meta.arpPoly) {
    throw new UnsupportedError(
      'SICD',
      `image-to-ground projection is implemented for RGZERO grids with RMA INCA (this image: ${meta.grid.type})`,
    );
  }
}

function rangeRate(meta: SicdMetadata, row: number, col: number): RangeRate {
  const timeCoaPoly = meta.timeCoaPoly as number[][];
  const arpPoly = meta.arpPoly as NonNullable<SicdMetadata['arpPoly']>;
  const inca = meta.inca as NonNullable<SicdMetadata['inca']>;
  const varpAt = (t: number): Vec3 => [
    polyder1(arpPoly.x, t),
    polyder1(arpPoly.y, t),
    polyder1(arpPoly.z, t),
  ];
  const xrow = (row + meta.firstRow - meta.scpPixel.row) * meta.grid.row.ssM;
  const ycol = (col + meta.firstCol - meta.scpPixel.col) * meta.grid.col.ssM;
  const tCoa = polyval2(timeCoaPoly, xrow, ycol);
  const arp: Vec3 = [polyval1(arpPoly.x, tCoa), polyval1(arpPoly.y, tCoa), polyval1(arpPoly.z, tCoa)];
  const varp = varpAt(tCoa);
  const tCa = polyval1(inca.timeCaPoly, ycol);
  const rCa = inca.rCaScpM + xrow;
  const drsf = polyval2(inca.dRateSfPoly, xrow, ycol);
  const vCa = norm(varpAt(tCa));
  const dt = tCoa - tCa;
  const R = Math.sqrt(rCa * rCa + drsf * vCa * vCa * dt * dt);
  return { arp, varp, R, Rdot: (drsf * vCa * vCa * dt) / R };
}

/**
 * Step 4 on a plane: the point of the plane through `ref` with unit normal `u` at range R and range
 * rate Rdot from the ARP, on the look side (SICD Volume 3's R/Rdot contour to ground plane).
 */
function contourToPlane(m: RangeRate, ref: Vec3, u: Vec3, look: number): Vec3 {
  const arpz = dot(add(m.arp, ref, -1), u);
  const agpn = add(m.arp, u, -arpz);
  const g = Math.sqrt(Math.max(0, m.R * m.R - arpz * arpz));
  const cosGraz = g / m.R;
  const sinGraz = arpz / m.R;
  const vz = dot(m.varp, u);
  const vxVec = add(m.varp, u, -vz);
  const vx = norm(vxVec);
  const ux: Vec3 = [vxVec[0] / vx, vxVec[1] / vx, vxVec[2] / vx];
  const uy = cross(u, ux);
  const cosAz = Math.max(-1, Math.min(1, (-m.Rdot + vz * sinGraz) / (vx * cosGraz)));
  const sinAz = look * Math.sqrt(1 - cosAz * cosAz);
  return add(add(agpn, ux, g * cosAz), uy, g * sinAz);
}

/**
 * Ground position of SICD pixels (rows and columns of this image, 0-based) on the surface at height
 * `hae` metres above the WGS84 ellipsoid (default: the SCP's, where SICD Volume 1 puts
 * GeoData.ImageCorners), after SICD Volume 3 (image projections):
 * 1. grid distances from the SCP: xrow = (row + FirstRow - SCP row) Row.SS, ycol likewise;
 * 2. time of centre of aperture t = TimeCOAPoly(xrow, ycol); the ARP position and velocity at t;
 * 3. range and range rate from the INCA model (RMA, RGZERO grids): t_ca = TimeCAPoly(ycol),
 *    R_ca = R_CA_SCP + xrow, DRSF = DRateSFPoly(xrow, ycol), |V_ca| the ARP speed at t_ca:
 *    R = sqrt(R_ca^2 + DRSF |V_ca|^2 (t - t_ca)^2), Rdot = DRSF |V_ca|^2 (t - t_ca) / R;
 * 4. the R/Rdot contour intersected with the constant-height surface: on the plane tangent at a
 *    reference point (first the SCP), the point at range R and Doppler Rdot on the look side, then the
 *    reference moves to that point at the target height, until the height error is below 1 mm.
 * Returns [lat, lon, hae] per pixel.
 */
export function sicdImageToGround(
  meta: SicdMetadata,
  pixels: [number, number][],
  hae = meta.scpLlh[2],
): [number, number, number][] {
  checkProjectable(meta);
  const look = meta.sideOfTrack === 'L' ? 1 : -1;
  return pixels.map(([row, col]) => {
    const rr = rangeRate(meta, row, col);
    // Iterate on the tangent plane of a reference point that converges to the target height.
    let gref = geodeticToEcf(meta.scpLlh[0], meta.scpLlh[1], hae);
    let llh: Vec3 = [meta.scpLlh[0], meta.scpLlh[1], hae];
    for (let it = 0; it < 10; it++) {
      const gpp = contourToPlane(rr, gref, ellipsoidNormal(llh[0], llh[1]), look);
      const p = ecfToGeodetic(gpp);
      const dh = p[2] - hae;
      llh = [p[0], p[1], hae];
      gref = add(gpp, ellipsoidNormal(p[0], p[1]), -dh);
      if (Math.abs(dh) < 1e-3) break;
    }
    return ecfToGeodetic(gref);
  });
}

/**
 * Ground position of SICD pixels on a plane (SICD Volume 3's ground plane projection): by default the
 * plane through the SCP normal to the SCP's geocentric position vector, the ground plane
 * six-library's SlantPlanePixelTransformer projects onto (and so its SICD cropping writes
 * GeoData.ImageCorners that way). Returns [lat, lon, hae] per pixel.
 */
export function sicdImageToPlane(
  meta: SicdMetadata,
  pixels: [number, number][],
  point: Vec3 = meta.scpEcf,
  normal: Vec3 = meta.scpEcf,
): [number, number, number][] {
  checkProjectable(meta);
  const look = meta.sideOfTrack === 'L' ? 1 : -1;
  const n = norm(normal);
  const u: Vec3 = [normal[0] / n, normal[1] / n, normal[2] / n];
  return pixels.map(([row, col]) => ecfToGeodetic(contourToPlane(rangeRate(meta, row, col), point, u, look)));
}
