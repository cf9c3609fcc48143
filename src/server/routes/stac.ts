import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LABEL_FIELD, labelToXml } from '../../access/labels.js';
import { queryablesSchema } from '../../catalog/queryables.js';
import { parseSearch } from '../../catalog/search-params.js';
import type { SearchParams, StacCollection, StacItem, StacLink } from '../../catalog/types.js';
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
import { collectionDoc, collectionTitle, ROOT_TITLE } from '../stac-docs.js';
import { entityTag } from './transactions.js';

/** The STAC API reads: collections, features, item search with its extensions, labels. */
export function stacRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const b = ctx.publicUrl;

  /**
   * One page of items: the search in the caller's scope, its links (self, root, next; for a
   * collection's items also parent and collection), numberReturned and, when counted, numberMatched.
   */
  const page = async (
    req: FastifyRequest,
    params: SearchParams,
    at: { path: string; method: 'GET' | 'POST'; raw: Record<string, unknown>; collection?: StacCollection },
  ) => {
    requirePrincipal(req);
    const { path, method, raw, collection } = at;
    const result = await store.search(params, req.scope);
    audit(ctx, req, {
      action: 'search',
      resource: path,
      result: 'ok',
      detail: { ...searchSummary(raw), returned: result.items.length },
    });
    const what = collection ? `Items of ${collectionTitle(collection)}` : 'Search results';
    const query = (token: string | null) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(raw))
        if (k !== 'token' && v !== undefined) for (const x of [v].flat()) q.append(k, String(x));
      if (token !== null) q.set('token', token);
      const text = q.toString();
      return `${b}${path}${text ? `?${text}` : ''}`;
    };
    const links: StacLink[] = [
      method === 'GET'
        ? { rel: 'self', href: query(params.token ?? null), type: GEOJSON, title: what }
        : { rel: 'self', href: `${b}${path}`, type: GEOJSON, method: 'POST', body: raw, title: what },
      { rel: 'root', href: `${b}/`, type: 'application/json', title: ROOT_TITLE },
    ];
    if (collection) {
      const c = { href: `${b}/collections/${collection.id}`, type: 'application/json' };
      links.push(
        { rel: 'parent', ...c, title: collectionTitle(collection) },
        { rel: 'collection', ...c, title: collectionTitle(collection) },
      );
    }
    if (result.next)
      links.push(
        method === 'GET'
          ? { rel: 'next', href: query(result.next), type: GEOJSON, method: 'GET', title: 'Next page' }
          : {
              rel: 'next',
              href: `${b}${path}`,
              type: GEOJSON,
              method: 'POST',
              body: { ...raw, token: result.next },
              merge: false,
              title: 'Next page',
            },
      );
    const titles = await collectionTitles(req, result.items, collection);
    return {
      type: 'FeatureCollection',
      features: result.items.map((it) =>
        it.links ? publicItem(b, it, it.collection, titles.get(it.collection as string)) : it,
      ),
      links,
      numberReturned: result.items.length,
      ...(result.matched !== null ? { numberMatched: result.matched } : {}),
    };
  };

  /** The titles of the collections of a page's items, for their links (one scoped lookup each). */
  const collectionTitles = async (
    req: FastifyRequest,
    items: StacItem[],
    known?: StacCollection,
  ): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    if (known) out.set(known.id, collectionTitle(known));
    for (const id of new Set(items.map((it) => it.collection as string)))
      if (!out.has(id)) {
        const c = await store.getCollection(id, req.scope);
        out.set(id, c ? collectionTitle(c) : id);
      }
    return out;
  };

  /** Collections as documents with the summaries of the items the caller may see. */
  const withSummaries = async (req: FastifyRequest, list: StacCollection[]) => {
    const sums = await store.summarize(
      list.map((c) => c.id),
      req.scope,
    );
    return list.map((c) => collectionDoc(b, c, sums.get(c.id)));
  };

  app.get('/queryables', async (req, reply) => {
    requirePrincipal(req);
    reply.type('application/schema+json');
    return queryablesSchema(b);
  });

  app.get('/collections', async (req) => ({
    collections: await withSummaries(req, await store.listCollections(req.scope)),
    links: [
      { rel: 'self', href: `${b}/collections`, type: 'application/json', title: 'Collections' },
      { rel: 'root', href: `${b}/`, type: 'application/json', title: ROOT_TITLE },
    ],
  }));

  /** The collection if the caller may see it; hidden and missing answer the same 404. */
  const mustCollection = (req: FastifyRequest, id: string) => scopedCollection(ctx, req, id);
  const mustItem = (req: FastifyRequest, collection: string, id: string) =>
    scopedItem(ctx, req, collection, id);

  app.get<{ Params: { id: string } }>('/collections/:id', async (req) => {
    const c = await mustCollection(req, req.params.id);
    audit(ctx, req, { action: 'read', resource: `/collections/${c.id}`, result: 'allow' });
    return (await withSummaries(req, [c]))[0];
  });

  app.get<{ Params: { id: string } }>('/collections/:id/queryables', async (req, reply) => {
    await mustCollection(req, req.params.id);
    reply.type('application/schema+json');
    return queryablesSchema(b, req.params.id);
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/collections/:id/items',
    async (req, reply) => {
      const c = await mustCollection(req, req.params.id);
      const raw = { ...req.query };
      // STAC API - Features: the collection in the path is equivalent to that single value of the
      // item search's `collections`; a `collections` naming only it says the same (pystac-client
      // sends it), one naming another collection contradicts the path.
      if (raw.collections !== undefined) {
        const named = [raw.collections].flat().flatMap((v) => String(v).split(','));
        const other = named.find((id) => id.trim() !== c.id);
        if (other !== undefined)
          throw new ValidationError(
            `collections: on /collections/${c.id}/items it may only name '${c.id}' (the path's collection), got '${other}'`,
          );
        delete raw.collections;
      }
      const params = parseSearch(raw, { maxLimit: ctx.maxLimit });
      params.collections = [c.id];
      reply.type(GEOJSON);
      return page(req, params, { path: `/collections/${c.id}/items`, method: 'GET', raw, collection: c });
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
      return publicItem(b, it, req.params.id, collectionTitle(await mustCollection(req, req.params.id)));
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
    return page(req, parseSearch(raw, { maxLimit: ctx.maxLimit }), { path: '/search', method: 'GET', raw });
  });

  app.post<{ Body: unknown }>('/search', async (req, reply) => {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))
      throw new ValidationError('the search body must be a JSON object');
    const raw = req.body as Record<string, unknown>;
    reply.type(GEOJSON);
    return page(req, parseSearch(raw, { maxLimit: ctx.maxLimit, from: 'body' }), {
      path: '/search',
      method: 'POST',
      raw,
    });
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
