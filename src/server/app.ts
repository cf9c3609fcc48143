import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { scopeOf } from '../access/scope.js';
import type { CatalogStore } from '../catalog/store.js';
import { NotFoundError } from '../errors.js';
import type { AssetStorage } from '../io/asset-storage.js';
import type { PipelineContext } from '../pipeline/context.js';
import { LocalStore } from '../store/local-store.js';
import type { AssetStore } from '../store/store.js';
import { Tiler } from '../tiler/tiler.js';
import { type AccessContext, type RouteContext, requireRole } from './context.js';
import { corsRoutes, parseCorsOrigins } from './cors.js';
import { errorHandler } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { assetRoutes } from './routes/assets.js';
import { authRoutes } from './routes/auth.js';
import { type DeliveryRouteOptions, deliveryRoutes } from './routes/deliveries.js';
import { type EventStreamOptions, eventRoutes } from './routes/events.js';
import { jobRoutes } from './routes/jobs.js';
import { landingRoutes } from './routes/landing.js';
import { ogcTileRoutes } from './routes/ogc-tiles.js';
import { stacRoutes } from './routes/stac.js';
import { type SubscriptionRouteOptions, subscriptionRoutes } from './routes/subscriptions.js';
import { tileRoutes } from './routes/tiles.js';
import { transactionRoutes } from './routes/transactions.js';
import { type UploadOptions, uploadRoutes } from './routes/uploads.js';
import { wmtsRoutes } from './routes/wmts.js';

export interface ServerOptions {
  store: CatalogStore;
  access: AccessContext;
  /** Public base URL of the API, the base of every link (default http://localhost). */
  publicUrl?: string;
  /** The asset storage: the only place asset files are read from (none: no assets are served). */
  assets?: AssetStorage | null;
  /**
   * Where downloads and tiles read assets (e.g. an S3 store); default a LocalStore over `assets`.
   * The server does not close it.
   */
  assetStore?: AssetStore | null;
  /** Largest page (default 10,000). */
  maxLimit?: number;
  /** Largest request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  /** Log level ('warn' logs every 5xx with its request id; false: nothing). */
  logger?: false | 'error' | 'warn' | 'info';
  /** Decoded COG blocks kept for tiles, bytes (default 256 MiB). */
  blockCacheBytes?: number;
  /** Worker threads that warp and colour map tiles (default 2; 0 renders on the server's thread). */
  renderWorkers?: number;
  /** A folder served as-is under /static/{name} to the provider (files read from disk on every request). */
  staticDir?: string;
  /**
   * Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed, so the audit log,
   * the rate limit and the lock-out see the client's address, not the proxy's (default: none).
   */
  trustProxy?: string[];
  /**
   * Origins (scheme://host[:port]) whose scripts may read the API from a browser (CORS); default
   * none: no Access-Control-* header is sent and every preflight is refused.
   */
  corsOrigins?: string[];
  /** The pipeline whose jobs and products `/admin/jobs` and `/admin/products` show (none: no such routes). */
  pipeline?: PipelineContext | null;
  /** Resumable product uploads into the pipeline (`/uploads`, tus); none: no such routes. Needs `pipeline`. */
  uploads?: UploadOptions | null;
  /** Webhook deliveries and dead letters (`/subscriptions/{id}/deliveries`); none: no such routes. */
  deliveries?: DeliveryRouteOptions | null;
  /** Alert subscriptions (`/subscriptions`); none: no such routes. */
  subscriptions?: SubscriptionRouteOptions | null;
  /** The live event stream `/events` (Server-Sent Events from the outbox); none: no such route. */
  events?: EventStreamOptions | null;
}

/** Paths anyone may read without a credential: the landing page, conformance, API description, token endpoints. */
const PUBLIC = /^\/(|conformance|api|oauth\/token|\.well-known\/jwks\.json|tileMatrixSets(\/[^/]+)?)$/;

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'geolocation=(), camera=(), microphone=()',
};

/** The HTTP server: the STAC API, map tiles, assets, the token endpoint and administration. */
export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const corsOrigins = parseCorsOrigins(o.corsOrigins ?? [], 'corsOrigins');
  const app = Fastify({
    logger: o.logger ? { level: o.logger } : false,
    bodyLimit: o.bodyLimit ?? 16 * 1024 * 1024,
    genReqId: () => randomUUID(),
    trustProxy: o.trustProxy && o.trustProxy.length > 0 ? o.trustProxy : false,
    requestIdHeader: false,
    routerOptions: { maxParamLength: 512 },
  });
  const publicUrl = (o.publicUrl ?? 'http://localhost').replace(/\/+$/, '');
  const ctx: RouteContext = {
    store: o.store,
    access: o.access,
    publicUrl,
    assets: o.assets ?? null,
    objects: o.assetStore ?? (o.assets ? LocalStore.of(o.assets) : null),
    maxLimit: o.maxLimit ?? 10_000,
  };
  app.setErrorHandler(errorHandler(!o.logger));
  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send({ code: 'NotFound', description: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  // GeoJSON bodies are JSON; the token endpoint takes forms (RFC 6749 4.4.2).
  app.addContentTypeParser(['application/geo+json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => done(null, body),
  );

  app.decorateRequest('principal', null);
  app.decorateRequest('scope', null as never);
  // The one place a request becomes a principal, and the principal a scope.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', String(req.id));
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (publicUrl.startsWith('https:')) reply.header('strict-transport-security', 'max-age=31536000');
    const url = new URL(req.url, 'http://x');
    const token = url.searchParams.get('token');
    // The token endpoint authenticates its clients itself (HTTP Basic or the form, RFC 6749 2.3.1).
    req.principal =
      url.pathname === '/oauth/token'
        ? null
        : await o.access.authenticator.authenticate({
            authorization: req.headers.authorization,
            signedToken: token ?? undefined,
            path: url.pathname,
            ip: req.ip,
            requestId: String(req.id),
          });
    req.scope = scopeOf(req.principal, o.access.rules);
    if (req.principal === null && !PUBLIC.test(url.pathname) && req.method !== 'OPTIONS') {
      reply
        .status(401)
        .header('www-authenticate', 'Bearer realm="sarbridge"')
        .send({
          code: 'Unauthorized',
          description: 'authentication required: send "Authorization: Bearer <API key or access token>"',
          requestId: String(req.id),
        });
      return reply;
    }
    if (req.principal !== null) {
      reply.header('cache-control', 'private, no-cache');
      reply.header('vary', 'Authorization');
    }
  });

  corsRoutes(app, corsOrigins);
  landingRoutes(app, ctx);
  stacRoutes(app, ctx);
  transactionRoutes(app, ctx);
  const tiler = new Tiler({ blockCacheBytes: o.blockCacheBytes, renderWorkers: o.renderWorkers ?? 2 });
  tileRoutes(app, ctx, tiler);
  wmtsRoutes(app, ctx, tiler);
  ogcTileRoutes(app, ctx, tiler);
  assetRoutes(app, ctx);
  authRoutes(app, ctx);
  adminRoutes(app, ctx);
  if (o.pipeline) jobRoutes(app, ctx, o.pipeline);
  if (o.pipeline && o.uploads) uploadRoutes(app, ctx, o.pipeline, o.uploads);
  if (o.subscriptions) subscriptionRoutes(app, ctx, o.subscriptions);
  if (o.events) eventRoutes(app, ctx, o.events);
  if (o.deliveries) await deliveryRoutes(app, ctx, o.deliveries);
  app.addHook('onClose', async () => tiler.close());
  if (o.staticDir) {
    const dir = o.staticDir;
    const types: Record<string, string> = {
      png: 'image/png',
      webp: 'image/webp',
      json: 'application/json',
      html: 'text/html',
    };
    // Outside the catalog and its labels: the provider's only.
    app.get<{ Params: { name: string } }>('/static/:name', async (req, reply) => {
      requireRole(req, ['provider-admin', 'provider-operator']);
      const name = basename(req.params.name);
      let body: Buffer;
      try {
        body = await readFile(join(dir, name));
      } catch {
        throw new NotFoundError(`no static file '${name}'`);
      }
      reply.type(types[extname(name).slice(1)] ?? 'application/octet-stream');
      return reply.send(body);
    });
  }
  await app.ready();
  return app;
}
