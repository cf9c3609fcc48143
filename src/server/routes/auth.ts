import type { FastifyInstance } from 'fastify';
import { OAuthError, parseFormBody, parseTokenRequest } from '../../access/oauth.js';
import type { RouteContext } from '../context.js';

/**
 * OAuth2 client credentials (RFC 6749 4.4): `POST /oauth/token` exchanges a machine client's id and
 * secret for a short-lived JWT; `GET /.well-known/jwks.json` publishes the keys that verify it.
 */
export function authRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Body: unknown }>('/oauth/token', async (req, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const body = typeof req.body === 'string' ? parseFormBody(req.body, 16 * 1024) : req.body;
    const r = parseTokenRequest(req.headers, body);
    const who = {
      actor: `client:${r.clientId}`.slice(0, 80),
      org: null,
      resource: '/oauth/token',
      ip: req.ip,
      requestId: String(req.id),
    };
    const keys = [`ip:${req.ip}`, `${req.ip}|cred:client:${r.clientId.slice(0, 64)}`];
    ctx.access.authenticator.lockoutCheck(keys);
    const p = ctx.access.identity.authenticateClient(r.clientId, r.clientSecret);
    if (!p) {
      ctx.access.authenticator.lockoutFail(keys);
      ctx.access.audit.append({
        ...who,
        action: 'auth.failure',
        detail: { method: 'client_credentials' },
        result: 'deny',
      });
      throw new OAuthError('invalid_client', 'client authentication failed', { status: 401 });
    }
    const token = await ctx.access.tokens.issue({ sub: p.id, org: p.orgId, roles: p.roles, scope: r.scope });
    ctx.access.audit.append({
      ...who,
      actor: p.id,
      org: p.orgId,
      action: 'auth.token',
      detail: { method: 'client_credentials' },
      result: 'allow',
    });
    return token;
  });

  app.get('/.well-known/jwks.json', async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return ctx.access.tokens.jwks();
  });
}
