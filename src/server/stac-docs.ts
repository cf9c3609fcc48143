import {
  type CollectionSummary,
  derivedItemAssets,
  ITEM_ASSETS_EXTENSION,
  SUMMARY_FIELDS,
  stacSummaries,
} from '../catalog/summaries.js';
import type { StacCollection } from '../catalog/types.js';
import { GEOJSON } from './context.js';
import { collectionTileLinks } from './routes/ogc-tiles.js';

export const STAC_VERSION = '1.0.0';

/** The title of links to the landing page (root, parent of a collection). */
export const ROOT_TITLE = 'sarbridge';

/** A collection's name for link titles: its title, else its id. */
export const collectionTitle = (c: { id: string; title?: unknown }) =>
  typeof c.title === 'string' && c.title !== '' ? c.title : c.id;

/**
 * A collection as the API returns it: its own links and the API's (each with a title), under the
 * public base URL. With `summary` (what the items the caller may see hold), also `summaries` (the
 * stored ones, overridden property by property by those of the visible items) and `item_assets`
 * (the stored declaration if the document has one, else derived from the visible items' assets),
 * listing the item_assets extension when it is there.
 */
export function collectionDoc(b: string, c: StacCollection, summary?: CollectionSummary): StacCollection {
  const own = (c.links ?? []).filter(
    (l) => !['self', 'parent', 'root', 'items', 'queryables'].includes(l.rel),
  );
  const name = collectionTitle(c);
  const out: StacCollection = {
    ...c,
    links: [
      ...own,
      { rel: 'self', href: `${b}/collections/${c.id}`, type: 'application/json', title: name },
      { rel: 'parent', href: `${b}/`, type: 'application/json', title: ROOT_TITLE },
      { rel: 'root', href: `${b}/`, type: 'application/json', title: ROOT_TITLE },
      { rel: 'items', href: `${b}/collections/${c.id}/items`, type: GEOJSON, title: `Items of ${name}` },
      {
        rel: 'http://www.opengis.net/def/rel/ogc/1.0/queryables',
        href: `${b}/collections/${c.id}/queryables`,
        type: 'application/schema+json',
        title: `Queryables of ${name}`,
      },
      ...collectionTileLinks(b, c.id),
    ],
  };
  if (summary) {
    // The properties sarbridge summarises come from the visible items only, never from the stored
    // document (which may describe items the caller cannot see); other stored summaries stay.
    const stored = Object.entries(isObject(c.summaries) ? c.summaries : {}).filter(
      ([k]) => !SUMMARY_FIELDS.includes(k) && k !== 'datetime',
    );
    const summaries = { ...Object.fromEntries(stored), ...stacSummaries(summary) };
    if (Object.keys(summaries).length) out.summaries = summaries;
    const itemAssets = isObject(c.item_assets) ? c.item_assets : derivedItemAssets(summary);
    if (Object.keys(itemAssets).length) out.item_assets = itemAssets;
  }
  if (isObject(out.item_assets) && !(out.stac_extensions ?? []).includes(ITEM_ASSETS_EXTENSION))
    out.stac_extensions = [...(out.stac_extensions ?? []), ITEM_ASSETS_EXTENSION];
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
