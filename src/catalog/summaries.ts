/**
 * Collection summaries and item_assets from the items a scope may see.
 *
 * The stores keep a summary table maintained on every item write: one row per (collection, property,
 * value, label, release hour) with the number of items holding it, so reading a collection's
 * summaries reads that small table (filtered by the caller's labels and release time in SQL) and
 * never scans the items. A held-back item counts under its release time rounded up to the hour:
 * its values appear in the summaries at most an hour after the item itself, never before.
 */

/** Properties summarised as the set of their distinct values (an array property: its elements). */
export const SUMMARY_VALUES = [
  'platform',
  'constellation',
  'instruments',
  'sar:instrument_mode',
  'sar:frequency_band',
  'sar:polarizations',
  'sar:product_type',
  'sar:observation_direction',
  'sat:orbit_state',
] as const;

/** Numeric properties summarised as a range (few distinct values each, so the table stays small). */
export const SUMMARY_RANGES = ['sat:relative_orbit', 'sar:center_frequency'] as const;

/** Every property the summary table holds, and the pseudo-field of asset definitions. */
export const SUMMARY_FIELDS: readonly string[] = [...SUMMARY_VALUES, ...SUMMARY_RANGES];
export const ASSET_FIELD = '@asset';

/** The URL of the STAC item_assets extension (v1.0.0) that a collection with item_assets lists. */
export const ITEM_ASSETS_EXTENSION = 'https://stac-extensions.github.io/item-assets/v1.0.0/schema.json';

/** The granularity of release times in the summary table (ms); rounded up, so never early. */
export const RELEASE_STEP_MS = 3_600_000;

/** What the items of one collection visible in a scope hold (see CatalogStore.summarize). */
export interface CollectionSummary {
  /** Distinct values per summarised property, each list sorted. */
  values: Record<string, (string | number)[]>;
  /** Per asset key, each distinct definition ({type, roles, title}, absent members left out) once. */
  assets: Record<string, Record<string, unknown>[]>;
  /** Earliest start and latest end of the visible items (ms since the epoch); null when none is. */
  datetime: [number, number] | null;
}

/** An empty summary (a collection whose items are all outside the scope, or that has none). */
export const emptySummary = (): CollectionSummary => ({ values: {}, assets: {}, datetime: null });

/**
 * Fold the rows of a summary-table query (field, JSON value) into summaries per collection.
 * Values that are not JSON strings or numbers are skipped.
 */
export function foldSummaryRows(
  rows: { collection: string; field: string; value: string }[],
): Map<string, CollectionSummary> {
  const out = new Map<string, CollectionSummary>();
  for (const r of rows) {
    let s = out.get(r.collection);
    if (!s) {
      s = emptySummary();
      out.set(r.collection, s);
    }
    const v = JSON.parse(r.value) as unknown;
    if (r.field === ASSET_FIELD) {
      const [key, def] = v as [string, Record<string, unknown>];
      const clean = Object.fromEntries(Object.entries(def).filter(([, x]) => x !== null && x !== undefined));
      (s.assets[key] ??= []).push(clean);
    } else if (typeof v === 'string' || typeof v === 'number') (s.values[r.field] ??= []).push(v);
  }
  for (const s of out.values())
    for (const list of Object.values(s.values)) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return out;
}

/**
 * The STAC `summaries` object of a collection: distinct value lists, {minimum, maximum} ranges, and
 * the datetime range as RFC 3339 instants. Properties no visible item holds are left out.
 */
export function stacSummaries(s: CollectionSummary): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of SUMMARY_VALUES) if (s.values[f]?.length) out[f] = s.values[f];
  for (const f of SUMMARY_RANGES) {
    const nums = (s.values[f] ?? []).filter((v): v is number => typeof v === 'number');
    if (nums.length) out[f] = { minimum: Math.min(...nums), maximum: Math.max(...nums) };
  }
  if (s.datetime)
    out.datetime = {
      minimum: new Date(s.datetime[0]).toISOString(),
      maximum: new Date(s.datetime[1]).toISOString(),
    };
  return out;
}

/**
 * The item_assets of a collection derived from its items' assets: per key, the members (type, roles,
 * title) every visible definition of that key agrees on, as the extension asks ("any property that
 * exists for a Collection-level asset object must also exist in the corresponding asset object in
 * each Item"). A key left with fewer than two members is left out (the extension requires two).
 */
export function derivedItemAssets(s: CollectionSummary): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const key of Object.keys(s.assets).sort()) {
    const defs = s.assets[key];
    const common: Record<string, unknown> = {};
    for (const [m, v] of Object.entries(defs[0])) {
      const text = JSON.stringify(v);
      if (defs.every((d) => JSON.stringify(d[m]) === text)) common[m] = v;
    }
    if (Object.keys(common).length >= 2) out[key] = common;
  }
  return out;
}
