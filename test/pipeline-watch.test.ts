import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConfidentialityLabel } from '../src/access/labels.js';
import { isProductName, watchDropFolder } from '../src/pipeline/watch.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const tmp = tempDir('pipeline-watch-');
afterAll(() => tmp.cleanup());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FOLDER_LABEL: ConfidentialityLabel = {
  policy: 'NATO',
  classification: 'RESTRICTED',
  categories: [{ tagName: 'Releasable To', type: 'permissive', values: ['NATO'] }],
};

describe('pipeline: a watched drop folder', () => {
  it.each([
    ['S1A_IW_GRDH_1SDV_X.zip', true],
    ['scene.nitf', true],
    ['S1A_X.SAFE', true],
    ['.hidden.nitf', false],
    ['upload.nitf.part', false],
    ['scene.nitf.sha256', false],
    ['scene.json', false],
    ['x.tif.tmp-123-abc', false],
    ['big.zip.crdownload', false],
  ])('%s is a product: %s', (name, expected) => {
    expect(isProductName(name)).toBe(expected);
  });

  it("takes a file only once it has stopped growing, whole, with the folder's label", async () => {
    const drop = join(tmp.dir, 'drop');
    mkdirSync(drop);
    const { ctx, close } = await openTestPipeline(join(tmp.dir, 'data'));
    const abort = new AbortController();
    const taken: string[] = [];
    const watching = watchDropFolder(ctx, drop, {
      label: FOLDER_LABEL,
      intervalMs: 100,
      stableMs: 800,
      signal: abort.signal,
      onIngest: (r) => taken.push(r.path),
    });
    try {
      const bytes = randomBytes(300_000);
      const file = join(drop, 'scene.nitf');
      // Arrives in three parts, 300 ms apart: never still for 800 ms until the last.
      writeFileSync(file, bytes.subarray(0, 100_000));
      writeFileSync(join(drop, 'scene.nitf.sha256'), `${'0'.repeat(64)}  scene.nitf\n`);
      await sleep(300);
      appendFileSync(file, bytes.subarray(100_000, 200_000));
      await sleep(300);
      expect(taken).toEqual([]);
      appendFileSync(file, bytes.subarray(200_000));
      const t0 = Date.now();
      while (taken.length === 0 && Date.now() - t0 < 10_000) await sleep(50);
      expect(taken).toEqual([file]);
      const [p] = await ctx.registry.list();
      expect(p.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(p.sizeBytes).toBe(bytes.length);
      expect([p.label, p.labelSource]).toEqual([FOLDER_LABEL, 'drop-folder']);
      // The provider's checksum beside it is kept for the verify step.
      expect(p.expectedChecksum).toBe('0'.repeat(64));
      // Left in the folder, it is not taken again.
      await sleep(1200);
      expect(taken).toHaveLength(1);
      expect(await ctx.registry.list()).toHaveLength(1);
    } finally {
      abort.abort();
      await watching;
      await close();
    }
  });
});
