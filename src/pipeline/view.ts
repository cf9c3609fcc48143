import { NotFoundError, ValidationError } from '../errors.js';
import type { JobRecord, JobState } from '../jobs/queue.js';
import type { PipelineContext } from './context.js';
import type { ProductRecord, ProductState, StepRecord } from './registry.js';

/** One product as the operator sees it: where it is, how long each step took, what went wrong. */
export interface ProductView {
  id: string;
  state: ProductState;
  step: string;
  error: string | null;
  collection: string;
  sourcePath: string;
  storedPath: string;
  format: string | null;
  acquiredAt: string | null;
  arrivedAt: string;
  publishedAt: string | null;
  itemIds: string[];
  steps: {
    step: string;
    state: string;
    attempts: number;
    durationMs: number | null;
    error: string | null;
    jobId: string | null;
  }[];
}

export interface JobsView {
  products: Record<ProductState, number>;
  jobs: Record<JobState, number>;
  list: ProductView[];
}

function view(p: ProductRecord, steps: StepRecord[]): ProductView {
  return {
    id: p.id,
    state: p.state,
    step: p.step,
    error: p.error,
    collection: p.collection,
    sourcePath: p.sourcePath,
    storedPath: p.storedPath,
    format: p.format,
    acquiredAt: p.acquiredAt,
    arrivedAt: p.arrivedAt,
    publishedAt: p.publishedAt,
    itemIds: p.itemIds,
    steps: steps.map((s) => ({
      step: s.step,
      state: s.state,
      attempts: s.attempts,
      durationMs: s.durationMs === null ? null : Math.round(s.durationMs),
      error: s.error,
      jobId: s.jobId,
    })),
  };
}

/** The operator's overview: products and jobs by state, and the products (newest first). */
export async function jobsView(
  ctx: PipelineContext,
  q: { state?: ProductState; limit?: number; offset?: number } = {},
): Promise<JobsView> {
  const list: ProductView[] = [];
  for (const p of await ctx.registry.list(q)) list.push(view(p, await ctx.registry.steps(p.id)));
  return { products: await ctx.registry.counts(), jobs: await ctx.queue.counts(), list };
}

/** One product with its steps and the queue's record of each step's job. */
export async function productView(
  ctx: PipelineContext,
  id: string,
): Promise<ProductView & { jobs: JobRecord[]; label: unknown; checksum: string }> {
  const p = await ctx.registry.get(id);
  if (!p) throw new NotFoundError(`no product '${id}' (sarbridge jobs list shows them)`);
  const steps = await ctx.registry.steps(id);
  const jobs: JobRecord[] = [];
  for (const s of steps) {
    const j = s.jobId ? await ctx.queue.get(s.jobId) : null;
    if (j) jobs.push(j);
  }
  return { ...view(p, steps), jobs, label: p.label, checksum: p.checksum };
}

/**
 * Retry a failed product's failed step (or a failed job by its id): the queue puts the job back
 * with a fresh set of attempts, and the chain goes on from there.
 * @throws NotFoundError for an unknown id; ValidationError when there is nothing failed to retry
 */
export async function retryFailed(
  ctx: PipelineContext,
  id: string,
): Promise<{ jobId: string; step: string | null }> {
  const p = await ctx.registry.get(id);
  if (!p) {
    const job = await ctx.queue.get(id);
    if (!job) throw new NotFoundError(`no product or job '${id}' (sarbridge jobs list shows them)`);
    if (job.state !== 'failed')
      throw new ValidationError(`job '${id}' is ${job.state}, not failed: nothing to retry`);
    await ctx.queue.retry(id);
    return { jobId: id, step: null };
  }
  if (p.state !== 'failed')
    throw new ValidationError(`product '${id}' is ${p.state}, not failed: nothing to retry`);
  const s = await ctx.registry.step(id, p.step);
  if (!s?.jobId) throw new ValidationError(`product '${id}': its failed step ${p.step} has no job to retry`);
  await ctx.registry.reopen(id, p.step);
  await ctx.queue.retry(s.jobId);
  return { jobId: s.jobId, step: p.step };
}
