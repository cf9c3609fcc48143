import { SarbridgeError } from '../errors.js';
import {
  type Job,
  type JobHandler,
  type JobQueue,
  type JobWorker,
  PermanentJobError,
  RetryJobLater,
} from '../jobs/queue.js';
import { type ChangeStepResult, changeStep } from './change.js';
import type { PipelineContext } from './context.js';
import { publishStep } from './publish.js';
import { type ProductRecord, STEPS, type StepName } from './registry.js';
import {
  type ArdStepResult,
  ardStep,
  type DetectStepResult,
  detectStep,
  ProductFault,
  readStep,
  verifyStep,
} from './steps.js';

export interface StepPayload {
  productId: string;
}

/** The queue's job name of a step. */
export const jobName = (step: StepName) => `pipeline.${step}`;
/** The idempotency key of a product's step: the queue holds one job per product and step. */
export const jobKey = (productId: string, step: StepName) => `pipeline:${productId}:${step}`;

/** Steps where an error of sarbridge's readers (FormatError, ValidationError ...) is the product's fault. */
const PRODUCT_STEPS: ReadonlySet<StepName> = new Set(['verify', 'read', 'ard', 'detect']);

/** Queue attempts of a step's job (the queue's most): see maxFailures for the real limit. */
const QUEUE_ATTEMPTS = 1000;

/** Add the job of a product's step (a no-op when the queue holds it already) and note its id. */
export async function enqueueStep(ctx: PipelineContext, productId: string, step: StepName): Promise<string> {
  const { id } = await ctx.queue.add<StepPayload>({
    name: jobName(step),
    payload: { productId },
    key: jobKey(productId, step),
    // A killed worker's attempt and a wait for another product count as queue attempts; the
    // registry counts the failures that decide a permanent failure (maxFailures).
    attempts: QUEUE_ATTEMPTS,
    backoff: ctx.backoff,
  });
  await ctx.registry.setJob(productId, step, id);
  return id;
}

/** The first step of a product not done yet (null when every one is). */
export async function pendingStep(ctx: PipelineContext, p: ProductRecord): Promise<StepName | null> {
  if (p.state === 'published') return null;
  const done = new Set((await ctx.registry.steps(p.id)).filter((s) => s.state === 'done').map((s) => s.step));
  return STEPS.find((s) => !done.has(s)) ?? null;
}

/** Make sure a processing product's next step has its job (after a crash between two writes). */
export async function resume(ctx: PipelineContext, p: ProductRecord): Promise<StepName | null> {
  if (p.state !== 'processing') return null;
  const step = await pendingStep(ctx, p);
  if (step) await enqueueStep(ctx, p.id, step);
  return step;
}

async function resultOf<T>(ctx: PipelineContext, productId: string, step: StepName): Promise<T> {
  const s = await ctx.registry.step(productId, step);
  if (s?.state !== 'done')
    throw new Error(`step ${step} of ${productId} is not done (it is ${s?.state ?? 'not started'})`);
  return s.result as T;
}

async function runStepFunction(
  ctx: PipelineContext,
  step: StepName,
  p: ProductRecord,
  t0: number,
): Promise<unknown> {
  switch (step) {
    case 'verify':
      return verifyStep(ctx, p);
    case 'read':
      return readStep(ctx, p);
    case 'ard':
      return ardStep(ctx, p);
    case 'detect':
      return detectStep(ctx, p, await resultOf<ArdStepResult>(ctx, p.id, 'ard'));
    case 'change':
      return changeStep(ctx, p, await resultOf<ArdStepResult>(ctx, p.id, 'ard'));
    case 'publish':
      return publishStep(
        ctx,
        p,
        await resultOf<ArdStepResult>(ctx, p.id, 'ard'),
        await resultOf<DetectStepResult>(ctx, p.id, 'detect'),
        await resultOf<ChangeStepResult>(ctx, p.id, 'change'),
        t0,
      );
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * One attempt of a product's step, as the queue's handler: a step the registry has done is not run
 * again; otherwise it runs and its result is recorded. Then the next step's job is added (keyed, so
 * a re-run adds nothing). A product's fault (a corrupt, truncated or impossible product, a checksum
 * mismatch) fails the job for good; other errors are retried with back-off until the attempts run out.
 */
export async function runStep(ctx: PipelineContext, step: StepName, job: Job<StepPayload>): Promise<unknown> {
  const p = await ctx.registry.get(job.payload.productId);
  if (!p) throw new PermanentJobError(`no product ${job.payload.productId} in the registry`);
  let rec = await ctx.registry.step(p.id, step);
  if (rec?.state !== 'done' && !(step === 'publish' && p.state === 'published')) {
    await ctx.registry.startStep(p.id, step, job.attempt, job.id);
    await job.progress({
      done: STEPS.indexOf(step),
      total: STEPS.length,
      message: `${step} (attempt ${job.attempt})`,
    });
    const t0 = performance.now();
    try {
      const result = await runStepFunction(ctx, step, p, t0);
      if (step !== 'publish') await ctx.registry.finishStep(p.id, step, result, performance.now() - t0);
      ctx.log?.(`${p.id} ${step} done in ${Math.round(performance.now() - t0)} ms`);
    } catch (err) {
      const ms = performance.now() - t0;
      const fault =
        err instanceof ProductFault ||
        err instanceof PermanentJobError ||
        (PRODUCT_STEPS.has(step) && err instanceof SarbridgeError);
      const wait = err instanceof RetryJobLater;
      const { permanent } = await ctx.registry.failStep(p.id, step, messageOf(err), ms, {
        permanent: fault || job.attempt >= job.maxAttempts,
        counted: !wait,
        maxFailures: ctx.maxFailures ?? 5,
      });
      ctx.log?.(`${p.id} ${step} ${permanent ? 'failed' : 'will retry'}: ${messageOf(err)}`);
      if (permanent && !(err instanceof PermanentJobError)) throw new PermanentJobError(messageOf(err));
      throw err;
    }
    rec = await ctx.registry.step(p.id, step);
  }
  const next = STEPS[STEPS.indexOf(step) + 1];
  if (next) await enqueueStep(ctx, p.id, next);
  return { product: p.id, step, durationMs: rec?.durationMs ?? null };
}

/** Age of a killed put's leftovers that the workers remove when they start (1 h). */
export const SWEEP_OLDER_THAN_MS = 3_600_000;

export interface PipelineWorkers {
  /** Stop taking jobs and wait for the running ones (or abort them). */
  close(opts?: { abort?: boolean }): Promise<void>;
}

/**
 * Run the pipeline's steps from `queue` in this process: first the store's temporaries of killed puts
 * older than `sweepOlderThanMs` (default 1 h) are removed and every processing product gets the job
 * of its next step back if a crash lost it, then a worker with `concurrency` jobs at once.
 */
export async function startWorkers(
  queue: JobQueue,
  ctx: PipelineContext,
  opts: { concurrency?: number; sweepOlderThanMs?: number } = {},
): Promise<PipelineWorkers> {
  const c = { ...ctx, queue };
  // What killed puts left in the store (temporary files, unfinished multipart uploads), once.
  const olderThanMs = opts.sweepOlderThanMs ?? SWEEP_OLDER_THAN_MS;
  const swept = await c.store.sweepTemporaries(olderThanMs);
  c.log?.(`store: ${swept} temporaries of killed puts older than ${olderThanMs} ms removed`);
  for (const p of await c.registry.unfinished()) await resume(c, p);
  const handlers: Record<string, JobHandler> = {};
  for (const s of STEPS) handlers[jobName(s)] = (job) => runStep(c, s, job as Job<StepPayload>);
  const worker: JobWorker = queue.work(handlers, { concurrency: opts.concurrency ?? 1 });
  return { close: (o) => worker.close(o) };
}
