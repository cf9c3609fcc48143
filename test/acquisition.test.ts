import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCapture } from './helpers/cli.js';
import { REAL } from './helpers/data.js';

async function info(file: string): Promise<Record<string, unknown>> {
  const r = await runCapture(['info', file]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

describe('sarbridge info prints the normalised Acquisition', () => {
  it('of the real Sentinel-1 SAFE zip', async () => {
    const d = (await info(
      join(REAL, 'S1A_IW_GRDH_1SDV_20210119T031653_20210119T031718_036201_043ED0_8255.zip'),
    )) as { acquisition: Record<string, unknown> };
    const a = d.acquisition as Record<string, unknown> & {
      footprint: number[][];
      stateVectors: unknown[];
      incidenceRangeDeg: number[];
    };
    expect(a).toMatchObject({
      format: 'sentinel-1-safe',
      platform: 'sentinel-1a',
      mode: 'IW',
      productType: 'GRD',
      polarisations: ['VH', 'VV'],
      orbitDirection: 'descending',
      absoluteOrbit: 36201,
      size: { width: 25931, height: 16854 },
      startTime: '2021-01-19T03:16:53.799Z',
    });
    expect(a.footprint).toHaveLength(5);
    expect(a.stateVectors.length).toBe(17);
    // The annotation's incidence angles run from about 30 to 46 degrees across the IW swaths.
    expect(a.incidenceRangeDeg[0]).toBeGreaterThan(29);
    expect(a.incidenceRangeDeg[1]).toBeLessThan(47);
  });

  it('of the real RCM SICD', async () => {
    const d = (await info(join(REAL, 'sicd_50x50.nitf'))) as { acquisition: Record<string, unknown> };
    expect(d.acquisition).toMatchObject({
      format: 'sicd',
      platform: 'RCM-1',
      mode: 'STRIPMAP',
      lookSide: 'right',
      geolocation: { model: 'sicd-rgzero-inca' },
      sceneCentre: { lat: expect.closeTo(45.5316069, 6), lon: expect.closeTo(-73.4497309, 6) },
    });
    const a = d.acquisition as { polarisations: string[]; orbitDirection: string };
    expect(a.polarisations).toHaveLength(1);
    // RCM's 22:43 UTC pass over Montreal (local evening) is ascending.
    expect(a.orbitDirection).toBe('ascending');
  });
});
