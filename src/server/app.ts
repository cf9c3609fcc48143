import Fastify, { type FastifyInstance } from 'fastify';
import type { CatalogStore } from '../catalog/store.js';
import type { AccessPolicy } from './access.js';
import { openAccess } from './access.js';
import { errorHandler } from './errors.js';
import { stacRoutes } from './stac-routes.js';

export interface ServerOptions {
  store: CatalogStore;
  policy?: AccessPolicy;
  /** Largest page (default 10,000). */
  maxLimit?: number;
  /** Largest request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  baseUrl?: string;
  logger?: boolean;
}

/** The HTTP server: the STAC API (and, as they land, tiles). */
export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: o.bodyLimit ?? 16 * 1024 * 1024 });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send({ code: 'NotFound', description: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  // GeoJSON bodies are JSON.
  app.addContentTypeParser(['application/geo+json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
  stacRoutes(app, {
    store: o.store,
    policy: o.policy ?? openAccess,
    maxLimit: o.maxLimit ?? 10_000,
    baseUrl: o.baseUrl,
  });
  await app.ready();
  return app;
}
