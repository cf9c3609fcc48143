import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAccess } from '../src/access/testing.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { PipelineContext } from '../src/pipeline/context.js';
import { productId } from '../src/pipeline/ingest.js';
import { buildServer } from '../src/server/app.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';

// The resumable-upload example of docs/pipeline.md, run as it is written (bash + curl + coreutils),
// against a real server: the documentation's commands are the client.
const run = promisify(execFile);
const tmp = tempDir('uploads-curl-');
let pipeline: { ctx: PipelineContext; close: () => Promise<void> };
let access: ReturnType<typeof testAccess>;
let app: FastifyInstance;
let base: string;
let zipPath: string;

/** A free port (the Location the server answers names its public URL, which must be reachable). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The ```sh block of the "Uploads" section of docs/pipeline.md, without its placeholder line. */
function docExample(): string[] {
  const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'pipeline.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Uploads'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('docs/pipeline.md: no sh example in the Uploads section');
  const lines = block.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  expect(lines[0]).toMatch(/^KEY=\.\.\.; F=.*; API=/);
  return lines.slice(1);
}

beforeAll(async () => {
  const r = await simulateScene(join(tmp.dir, 'scene'), { seed: 9, size: 256, ships: 3, safe: true });
  const safeDir = r.scenes[0].safe?.safeDir as string;
  zipPath = join(tmp.dir, `${basename(safeDir)}.zip`);
  execFileSync('zip', ['-q', '-r', '-n', '.tiff', zipPath, basename(safeDir)], { cwd: dirname(safeDir) });
  pipeline = await openTestPipeline(join(tmp.dir, 'data'), { landMask: 'none' });
  access = testAccess({ auth: { ratePerS: 1e6, burst: 1e6 } });
  const port = await freePort();
  app = await buildServer({
    store: pipeline.ctx.catalog,
    access: access.services,
    pipeline: pipeline.ctx,
    uploads: { maxSizeBytes: 64 * 1024 * 1024 },
    publicUrl: `http://127.0.0.1:${port}`,
  });
  base = await app.listen({ host: '127.0.0.1', port });
}, 120_000);

afterAll(async () => {
  await app?.close();
  access?.close();
  await pipeline?.close();
  tmp.cleanup();
});

describe('uploads: the curl example of docs/pipeline.md', () => {
  it('uploads a SAFE zip, interrupted after its first half, resumed from HEAD, and names the product', async () => {
    const lines = docExample();
    // The example's own lines: META, the POST (two lines), then the HEAD and the PATCH from its offset.
    const post = lines.findIndex((l) => l.startsWith('LOC='));
    const resume = lines.findIndex((l) => l.startsWith('OFF='));
    expect(post).toBeGreaterThan(0);
    expect(resume).toBeGreaterThan(post);
    const size = readFileSync(zipPath).length;
    const half = Math.floor(size / 2);
    // The interruption: only the first half reaches the server before the client stops.
    const firstHalf =
      `head -c ${half} "$F" | curl -s -o /dev/null -X PATCH "$LOC" -H "Authorization: Bearer $KEY" ` +
      `-H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' -H 'Upload-Offset: 0' --data-binary @-`;
    const script = [
      'set -euo pipefail',
      ...lines.slice(0, resume),
      firstHalf,
      'echo "LOC=$LOC"',
      ...lines.slice(resume),
      'echo',
      'echo "OFF=$OFF"',
    ].join('\n');
    const { stdout } = await run('bash', ['-c', script], {
      env: { ...process.env, KEY: access.adminKey, F: zipPath, API: base },
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`the example failed: stdout ${err.stdout} stderr ${err.stderr}`);
    });
    const answer = stdout.replace(/\r/g, '');
    console.log(answer.split('\n').slice(0, 12).join('\n'));
    expect(answer).toMatch(/^LOC=http:\/\/127\.0\.0\.1:\d+\/uploads\/[0-9a-f]{32}$/m);
    // The HEAD said where the interrupted upload stood.
    expect(answer).toMatch(new RegExp(`^OFF=${half}$`, 'm'));
    expect(answer).toMatch(/^HTTP\/1\.1 204/m);
    // No CORS header for a server without --cors-origin (tus's own default would be '*').
    expect(answer).not.toMatch(/^access-control-allow-origin:/im);
    const sha = createHash('sha256').update(readFileSync(zipPath)).digest('hex');
    const id = productId(sha);
    expect(answer).toMatch(new RegExp(`^upload-product-id: ${id}$`, 'im'));
    // The product is registered with the label of the example's metadata.
    const p = await fetch(`${base}/admin/products/${id}`, {
      headers: { authorization: `Bearer ${access.adminKey}` },
    });
    expect(p.status).toBe(200);
    expect(await p.json()).toMatchObject({
      id,
      label: { policy: 'NATO', classification: 'SECRET' },
    });
  }, 120_000);
});
