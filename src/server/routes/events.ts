import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../access/scope.js';
import { scopeOf } from '../../access/scope.js';
import { parseEventId, type StreamCursor, sseRetry } from '../../alerts/sse-format.js';
import type { StreamSink } from '../../alerts/stream-client.js';
import { parseStreamFilter } from '../../alerts/stream-filter.js';
import { EventHub, type EventHubOptions } from '../../alerts/stream-hub.js';
import { visibleItems } from '../../alerts/stream-visibility.js';
import { ValidationError } from '../../errors.js';
import { audit, type RouteContext, requirePrincipal } from '../context.js';

/** The live event stream's wiring: where events come from, and its limits (see EventHubOptions). */
export interface EventStreamOptions
  extends Omit<EventHubOptions, 'visible' | 'scopeOf' | 'refreshPrincipal'> {
  /** The reconnection delay the stream suggests to EventSource (default 3,000 ms). */
  retryMs?: number;
  /** An in-process publication notice: called with the hub's wake-up; returns an unsubscribe. */
  subscribe?(wake: () => void): () => void;
}

type Query = Record<string, string | string[] | undefined>;

/** The resume point: the Last-Event-ID header (what EventSource sends on reconnection), else `?lastEventId=`. */
function resumePoint(header: unknown, q: Query): { cursor: StreamCursor; source: string } | null {
  if (typeof header === 'string' && header !== '')
    return { cursor: parseEventId(header, 'Last-Event-ID'), source: 'Last-Event-ID' };
  if (Array.isArray(header)) throw new ValidationError('Last-Event-ID: give it once');
  const v = q.lastEventId;
  if (Array.isArray(v)) throw new ValidationError(`lastEventId: give it once, got ${v.length} values`);
  if (v === undefined || v === '') return null;
  return { cursor: parseEventId(v, 'lastEventId'), source: 'lastEventId' };
}

/**
 * `GET /events`: Server-Sent Events of the alerts the caller's organisation may see (its scope, in
 * the catalog's SQL), filtered by `types=`, `collections=` and `bbox=`, resumable with
 * `Last-Event-ID`. Opening and closing a stream are audit records (`events.open`, `events.close`).
 */
export function eventRoutes(app: FastifyInstance, ctx: RouteContext, o: EventStreamOptions): EventHub {
  const { identity, authenticator, rules } = ctx.access;
  const hub = new EventHub({
    ...o,
    visible: (scope, items) => visibleItems(ctx.store, scope, items),
    scopeOf: (p) => scopeOf(p, rules),
    refreshPrincipal: (p: Principal) => {
      if (p.credential.startsWith('key:') && !identity.keyActive(p.credential.slice(4))) return null;
      if (p.credential.startsWith('jwt:') && authenticator.credentialExpiry(p) <= Date.now()) return null;
      return identity.resolve(p.id, p.credential);
    },
  });
  const retry = Buffer.from(sseRetry(o.retryMs ?? 3_000));
  const unsubscribe = o.subscribe?.(() => hub.wake());
  app.addHook('onReady', async () => hub.start());
  // Before the server waits for its connections to end: open streams would keep it waiting.
  app.addHook('preClose', async () => {
    unsubscribe?.();
    await hub.close();
  });

  app.get('/events', async (req, reply) => {
    const principal = requirePrincipal(req);
    const q = req.query as Query;
    const filter = parseStreamFilter(q);
    if (q.subscription !== undefined)
      throw new ValidationError('subscription: this server has no subscription store yet');
    const resume = resumePoint(req.headers['last-event-id'], q);
    if (resume) await hub.checkResume(resume.cursor, resume.source);
    const res = reply.raw;
    const pass = new PassThrough();
    const sink: StreamSink = {
      write: (chunk) => pass.write(chunk),
      onDrain: (cb) => pass.on('drain', cb),
      destroy: () => {
        pass.destroy();
        res.destroy();
      },
    };
    const openedMs = Date.now();
    const stream = hub.open({
      principal,
      scope: req.scope,
      filter,
      sink,
      resumeFrom: resume?.cursor ?? null,
      onClose: (reason, eventsSent) =>
        audit(ctx, req, {
          action: 'events.close',
          resource: '/events',
          result: reason,
          detail: { eventsSent, durationMs: Date.now() - openedMs },
        }),
    });
    res.on('close', () => stream.close('client'));
    audit(ctx, req, {
      action: 'events.open',
      resource: '/events',
      result: 'ok',
      detail: {
        types: filter.types,
        collections: filter.collections,
        bbox: filter.bbox,
        resumeFrom: resume ? `${resume.cursor.seq}-${resume.cursor.n}` : null,
      },
    });
    pass.write(retry);
    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no');
    return reply.send(pass);
  });
  return hub;
}
