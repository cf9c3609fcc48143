import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import type { Job } from '../src/jobs/queue.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import type { ChangeStepResult } from '../src/pipeline/change.js';
import { ingest } from '../src/pipeline/ingest.js';
import { changeItem, sceneItem } from '../src/pipeline/publish.js';
import { STEPS } from '../src/pipeline/registry.js';
import type { ArdStepResult, DetectStepResult } from '../src/pipeline/steps.js';
import { runStep, type StepPayload } from '../src/pipeline/worker.js';
import { tempDir } from './helpers/gdal.js';
import { openTestPipeline } from './helpers/pipeline.js';
import { freshDatabase } from './helpers/postgres.js';

const tmp = tempDir('pipeline-publish-');
afterAll(() => tmp.cleanup());

/** The attempt of a step's job as the queue hands it to its handler. */
const attempt = (productId: string, step: string, n: number): Job<StepPayload> => ({
  id: `job-${productId}-${step}`,
  name: `pipeline.${step}`,
  key: `pipeline:${productId}:${step}`,
  payload: { productId },
  attempt: n,
  maxAttempts: 1000,
  signal: new AbortController().signal,
  progress: async () => {},
});

describe.each(['sqlite', 'postgres'] as const)(
  'pipeline publish on %s: a publication cut short after the catalog write',
  (backend) => {
    it('is finished by the next attempt with the same items and one event, and a third adds nothing', async () => {
      const r = await simulateScene(join(tmp.dir, `scene-${backend}`), {
        seed: 11,
        size: 256,
        ships: 3,
        safe: true,
      });
      const pgDb = backend === 'postgres' ? await freshDatabase() : null;
      const { ctx, close } = await openTestPipeline(join(tmp.dir, `data-${backend}`), {
        landMask: r.landPath,
        db: pgDb?.url,
      });
      expect([ctx.registry.backend, ctx.catalog.backend]).toEqual([backend, backend]);
      try {
        const [a, b] = await ingest(
          ctx,
          r.scenes.map((s) => s.safe?.safeDir as string),
        );
        const first = a.id as string;
        const id = b.id as string;
        // Every step of the first pass, and the second up to its change, as the queue would run them.
        for (const s of STEPS) await runStep(ctx, s, attempt(first, s, 1));
        for (const s of STEPS.slice(0, -1)) await runStep(ctx, s, attempt(id, s, 1));
        // Attempt 1 of the second pass's publish wrote its items and its event to the catalog (one
        // transaction) and died before the registry marked the product published.
        const p = await ctx.registry.get(id);
        if (!p) throw new Error('no product');
        const res = async <T>(step: string) => (await ctx.registry.step(id, step as never))?.result as T;
        const ard = await res<ArdStepResult>('ard');
        const change = await res<ChangeStepResult>('change');
        const prev = await ctx.registry.get(first);
        if (!prev) throw new Error('no first product');
        const items = [sceneItem(p, ard, await res<DetectStepResult>('detect'), change)];
        const c = changeItem(ctx, p, prev, ard, change, null);
        if (c) items.push(c);
        expect(items).toHaveLength(2);
        const cut = await ctx.catalog.publishItems('sar', items, {
          eventKey: `published:${id}`,
          type: 'published',
          productId: id,
          collection: 'sar',
          itemIds: items.map((i) => i.id),
          payload: { product: id },
        });
        expect(cut.eventAdded).toBe(true);
        expect((await ctx.registry.get(id))?.state).toBe('processing');
        expect((await ctx.catalog.events()).map((e) => e.productId)).toEqual([first, id]);

        // Attempt 2 (the job's lease expired): the same items, the product published, one event.
        await runStep(ctx, 'publish', attempt(id, 'publish', 2));
        const page = await ctx.catalog.search({ collections: ['sar'], sortby: [], limit: 100 }, ALL);
        expect(page.items.map((i) => i.id).sort()).toEqual(
          [...((await ctx.registry.get(first))?.itemIds ?? []), ...items.map((i) => i.id)].sort(),
        );
        expect(page.items.find((i) => i.id === items[0].id)).toEqual({ ...items[0], collection: 'sar' });
        expect(await ctx.registry.get(id)).toMatchObject({
          state: 'published',
          itemIds: items.map((i) => i.id),
        });
        expect((await ctx.catalog.events()).map((e) => e.productId)).toEqual([first, id]);
        // The event of attempt 1 stayed (the retry found its key), not one of attempt 2.
        expect((await ctx.catalog.events())[1].payload).toEqual({ product: id });

        // Attempt 3 (delivered once more, at least once): nothing runs, nothing is added.
        await runStep(ctx, 'publish', attempt(id, 'publish', 3));
        expect(
          (await ctx.catalog.search({ collections: ['sar'], sortby: [], limit: 100 }, ALL)).items,
        ).toHaveLength(3);
        expect(await ctx.catalog.events()).toHaveLength(2);
        expect((await ctx.registry.step(id, 'publish'))?.attempts).toBe(2);
      } finally {
        await close();
        await pgDb?.drop();
      }
    }, 300_000);
  },
);
