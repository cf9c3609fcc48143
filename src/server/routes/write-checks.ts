import { type ConfidentialityLabel, caveatsOf, LABEL_FIELD, RELEASE_FIELD } from '../../access/labels.js';
import type { Principal } from '../../access/scope.js';
import type { StacCollection, StacItem, StacLink } from '../../catalog/types.js';
import { InvalidDocumentError, parseTimestamp, validateItem } from '../../catalog/validate.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { checkAssetHref } from '../../io/asset-storage.js';
import type { RouteContext } from '../context.js';

const FILE_EXT = 'https://stac-extensions.github.io/file/v2.1.0/schema.json';

/**
 * Whether a provider principal may assign (or change something carrying) `label`: a provider-admin
 * any label, a provider-operator only labels within its own clearance and caveats.
 */
function mayHandle(ctx: RouteContext, p: Principal, l: ConfidentialityLabel | null): string | null {
  if (p.roles.includes('provider-admin') || l === null) return null;
  const mine = p.clearance.find((c) => c.policy === l.policy);
  if (
    !mine ||
    ctx.access.rules.rank(l.policy, l.classification) > ctx.access.rules.rank(l.policy, mine.classification)
  )
    return `${l.policy} ${l.classification} is above your clearance`;
  const missing = caveatsOf(l).filter((c) => !p.caveats.includes(c));
  if (missing.length) return `caveat ${missing.join(', ')} is not yours to assign`;
  return null;
}

/** A collection to write: its label checked (400 naming the field) and within the writer's authority. */
export function collectionWrite(
  ctx: RouteContext,
  p: Principal,
  c: StacCollection,
  stored = false,
): StacCollection {
  const raw = c[LABEL_FIELD];
  const label = raw === undefined ? null : ctx.access.rules.parse(raw, `/${LABEL_FIELD}`);
  const why = mayHandle(ctx, p, label);
  if (why && stored) throw new ForbiddenError(`collection '${c.id}': ${why}`);
  if (why) throw new ValidationError(`/${LABEL_FIELD}: a label you may not assign (${why})`);
  return label ? { ...c, [LABEL_FIELD]: label } : c;
}

/** A stored item may only be replaced or deleted by a writer whose authority covers its label. */
export function checkStoredWrite(ctx: RouteContext, p: Principal, old: StacItem): void {
  const raw = old.properties[LABEL_FIELD];
  const why = mayHandle(
    ctx,
    p,
    raw === undefined ? null : ctx.access.rules.parse(raw, `/properties/${LABEL_FIELD}`),
  );
  if (why) throw new ForbiddenError(`item '${old.id}': ${why}`);
}

/**
 * An item to write: valid (its bbox derived from the geometry when absent), in the path's collection, with a label the writer may assign, a release
 * time that is a timestamp, and every asset a path inside the asset storage. Assets whose files are
 * there get `file:size` and `file:checksum` (SHA-256 multihash) when the item has none.
 */
export async function checkItemWrite(
  ctx: RouteContext,
  p: Principal,
  collection: string,
  body: unknown,
): Promise<StacItem> {
  const { item, bbox } = validateItem(body);
  if (item.collection !== undefined && item.collection !== collection)
    throw new InvalidDocumentError(
      '/collection',
      `is '${item.collection}' but the path says '${collection}'`,
    );
  const props = { ...item.properties };
  if (props[LABEL_FIELD] !== undefined) {
    const label = ctx.access.rules.parse(props[LABEL_FIELD], `/properties/${LABEL_FIELD}`);
    const why = mayHandle(ctx, p, label);
    if (why) throw new ValidationError(`/properties/${LABEL_FIELD}: a label you may not assign (${why})`);
    props[LABEL_FIELD] = label;
  }
  if (props[RELEASE_FIELD] !== undefined && Number.isNaN(parseTimestamp(props[RELEASE_FIELD])))
    throw new ValidationError(`/properties/${RELEASE_FIELD}: must be an RFC 3339 timestamp`);
  const assets: StacItem['assets'] = {};
  let withFile = false;
  for (const [key, a] of Object.entries(item.assets ?? {})) {
    const field = `/assets/${key}/href`;
    if (!ctx.objects) throw new ValidationError(`${field}: the server has no asset storage to hold assets`);
    // './scene.tif' (as sarbridge ard writes) names the same file as 'scene.tif'.
    const raw = typeof a.href === 'string' ? a.href.replace(/^(\.\/)+/, '') : a.href;
    const href = checkAssetHref(raw, field);
    const out: Record<string, unknown> = { ...a, href };
    if (out['file:size'] === undefined || out['file:checksum'] === undefined) {
      try {
        // A local file is hashed (and the hash kept); an S3 object tells the checksum its put stored.
        const info = ctx.assets
          ? await ctx.assets.info(href)
          : await ctx.objects
              .head(href)
              .then((o) =>
                o ? { size: o.sizeBytes, checksum: o.checksum } : Promise.reject(new NotFoundError(href)),
              );
        out['file:size'] ??= info.size;
        if (info.checksum !== undefined) out['file:checksum'] ??= info.checksum;
        withFile = true;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    assets[key] = out;
  }
  const exts = item.stac_extensions ?? [];
  return {
    ...item,
    // STAC requires a bbox with a geometry; a write body may leave it to the server.
    bbox: item.bbox ?? bbox,
    stac_extensions: withFile && !exts.includes(FILE_EXT) ? [...exts, FILE_EXT] : item.stac_extensions,
    collection,
    properties: props,
    assets,
    links: (item.links as StacLink[]).filter(
      (l) => !['self', 'parent', 'root', 'items', 'collection'].includes(l.rel),
    ),
  };
}
