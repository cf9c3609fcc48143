import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { CatalogStore } from '../catalog/store.js';
import { NotFoundError } from '../errors.js';
import { Tiler } from '../tiler/tiler.js';
import type { AccessPolicy } from './access.js';
import { openAccess } from './access.js';
import { errorHandler } from './errors.js';
import { stacRoutes } from './stac-routes.js';
import { tileRoutes } from './tile-routes.js';

export interface ServerOptions {
  store: CatalogStore;
  policy?: AccessPolicy;
  /** Largest page (default 10,000). */
  maxLimit?: number;
  /** Largest request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  baseUrl?: string;
  logger?: boolean;
  /** Directory that relative asset hrefs are resolved against (for tiles). */
  assetRoot?: string;
  /** Decoded COG blocks kept for tiles, bytes (default 256 MiB). */
  blockCacheBytes?: number;
  /** Worker threads that warp and colour map tiles (default 2; 0 renders on the server's thread). */
  renderWorkers?: number;
  /** A folder served as-is under /static/{name} (files read from disk on every request). */
  staticDir?: string;
}

/** The HTTP server: the STAC API and map tiles. */
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
  const policy = o.policy ?? openAccess;
  stacRoutes(app, { store: o.store, policy, maxLimit: o.maxLimit ?? 10_000, baseUrl: o.baseUrl });
  const tiler = new Tiler({ blockCacheBytes: o.blockCacheBytes, renderWorkers: o.renderWorkers ?? 2 });
  tileRoutes(app, { store: o.store, tiler, policy, assetRoot: o.assetRoot, baseUrl: o.baseUrl });
  app.addHook('onClose', async () => tiler.close());
  if (o.staticDir) {
    const dir = o.staticDir;
    const types: Record<string, string> = {
      png: 'image/png',
      webp: 'image/webp',
      json: 'application/json',
      html: 'text/html',
    };
    app.get<{ Params: { name: string } }>('/static/:name', async (req, reply) => {
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
