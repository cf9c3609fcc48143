import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { ingest } from '../src/pipeline/ingest.js';
import { productView, retryFailed } from '../src/pipeline/view.js';
import { startWorkers } from '../src/pipeline/worker.js';
import { SICD_CHIP } from './helpers/data.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const tmp = tempDir('pipeline-bad-');
afterAll(() => tmp.cleanup());
let sicd = '';
let safe = '';
let geotiff = '';

beforeAll(async () => {
  const r = await simulateScene(join(tmp.dir, 'scene'), {
    seed: 3,
    size: 256,
    ships: 3,
    dates: ['2026-06-01T06:00:00Z'],
    safe: true,
    sicdTemplate: SICD_CHIP,
  });
  sicd = r.scenes[0].sicd?.path as string;
  safe = r.scenes[0].safe?.safeDir as string;
  geotiff = r.scenes[0].path;
}, 120_000);

interface Row {
  name: string;
  /** Makes the product under `dir`; returns its path. */
  make: (dir: string) => string;
  step: string;
  error: RegExp;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const ROWS: Row[] = [
  {
    name: 'unknown format (a text file)',
    make: (d) => {
      writeFileSync(join(d, 'notes.txt'), 'not a radar product\n');
      return join(d, 'notes.txt');
    },
    step: 'read',
    error: /notes\.txt: .*expected a Sentinel-1 SAFE/,
  },
  {
    name: 'a zip that is not a SAFE',
    make: (d) => {
      // A stored (uncompressed) zip of one file, by hand: local header, data, central directory.
      const name = Buffer.from('readme.txt');
      const data = Buffer.from('hello');
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt32LE(crc32(data), 14);
      local.writeUInt32LE(data.length, 18);
      local.writeUInt32LE(data.length, 22);
      local.writeUInt16LE(name.length, 26);
      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0);
      central.writeUInt16LE(20, 4);
      central.writeUInt16LE(20, 6);
      central.writeUInt32LE(crc32(data), 16);
      central.writeUInt32LE(data.length, 20);
      central.writeUInt32LE(data.length, 24);
      central.writeUInt16LE(name.length, 28);
      const cdOff = local.length + name.length + data.length;
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(1, 8);
      end.writeUInt16LE(1, 10);
      end.writeUInt32LE(central.length + name.length, 12);
      end.writeUInt32LE(cdOff, 16);
      writeFileSync(join(d, 'product.zip'), Buffer.concat([local, name, data, central, name, end]));
      return join(d, 'product.zip');
    },
    step: 'read',
    error: /product\.zip: .*manifest\.safe|product\.zip: .*SAFE/,
  },
  {
    name: 'a truncated SICD (60% of its bytes)',
    make: (d) => {
      const p = join(d, 'truncated.nitf');
      cpSync(sicd, p);
      truncateSync(p, Math.floor(statSync(p).size * 0.6));
      return p;
    },
    step: 'read',
    error: /truncated\.nitf: .*truncated NITF/,
  },
  {
    name: 'a SAFE whose measurement TIFF is truncated',
    make: (d) => {
      const p = join(d, safe.split('/').pop() as string);
      cpSync(safe, p, { recursive: true });
      const m = join(p, 'measurement', readdirSync(join(p, 'measurement'))[0]);
      truncateSync(m, Math.floor(statSync(m).size / 2));
      return p;
    },
    step: 'ard',
    error: /measurement\/s1a-iw-grd-vv-.*\.tiff: tile 0 .*past the end of the/,
  },
  {
    name: "checksum mismatch (the provider's .sha256 says otherwise)",
    make: (d) => {
      const p = join(d, 'scene.nitf');
      cpSync(sicd, p);
      writeFileSync(`${p}.sha256`, `${'0'.repeat(64)}  scene.nitf\n`);
      return p;
    },
    step: 'verify',
    error:
      /checksum mismatch: .*scene\.nitf has SHA-256 [0-9a-f]{64} but the provider's checksum \(.*scene\.nitf\.sha256\) is 0{64}/,
  },
  {
    name: 'an impossible acquisition time (1900)',
    make: (d) => {
      const p = join(d, 'old.tif');
      cpSync(geotiff, p);
      writeFileSync(
        join(d, 'old.json'),
        JSON.stringify({ datetime: '1900-01-01T00:00:00Z', platform: 'x', 'sar:instrument_mode': 'SM' }),
      );
      return p;
    },
    step: 'read',
    error: /old\.tif: acquisition start 1900-01-01T00:00:00\.000Z is impossible/,
  },
];

describe('pipeline: bad products fail visibly with the reason, are kept, and nothing is published', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))(
    '%s',
    async (_name, row) => {
      const d = join(tmp.dir, row.name.replace(/[^a-z0-9]+/gi, '-'));
      const inDir = join(d, 'in');
      mkdirSync(inDir, { recursive: true });
      const path = row.make(inDir);
      const { ctx, close } = await openTestPipeline(join(d, 'data'), { landMask: 'none' });
      try {
        const [r] = await ingest(ctx, [path]);
        expect(r.added).toBe(true);
        const workers = await startWorkers(ctx.queue, ctx);
        await ctx.queue.drained({ timeoutMs: 120_000 });
        await workers.close();
        const v = await productView(ctx, r.id as string);
        expect(v.state).toBe('failed');
        expect(v.step).toBe(row.step);
        console.log(`${row.name}: ${v.error}`);
        expect(v.error).toMatch(row.error);
        // A product's fault is not retried: one attempt.
        const failed = v.steps.find((s) => s.step === row.step);
        expect(failed).toMatchObject({ state: 'failed', attempts: 1 });
        expect(v.jobs.find((j) => j.id === failed?.jobId)?.state).toBe('failed');
        // Kept for inspection, byte for byte.
        expect(existsSync(v.storedPath)).toBe(true);
        if (statSync(path).isFile())
          expect(sha256(readFileSync(v.storedPath))).toBe(sha256(readFileSync(path)));
        // Nothing published, nothing announced.
        expect(await ctx.catalog.getCollection('sar', ALL)).toBeNull();
        expect(await ctx.catalog.events()).toEqual([]);
        // The operator's retry runs the step again, which fails again with the same reason.
        await retryFailed(ctx, r.id as string);
        const w2 = await startWorkers(ctx.queue, ctx);
        await ctx.queue.drained({ timeoutMs: 120_000 });
        await w2.close();
        const again = await productView(ctx, r.id as string);
        expect([again.state, again.step]).toEqual(['failed', row.step]);
        expect(again.error).toMatch(row.error);
        expect(again.jobs.find((j) => j.id === failed?.jobId)?.attempt).toBe(1);
      } finally {
        await close();
      }
    },
    120_000,
  );

  it('a path that is no product at all is refused at arrival, naming it', async () => {
    const d = join(tmp.dir, 'refused');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'empty.nitf'), '');
    mkdirSync(join(d, 'empty.SAFE'));
    const { ctx, close } = await openTestPipeline(join(d, 'data'));
    try {
      const r = await ingest(ctx, [join(d, 'missing.zip'), join(d, 'empty.nitf'), join(d, 'empty.SAFE')]);
      expect(r.map((x) => [x.id, x.added])).toEqual(Array(3).fill([null, false]));
      expect(r[0].error).toMatch(/missing\.zip: no such product/);
      expect(r[1].error).toMatch(/empty\.nitf: is empty \(0 bytes\)/);
      expect(r[2].error).toMatch(/empty\.SAFE: is an empty folder/);
      expect(await ctx.registry.list()).toEqual([]);
      await expect(
        ingest(ctx, [join(d, 'empty.nitf')], { label: { policy: 'NATO', classification: 'PUBLIC' } }),
      ).rejects.toThrow(/--label\/classification: unknown classification 'PUBLIC'/);
      await expect(ingest(ctx, [join(d, 'empty.nitf')], { sha256: 'abc' })).rejects.toThrow(
        /--sha256: expected a SHA-256/,
      );
    } finally {
      await close();
    }
  });
});

describe('pipeline: arrival keeps a GeoTIFF by its bytes, not its name', () => {
  it("a GeoTIFF named 'scene.dat' keeps its sidecar 'scene.dat.json' and passes the read step", async () => {
    const d = join(tmp.dir, 'dat-name');
    const inDir = join(d, 'in');
    mkdirSync(inDir, { recursive: true });
    const p = join(inDir, 'scene.dat');
    cpSync(geotiff, p);
    writeFileSync(
      `${p}.json`,
      JSON.stringify({
        datetime: '2026-06-01T06:00:00Z',
        platform: 'sentinel-1a',
        'sar:instrument_mode': 'IW',
      }),
    );
    const { ctx, close } = await openTestPipeline(join(d, 'data'), { landMask: 'none' });
    try {
      const [r] = await ingest(ctx, [p]);
      const kept = readdirSync(join(d, 'data', 'inbox', r.id as string)).sort();
      expect(kept).toEqual(['scene.dat', 'scene.dat.json']);
      const workers = await startWorkers(ctx.queue, ctx);
      await ctx.queue.drained({ timeoutMs: 120_000 });
      await workers.close();
      const v = await productView(ctx, r.id as string);
      expect(v.steps.find((s) => s.step === 'read')?.state).toBe('done');
    } finally {
      await close();
    }
  }, 180_000);
});
