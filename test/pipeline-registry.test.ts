import { mkdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../src/pipeline/open-registry.js';
import type { AcquisitionSummary, NewProduct, ProductRegistry } from '../src/pipeline/registry.js';
import { tempDir } from './helpers/gdal.js';
import { freshDatabase } from './helpers/postgres.js';

const tmp = tempDir('pipeline-registry-');
afterAll(() => tmp.cleanup());

const LABEL = { policy: 'NATO', classification: 'SECRET', releasableTo: ['GBR'] };
const product = (id: string): NewProduct => ({
  id,
  checksum: 'a'.repeat(64),
  expectedChecksum: null,
  expectedChecksumSource: null,
  sourcePath: `/in/${id}.zip`,
  storedPath: `/data/inbox/${id}/${id}.zip`,
  sizeBytes: 5_000_000_000,
  collection: 'sar',
  label: LABEL as never,
  labelSource: 'arrival',
  arrivedAt: '2026-06-01T06:00:00.000Z',
});
const ACQ: AcquisitionSummary = {
  format: 'sentinel-1-safe',
  platform: 'sentinel-1a',
  mode: 'IW',
  polarisations: ['VV', 'VH'],
  orbitDirection: 'ascending',
  lookSide: 'right',
  relativeOrbit: 88,
  incidenceDeg: 38.5,
  startTime: '2026-06-01T06:00:00.000Z',
  endTime: '2026-06-01T06:00:25.000Z',
  footprint: [
    [4, 43],
    [5, 43],
    [5, 44],
    [4, 43],
  ],
};

/** `n` registries on one store (processes or machines sharing it), and how to close them all. */
async function open(backend: 'sqlite' | 'postgres', name: string, n: number) {
  const pg = backend === 'postgres' ? await freshDatabase() : null;
  const dataDir = tmp.dir;
  const db = pg?.url ?? `${dataDir}/${name}-catalog.db`;
  if (!pg) mkdirSync(`${dataDir}/${name}`, { recursive: true });
  const regs: ProductRegistry[] = [];
  for (let i = 0; i < n; i++)
    regs.push(await openRegistry({ dataDir: backend === 'sqlite' ? `${dataDir}/${name}` : dataDir, db }));
  return {
    regs,
    close: async () => {
      for (const r of regs) await r.close();
      await pg?.drop();
    },
  };
}

describe.each(['sqlite', 'postgres'] as const)('product registry on %s', (backend) => {
  it('keeps what it is given: label, size above 2^32, acquisition, bbox, step results', async () => {
    const { regs, close } = await open(backend, 'rt', 1);
    const [r] = regs;
    try {
      expect(r.backend).toBe(backend);
      const { added, product: p } = await r.register(product('p1'));
      expect(added).toBe(true);
      expect(p).toMatchObject({ ...product('p1'), state: 'processing', step: 'verify', itemIds: [] });
      await r.setAcquisition('p1', { acquisition: ACQ, geometryKey: 'k', bbox: [4, 43, 5, 44] });
      await r.startStep('p1', 'read', 1, 'job-1');
      await r.finishStep('p1', 'read', { format: 'sentinel-1-safe', n: [1, 2] }, 12.5);
      expect(await r.get('p1')).toMatchObject({
        acquisition: ACQ,
        bbox: [4, 43, 5, 44],
        acquiredAt: ACQ.startTime,
      });
      expect(await r.step('p1', 'read')).toMatchObject({
        state: 'done',
        jobId: 'job-1',
        attempts: 1,
        durationMs: 12.5,
        result: { format: 'sentinel-1-safe', n: [1, 2] },
      });
      await r.published('p1', ['i1', 'i2'], 3);
      await r.published('p1', ['i1', 'i2'], 4);
      expect(await r.get('p1')).toMatchObject({ state: 'published', step: 'publish', itemIds: ['i1', 'i2'] });
      expect(await r.counts()).toEqual({ processing: 0, published: 1, failed: 0 });
      expect(await r.get('nope')).toBeNull();
    } finally {
      await close();
    }
  });

  it('registers a product arriving at several processes at once once', async () => {
    const { regs, close } = await open(backend, 'reg', 4);
    try {
      const rs = await Promise.all(
        regs.flatMap((r) => [r.register(product('p2')), r.register(product('p2'))]),
      );
      expect(rs.filter((x) => x.added)).toHaveLength(1);
      expect(await regs[0].list()).toHaveLength(1);
    } finally {
      await close();
    }
  });

  it('counts failures at once from several processes without losing one; the one reaching the limit fails the product', async () => {
    const { regs, close } = await open(backend, 'fail', 5);
    try {
      await regs[0].register(product('p3'));
      await regs[0].startStep('p3', 'ard', 1, 'job-3');
      // A wait for another product is not counted.
      expect(
        await regs[0].failStep('p3', 'ard', 'waiting', 1, {
          permanent: false,
          counted: false,
          maxFailures: 5,
        }),
      ).toEqual({ permanent: false, failures: 0 });
      const rs = await Promise.all(
        regs.map((r) =>
          r.failStep('p3', 'ard', 'disk full', 1, { permanent: false, counted: true, maxFailures: 5 }),
        ),
      );
      expect(rs.map((x) => x.failures).sort()).toEqual([1, 2, 3, 4, 5]);
      expect(rs.filter((x) => x.permanent).map((x) => x.failures)).toEqual([5]);
      expect(await regs[1].get('p3')).toMatchObject({
        state: 'failed',
        step: 'ard',
        error: 'ard: disk full',
      });
      // An operator's retry: processing again, the failures forgotten.
      await regs[2].reopen('p3', 'ard');
      expect(await regs[3].get('p3')).toMatchObject({ state: 'processing', error: null });
      expect((await regs[4].step('p3', 'ard'))?.failures).toBe(0);
    } finally {
      await close();
    }
  });
});
