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

/** A value as JSON text with object members in key order, so one value always has one text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    const members = keys.flatMap((k) => {
      const x = (v as Record<string, unknown>)[k];
      return x === undefined ? [] : [`${JSON.stringify(k)}:${canonicalJson(x)}`];
    });
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** The summary-table text of an asset definition: its key and {type, roles, title} (null when absent). */
export function assetSummaryValue(key: string, def: Record<string, unknown>): string {
  const m = (x: unknown) => canonicalJson(x ?? null);
  return `[${JSON.stringify(key)},{"type":${m(def.type)},"roles":${m(def.roles)},"title":${m(def.title)}}]`;
}

/** The release time of a summary row: the item's release time rounded up to the hour (never early). */
export const releaseHourMs = (releaseMs: number): number =>
  Math.ceil(releaseMs / RELEASE_STEP_MS) * RELEASE_STEP_MS;

/** One row of the summary table, or a change to it: `n` items more (or fewer, when negative). */
export interface SummaryRow {
  collection: string;
  field: string;
  /** JSON text (canonicalJson; assetSummaryValue for ASSET_FIELD). */
  value: string;
  /** The item's label id, 0 for none (provider-only). */
  labelId: number;
  releaseMs: number;
  n: number;
}

/** What an item adds to the summary table: its properties and assets, label and release time. */
export interface SummarySource {
  properties: Record<string, unknown>;
  /** The item's `assets` member as stored (anything but an object holds no definitions). */
  assets: unknown;
  labelId: number | null;
  releaseMs: number;
}

const isSummaryValue = (v: unknown): v is string | number =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/**
 * The summary-table changes of a write, added up in memory so a batch writes each distinct
 * (collection, property, value, label, release hour) row once, and an item replaced by one that
 * holds the same values writes nothing. Rows are listed in key order, so concurrent writers lock
 * them in the same order.
 */
export class SummaryDeltas {
  /** Rows by (collection, label, hour), then field, then value (a string or number; an asset's text). */
  private readonly groups = new Map<string, Map<string, Map<string | number, SummaryRow>>>();

  /** The rows of one (collection, label, release hour), by field. */
  private group(
    collection: string,
    labelId: number,
    releaseMs: number,
  ): Map<string, Map<string | number, SummaryRow>> {
    const key = `${labelId}\u0000${releaseMs}\u0000${collection}`;
    let g = this.groups.get(key);
    if (!g) {
      g = new Map();
      this.groups.set(key, g);
    }
    return g;
  }

  /** Count `n` for one value; `value` keys the row (strings and numbers apart), `text` is written. */
  private add(
    g: Map<string, Map<string | number, SummaryRow>>,
    collection: string,
    field: string,
    value: string | number,
    text: () => string,
    labelId: number,
    releaseMs: number,
    n: number,
  ): void {
    let byValue = g.get(field);
    if (!byValue) {
      byValue = new Map();
      g.set(field, byValue);
    }
    const row = byValue.get(value);
    if (row) row.n += n;
    else byValue.set(value, { collection, field, value: text(), labelId, releaseMs, n });
  }

  /** Count an item in (sign 1) or out (sign -1): one per summarised value (array elements one by one) and asset definition. */
  addItem(collection: string, src: SummarySource, sign: 1 | -1): void {
    const labelId = src.labelId ?? 0;
    const releaseMs = releaseHourMs(src.releaseMs);
    const g = this.group(collection, labelId, releaseMs);
    const props = src.properties;
    for (const field of SUMMARY_FIELDS) {
      const v = props[field];
      if (v === undefined) continue;
      if (Array.isArray(v)) {
        for (const e of v)
          if (isSummaryValue(e))
            this.add(g, collection, field, e, () => JSON.stringify(e), labelId, releaseMs, sign);
      } else if (isSummaryValue(v))
        this.add(g, collection, field, v, () => JSON.stringify(v), labelId, releaseMs, sign);
    }
    const assets = src.assets;
    if (assets === null || typeof assets !== 'object' || Array.isArray(assets)) return;
    for (const key of Object.keys(assets)) {
      const def = (assets as Record<string, unknown>)[key];
      if (def !== null && typeof def === 'object' && !Array.isArray(def)) {
        const text = assetSummaryValue(key, def as Record<string, unknown>);
        this.add(g, collection, ASSET_FIELD, text, () => text, labelId, releaseMs, sign);
      }
    }
  }

  /**
   * Add a row counted elsewhere (a database's own aggregation): `value` is the parsed JSON value, or
   * for ASSET_FIELD the pair [key, definition]; it is written again as canonical text.
   */
  addCounted(
    collection: string,
    field: string,
    value: unknown,
    labelId: number,
    releaseMs: number,
    n: number,
  ): void {
    const hour = releaseHourMs(releaseMs);
    const g = this.group(collection, labelId, hour);
    if (field === ASSET_FIELD) {
      const [key, def] = value as [string, Record<string, unknown>];
      const text = assetSummaryValue(key, def ?? {});
      this.add(g, collection, field, text, () => text, labelId, hour, n);
    } else if (isSummaryValue(value))
      this.add(g, collection, field, value, () => JSON.stringify(value), labelId, hour, n);
  }

  /** The changes that change something, in key order. */
  list(): SummaryRow[] {
    const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
    const all: SummaryRow[] = [];
    for (const g of this.groups.values())
      for (const byValue of g.values()) for (const r of byValue.values()) if (r.n !== 0) all.push(r);
    return all.sort(
      (a, b) =>
        cmp(a.collection, b.collection) ||
        cmp(a.field, b.field) ||
        cmp(a.value, b.value) ||
        a.labelId - b.labelId ||
        a.releaseMs - b.releaseMs,
    );
  }

  /** Whether any row loses items (so rows left at zero are to be dropped). */
  hasRemovals(): boolean {
    for (const g of this.groups.values())
      for (const byValue of g.values()) for (const r of byValue.values()) if (r.n < 0) return true;
    return false;
  }
}
