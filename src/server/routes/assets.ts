import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_SIGNED_TTL_MS } from '../../access/signed-url.js';
import type { StacItem } from '../../catalog/types.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { ObjectReader } from '../../store/store.js';
import { assetPath, audit, privateResponse, type RouteContext, requirePrincipal } from '../context.js';
import { ifRangeMatches, notModified, parseRange } from '../http-conditional.js';

/**
 * The store key of an item's asset: a relative href, or a legacy absolute path inside a local store's
 * root, or an s3:// URL inside the S3 store (NotFoundError for anything else).
 */
export function storedKey(ctx: RouteContext, it: StacItem, key: string): string {
  const a = it.assets?.[key];
  if (!a || !ctx.objects) throw new NotFoundError(`item '${it.id}' has no asset '${key}'`);
  const rel = ctx.objects.keyOf(String(a.href));
  if (rel === null) throw new NotFoundError(`item '${it.id}' has no asset '${key}'`);
  return rel;
}

/** The real path of an item's asset inside the local asset storage (NotFoundError for anything else). */
export async function storedAssetPath(ctx: RouteContext, it: StacItem, key: string): Promise<string> {
  const rel = storedKey(ctx, it, key);
  if (!ctx.assets) throw new NotFoundError(`asset '${rel}' not found`);
  return ctx.assets.resolve(rel);
}

/**
 * Open a stored asset by key for reading. A key that is not a valid path answers as a missing file
 * does (the asset storage's rule), so hrefs that cannot name a stored file all look alike.
 */
export async function openStored(ctx: RouteContext, rel: string): Promise<ObjectReader> {
  if (!ctx.objects) throw new NotFoundError(`asset '${rel}' not found`);
  try {
    return await ctx.objects.source(rel);
  } catch (err) {
    if (err instanceof ValidationError) throw new NotFoundError(`asset '${rel}' not found`);
    throw err;
  }
}

/**
 * Item assets over HTTP, under the caller's scope: Range requests (one range), ETag, Last-Modified,
 * If-None-Match, If-Range, so GDAL's /vsicurl/, QGIS, rasterio and browsers read COGs directly; and
 * signed, expiring URLs for tools that cannot send an Authorization header.
 */
export function assetRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const itemOf = async (req: FastifyRequest, c: string, i: string): Promise<StacItem> => {
    requirePrincipal(req);
    const it = await ctx.store.getItem(c, i, req.scope);
    if (!it) {
      if (!(await ctx.store.getCollection(c, req.scope)))
        throw new NotFoundError(`collection '${c}' does not exist`);
      throw new NotFoundError(`item '${i}' does not exist in collection '${c}'`);
    }
    return it;
  };

  app.get<{ Params: { c: string; i: string; key: string } }>(
    '/collections/:c/items/:i/assets/:key',
    async (req, reply) => {
      const it = await itemOf(req, req.params.c, req.params.i);
      const file = await openStored(ctx, storedKey(ctx, it, req.params.key));
      const { etag, mtimeMs } = file.object;
      privateResponse(reply);
      reply
        .header('accept-ranges', 'bytes')
        .header('etag', etag)
        .header('last-modified', file.lastModified)
        .type(String(it.assets[req.params.key].type ?? 'application/octet-stream'));
      if (notModified(req.headers, etag, mtimeMs)) {
        await file.close();
        reply.status(304);
        return reply.send();
      }
      const ifRange = req.headers['if-range'];
      let range = parseRange(req.headers.range, file.size);
      if (range !== null && !ifRangeMatches(typeof ifRange === 'string' ? ifRange : undefined, etag, mtimeMs))
        range = null;
      if (range === 'unsatisfiable') {
        await file.close();
        reply
          .status(416)
          .header('content-range', `bytes */${file.size}`)
          .type('application/json; charset=utf-8');
        return reply.send({ code: 'RangeNotSatisfiable', description: `the asset has ${file.size} bytes` });
      }
      const length = range ? range.end - range.start + 1 : file.size;
      if (range) reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
      reply.header('content-length', String(length));
      audit(ctx, req, {
        action: 'download',
        resource: assetPath(req.params.c, req.params.i, req.params.key),
        result: 'allow',
        detail: { bytes: req.method === 'HEAD' ? 0 : length, range: range ? [range.start, range.end] : null },
      });
      // HEAD: Fastify sends the headers of this GET, Content-Length included, without the body.
      return reply.send(file.stream(range));
    },
  );

  app.get<{ Params: { c: string; i: string; key: string }; Querystring: { expires?: string } }>(
    '/collections/:c/items/:i/assets/:key/signed',
    async (req) => {
      const p = requirePrincipal(req);
      const it = await itemOf(req, req.params.c, req.params.i);
      storedKey(ctx, it, req.params.key);
      const e = req.query.expires ?? '3600';
      if (!/^\d{1,6}$/.test(e) || Number(e) < 1 || Number(e) * 1000 > MAX_SIGNED_TTL_MS)
        throw new ValidationError(
          `expires: must be whole seconds from 1 to ${MAX_SIGNED_TTL_MS / 1000}, got '${e}'`,
        );
      const path = assetPath(req.params.c, req.params.i, req.params.key);
      const notAfter = ctx.access.authenticator.credentialExpiry(p);
      const token = ctx.access.signer.sign(
        { principalId: p.id, credential: p.credential, path },
        Number(e) * 1000,
        notAfter,
      );
      const expMs = Math.min(Date.now() + Number(e) * 1000, notAfter);
      audit(ctx, req, {
        action: 'sign',
        resource: path,
        result: 'allow',
        detail: { expires: new Date(expMs).toISOString() },
      });
      return {
        href: `${ctx.publicUrl}${path}?token=${encodeURIComponent(token)}`,
        expires: new Date(expMs).toISOString(),
      };
    },
  );
}
