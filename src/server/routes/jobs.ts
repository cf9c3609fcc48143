import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isProvider, type Principal } from '../../access/scope.js';
import { ConflictError, NotFoundError, SarbridgeError, ValidationError } from '../../errors.js';
import { JOB_STATES, type JobRecord, type JobState } from '../../jobs/queue.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from '../../jobs/spec.js';
import type { PipelineContext } from '../../pipeline/context.js';
import type { ProductState } from '../../pipeline/registry.js';
import { STEPS, type StepName } from '../../pipeline/registry.js';
import { jobsView, productView, retryFailed } from '../../pipeline/view.js';
import { audit, type RouteContext } from '../context.js';

/** The roles that see the pipeline: the provider's admins and operators. */
const OPERATOR_ROLES = ['provider-admin', 'provider-operator'] as const;
const PRODUCT_STATES: readonly ProductState[] = ['processing', 'published', 'failed'];
const JOB_ID = /^[A-Za-z0-9:._-]{1,200}$/;

/** Thrown for a caller who may not see the pipeline: the same 404 as a route that does not exist. */
class HiddenRouteError extends NotFoundError {}

type Query = Record<string, string | string[] | undefined>;

/** A query parameter given once (a repeated one is a 400 naming it). */
function param(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new ValidationError(`${name}: give it once, got ${v.length} values`);
  return v;
}

function intParam(q: Query, name: string, min: number, max: number, dflt: number): number {
  const v = param(q, name);
  if (v === undefined) return dflt;
  if (!/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max)
    throw new ValidationError(
      `${name}: expected a whole number from ${min} to ${max}, got '${v.slice(0, 40)}'`,
    );
  return Number(v);
}

function choiceParam<T extends string>(q: Query, name: string, values: readonly T[]): T | undefined {
  const v = param(q, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v))
    throw new ValidationError(`${name}: expected one of ${values.join(', ')}, got '${v.slice(0, 40)}'`);
  return v as T;
}

/** The step a pipeline job runs and its product, or null for another kind of job. */
function pipelineJob(j: JobRecord): { step: StepName; productId: string } | null {
  const step = j.name.startsWith('pipeline.') ? (j.name.slice('pipeline.'.length) as StepName) : null;
  const productId = (j.payload as { productId?: unknown } | null)?.productId;
  if (!step || !STEPS.includes(step) || typeof productId !== 'string') return null;
  return { step, productId };
}

/** A page's links: self, and next while the page is full. */
function pageLinks(
  ctx: RouteContext,
  path: string,
  q: Record<string, string | number | undefined>,
  full: boolean,
) {
  const url = (extra: Record<string, number>) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...q, ...extra })) if (v !== undefined) s.set(k, String(v));
    return `${ctx.publicUrl}${path}?${s}`;
  };
  const limit = Number(q.limit);
  const offset = Number(q.offset);
  return [
    { rel: 'self', href: url({}), type: 'application/json' },
    ...(full ? [{ rel: 'next', href: url({ offset: offset + limit }), type: 'application/json' }] : []),
  ];
}

/**
 * The operator API of the pipeline: the queue's jobs (`/admin/jobs`, filtered by state and name, in
 * pages), one job, the retry of a failed job, and the products with each step's state, attempts,
 * duration and error (`/admin/products`). The provider's admins and operators only; to anyone else
 * these routes answer exactly as a route that does not exist. Every retry is an audit record.
 */
export function jobRoutes(app: FastifyInstance, ctx: RouteContext, pipeline: PipelineContext): void {
  const operator = (req: FastifyRequest): Principal => {
    const p = req.principal;
    if (
      p === null ||
      !isProvider(p) ||
      !p.roles.some((r) => (OPERATOR_ROLES as readonly string[]).includes(r))
    )
      throw new HiddenRouteError('hidden');
    return p;
  };
  // The body of the server's own 404 for an unknown route, for callers who may not see these.
  const hidden = (req: FastifyRequest, reply: FastifyReply) =>
    reply
      .status(404)
      .send({ code: 'NotFound', description: `no route ${req.method} ${req.url.split('?')[0]}` });
  const guarded =
    <R>(handler: (req: FastifyRequest, reply: FastifyReply) => Promise<R>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        operator(req);
      } catch (err) {
        if (err instanceof HiddenRouteError) return hidden(req, reply);
        throw err;
      }
      return handler(req, reply);
    };
  const jobOr404 = async (id: string): Promise<JobRecord> => {
    const j = JOB_ID.test(id) ? await pipeline.queue.get(id) : null;
    if (!j) throw new NotFoundError(`job '${id.slice(0, 80)}' does not exist`);
    return j;
  };

  app.get(
    '/admin/jobs',
    guarded(async (req) => {
      const q = req.query as Query;
      const state = choiceParam<JobState>(q, 'state', JOB_STATES);
      const name = param(q, 'name');
      if (name !== undefined && !/^[A-Za-z0-9:._-]{1,200}$/.test(name))
        throw new ValidationError(
          `name: expected a job name such as pipeline.ard, got '${name.slice(0, 40)}'`,
        );
      const limit = intParam(q, 'limit', 1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT);
      const offset = intParam(q, 'offset', 0, 1e12, 0);
      const jobs = await pipeline.queue.list({ state, name, limit, offset });
      return {
        queue: pipeline.queue.kind,
        counts: await pipeline.queue.counts(),
        jobs,
        links: pageLinks(ctx, '/admin/jobs', { state, name, limit, offset }, jobs.length === limit),
      };
    }),
  );

  app.get<{ Params: { id: string } }>(
    '/admin/jobs/:id',
    guarded(async (req) => {
      const j = await jobOr404((req.params as { id: string }).id);
      const pj = pipelineJob(j);
      return {
        ...j,
        product: pj
          ? { id: pj.productId, step: pj.step, href: `${ctx.publicUrl}/admin/products/${pj.productId}` }
          : null,
      };
    }),
  );

  app.post<{ Params: { id: string } }>(
    '/admin/jobs/:id/retry',
    guarded(async (req) => {
      const id = (req.params as { id: string }).id;
      const resource = `/admin/jobs/${id.slice(0, 200)}`;
      try {
        const j = await jobOr404(id);
        if (j.state !== 'failed')
          throw new ConflictError(`job '${id}' is ${j.state}, not failed: nothing to retry`);
        // A pipeline step's job: retried through its product, so the product is processing again
        // and the step's failures are forgotten (otherwise the next failure would end it at once).
        const pj = pipelineJob(j);
        const product = pj ? await pipeline.registry.get(pj.productId) : null;
        const viaProduct =
          pj !== null &&
          product?.state === 'failed' &&
          product.step === pj.step &&
          (await pipeline.registry.step(product.id, pj.step))?.jobId === j.id;
        const r = await retryFailed(pipeline, viaProduct && pj ? pj.productId : j.id);
        audit(ctx, req, {
          action: 'admin',
          resource,
          result: 'ok',
          detail: {
            op: 'retry',
            job: j.id,
            name: j.name,
            ...(viaProduct && pj ? { product: pj.productId, step: r.step } : {}),
          },
        });
        return (await pipeline.queue.get(j.id)) ?? j;
      } catch (err) {
        if (err instanceof SarbridgeError)
          audit(ctx, req, {
            action: 'admin',
            resource,
            result: err instanceof NotFoundError ? 'not-found' : 'refused',
            detail: { op: 'retry', error: err.message },
          });
        throw err instanceof ValidationError && /not failed/.test(err.message)
          ? new ConflictError(err.message)
          : err;
      }
    }),
  );

  app.get(
    '/admin/products',
    guarded(async (req) => {
      const q = req.query as Query;
      const state = choiceParam(q, 'state', PRODUCT_STATES);
      const limit = intParam(q, 'limit', 1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT);
      const offset = intParam(q, 'offset', 0, 1e12, 0);
      const v = await jobsView(pipeline, { state, limit, offset });
      return {
        counts: { products: v.products, jobs: v.jobs },
        products: v.list.map((p) => ({
          ...p,
          totalDurationMs: p.steps.reduce((a, s) => a + (s.durationMs ?? 0), 0),
          href: `${ctx.publicUrl}/admin/products/${p.id}`,
        })),
        links: pageLinks(ctx, '/admin/products', { state, limit, offset }, v.list.length === limit),
      };
    }),
  );

  app.get<{ Params: { id: string } }>(
    '/admin/products/:id',
    guarded(async (req) => {
      const id = (req.params as { id: string }).id;
      if (!/^p[0-9a-f]{24}$/.test(id)) throw new NotFoundError(`product '${id.slice(0, 80)}' does not exist`);
      let v: Awaited<ReturnType<typeof productView>>;
      try {
        v = await productView(pipeline, id);
      } catch (err) {
        if (err instanceof NotFoundError) throw new NotFoundError(`product '${id}' does not exist`);
        throw err;
      }
      return { ...v, totalDurationMs: v.steps.reduce((a, s) => a + (s.durationMs ?? 0), 0) };
    }),
  );
}
