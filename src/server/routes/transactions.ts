import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../access/scope.js';
import { ALL } from '../../access/scope.js';
import type { StacItem, StacLink } from '../../catalog/types.js';
import { InvalidDocumentError, validateCollection } from '../../catalog/validate.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { audit, GEOJSON, itemPath, publicItem, type RouteContext, requireProviderWrite } from '../context.js';
import { collectionDoc } from '../stac-docs.js';
import { checkItemWrite, checkStoredWrite, collectionWrite } from './write-checks.js';

/** The STAC transaction extensions for items and collections: the provider's writes. */
export function transactionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const b = ctx.publicUrl;

  // Checked against the stored documents as well as the new ones.
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
