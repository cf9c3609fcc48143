import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../access/scope.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { audit, type RouteContext, requireRole } from '../context.js';

/**
 * Administration: organisations (the provider's admins), users, machine clients and API keys (a
 * partner-admin those of its own organisation only), and the audit log (a partner-admin reads its
 * own organisation's records). Another organisation's principals and keys look missing.
 */
export function adminRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const id = ctx.access.identity;
  const admin = (req: FastifyRequest) => requireRole(req, ['provider-admin', 'partner-admin']);
  const providerAdmin = (req: FastifyRequest) => requireRole(req, ['provider-admin']);
  const isProviderAdmin = (p: Principal) => p.roles.includes('provider-admin') && p.orgKind === 'provider';
  /** The organisation if this admin manages it; otherwise the same 404 as a missing one. */
  const managedOrg = (p: Principal, orgId: string) => {
    const o = id.getOrganisation(orgId);
    if (!o || (!isProviderAdmin(p) && o.id !== p.orgId))
      throw new NotFoundError(`organisation '${orgId}' does not exist`);
    return o;
  };
  const done = (req: FastifyRequest, resource: string, op: string, detail: Record<string, unknown> = {}) =>
    audit(ctx, req, { action: 'admin', resource, result: 'ok', detail: { op, ...detail } });
  const body = (req: FastifyRequest) => {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))
      throw new ValidationError('the body must be a JSON object');
    return req.body as Record<string, unknown>;
  };

  app.get('/admin/organisations', async (req) => {
    const p = admin(req);
    return { organisations: isProviderAdmin(p) ? id.listOrganisations() : [managedOrg(p, p.orgId)] };
  });

  app.post('/admin/organisations', async (req, reply) => {
    providerAdmin(req);
    const o = id.createOrganisation(body(req));
    done(req, `/admin/organisations/${o.id}`, 'create');
    reply.status(201);
    return o;
  });

  app.get<{ Params: { org: string } }>('/admin/organisations/:org', async (req) =>
    managedOrg(admin(req), req.params.org),
  );

  app.patch<{ Params: { org: string } }>('/admin/organisations/:org', async (req) => {
    providerAdmin(req);
    const o = id.updateOrganisation(req.params.org, body(req));
    done(req, `/admin/organisations/${o.id}`, 'update');
    return o;
  });

  app.get<{ Params: { org: string } }>('/admin/organisations/:org/principals', async (req) => {
    const o = managedOrg(admin(req), req.params.org);
    return { principals: id.listPrincipals(o.id) };
  });

  for (const kind of ['user', 'client'] as const)
    app.post<{ Params: { org: string } }>(`/admin/organisations/:org/${kind}s`, async (req, reply) => {
      const o = managedOrg(admin(req), req.params.org);
      const r = id.createPrincipal(o.id, kind, body(req));
      done(req, `/admin/principals/${r.principal.id}`, 'create');
      reply.status(201);
      return {
        ...r.principal,
        ...(r.clientSecret ? { client_id: r.principal.id.slice(7), client_secret: r.clientSecret } : {}),
      };
    });

  /** The principal if this admin manages its organisation; otherwise the same 404 as a missing one. */
  const managedPrincipal = (p: Principal, pid: string) => {
    const r = id.getPrincipalRecord(pid);
    if (!r || (!isProviderAdmin(p) && r.orgId !== p.orgId))
      throw new NotFoundError(`principal '${pid}' does not exist`);
    return r;
  };

  app.post<{ Params: { pid: string } }>('/admin/principals/:pid/keys', async (req, reply) => {
    const r = managedPrincipal(admin(req), req.params.pid);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const k = id.createKey(r.id, {
      name: typeof b.name === 'string' ? b.name : undefined,
      expiresInDays: b.expiresInDays === undefined ? undefined : (b.expiresInDays as number),
    });
    done(req, `/admin/keys/${k.info.prefix}`, 'create', { principal: r.id });
    reply.status(201);
    return { key: k.key, ...k.info };
  });

  app.patch<{ Params: { pid: string } }>('/admin/principals/:pid', async (req) => {
    const r = managedPrincipal(admin(req), req.params.pid);
    const b = body(req);
    if (typeof b.disabled !== 'boolean') throw new ValidationError('disabled: must be true or false');
    id.setDisabled(r.id, b.disabled);
    done(req, `/admin/principals/${r.id}`, b.disabled ? 'disable' : 'enable');
    return id.getPrincipalRecord(r.id);
  });

  app.get('/admin/keys', async (req) => {
    const p = admin(req);
    return { keys: id.listKeys(isProviderAdmin(p) ? undefined : p.orgId) };
  });

  app.delete<{ Params: { prefix: string } }>('/admin/keys/:prefix', async (req, reply) => {
    const p = admin(req);
    const k = id.keyInfo(req.params.prefix);
    if (!k || (!isProviderAdmin(p) && k.orgId !== p.orgId))
      throw new NotFoundError(`key '${req.params.prefix}' does not exist`);
    id.revokeKey(k.prefix);
    done(req, `/admin/keys/${k.prefix}`, 'revoke');
    reply.status(204);
    return null;
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/audit', async (req) => {
    const p = admin(req);
    const q = req.query;
    const int = (v: string | undefined, name: string, dflt: number) => {
      if (v === undefined) return dflt;
      if (!/^\d{1,9}$/.test(v)) throw new ValidationError(`${name}: must be a whole number, got '${v}'`);
      return Number(v);
    };
    if (!isProviderAdmin(p) && q.org !== undefined && q.org !== p.orgId)
      throw new NotFoundError(`organisation '${q.org}' does not exist`);
    const records = ctx.access.audit.query({
      org: isProviderAdmin(p) ? q.org : p.orgId,
      actor: q.actor,
      action: q.action,
      since: q.since,
      until: q.until,
      afterSeq: q.after === undefined ? undefined : int(q.after, 'after', 0),
      limit: int(q.limit, 'limit', 100),
    });
    return { records };
  });
}
