import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { add, dot, geodeticToEcf, groundDistanceM, norm } from '../src/geo/ecef.js';
import { Sicd } from '../src/io/nitf/sicd.js';
import {
  polyder1,
  polyval1,
  polyval2,
  sicdImageToGround,
  sicdImageToPlane,
} from '../src/io/nitf/sicd-projection.js';

const CHIP = join(import.meta.dirname, '..', '..', 'shared', 'data', 'real', 'sicd_50x50.nitf');

describe('SICD image-to-ground projection (RGZERO / INCA) on the real RCM chip', () => {
  it('puts the SCP pixel on the file GeoData.SCP within a millimetre', async () => {
    const s = await Sicd.open(CHIP);
    await s.close();
    const m = s.meta;
    const [p] = sicdImageToGround(m, [[m.scpPixel.row - m.firstRow, m.scpPixel.col - m.firstCol]]);
    const d = norm(add(geodeticToEcf(p[0], p[1], p[2]), m.scpEcf, -1));
    console.log(`SCP pixel projects ${(d * 1000).toFixed(3)} mm from GeoData.SCP.ECF`);
    expect(d).toBeLessThan(1e-3);
  });

  it('projects each corner to the point whose range and range rate from the ARP are the model R and Rdot', async () => {
    const s = await Sicd.open(CHIP);
    await s.close();
    const m = s.meta;
    const a = m.arpPoly!;
    const inca = m.inca!;
    const corners: [number, number][] = [
      [0, 0],
      [0, m.numCols - 1],
      [m.numRows - 1, m.numCols - 1],
      [m.numRows - 1, 0],
    ];
    const ground = sicdImageToGround(m, corners);
    corners.forEach(([r, c], i) => {
      const xr = (r + m.firstRow - m.scpPixel.row) * m.grid.row.ssM;
      const yc = (c + m.firstCol - m.scpPixel.col) * m.grid.col.ssM;
      const t = polyval2(m.timeCoaPoly!, xr, yc);
      const arp: [number, number, number] = [polyval1(a.x, t), polyval1(a.y, t), polyval1(a.z, t)];
      const v: [number, number, number] = [polyder1(a.x, t), polyder1(a.y, t), polyder1(a.z, t)];
      const tca = polyval1(inca.timeCaPoly, yc);
      const vca = norm([polyder1(a.x, tca), polyder1(a.y, tca), polyder1(a.z, tca)]);
      const rca = inca.rCaScpM + xr;
      const drsf = polyval2(inca.dRateSfPoly, xr, yc);
      const R = Math.sqrt(rca * rca + drsf * vca * vca * (t - tca) ** 2);
      const Rdot = (drsf * vca * vca * (t - tca)) / R;
      const g = ground[i];
      const los = add(arp, geodeticToEcf(g[0], g[1], g[2]), -1);
      expect(Math.abs(norm(los) - R)).toBeLessThan(1e-3);
      expect(Math.abs(dot(v, los) / norm(los) - Rdot)).toBeLessThan(1e-5);
      expect(Math.abs(g[2] - m.scpLlh[2])).toBeLessThan(1e-3);
      const [lat, lon] = m.imageCorners[i];
      console.log(
        `corner ${i + 1} at the SCP height: ${groundDistanceM(g[0], g[1], lat, lon, m.scpLlh[2]).toFixed(2)} m from GeoData.ImageCorners`,
      );
    });
  });

  it("agrees with the file's ImageCorners within 1 m, projected onto the ground plane six-library's cropping used", async () => {
    // The chip was cut by six-library, whose SICD cropping rewrites ImageCorners through its
    // SlantPlanePixelTransformer: onto the plane through the SCP normal to the SCP's geocentric
    // position vector. The chip lies 24 km from the SCP, where that plane stands tens of metres off
    // the ellipsoid, so the SCP-height surface of SICD Volume 1 puts the corners elsewhere.
    const s = await Sicd.open(CHIP);
    await s.close();
    const m = s.meta;
    const corners: [number, number][] = [
      [0, 0],
      [0, m.numCols - 1],
      [m.numRows - 1, m.numCols - 1],
      [m.numRows - 1, 0],
    ];
    const d = sicdImageToPlane(m, corners).map((g, i) => {
      const [lat, lon] = m.imageCorners[i];
      return groundDistanceM(g[0], g[1], lat, lon, g[2]);
    });
    console.log(
      `corners on the SCP's geocentric ground plane: ${d.map((x) => x.toFixed(3)).join(', ')} m from GeoData.ImageCorners`,
    );
    for (const x of d) expect(x).toBeLessThan(1);
  });
});
