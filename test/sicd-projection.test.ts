import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { add, geodeticToEcf, groundDistanceM, norm } from '../src/geo/ecef.js';
import { Sicd } from '../src/io/nitf/sicd.js';
import { sicdImageToGround, sicdImageToPlane } from '../src/io/nitf/sicd-projection.js';
import {
  arpAt,
  contourAtHeight,
  distanceM,
  llhToEcf,
  lookOf,
  onPlane,
  rangeRateTo,
  referenceImageToGround,
  tCoaOf,
} from './helpers/sicd-geometry.js';

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

  it("lands where six-library's ImageCorners, carried to the SCP height along their own range and range rate, lie", async () => {
    // An independent reference: six-library wrote the chip's GeoData.ImageCorners on the plane through
    // the SCP normal to its geocentric vector (see the next test). Each corner's point on that plane
    // has a range and range rate from the ARP at the corner's COA time that six-library's projection
    // gave it; the one point at that range, range rate and the SCP's height is the ground position.
    // It is found here on the R/Rdot circle by bisection (test/helpers/sicd-geometry.ts, sharing no
    // code with the projection), so the INCA model and the contour intersection are both checked.
    const s = await Sicd.open(CHIP);
    await s.close();
    const m = s.meta;
    const corners: [number, number][] = [
      [0, 0],
      [0, m.numCols - 1],
      [m.numRows - 1, m.numCols - 1],
      [m.numRows - 1, 0],
    ];
    const n = Math.hypot(...m.scpEcf);
    const up: [number, number, number] = [m.scpEcf[0] / n, m.scpEcf[1] / n, m.scpEcf[2] / n];
    const ours = sicdImageToGround(m, corners);
    corners.forEach(([r, c], i) => {
      const [lat, lon] = m.imageCorners[i];
      const { arp, varp } = arpAt(m, tCoaOf(m, r, c));
      const six = rangeRateTo(arp, varp, onPlane(lat, lon, m.scpEcf, up));
      const ref = contourAtHeight(arp, varp, six.R, six.Rdot, m.scpLlh[2], lookOf(m));
      const d = distanceM(llhToEcf(ours[i][0], ours[i][1], ours[i][2]), ref);
      console.log(
        `corner ${i + 1}: ${(d * 1000).toFixed(2)} mm from six-library's corner at the SCP height (its R ${six.R.toFixed(3)} m, Rdot ${six.Rdot.toFixed(4)} m/s)`,
      );
      // The projection stops when its height is within 1 mm of the target: a few mm on the ground.
      expect(d).toBeLessThan(5e-3);
      expect(Math.abs(ours[i][2] - m.scpLlh[2])).toBeLessThan(1e-3);
    });
  });

  it('equals the independent INCA and R/Rdot-circle reference over 2000 pixels around the chip, at three heights', async () => {
    const s = await Sicd.open(CHIP);
    await s.close();
    const m = s.meta;
    // The reference's INCA range and range rate agree with six-library's at the corners (above); here
    // it covers pixels far from them, where a wrong grid offset or polynomial term would show.
    const pixels: [number, number][] = [];
    for (let r = -2000; r <= 2000; r += 500) for (let c = -2000; c <= 2000; c += 500) pixels.push([r, c]);
    let worst = 0;
    for (const hae of [m.scpLlh[2] - 100, m.scpLlh[2], m.scpLlh[2] + 800]) {
      const ours = sicdImageToGround(m, pixels, hae);
      const ref = referenceImageToGround(m, pixels, hae);
      pixels.forEach(([r, c], i) => {
        const d = distanceM(llhToEcf(...ours[i]), llhToEcf(...ref[i]));
        worst = Math.max(worst, d);
        expect(
          d,
          `pixel (${r}, ${c}) at ${hae.toFixed(1)} m: ${d.toFixed(4)} m from the reference`,
        ).toBeLessThan(5e-3);
      });
    }
    console.log(
      `${pixels.length} pixels x 3 heights: worst ${(worst * 1000).toFixed(2)} mm from the independent reference`,
    );
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
