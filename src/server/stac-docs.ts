import type { StacCollection } from '../catalog/types.js';
import { GEOJSON } from './context.js';

export const STAC_VERSION = '1.0.0';

/** A collection as the API returns it: its own links and the API's, under the public base URL. */
export function collectionDoc(b: string, c: StacCollection): StacCollection {
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
