import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../access/scope.js';
import { ALL } from '../../access/scope.js';
import type { StacCollection, StacItem, StacLink } from '../../catalog/types.js';
import { InvalidDocumentError, validateCollection } from '../../catalog/validate.js';
import { ConflictError, NotFoundError, SarbridgeError, ValidationError } from '../../errors.js';
import { audit, GEOJSON, itemPath, publicItem, type RouteContext, requireProviderWrite } from '../context.js';
import { collectionDoc, collectionTitle } from '../stac-docs.js';
import { checkItemWrite, checkStoredWrite, collectionWrite } from './write-checks.js';

/** Bodies of POST and PUT: STAC documents as JSON (STAC API Transaction, Methods: application/json). */
const DOC_TYPES = ['application/json', 'application/geo+json'];
/** Bodies of PATCH: RFC 7396 merge patches, under their own media type or as plain JSON (the default). */
const PATCH_TYPES = ['application/merge-patch+json', 'application/json'];

/** The body's media type is not one the route takes (HTTP 415). */
class UnsupportedMediaTypeError extends SarbridgeError {
  override readonly code: string = 'UnsupportedMediaType';
  readonly status = 415;
}

/** An If-Match condition failed: the resource changed since the client read it (HTTP 412). */
class PreconditionFailedError extends SarbridgeError {
  override readonly code: string = 'PreconditionFailed';
  readonly status = 412;
}

/**
 * The STAC API Transaction extensions for items and collections (v1.0.0): the provider's writes.
 * Bodies need neither `links` nor (items) `assets`; PUT and PATCH take `id` and `collection` from the
 * path; every success carries an ETag (SHA-256 of the stored document), and an If-Match header makes
 * PUT, PATCH and DELETE conditional (412 when it no longer matches).
 */
export function transactionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // A plugin of its own, so its body parsers and checks apply to these routes only.
  app.register(async (scope) => {
    // The server's own parsers (if any) give way to this one, for the same 400s on every route here.
    const bodyTypes = [...DOC_TYPES, 'application/merge-patch+json'];
    scope.removeContentTypeParser(bodyTypes);
    scope.addContentTypeParser(bodyTypes, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseJson(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    // Before the body is read: only the provider writes, and only in the media types of the route.
    scope.addHook('preParsing', async (req, reply, payload) => {
      requireProviderWrite(req);
      if (req.method === 'DELETE') return payload;
      const patch = req.method === 'PATCH';
      // RFC 5789 3.1: the patch formats the resource takes.
      if (patch) reply.header('accept-patch', PATCH_TYPES.join(', '));
      const raw = req.headers['content-type'];
      if (raw === undefined && !hasBody(req)) return payload;
      const type = raw?.split(';')[0].trim().toLowerCase() ?? '';
      const accepted = patch ? PATCH_TYPES : DOC_TYPES;
      if (!accepted.includes(type)) {
        const got = raw === undefined ? 'is missing' : `'${type.slice(0, 80)}' is not supported`;
        const note =
          type === 'application/json-patch+json' ? ' (JSON Patch, RFC 6902, is not implemented)' : '';
        throw new UnsupportedMediaTypeError(
          `Content-Type ${got}${note}: ${req.method} takes ${accepted.join(' or ')}` +
            (patch ? ' (an RFC 7396 merge patch)' : ''),
        );
      }
      return payload;
    });
    writeRoutes(scope, ctx);
  });
}

function writeRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const b = ctx.publicUrl;
  const collectionUrl = (id: string) => `${b}/collections/${encodeURIComponent(id)}`;

  const mutated = (req: FastifyRequest, resource: string, op: string, detail: Record<string, unknown> = {}) =>
    audit(ctx, req, { action: 'mutation', resource, result: 'ok', detail: { op, ...detail } });

  /** The stored collection, or 404. */
  const storedCollection = async (id: string): Promise<StacCollection> => {
    const c = await store.getCollection(id, ALL);
    if (!c) throw new NotFoundError(`collection '${id}' does not exist`);
    return c;
  };
  /** The stored item a write changes, if the writer's authority covers its label; 404 when missing. */
  const storedItem = async (p: Principal, collection: string, id: string): Promise<StacItem> => {
    const old = await store.getItem(collection, id, ALL);
    if (!old) {
      await storedCollection(collection);
      throw new NotFoundError(`item '${id}' does not exist in collection '${collection}'`);
    }
    checkStoredWrite(ctx, p, old);
    return old;
  };
  /** Answer with the collection as stored now, as its GET shows it, and its entity tag. */
  const collectionReply = async (req: FastifyRequest, reply: FastifyReply, id: string) => {
    const c = await storedCollection(id);
    reply.header('etag', entityTag(c));
    return collectionDoc(b, c, (await store.summarize([id], req.scope)).get(id));
  };
  /** Answer with the item as stored now, as its GET shows it, and its entity tag. */
  const itemReply = async (reply: FastifyReply, collection: string, id: string) => {
    const it = await store.getItem(collection, id, ALL);
    if (!it) throw new NotFoundError(`item '${id}' does not exist in collection '${collection}'`);
    reply.header('etag', entityTag(it));
    reply.type(GEOJSON);
    return publicItem(b, it, collection, collectionTitle(await storedCollection(collection)));
  };

  // Collection Transaction, POST: one collection (201, Location), or {"collections": [...]} (201, none).
  app.post<{ Body: unknown }>('/collections', async (req, reply) => {
    const p = requireProviderWrite(req);
    const body = req.body;
    if (isObject(body) && body.type === undefined && Array.isArray(body.collections)) {
      const list = body.collections.map((c, i) =>
        withPointer(`/collections/${i}`, () => stripLinks(collectionWrite(ctx, p, validateCollection(c)))),
      );
      const ids = new Set<string>();
      for (const [i, c] of list.entries()) {
        if (ids.has(c.id)) throw new InvalidDocumentError(`/collections/${i}/id`, `'${c.id}' is given twice`);
        ids.add(c.id);
        if (await store.getCollection(c.id, ALL))
          throw new ConflictError(`collection '${c.id}' exists already`);
      }
      for (const c of list) await store.putCollection(c, 'create');
      mutated(req, '/collections', 'create', { collections: list.map((c) => c.id) });
      reply.status(201);
      return { status: 'created', added: list.length };
    }
    const c = collectionWrite(ctx, p, validateCollection(body));
    await store.putCollection(stripLinks(c), 'create');
    mutated(req, `/collections/${c.id}`, 'create');
    reply.status(201).header('location', collectionUrl(c.id));
    return collectionReply(req, reply, c.id);
  });

  app.put<{ Params: { id: string }; Body: unknown }>('/collections/:id', async (req, reply) => {
    const p = requireProviderWrite(req);
    const id = req.params.id;
    const old = await storedCollection(id);
    ifMatch(req, old);
    collectionWrite(ctx, p, old, true);
    const c = collectionWrite(ctx, p, validateCollection(fromPath(req.body, { id })));
    await store.putCollection(stripLinks(c), 'replace');
    mutated(req, `/collections/${id}`, 'replace');
    return collectionReply(req, reply, id);
  });

  app.patch<{ Params: { id: string }; Body: unknown }>('/collections/:id', async (req, reply) => {
    const p = requireProviderWrite(req);
    const id = req.params.id;
    const old = await storedCollection(id);
    ifMatch(req, old);
    collectionWrite(ctx, p, old, true);
    const patch = mergePatchBody(req.body, { id });
    const c = collectionWrite(ctx, p, validateCollection(fromPath(mergePatch(old, patch), { id })));
    await store.putCollection(stripLinks(c), 'replace');
    mutated(req, `/collections/${id}`, 'patch');
    return collectionReply(req, reply, id);
  });

  app.delete<{ Params: { id: string } }>('/collections/:id', async (req, reply) => {
    const p = requireProviderWrite(req);
    const old = await storedCollection(req.params.id);
    ifMatch(req, old);
    collectionWrite(ctx, p, old, true);
    await store.deleteCollection(req.params.id);
    mutated(req, `/collections/${req.params.id}`, 'delete');
    reply.status(204);
    return null;
  });

  /** Items of an ItemCollection body, each checked (errors point into /features). */
  const bulkItems = async (p: Principal, collection: string, body: Record<string, unknown>) => {
    if (!Array.isArray(body.features))
      throw new InvalidDocumentError('/features', 'must be an array of items');
    const items: StacItem[] = [];
    for (const [i, f] of body.features.entries())
      items.push(await withPointerAsync(`/features/${i}`, () => checkItemWrite(ctx, p, collection, f)));
    return items;
  };

  // Transaction, POST: one item (201, Location) or an ItemCollection (201, no Location), all or none.
  app.post<{ Params: { id: string }; Body: unknown }>('/collections/:id/items', async (req, reply) => {
    const p = requireProviderWrite(req);
    const coll = req.params.id;
    await storedCollection(coll);
    const body = req.body;
    if (isObject(body) && body.type === 'FeatureCollection') {
      const n = await store.putItems(coll, await bulkItems(p, coll, body), 'create');
      mutated(req, `/collections/${coll}/items`, 'create', { items: n });
      reply.status(201);
      return { status: 'created', added: n };
    }
    const it = await checkItemWrite(ctx, p, coll, body);
    await store.putItems(coll, [it], 'create');
    mutated(req, itemPath(coll, it.id), 'create');
    reply.status(201).header('location', `${b}${itemPath(coll, it.id)}`);
    return itemReply(reply, coll, it.id);
  });

  // Transaction, POST bulk_items: an ItemCollection only; 201 with the status and the count.
  app.post<{ Params: { id: string }; Body: unknown }>('/collections/:id/bulk_items', async (req, reply) => {
    const p = requireProviderWrite(req);
    const coll = req.params.id;
    await storedCollection(coll);
    const body = req.body;
    if (!isObject(body) || body.type !== 'FeatureCollection')
      throw new InvalidDocumentError(
        '/type',
        'must be "FeatureCollection" (an ItemCollection of the items to add)',
      );
    const n = await store.putItems(coll, await bulkItems(p, coll, body), 'create');
    mutated(req, `/collections/${coll}/items`, 'create', { items: n });
    reply.status(201);
    return { status: 'created', added: n };
  });

  app.put<{ Params: { id: string; itemId: string }; Body: unknown }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const p = requireProviderWrite(req);
      const { id: coll, itemId } = req.params;
      const old = await storedItem(p, coll, itemId);
      ifMatch(req, old);
      const it = await checkItemWrite(ctx, p, coll, fromPath(req.body, { id: itemId, collection: coll }));
      await store.putItems(coll, [it], 'upsert');
      mutated(req, itemPath(coll, itemId), 'replace');
      return itemReply(reply, coll, itemId);
    },
  );

  app.patch<{ Params: { id: string; itemId: string }; Body: unknown }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const p = requireProviderWrite(req);
      const { id: coll, itemId } = req.params;
      const old = await storedItem(p, coll, itemId);
      ifMatch(req, old);
      const patch = mergePatchBody(req.body, { id: itemId, collection: coll });
      const merged = fromPath(mergePatch(old, patch), { id: itemId, collection: coll });
      const it = await checkItemWrite(ctx, p, coll, merged);
      await store.putItems(coll, [it], 'upsert');
      mutated(req, itemPath(coll, itemId), 'patch');
      return itemReply(reply, coll, itemId);
    },
  );

  app.delete<{ Params: { id: string; itemId: string } }>(
    '/collections/:id/items/:itemId',
    async (req, reply) => {
      const p = requireProviderWrite(req);
      const old = await storedItem(p, req.params.id, req.params.itemId);
      ifMatch(req, old);
      await store.deleteItem(req.params.id, req.params.itemId);
      mutated(req, itemPath(req.params.id, req.params.itemId), 'delete');
      reply.status(204);
      return null;
    },
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasBody(req: FastifyRequest): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** A JSON request body; 400 naming the body when it is empty or not JSON. */
function parseJson(text: string): unknown {
  if (text.trim() === '') throw new ValidationError('request body: is empty (expected a JSON document)');
  try {
    return JSON.parse(text, (k, v) => {
      if (k === '__proto__')
        throw new ValidationError('request body: a member named "__proto__" is not allowed');
      return v;
    });
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(`request body: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * A PUT body with the members the path determines filled in (the extension: "populate the `id` and
 * `collection` fields ... from the URI"); a member that says otherwise is 400 naming it.
 */
function fromPath(body: unknown, path: Record<string, string>): unknown {
  if (!isObject(body)) return body;
  const out = { ...body };
  for (const [k, v] of Object.entries(path)) {
    if (out[k] === undefined || out[k] === null) out[k] = v;
    else if (out[k] !== v)
      throw new InvalidDocumentError(`/${k}`, `is ${JSON.stringify(out[k])} but the path says '${v}'`);
  }
  return out;
}

/** A PATCH body: a JSON object (RFC 7396), whose `id`/`collection` may only repeat the path's. */
function mergePatchBody(body: unknown, path: Record<string, string>): Record<string, unknown> {
  if (!isObject(body))
    throw new ValidationError(
      `request body: must be a JSON object (an RFC 7396 merge patch), got ${Array.isArray(body) ? 'an array' : JSON.stringify(body)}`,
    );
  for (const [k, v] of Object.entries(path))
    if (body[k] !== undefined && body[k] !== null && body[k] !== v)
      throw new InvalidDocumentError(`/${k}`, `is ${JSON.stringify(body[k])} but the path says '${v}'`);
  return body;
}

/** Run a check of one member of a list; its errors point into the list. */
function withPointer<T>(prefix: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw prefixed(prefix, err);
  }
}

async function withPointerAsync<T>(prefix: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw prefixed(prefix, err);
  }
}

function prefixed(prefix: string, err: unknown): unknown {
  if (err instanceof InvalidDocumentError)
    return new InvalidDocumentError(`${prefix}${err.pointer}`, err.message.replace(/^[^:]*: /, ''));
  if (err instanceof ValidationError && err.message.startsWith('/'))
    return new ValidationError(`${prefix}${err.message}`);
  return err;
}

/**
 * A strong entity tag of a stored document: SHA-256 of its JSON with keys sorted, so the tag does not
 * depend on the order a store keeps members in (PostgreSQL's jsonb reorders them).
 */
export function entityTag(doc: unknown): string {
  return `"${createHash('sha256').update(canonicalJson(doc)).digest('base64url').slice(0, 27)}"`;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** RFC 9110 13.1.1 If-Match with strong comparison: `*` or one of the listed tags must be current. */
function ifMatch(req: FastifyRequest, current: unknown): void {
  const h = req.headers['if-match'];
  if (h === undefined) return;
  const value = Array.isArray(h) ? h.join(',') : h;
  if (value.trim() === '*') return;
  const tag = entityTag(current);
  const tags = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (!tags.includes(tag))
    throw new PreconditionFailedError(
      `If-Match: ${value.slice(0, 120)} does not match the resource's current ETag ${tag} (it changed since it was read)`,
    );
}

function stripLinks<T extends { links: StacLink[] }>(doc: T): T {
  return {
    ...doc,
    links: doc.links.filter((l) => !['self', 'parent', 'root', 'items', 'collection'].includes(l.rel)),
  };
}

/** RFC 7396 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
