import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditInput } from '../access/audit-record.js';
import type { AuditQuery } from '../access/audit-store.js';
import type { Authenticator } from '../access/authenticate.js';
import { AuthenticationError } from '../access/errors.js';
import type { IdentityStore } from '../access/identity.js';
import type { LabelRules } from '../access/labels.js';
import { isProvider, type Principal, type Role, type Scope } from '../access/scope.js';
import type { UrlSigner } from '../access/signed-url.js';
import type { TokenService } from '../access/tokens.js';
import type { CatalogStore } from '../catalog/store.js';
import type { StacCollection, StacItem, StacLink } from '../catalog/types.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { AssetStorage } from '../io/asset-storage.js';
import type { AssetStore } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking, resolved once by the authentication hook (null: no credential). */
    principal: Principal | null;
    /** What the principal may see, for the stores. */
    scope: Scope;
  }
}

/** One audit line as routes write it; the server adds who, from where and the request id. */
export interface AuditEntry {
  action: string;
  resource: string | null;
  result: string;
  detail?: Record<string, unknown>;
}

/** An append-only audit log as the server needs it. */
export interface AuditSink {
  append(rec: AuditInput): unknown;
  /** Records oldest first; the org condition is part of the store's query. */
  query(q: AuditQuery): unknown[];
}

/** The access services the routes share. */
export interface AccessContext {
  rules: LabelRules;
  identity: IdentityStore;
  tokens: TokenService;
  signer: UrlSigner;
  authenticator: Authenticator;
  audit: AuditSink;
}

/** What every route module gets: the store, the access services, the public base URL, storage. */
export interface RouteContext {
  store: CatalogStore;
  access: AccessContext;
  /** Public base URL without a trailing slash: the base of every link (never the Host header). */
  publicUrl: string;
  assets: AssetStorage | null;
  /**
   * The asset store that downloads and tiles read from: an S3 store, or a LocalStore over `assets`
   * (the same checks and the same file), or null when there is none.
   */
  objects: AssetStore | null;
  maxLimit: number;
}

export const GEOJSON = 'application/geo+json';

/** The principal of an authenticated request; 401 otherwise. */
export function requirePrincipal(req: FastifyRequest): Principal {
  if (req.principal === null)
    throw new AuthenticationError(
      'malformed',
      'authentication required: send "Authorization: Bearer <API key or access token>"',
    );
  return req.principal;
}

/** A provider principal with one of `roles`; 403 otherwise. */
export function requireRole(req: FastifyRequest, roles: Role[]): Principal {
  const p = requirePrincipal(req);
  if (!p.roles.some((r) => roles.includes(r)))
    throw new ForbiddenError(`this needs the role ${roles.join(' or ')}`);
  return p;
}

export function requireProviderWrite(req: FastifyRequest): Principal {
  const p = requireRole(req, ['provider-admin', 'provider-operator']);
  if (!isProvider(p)) throw new ForbiddenError("writes to the catalog are the provider's");
  return p;
}

/** Write one audit line for this request. */
export function audit(ctx: RouteContext, req: FastifyRequest, e: AuditEntry): void {
  ctx.access.audit.append({
    actor: req.principal?.id ?? null,
    org: req.principal?.orgId ?? null,
    action: e.action,
    resource: e.resource,
    detail: e.detail ?? {},
    result: e.result,
    ip: req.ip,
    requestId: String(req.id),
  });
}

/**
 * The collection if the caller may see it; a hidden one throws the same 404 as a missing one. The
 * miss is audited as 'not-found' either way (a partner-admin reads its organisation's records, so
 * the log must not tell hidden from missing either).
 */
export async function scopedCollection(
  ctx: RouteContext,
  req: FastifyRequest,
  id: string,
): Promise<StacCollection> {
  requirePrincipal(req);
  const c = await ctx.store.getCollection(id, req.scope);
  if (c) return c;
  audit(ctx, req, { action: 'read', resource: `/collections/${id}`, result: 'not-found' });
  throw new NotFoundError(`collection '${id}' does not exist`);
}

/** The item if the caller may see it (and its collection); otherwise the same 404 as a missing one. */
export async function scopedItem(
  ctx: RouteContext,
  req: FastifyRequest,
  collection: string,
  id: string,
): Promise<StacItem> {
  requirePrincipal(req);
  const it = await ctx.store.getItem(collection, id, req.scope);
  if (it) return it;
  await scopedCollection(ctx, req, collection);
  audit(ctx, req, { action: 'read', resource: itemPath(collection, id), result: 'not-found' });
  throw new NotFoundError(`item '${id}' does not exist in collection '${collection}'`);
}

/** Responses that depend on who asks may not be shared by caches. */
export function privateResponse(reply: FastifyReply, maxAgeS = 0): void {
  reply.header('cache-control', maxAgeS > 0 ? `private, max-age=${maxAgeS}` : 'private, no-cache');
  reply.header('vary', 'Authorization');
}

export const itemPath = (collection: string, id: string) =>
  `/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`;

export const assetPath = (collection: string, id: string, key: string) =>
  `${itemPath(collection, id)}/assets/${encodeURIComponent(key)}`;

/**
 * An item as the API returns it: its links under the public base URL (titled with the item's title
 * or id, and its collection's title), and every stored asset's href
 * replaced by the server's own asset URL (the storage path never leaves the server).
 */
export function publicItem(
  b: string,
  it: StacItem,
  collection = it.collection as string,
  collectionTitle = collection,
): StacItem {
  const own = (it.links ?? []).filter((l) => !['self', 'parent', 'collection', 'root'].includes(l.rel));
  const title = typeof it.properties?.title === 'string' ? it.properties.title : it.id;
  const coll = { href: `${b}/collections/${collection}`, type: 'application/json', title: collectionTitle };
  const links: StacLink[] = [
    ...own,
    { rel: 'self', href: `${b}${itemPath(collection, it.id)}`, type: GEOJSON, title },
    { rel: 'parent', ...coll },
    { rel: 'collection', ...coll },
    { rel: 'root', href: `${b}/`, type: 'application/json', title: 'sarbridge' },
  ];
  const out: StacItem = { ...it, links };
  if (it.assets)
    out.assets = Object.fromEntries(
      Object.entries(it.assets).map(([k, a]) => [
        k,
        { ...a, href: `${b}${assetPath(collection, it.id, k)}` },
      ]),
    );
  return out;
}
