/**
 * Subscriptions: a partner's users and clients (partner-admin, partner-analyst) create, list,
 * update, pause, resume, rotate the secret of and delete their organisation's subscriptions; the
 * provider may read all. Another organisation's subscription looks missing (404). A webhook URL is
 * checked against the egress policy and verified when it is set: a signed `sarbridge.test`
 * CloudEvent must get a 2xx within the timeout (no redirect followed), else 400 with the reason. The
 * signing secret is returned once, at creation and at rotation.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../access/scope.js';
import { attemptDelivery } from '../../alerts/deliver.js';
import { type EgressPolicy, resolveEndpoint } from '../../alerts/egress.js';
import { newWebhookSecret, signWebhook } from '../../alerts/sign.js';
import {
  type Subscription,
  type SubscriptionInput,
  validateSubscriptionInput,
} from '../../alerts/subscription.js';
import type { SubscriptionStore } from '../../alerts/subscription-store.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { audit, type RouteContext, requireRole } from '../context.js';

export interface SubscriptionRouteOptions {
  subscriptions: SubscriptionStore;
  egress: EgressPolicy;
  /** The verification request's whole timeout (default 10 s). */
  verifyTimeoutMs?: number;
  /** How long the old secret keeps signing after a rotation (default 24 h). */
  rotationGraceMs?: number;
}

/** What the API shows of a subscription: everything but the secrets. */
function view(s: Subscription): Record<string, unknown> {
  const { secrets, ...rest } = s;
  return { ...rest, secretCount: secrets.length };
}

export function subscriptionRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  o: SubscriptionRouteOptions,
): void {
  const store = o.subscriptions;
  const writer = (req: FastifyRequest) => requireRole(req, ['partner-admin', 'partner-analyst']);
  const reader = (req: FastifyRequest) =>
    requireRole(req, ['partner-admin', 'partner-analyst', 'provider-admin', 'provider-operator']);
  /** The organisation whose subscriptions the caller may see: its own, or null (all) for the provider. */
  const orgOf = (p: Principal) => (p.orgKind === 'provider' ? null : p.orgId);
  const missing = (id: string) => new NotFoundError(`subscription '${id}' does not exist`);
  const done = (req: FastifyRequest, id: string, op: string, detail: Record<string, unknown> = {}) =>
    audit(ctx, req, {
      action: 'subscription',
      resource: `/subscriptions/${id}`,
      result: 'ok',
      detail: { op, ...detail },
    });

  /** Egress check, then a signed test event that must get a 2xx. */
  const verify = async (url: string, secret: string) => {
    const ep = await resolveEndpoint(url, o.egress);
    const id = `test-${randomUUID()}`;
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      specversion: '1.0',
      id,
      source: ctx.publicUrl,
      type: 'sarbridge.test',
      time: new Date(ts * 1000).toISOString(),
      datacontenttype: 'application/json',
      data: { message: 'sarbridge webhook verification' },
    });
    const r = await attemptDelivery({
      url,
      address: ep.address,
      family: ep.family,
      webhookId: id,
      timestampS: ts,
      signature: signWebhook([secret], id, ts, body),
      body,
      timeoutMs: o.verifyTimeoutMs ?? 10_000,
    });
    if (r.status === null || r.status < 200 || r.status > 299)
      throw new ValidationError(
        `webhookUrl ${JSON.stringify(url)}: the signed test event got ${r.status === null ? 'no answer' : `HTTP ${r.status}`}${r.error ? ` (${r.error})` : ''}; a 2xx is needed`,
      );
  };

  app.post('/subscriptions', async (req, reply) => {
    const p = writer(req);
    const input = validateSubscriptionInput(req.body) as SubscriptionInput;
    const secret = input.webhookUrl ? newWebhookSecret() : null;
    if (input.webhookUrl && secret) await verify(input.webhookUrl, secret);
    const s = await store.create({ ...input, orgId: p.orgId, principalId: p.id, secret });
    done(req, s.id, 'create', { webhook: s.webhookUrl !== null });
    reply.status(201).header('location', `${ctx.publicUrl}/subscriptions/${s.id}`);
    return { ...view(s), ...(secret ? { secret } : {}) };
  });

  app.get('/subscriptions', async (req) => {
    const p = reader(req);
    return { subscriptions: (await store.list(orgOf(p))).map(view) };
  });

  app.get<{ Params: { id: string } }>('/subscriptions/:id', async (req) => {
    const p = reader(req);
    const s = await store.get(req.params.id, orgOf(p));
    if (!s) throw missing(req.params.id);
    return view(s);
  });

  app.patch<{ Params: { id: string } }>('/subscriptions/:id', async (req) => {
    const p = writer(req);
    const cur = await store.get(req.params.id, p.orgId);
    if (!cur) throw missing(req.params.id);
    const patch = validateSubscriptionInput(req.body, true);
    let secret: string | null = null;
    if (patch.webhookUrl && patch.webhookUrl !== cur.webhookUrl) {
      const live = cur.secrets[0]?.secret ?? null;
      secret = live ?? newWebhookSecret();
      await verify(patch.webhookUrl, secret);
      if (!live) {
        await store.rotateSecret(cur.id, p.orgId, secret, 0);
      } else secret = null;
    }
    const s = await store.update(cur.id, p.orgId, patch);
    if (!s) throw missing(req.params.id);
    done(req, s.id, 'update', { fields: Object.keys(patch) });
    return { ...view(s), ...(secret ? { secret } : {}) };
  });

  for (const [op, state] of [
    ['pause', 'paused'],
    ['resume', 'active'],
  ] as const) {
    app.post<{ Params: { id: string } }>(`/subscriptions/:id/${op}`, async (req) => {
      const p = writer(req);
      const s = await store.setState(req.params.id, p.orgId, state);
      if (!s) throw missing(req.params.id);
      done(req, s.id, op);
      return view(s);
    });
  }

  app.post<{ Params: { id: string } }>('/subscriptions/:id/rotate-secret', async (req) => {
    const p = writer(req);
    const cur = await store.get(req.params.id, p.orgId);
    if (!cur) throw missing(req.params.id);
    if (!cur.webhookUrl)
      throw new ValidationError('webhookUrl: the subscription has no webhook, so no secret');
    const secret = newWebhookSecret();
    const graceMs = o.rotationGraceMs ?? 24 * 3600_000;
    const s = await store.rotateSecret(cur.id, p.orgId, secret, graceMs);
    if (!s) throw missing(req.params.id);
    done(req, s.id, 'rotate-secret', { graceMs });
    return { ...view(s), secret };
  });

  app.delete<{ Params: { id: string } }>('/subscriptions/:id', async (req, reply) => {
    const p = writer(req);
    if (!(await store.delete(req.params.id, p.orgId))) throw missing(req.params.id);
    done(req, req.params.id, 'delete');
    reply.status(204);
    return null;
  });
}
