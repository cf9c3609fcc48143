import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LABEL_FIELD, labelToXml } from '../../access/labels.js';
import { ALL, type Principal } from '../../access/scope.js';
import { SUPPORTED_OPS } from '../../catalog/cql2/sql.js';
import { parseSearch } from '../../catalog/search-params.js';
import { INDEXED_PROPERTIES } from '../../catalog/sqlite/store.js';
import type { SearchParams, StacCollection, StacItem, StacLink } from '../../catalog/types.js';
import { InvalidDocumentError, validateCollection } from '../../catalog/validate.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import {
  audit,
  GEOJSON,
  itemPath,
  publicItem,
  type RouteContext,
  requirePrincipal,
  requireProviderWrite,
  scopedCollection,
  scopedItem,
} from '../context.js';
import { openApiDocument } from '../openapi.js';
import { checkItemWrite, checkStoredWrite, collectionWrite } from './write-checks.js';

const STAC_VERSION = '1.0.0';

/** What this catalog implements, class by class (no class is declared that is only partly there). */
export const CONFORMANCE = [
  'https://api.stacspec.org/v1.0.0/core',
  'https://api.stacspec.org/v1.0.0/collections',
  'https://api.stacspec.org/v1.0.0/ogcapi-features',
  'https://api.stacspec.org/v1.0.0/item-search',
  'https://api.stacspec.org/v1.0.0/item-search#fields',
  'https://api.stacspec.org/v1.0.0/item-search#sort',
  'https://api.stacspec.org/v1.0.0/item-search#query',
  'https://api.stacspec.org/v1.0.0/item-search#filter',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#fields',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#sort',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#query',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#filter',
  'https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction',
  'https://api.stacspec.org/v1.0.0/collections/extensions/transaction',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter',
  'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter',
  'http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2',
  'http://www.opengis.net/spec/cql2/1.0/conf/cql2-text',
  'http://www.opengis.net/spec/cql2/1.0/conf/cql2-json',
  'http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators',
  'http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison',
  'http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison',
  'http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions',
  'http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions',
  'http://www.opengis.net/spec/cql2/1.0/conf/property-property',
  'http://www.opengis.net/spec/cql2/1.0/conf/arithmetic',
];

function collectionDoc(b: string, c: StacCollection): StacCollection {
  const own = (c.links ?? []).filter(
    (l) => !['self', 'parent', 'root', 'items', 'queryables'].includes(l.rel),
  );
  return {
    ...c,
    links: [
      ...own,
      { rel: 'self', href: `${b}/collections/${c.id}`, type: 'application/json' },
      { rel: 'parent', href: `${b}/`, type: 'application/json' },
      { rel: 'root', href: `${b}/`, type: 'application/json' },
      { rel: 'items', href: `${b}/collections/${c.id}/items`, type: GEOJSON },
      {
        rel: 'http://www.opengis.net/def/rel/ogc/1.0/queryables',
        href: `${b}/collections/${c.id}/queryables`,
        type: 'application/schema+json',
      },
    ],
  };
}

/** The JSON Schema of the properties a filter can use. */
function queryables(b: string, collection?: string): Record<string, unknown> {
  const str = { type: 'string' };
  const props: Record<string, unknown> = {
    id: { description: 'Item id', type: 'string' },
    collection: { description: 'Collection id', type: 'string' },
    datetime: { description: 'Acquisition time', type: 'string', format: 'date-time' },
    geometry: { description: 'Footprint', $ref: 'https://geojson.org/schema/Geometry.json' },
    platform: str,
    constellation: str,
    'sar:instrument_mode': str,
    'sar:product_type': str,
    'sar:frequency_band': { type: 'string', enum: ['P', 'L', 'S', 'C', 'X', 'Ku', 'K', 'Ka'] },
    'sar:polarizations': { type: 'array', items: str },
    'sar:observation_direction': { type: 'string', enum: ['left', 'right'] },
    'sar:resolution_range': { type: 'number' },
    'sar:looks_equivalent_number': { type: 'number' },
    'sat:orbit_state': { type: 'string', enum: ['ascending', 'descending', 'geostationary'] },
    'sat:relative_orbit': { type: 'integer' },
    'sat:absolute_orbit': { type: 'integer' },
    'view:incidence_angle': { type: 'number' },
    'processing:level': str,
  };
  return {
    $schema: 'https://json-schema.org/draft/2019-09/schema',
    $id: collection ? `${b}/collections/${collection}/queryables` : `${b}/queryables`,
    type: 'object',
    title: collection ? `Queryables of ${collection}` : 'Queryables',
    description: `Indexed: id, collection, datetime, geometry, ${INDEXED_PROPERTIES.join(', ')}. Operators: ${SUPPORTED_OPS.join(', ')}.`,
    properties: props,
    additionalProperties: true,
  };
}

/** The STAC API: core, collections, features, item search with its extensions, and transactions. */
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

  app.get('/', async (req) => {
    const collections = await store.listCollections(req.scope);
    return {
      type: 'Catalog',
      id: 'sarbridge',
      title: 'sarbridge',
      description: 'Radar imagery of the provider for its partners: search by place, time and properties.',
      stac_version: STAC_VERSION,
      conformsTo: CONFORMANCE,
      links: [
        { rel: 'self', href: `${b}/`, type: 'application/json' },
        { rel: 'root', href: `${b}/`, type: 'application/json' },
        { rel: 'conformance', href: `${b}/conformance`, type: 'application/json' },
        { rel: 'data', href: `${b}/collections`, type: 'application/json' },
        { rel: 'search', href: `${b}/search`, type: GEOJSON, method: 'GET' },
        { rel: 'search', href: `${b}/search`, type: GEOJSON, method: 'POST' },
        { rel: 'service-desc', href: `${b}/api`, type: 'application/vnd.oai.openapi+json;version=3.0' },
        {
          rel: 'http://www.opengis.net/def/rel/ogc/1.0/queryables',
          href: `${b}/queryables`,
          type: 'application/schema+json',
        },
        {
          rel: 'http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes',
          href: `${b}/tileMatrixSets`,
          type: 'application/json',
        },
        ...collections.map((c) => ({
          rel: 'child',
          href: `${b}/collections/${c.id}`,
          type: 'application/json',
          title: c.title as string | undefined,
        })),
      ],
    };
  });

  app.get('/conformance', async () => ({ conformsTo: CONFORMANCE }));

  app.get('/api', async (_req, reply) => {
    reply.type('application/vnd.oai.openapi+json;version=3.0');
    return openApiDocument(b);
  });

  app.get('/queryables', async (req, reply) => {
    requirePrincipal(req);
    reply.type('application/schema+json');
    return queryables(b);
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
    return queryables(b, req.params.id);
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
    return page(req, parseSearch(raw, { maxLimit: ctx.maxLimit }), '/search', 'POST', raw);
  });

  // Transactions: the provider's, checked against the stored documents as well as the new ones.
  /** The stored item a write changes, if the writer's authority covers its label. */
  const storedForWrite = async (p: Principal, collection: string, id: string) => {
    const old = await store.getItem(collection, id, ALL);
    if (!old) throw new NotFoundError(`item '${id}' does not exist in collection '${collection}'`);
    checkStoredWrite(ctx, p, old);
    return old;
  };
  const mutated = (req: FastifyRequest, resource: string, op: string, detail: Record<string, unknown> = {}) =>
    audit(ctx, req, { action: 'mutation', resource, result: 'ok', detail: { op, ...detail } });

  app.post<{ Body: unknown }>('/collections', async (req, reply) => {
    const p = requireProviderWrite(req);
    const c = collectionWrite(ctx, p, validateCollection(req.body));
    await store.putCollection(stripLinks(c), 'create');
    mutated(req, `/collections/${c.id}`, 'create');
    reply.status(201).header('location', `${b}/collections/${c.id}`);
    return collectionDoc(b, c);
  });

  app.put<{ Params: { id: string }; Body: unknown }>('/collections/:id', async (req) => {
    const p = requireProviderWrite(req);
    const c = collectionWrite(ctx, p, validateCollection(req.body));
    if (c.id !== req.params.id)
      throw new InvalidDocumentError('/id', `is '${c.id}' but the path says '${req.params.id}'`);
    const old = await store.getCollection(c.id, ALL);
    if (old) collectionWrite(ctx, p, old, true);
    await store.putCollection(stripLinks(c), 'replace');
    mutated(req, `/collections/${c.id}`, 'replace');
    return collectionDoc(b, c);
  });

  app.patch<{ Params: { id: string }; Body: unknown }>('/collections/:id', async (req) => {
    const p = requireProviderWrite(req);
    const old = await store.getCollection(req.params.id, ALL);
    if (!old) throw new NotFoundError(`collection '${req.params.id}' does not exist`);
    collectionWrite(ctx, p, old, true);
    const c = collectionWrite(ctx, p, validateCollection(mergePatch(old, req.body)));
    if (c.id !== req.params.id) throw new InvalidDocumentError('/id', 'cannot be changed');
    await store.putCollection(stripLinks(c), 'replace');
    mutated(req, `/collections/${c.id}`, 'patch');
    return collectionDoc(b, c);
  });

  app.delete<{ Params: { id: string } }>('/collections/:id', async (req, reply) => {
    const p = requireProviderWrite(req);
    const old = await store.getCollection(req.params.id, ALL);
    if (!old) throw new NotFoundError(`collection '${req.params.id}' does not exist`);
    collectionWrite(ctx, p, old, true);
    await store.deleteCollection(req.params.id);
    mutated(req, `/collections/${req.params.id}`, 'delete');
    reply.status(204);
    return null;
  });

  app.post<{ Params: { id: string }; Body: unknown }>('/collections/:id/items', async (req, reply) => {
    const p = requireProviderWrite(req);
    const coll = await store.getCollection(req.params.id, ALL);
    if (!coll) throw new NotFoundError(`collection '${req.params.id}' does not exist`);
    const body = req.body as { type?: unknown; features?: unknown };
    if (body && typeof body === 'object' && body.type === 'FeatureCollection') {
      if (!Array.isArray(body.features))
        throw new InvalidDocumentError('/features', 'must be an array of items');
      const items: StacItem[] = [];
      for (const [i, f] of body.features.entries()) {
        try {
          items.push(await checkItemWrite(ctx, p, req.params.id, f));
        } catch (err) {
          if (err instanceof InvalidDocumentError)
            throw new InvalidDocumentError(
              `/features/${i}${err.pointer}`,
              err.message.replace(/^[^:]*: /, ''),
            );
          if (err instanceof ValidationError && /^\//.test(err.message))
            throw new ValidationError(`/features/${i}${err.message}`);
          throw err;
        }
      }
      const n = await store.putItems(req.params.id, items, 'create');
      mutated(req, `/collections/${req.params.id}/items`, 'create', { items: n });
      reply.status(201);
      return { added: n };
    }
    const it = await checkItemWrite(ctx, p, req.params.id, req.body);
    await store.putItems(req.params.id, [it], 'create');
    mutated(req, itemPath(req.params.id, it.id), 'create');
    reply.status(201).header('location', `${b}${itemPath(req.params.id, it.id)}`);
    reply.type(GEOJSON);
    return publicItem(b, it, req.params.id);
  });

  app.put<{ Params: { id: string; itemId: string }; Body: unknown }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const p = requireProviderWrite(req);
      if (!(await store.getCollection(req.params.id, ALL)))
        throw new NotFoundError(`collection '${req.params.id}' does not exist`);
      const it = await checkItemWrite(ctx, p, req.params.id, req.body);
      if (it.id !== req.params.itemId)
        throw new InvalidDocumentError('/id', `is '${it.id}' but the path says '${req.params.itemId}'`);
      const old = await store.getItem(req.params.id, it.id, ALL);
      if (!old) throw new NotFoundError(`item '${it.id}' does not exist in collection '${req.params.id}'`);
      checkStoredWrite(ctx, p, old);
      await store.putItems(req.params.id, [it], 'upsert');
      mutated(req, itemPath(req.params.id, it.id), 'replace');
      reply.type(GEOJSON);
      return publicItem(b, it, req.params.id);
    },
  );

  app.patch<{ Params: { id: string; itemId: string }; Body: unknown }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const p = requireProviderWrite(req);
      const old = await storedForWrite(p, req.params.id, req.params.itemId);
      const it = await checkItemWrite(ctx, p, req.params.id, mergePatch(old, req.body));
      if (it.id !== req.params.itemId) throw new InvalidDocumentError('/id', 'cannot be changed');
      await store.putItems(req.params.id, [it], 'upsert');
      mutated(req, itemPath(req.params.id, it.id), 'patch');
      reply.type(GEOJSON);
      return publicItem(b, it, req.params.id);
    },
  );

  app.delete<{ Params: { id: string; itemId: string } }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const p = requireProviderWrite(req);
      await storedForWrite(p, req.params.id, req.params.itemId);
      await store.deleteItem(req.params.id, req.params.itemId);
      mutated(req, itemPath(req.params.id, req.params.itemId), 'delete');
      reply.status(204);
      return null;
    },
  );
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

function stripLinks<T extends { links: StacLink[] }>(doc: T): T {
  return {
    ...doc,
    links: doc.links.filter((l) => !['self', 'parent', 'root', 'items', 'collection'].includes(l.rel)),
  };
}

/** RFC 7396 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
