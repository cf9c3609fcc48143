import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LABEL_FIELD, labelToXml } from '../../access/labels.js';
import { queryablesSchema } from '../../catalog/queryables.js';
import { parseSearch } from '../../catalog/search-params.js';
import type { SearchParams, StacLink } from '../../catalog/types.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import {
  audit,
  GEOJSON,
  itemPath,
  publicItem,
  type RouteContext,
  requirePrincipal,
  scopedCollection,
  scopedItem,
} from '../context.js';
import { collectionDoc } from '../stac-docs.js';
import { entityTag } from './transactions.js';

/** The STAC API reads: collections, features, item search with its extensions, labels. */
export function stacRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const b = ctx.publicUrl;

  const page = async (
    req: FastifyRequest,
    params: SearchParams,
    selfPath: string,
    method: 'GET' | 'POST',
    raw: Record<string, unknown>,
  ) => {
    requirePrincipal(req);
    const result = await store.search(params, req.scope);
    audit(ctx, req, {
      action: 'search',
      resource: selfPath,
      result: 'ok',
      detail: { ...searchSummary(raw), returned: result.items.length },
    });
    const links: StacLink[] = [{ rel: 'root', href: `${b}/`, type: 'application/json' }];
    if (result.next) {
      if (method === 'GET') {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(raw)) if (k !== 'token' && v !== undefined) q.set(k, String(v));
        q.set('token', result.next);
        links.push({ rel: 'next', href: `${b}${selfPath}?${q}`, type: GEOJSON, method: 'GET' });
      } else
        links.push({
          rel: 'next',
          href: `${b}${selfPath}`,
          type: GEOJSON,
          method: 'POST',
          body: { ...raw, token: result.next },
          merge: false,
        });
    }
    return {
      type: 'FeatureCollection',
      features: result.items.map((it) => (it.links ? publicItem(b, it) : it)),
      links,
      numberReturned: result.items.length,
      ...(result.matched !== null ? { numberMatched: result.matched } : {}),
    };
  };

  app.get('/queryables', async (req, reply) => {
    requirePrincipal(req);
    reply.type('application/schema+json');
    return queryablesSchema(b);
  });

  app.get('/collections', async (req) => ({
    collections: (await store.listCollections(req.scope)).map((c) => collectionDoc(b, c)),
    links: [
      { rel: 'self', href: `${b}/collections`, type: 'application/json' },
      { rel: 'root', href: `${b}/`, type: 'application/json' },
    ],
  }));

  /** The collection if the caller may see it; hidden and missing answer the same 404. */
  const mustCollection = (req: FastifyRequest, id: string) => scopedCollection(ctx, req, id);
  const mustItem = (req: FastifyRequest, collection: string, id: string) =>
    scopedItem(ctx, req, collection, id);

  app.get<{ Params: { id: string } }>('/collections/:id', async (req) => {
    const c = await mustCollection(req, req.params.id);
    audit(ctx, req, { action: 'read', resource: `/collections/${c.id}`, result: 'allow' });
    return collectionDoc(b, c);
  });

  app.get<{ Params: { id: string } }>('/collections/:id/queryables', async (req, reply) => {
    await mustCollection(req, req.params.id);
    reply.type('application/schema+json');
    return queryablesSchema(b, req.params.id);
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/collections/:id/items',
    async (req, reply) => {
      await mustCollection(req, req.params.id);
      const raw = { ...req.query };
      if (raw.collections !== undefined)
        throw new ValidationError('collections is not a parameter of /collections/{id}/items');
      const params = parseSearch(raw, { maxLimit: ctx.maxLimit });
      params.collections = [req.params.id];
      reply.type(GEOJSON);
      return page(req, params, `/collections/${req.params.id}/items`, 'GET', raw);
    },
  );

  app.get<{ Params: { id: string; itemId: string } }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const it = await mustItem(req, req.params.id, req.params.itemId);
      audit(ctx, req, { action: 'read', resource: itemPath(req.params.id, it.id), result: 'allow' });
      reply.type(GEOJSON);
      // The transaction extension's optimistic locking: the tag a later If-Match names.
      reply.header('etag', entityTag(it));
      return publicItem(b, it, req.params.id);
    },
  );

  // The label as ADatP-4774 XML, for coalition systems: the item's own or its collection's.
  app.get<{ Params: { id: string } }>('/collections/:id/label.xml', async (req, reply) => {
    const c = await mustCollection(req, req.params.id);
    const raw = c[LABEL_FIELD];
    if (raw === undefined)
      throw new NotFoundError(`collection '${c.id}' has no label (it is the provider's only)`);
    reply.type('application/xml');
    return labelToXml(ctx.access.rules.parse(raw, `/${LABEL_FIELD}`));
  });

  app.get<{ Params: { id: string; itemId: string } }>(
    '/collections/:id/items/:itemId/label.xml',
    async (req, reply) => {
      const it = await mustItem(req, req.params.id, req.params.itemId);
      const raw = it.properties[LABEL_FIELD] ?? (await mustCollection(req, req.params.id))[LABEL_FIELD];
      if (raw === undefined)
        throw new NotFoundError(`item '${it.id}' has no label (it is the provider's only)`);
      reply.type('application/xml');
      return labelToXml(ctx.access.rules.parse(raw, LABEL_FIELD));
    },
  );

  app.get<{ Querystring: Record<string, unknown> }>('/search', async (req, reply) => {
    const raw = { ...req.query };
    reply.type(GEOJSON);
    return page(req, parseSearch(raw, { maxLimit: ctx.maxLimit }), '/search', 'GET', raw);
  });

  app.post<{ Body: unknown }>('/search', async (req, reply) => {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))
      throw new ValidationError('the search body must be a JSON object');
    const raw = req.body as Record<string, unknown>;
    reply.type(GEOJSON);
    return page(req, parseSearch(raw, { maxLimit: ctx.maxLimit, from: 'body' }), '/search', 'POST', raw);
  });
}

/**
 * A search's parameters as the audit log keeps them: the JSON text (cut at 4 KiB, so a 5,000-id
 * search does not fill the log) and the SHA-256 of the whole of it.
 */
function searchSummary(raw: Record<string, unknown>): Record<string, unknown> {
  const text = JSON.stringify(raw);
  return {
    params: text.length > 4096 ? `${text.slice(0, 4096)}...` : text,
    paramsSha256: createHash('sha256').update(text).digest('hex'),
  };
}
