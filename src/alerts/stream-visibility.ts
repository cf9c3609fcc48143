import type { Scope } from '../access/scope.js';
import type { CatalogStore } from '../catalog/store.js';

/** An item as a visibility lookup names it. */
export interface ItemRef {
  collection: string;
  itemId: string;
}

/** The key of an item in a lookup's answer. */
export const itemKey = (collection: string, itemId: string): string => `${collection}\u0000${itemId}`;

/**
 * A key equal for scopes that see the same things (the time a scope was made at left out, so the
 * partner streams of one organisation with the same clearance share one lookup per batch).
 */
export function scopeKey(s: Scope): string {
  if (s.kind !== 'partner') return s.kind;
  const clear = s.clearances.map((c) => `${c.policy}:${c.maxRank}`).sort();
  return `partner|${clear.join(',')}|${[...s.codes].sort().join(',')}|${[...s.caveats].sort().join(',')}`;
}

/** The scope with its clock at `nowMs`, so release holds are judged at delivery time. */
export const scopeAt = (s: Scope, nowMs: number): Scope => (s.kind === 'partner' ? { ...s, nowMs } : s);

/** Ids per search: well under the catalog's MAX_IDS and a page it serves at once. */
const IDS_PER_LOOKUP = 500;

/**
 * Which of `items` the scope may see, decided by the catalog store in its SQL (a search by ids and
 * collections under the scope): the keys (itemKey) of the visible ones. A search's ids and
 * collections are a cross product, so the answer is checked against the pairs asked for.
 */
export async function visibleItems(
  store: CatalogStore,
  scope: Scope,
  items: readonly ItemRef[],
): Promise<Set<string>> {
  const out = new Set<string>();
  if (scope.kind === 'none' || items.length === 0) return out;
  const wanted = new Set(items.map((i) => itemKey(i.collection, i.itemId)));
  const refs = [...wanted].map((k) => k.split('\u0000') as [string, string]);
  for (let k = 0; k < refs.length; k += IDS_PER_LOOKUP) {
    const chunk = refs.slice(k, k + IDS_PER_LOOKUP);
    const ids = [...new Set(chunk.map((r) => r[1]))];
    const collections = [...new Set(chunk.map((r) => r[0]))];
    let token: string | undefined;
    do {
      const page = await store.search(
        {
          ids,
          collections,
          sortby: [],
          limit: IDS_PER_LOOKUP,
          token,
          fields: { include: ['id', 'collection'], exclude: [] },
        },
        scope,
      );
      for (const it of page.items) {
        const key = itemKey(String(it.collection), it.id);
        if (wanted.has(key)) out.add(key);
      }
      token = page.next ?? undefined;
    } while (token);
  }
  return out;
}
