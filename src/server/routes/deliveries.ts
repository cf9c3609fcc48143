/**
 * A subscription's webhook deliveries, for its organisation: `GET /subscriptions/{id}/deliveries`
 * (optionally `?state=dead`: the dead letters, in event order, paged with `after`) and
 * `POST /subscriptions/{id}/deliveries/{deliveryId}/redeliver` (a dead letter sent again with a
 * fresh schedule and the same webhook-id; 202). Only principals of the subscription's organisation
 * (or the provider) see them; to anyone else a subscription looks exactly like a missing one (404).
 * Every redelivery is an audit record.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isProvider } from '../../access/scope.js';
import type { DeliveryStore } from '../../alerts/delivery-store.js';
import { DELIVERY_STATES, type DeliveryRecord, type DeliveryState } from '../../alerts/delivery-store.js';
import type { WebhookDispatcher } from '../../alerts/dispatch.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { audit, type RouteContext, requirePrincipal } from '../context.js';

export interface DeliveryRouteOptions {
  deliveries: DeliveryStore;
  dispatcher: Pick<WebhookDispatcher, 'redeliver'>;
  /** The organisation owning a subscription, or null when there is none. */
  subscriptionOrg(id: string): Promise<string | null>;
}

const ID = /^[A-Za-z0-9._:-]{1,200}$/;
type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new ValidationError(`${name}: give it once, got ${v.length} values`);
  return v;
}

/** A delivery as the API shows it (the event's data left out: it is what was sent). */
function view(ctx: RouteContext, d: DeliveryRecord) {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    eventId: d.eventId,
    webhookId: d.webhookId,
    type: d.event.type,
    item: { collection: d.event.collection, id: d.event.itemId },
    state: d.state,
    attempts: d.attempts,
    firstAttemptAt: d.firstAttemptAt,
    lastAttemptAt: d.lastAttemptAt,
    nextAttemptAt: d.nextAttemptAt,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    deliveredAt: d.deliveredAt,
    createdAt: d.createdAt,
    links: [
      {
        rel: 'redeliver',
        href: `${ctx.publicUrl}/subscriptions/${encodeURIComponent(d.subscriptionId)}/deliveries/${d.id}/redeliver`,
        method: 'POST',
      },
    ],
  };
}

export async function deliveryRoutes(app: FastifyInstance, ctx: RouteContext, o: DeliveryRouteOptions) {
  /** The subscription if the caller's organisation owns it (or the caller is the provider); else 404. */
  const owned = async (req: FastifyRequest, id: string): Promise<string> => {
    const p = requirePrincipal(req);
    const missing = new NotFoundError(`subscription '${id.slice(0, 200)}' does not exist`);
    if (!ID.test(id)) throw missing;
    const org = await o.subscriptionOrg(id);
    if (org === null || (org !== p.orgId && !isProvider(p))) throw missing;
    return org;
  };

  app.get<{ Params: { id: string }; Querystring: Query }>('/subscriptions/:id/deliveries', async (req) => {
    await owned(req, req.params.id);
    const q = req.query;
    const state = one(q, 'state');
    if (state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(state))
      throw new ValidationError(
        `state: expected one of ${DELIVERY_STATES.join(', ')}, got '${state.slice(0, 40)}'`,
      );
    const limitText = one(q, 'limit') ?? '100';
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000)
      throw new ValidationError(
        `limit: expected a whole number from 1 to 1000, got '${limitText.slice(0, 40)}'`,
      );
    const after = one(q, 'after');
    if (after !== undefined && !/^d[1-9][0-9]{0,15}$/.test(after))
      throw new ValidationError(`after: expected a delivery id d<n>, got '${after.slice(0, 40)}'`);
    const limit = Number(limitText);
    const rows = await o.deliveries.list(req.params.id, {
      state: state as DeliveryState | undefined,
      limit,
      afterId: after,
    });
    const self = `${ctx.publicUrl}/subscriptions/${encodeURIComponent(req.params.id)}/deliveries`;
    const qs = (extra: Record<string, string>) =>
      new URLSearchParams({ ...(state ? { state } : {}), limit: String(limit), ...extra }).toString();
    return {
      deliveries: rows.map((d) => view(ctx, d)),
      links: [
        { rel: 'self', href: `${self}?${qs(after ? { after } : {})}`, type: 'application/json' },
        ...(rows.length === limit
          ? [{ rel: 'next', href: `${self}?${qs({ after: rows.at(-1)!.id })}`, type: 'application/json' }]
          : []),
      ],
    };
  });

  app.post<{ Params: { id: string; deliveryId: string } }>(
    '/subscriptions/:id/deliveries/:deliveryId/redeliver',
    async (req, reply) => {
      await owned(req, req.params.id);
      const d = await o.deliveries.get(req.params.deliveryId);
      if (d === null || d.subscriptionId !== req.params.id)
        throw new NotFoundError(`delivery '${req.params.deliveryId.slice(0, 40)}' does not exist`);
      const resource = `/subscriptions/${req.params.id}/deliveries/${d.id}`;
      if (d.state !== 'dead') {
        audit(ctx, req, {
          action: 'webhook.redeliver',
          resource,
          result: 'conflict',
          detail: { state: d.state },
        });
        throw new ConflictError(`delivery ${d.id} is ${d.state}; only a dead delivery is redelivered`);
      }
      if (!(await o.dispatcher.redeliver(d.id)))
        throw new ConflictError(`delivery ${d.id} is no longer dead`);
      audit(ctx, req, {
        action: 'webhook.redeliver',
        resource,
        result: 'ok',
        detail: { webhookId: d.webhookId },
      });
      const now = await o.deliveries.get(d.id);
      return reply.status(202).send(view(ctx, now ?? d));
    },
  );
}
