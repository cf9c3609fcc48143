import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type IngestProgress, ingest } from '../src/pipeline/ingest.js';
import { mulberry32 } from '../src/util/random.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'test', 'helpers', 'pipeline-cli.ts');
const tmp = tempDir('pipeline-ingest-progress-');
afterAll(() => tmp.cleanup());

/** A file of `sizeBytes` seeded bytes. */
function bytesFile(path: string, sizeBytes: number, seed: number): string {
  const rand = mulberry32(seed);
  const b = Buffer.alloc(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) b[i] = Math.floor(rand() * 256);
  writeFileSync(path, b);
  return path;
}

/** The bytes of every file under a path, counted by the file system (not by the code under test). */
const duBytes = (p: string): number =>
  statSync(p).isDirectory() ? readdirSync(p).reduce((n, e) => n + duBytes(join(p, e)), 0) : statSync(p).size;

describe('ingest progress: checksum and copy, in bytes', () => {
  it('tells each phase of each product, increasing to its size, checksum before copy; nothing is copied again', async () => {
    const dir = join(tmp.dir, 'lib');
    mkdirSync(join(dir, 'prod.SAFE', 'measurement'), { recursive: true });
    bytesFile(join(dir, 'prod.SAFE', 'manifest.safe'), 70_000, 1);
    bytesFile(join(dir, 'prod.SAFE', 'measurement', 'a.tiff'), 300_000, 2);
    const file = bytesFile(join(dir, 'big.dat'), 5 * 1024 * 1024 + 17, 3);
    const folder = join(dir, 'prod.SAFE');
    const { ctx, close } = await openTestPipeline(join(tmp.dir, 'data-lib'));
    try {
      const seen: IngestProgress[] = [];
      const r = await ingest(ctx, [folder, file], { onProgress: (e) => seen.push({ ...e }) });
      expect(r.map((x) => x.added)).toEqual([true, true]);
      for (const p of [folder, file]) {
        const size = duBytes(p);
        const mine = seen.filter((e) => e.path === p);
        // Phases in order: every checksum event, then every copy event.
        const phases = mine.map((e) => e.phase);
        expect(phases.lastIndexOf('checksum')).toBeLessThan(phases.indexOf('copy'));
        for (const phase of ['checksum', 'copy'] as const) {
          const ev = mine.filter((e) => e.phase === phase);
          expect(ev.length, `${p} ${phase}`).toBeGreaterThan(0);
          expect(ev.every((e) => e.totalBytes === size)).toBe(true);
          for (let i = 1; i < ev.length; i++) expect(ev[i].doneBytes).toBeGreaterThan(ev[i - 1].doneBytes);
          expect(ev[ev.length - 1].doneBytes).toBe(size);
        }
      }
      // The 5 MiB file in several chunks (a progress, not one event at the end).
      expect(seen.filter((e) => e.path === file && e.phase === 'checksum').length).toBeGreaterThan(4);
      // The copy kept is the same bytes.
      const kept = (await ctx.registry.get(r[1].id as string))?.storedPath as string;
      expect(statSync(kept).size).toBe(statSync(file).size);
      // Arriving again: checksummed (that is how it is known), not copied.
      const again: IngestProgress[] = [];
      await ingest(ctx, [file], { onProgress: (e) => again.push({ ...e }) });
      expect(new Set(again.map((e) => e.phase))).toEqual(new Set(['checksum']));
    } finally {
      await close();
    }
  });
});

describe('sarbridge ingest: progress lines by output mode', () => {
  const file = () => {
    const p = join(tmp.dir, 'cli.dat');
    try {
      statSync(p);
    } catch {
      bytesFile(p, 3 * 1024 * 1024, 4);
    }
    return p;
  };
  const run = (mode: string[], dataDir: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', MAIN, 'ingest', '--no-wait', '--data-dir', join(tmp.dir, dataDir), ...mode, file()],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );

  it('--json: JSON progress lines on stdout, bytes of the total with an ETA, ending at the size', () => {
    const r = run(['--json'], 'cli-json');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{"type":"progress"'))
      .map((l) => JSON.parse(l) as { task: string; done: number; total: number; etaS?: number });
    const size = statSync(file()).size;
    for (const phase of ['checksum', 'copy']) {
      const mine = lines.filter((l) => l.task === `${phase} cli.dat (bytes)`);
      expect(mine.length, `${phase}: ${r.stdout}`).toBeGreaterThan(0);
      expect(mine[mine.length - 1]).toMatchObject({ done: size, total: size });
    }
    expect(r.stderr).not.toMatch(/checksum cli\.dat/);
  });

  it('plain (stderr no terminal): progress lines on stderr with the percentage', () => {
    const r = run([], 'cli-plain');
    expect(r.status, r.stderr).toBe(0);
    const size = statSync(file()).size;
    expect(r.stderr).toContain(`sarbridge: checksum cli.dat (bytes): ${size}/${size} (100%): 3.0 of 3.0 MiB`);
    expect(r.stderr).toContain(`sarbridge: copy cli.dat (bytes): ${size}/${size} (100%)`);
  });

  it('--quiet: no progress at all', () => {
    const r = run(['--quiet'], 'cli-quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/"type":"progress"|\(bytes\)/);
  });
});
