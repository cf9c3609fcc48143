import booleanContains from '@turf/boolean-contains';
import booleanIntersects from '@turf/boolean-intersects';
import booleanWithin from '@turf/boolean-within';
import Database from 'better-sqlite3';
import { LabelRules } from '../../access/labels.js';
import type { Scope } from '../../access/scope.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { bboxPolygon } from '../../geo/geojson.js';
import { statementCache } from '../../util/sqlite-statements.js';
import { Cql2Sql, compactParams, type SqlDialect } from '../cql2/sql.js';
import { applyFields } from '../fields.js';
import { KeptCounts, nowParamIndex } from '../kept-counts.js';
import {
  collectionLabel,
  itemLabel,
  LABEL_TABLES_SQL,
  type LabelRow,
  labelRow,
  NO_HOLD_MS,
  releaseMs,
} from '../label-index.js';
import {
  eventsSqlite,
  insertEventSqlite,
  markDeliveredSqlite,
  type NewOutboxEvent,
  OUTBOX_SQLITE_SQL,
  type OutboxEvent,
  type OutboxQuery,
} from '../outbox.js';
import { COUNT_LIMIT, decodeToken, encodeToken, keysetConditions, orderBy } from '../paging.js';
import { collectionScopeSql, itemScopeSql, type ScopeBinder } from '../scope-sql.js';
import type { CatalogStore } from '../store.js';
import {
  ASSET_FIELD,
  type CollectionSummary,
  emptySummary,
  foldSummaryRows,
  SUMMARY_FIELDS,
  SummaryDeltas,
  type SummarySource,
} from '../summaries.js';
import type { GeoJsonGeometry, SearchPage, SearchParams, StacCollection, StacItem } from '../types.js';
import { geometryBbox, parseTimestamp } from '../validate.js';

/** Properties with an index of their own (the SAR queryables searched most). */
export const INDEXED_PROPERTIES = [
  'platform',
  'constellation',
  'sar:instrument_mode',
  'sar:product_type',
  'sar:frequency_band',
  'sat:orbit_state',
  'sat:relative_orbit',
];

const jsonPath = (name: string) => {
  if (!/^[A-Za-z0-9_:.-]{1,128}$/.test(name))
    throw new ValidationError(`property name '${name}' may only hold letters, digits and _ : . -`);
  return `'$."${name}"'`;
};
const prop = (name: string) => `json_extract(properties, ${jsonPath(name)})`;

const SCHEMA = `
${LABEL_TABLES_SQL}
CREATE TABLE IF NOT EXISTS collections (id TEXT PRIMARY KEY, doc TEXT NOT NULL, label_id INTEGER);
CREATE TABLE IF NOT EXISTS items (
  seq INTEGER PRIMARY KEY,
  collection TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  dt_start REAL NOT NULL,
  dt_end REAL NOT NULL,
  geometry TEXT NOT NULL,
  properties TEXT NOT NULL,
  doc TEXT NOT NULL,
  label_id INTEGER,
  label_own INTEGER NOT NULL DEFAULT 0,
  release_ms REAL NOT NULL DEFAULT ${NO_HOLD_MS},
  UNIQUE (collection, id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS items_rtree USING rtree(seq, minx, maxx, miny, maxy);
CREATE INDEX IF NOT EXISTS items_dt ON items (dt_start, seq);
CREATE INDEX IF NOT EXISTS items_coll_dt ON items (collection, dt_start, seq);
CREATE INDEX IF NOT EXISTS items_release ON items (release_ms) WHERE release_ms > ${NO_HOLD_MS};
${INDEXED_PROPERTIES.map((p, i) => `CREATE INDEX IF NOT EXISTS items_q${i} ON items (${prop(p)});`).join('\n')}
CREATE TABLE IF NOT EXISTS item_summary (
  collection TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  field TEXT NOT NULL,
  value TEXT NOT NULL,
  label_id INTEGER NOT NULL,
  release_ms REAL NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (collection, field, value, label_id, release_ms)
);
`;

/**
 * The summary rows of the items that `where` selects, counted by SQLite (for rebuilding a
 * collection's rows from its items): one per summarised property value (array elements one by one)
 * and per asset definition, grouped by collection, label (0: none, provider-only) and release time.
 * `value` is the SQL value of a property, or the JSON text [key, {type, roles, title}] of an asset.
 */
function summaryCountSql(where: string): string {
  // One pass over each item's top-level properties (parsing the JSON once), into arrays' elements.
  const fields = SUMMARY_FIELDS.map((f) => `'${f}'`).join(', ');
  const group = 'coalesce(items.label_id, 0) AS label_id, items.release_ms AS release_ms';
  const isArray = "p.type = 'array'";
  return `SELECT collection, field, value, label_id, release_ms, count(*) AS n FROM (
    SELECT items.collection, p.key AS field, CASE WHEN ${isArray} THEN e.value ELSE p.value END AS value, ${group}
    FROM items, json_each(items.properties) p
      LEFT JOIN json_each(CASE WHEN ${isArray} THEN p.value END) e
    WHERE ${where} AND p.key IN (${fields})
      AND (CASE WHEN ${isArray} THEN e.type ELSE p.type END) IN ('text', 'integer', 'real')
    UNION ALL
    SELECT items.collection, '${ASSET_FIELD}', json_array(a.key, json_object('type', json_extract(a.value, '$.type'),
      'roles', json_extract(a.value, '$.roles'), 'title', json_extract(a.value, '$.title'))), ${group}
    FROM items, json_each(items.doc, '$.assets') a
    WHERE ${where} AND a.type = 'object'
  ) GROUP BY collection, field, value, label_id, release_ms`;
}

/** A stored item as a summary source (properties and assets as JSON text). */
interface StoredSummaryRow {
  properties: string;
  /** JSON text ('null' when the item has none). */
  assets: string;
  label_id: number | null;
  release_ms: number;
}
const storedSource = (r: StoredSummaryRow): SummarySource => ({
  properties: JSON.parse(r.properties),
  assets: JSON.parse(r.assets),
  labelId: r.label_id,
  releaseMs: r.release_ms,
});

/** Literal geometries of a query, parsed once. */
const literalCache = new Map<string, unknown>();
function literal(json: string): unknown {
  let g = literalCache.get(json);
  if (g === undefined) {
    g = JSON.parse(json);
    if (literalCache.size > 256) literalCache.clear();
    literalCache.set(json, g);
  }
  return g;
}

const sqliteDialect: SqlDialect = {
  valueParam: (i) => `?${i}`,
  numParam: (i) => `?${i}`,
  textParam: (i) => `?${i}`,
  encodeValue: (v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v),
  arith: (op, a, b) => `(${a} ${op} ${b})`,
  property: prop,
  toMillis: (sql) => `ts_ms(${sql})`,
  id: 'items.id',
  collection: 'items.collection',
  start: 'dt_start',
  end: 'dt_end',
  spatial(op, geojson, [w, s, e, n], p, text) {
    const box =
      op === 's_within'
        ? `minx >= ${p(w)} AND maxx <= ${p(e)} AND miny >= ${p(s)} AND maxy <= ${p(n)}`
        : op === 's_contains'
          ? `minx <= ${p(w)} AND maxx >= ${p(e)} AND miny <= ${p(s)} AND maxy >= ${p(n)}`
          : `minx <= ${p(e)} AND maxx >= ${p(w)} AND miny <= ${p(n)} AND maxy >= ${p(s)}`;
    return `(seq IN (SELECT seq FROM items_rtree WHERE ${box}) AND geo_${op.slice(2)}(geometry, ${text(geojson)}))`;
  },
  casei: (sql) => `casei(${sql})`,
  accenti: (sql) => `accenti(${sql})`,
  divide: (a, b) => `(CAST(${a} AS REAL) / ${b})`,
  intDivide: (a, b) => `(CAST(${a} AS INTEGER) / CAST(${b} AS INTEGER))`,
  power: (a, b) => `pow(${a}, ${b})`,
  like: (a, b) => `(${a} LIKE ${b} ESCAPE '\\')`,
  arrayOverlaps: (name, values) =>
    `EXISTS (SELECT 1 FROM json_each(properties, ${jsonPath(name)}) AS e WHERE json_type(properties, ${jsonPath(name)}) = 'array' AND e.value IN (${values.join(', ')}))`,
};

/** Binds a scope's values as numbered parameters. */
function sqliteBinder(p: (v: unknown) => string): ScopeBinder {
  return {
    num: p,
    text: p,
    inList: (expr, values) => (values.length ? `${expr} IN (${values.map(p).join(', ')})` : '0'),
    notInList: (expr, values) => (values.length ? `${expr} NOT IN (${values.map(p).join(', ')})` : '1'),
  };
}

/** Sort field -> SQL expression. */
function sortExpr(field: string): string {
  const f = field.replace(/^properties\./, '');
  if (f === 'id') return 'items.id';
  if (f === 'collection') return 'items.collection';
  if (f === 'datetime' || f === 'start_datetime') return 'dt_start';
  if (f === 'end_datetime') return 'dt_end';
  return prop(f);
}

/** The item's temporal extent in milliseconds (instant, or start/end range). */
export function itemTimes(p: Record<string, unknown>): [number, number] {
  const dt = parseTimestamp(p.datetime);
  const start = p.start_datetime !== undefined ? parseTimestamp(p.start_datetime) : dt;
  const end = p.end_datetime !== undefined ? parseTimestamp(p.end_datetime) : dt;
  return [start, end];
}

/** [w, s, e, n] of an item: its bbox member, or its geometry's extent. */
export function itemBbox(it: StacItem): [number, number, number, number] {
  const b = it.bbox;
  if (b && b.length === 6) return [b[0], b[1], b[3], b[4]];
  if (b && b.length === 4) return [b[0], b[1], b[2], b[3]];
  return geometryBbox(it.geometry as GeoJsonGeometry);
}

/**
 * The embedded catalog: one SQLite file (WAL), an R*Tree of item bounding boxes with an exact
 * geometry test after it, JSON properties with indexes on the SAR queryables, keyset paging.
 */
export class SqliteCatalog implements CatalogStore {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  /** Items written since the planner's statistics were last refreshed, and the table size then. */
  private sinceAnalyze = 0;
  private rowsAtAnalyze = 0;
  /** The longest time span of any item (ms), so a search from time S can also bound starts by S - span. */
  private maxSpan = 0;

  private readonly rules: LabelRules;
  /** Scoped lookups and searches, prepared once per SQL text. */
  private readonly stmt: (sql: string) => Database.Statement;

  /** numberMatched is counted up to this many items; above it, it is left out (0: never counted). */
  private readonly countLimit: number;
  /** Counts kept while the catalog is unchanged (see count). */
  private readonly counts = new KeptCounts();

  constructor(path: string, opts: { rules?: LabelRules; countLimit?: number } = {}) {
    this.rules = opts.rules ?? new LabelRules();
    this.countLimit = opts.countLimit ?? COUNT_LIMIT;
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('case_sensitive_like = ON');
    const geo = (test: (a: never, b: never) => boolean) => (g: string, lit: string) => {
      try {
        return test(JSON.parse(g) as never, literal(lit) as never) ? 1 : 0;
      } catch {
        return 0;
      }
    };
    this.db.function('geo_intersects', { deterministic: true }, geo(booleanIntersects as never));
    this.db.function('geo_within', { deterministic: true }, geo(booleanWithin as never));
    this.db.function('geo_contains', { deterministic: true }, geo(booleanContains as never));
    this.db.function('ts_ms', { deterministic: true }, (v: unknown) => {
      if (typeof v !== 'string') return null;
      const ms = /^\d{4}-\d\d-\d\d$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : parseTimestamp(v);
      return Number.isNaN(ms) ? null : ms;
    });
    this.db.function('casei', { deterministic: true }, (v: unknown) =>
      typeof v === 'string' ? v.toLowerCase() : v,
    );
    this.db.function('accenti', { deterministic: true }, (v: unknown) =>
      typeof v === 'string' ? v.normalize('NFD').replace(/\p{M}/gu, '') : v,
    );
    this.migrate();
    const hadSummary = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_summary'")
      .get();
    this.db.exec(SCHEMA);
    this.db.exec(OUTBOX_SQLITE_SQL);
    // A catalog written before the summary table: build it once from its items.
    this.stmt = statementCache(this.db);
    if (!hadSummary) this.db.transaction(() => this.rebuildSummary('1', []))();
    this.rowsAtAnalyze = (this.db.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
    this.maxSpan =
      (this.db.prepare('SELECT max(dt_end - dt_start) AS m FROM items').get() as { m: number | null }).m ?? 0;
  }

  /**
   * Refresh the query planner's statistics once the table has doubled since the last time
   * (and at least 10,000 items): without them SQLite takes a property index for a search sorted by
   * time and sorts a sixth of the catalog for every page.
   */
  private maybeAnalyze(written: number): void {
    this.sinceAnalyze += written;
    if (this.sinceAnalyze < Math.max(10_000, this.rowsAtAnalyze)) return;
    this.db.exec('PRAGMA analysis_limit = 0; ANALYZE;');
    this.rowsAtAnalyze = (this.db.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
    this.sinceAnalyze = 0;
  }

  /** Catalogs written before labels: add the label columns (their collections become provider-only). */
  private migrate(): void {
    const cols = (t: string) =>
      (this.db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
    const items = cols('items');
    if (items.length === 0 || items.includes('label_id')) return;
    this.db.exec(`ALTER TABLE collections ADD COLUMN label_id INTEGER;
      ALTER TABLE items ADD COLUMN label_id INTEGER;
      ALTER TABLE items ADD COLUMN label_own INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE items ADD COLUMN release_ms REAL NOT NULL DEFAULT ${NO_HOLD_MS};`);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** The id of a label's row, inserting it (and its codes and caveats) the first time. */
  private labelId(row: LabelRow | null): number | null {
    if (row === null) return null;
    const found = this.db.prepare('SELECT id FROM labels WHERE canon = ?').get(row.canon) as
      | { id: number }
      | undefined;
    if (found) return found.id;
    const id = Number(
      this.db
        .prepare('INSERT INTO labels (canon, policy, rank) VALUES (?, ?, ?)')
        .run(row.canon, row.policy, row.rank).lastInsertRowid,
    );
    const rel = this.db.prepare('INSERT INTO label_rel (label_id, code) VALUES (?, ?)');
    for (const code of row.codes) rel.run(id, code);
    const cav = this.db.prepare('INSERT INTO label_caveat (label_id, caveat) VALUES (?, ?)');
    for (const c of row.caveats) cav.run(id, c);
    return id;
  }

  /** SQL and named parameters for better-sqlite3 (numbered parameters ?1, ?2, ... bind by name). */
  private scoped(select: string, where: (b: ScopeBinder) => (string | null)[], tail = '') {
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `?${params.length}`;
    };
    const conds = where(sqliteBinder(p)).filter((c): c is string => c !== null);
    const sql = `${select}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}${tail}`;
    return { sql, named: Object.fromEntries(params.map((v, i) => [String(i + 1), v])) };
  }

  /** Write a batch's summary changes: one upsert per distinct row, then drop the rows left at zero. */
  private writeSummary(deltas: SummaryDeltas): void {
    const rows = deltas.list();
    if (rows.length === 0) return;
    const up = this.stmt(
      `INSERT INTO item_summary (collection, field, value, label_id, release_ms, n) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (collection, field, value, label_id, release_ms) DO UPDATE SET n = n + excluded.n`,
    );
    for (const r of rows) up.run(r.collection, r.field, r.value, r.labelId, r.releaseMs, r.n);
    if (deltas.hasRemovals()) this.stmt('DELETE FROM item_summary WHERE n <= 0').run();
  }

  /** Add the summary rows of the items `where` selects (?1, ?2, ... bound to `params`), counted in SQL. */
  private rebuildSummary(where: string, params: unknown[]): void {
    const deltas = new SummaryDeltas();
    const named = Object.fromEntries(params.map((v, i) => [String(i + 1), v]));
    const rows = this.db.prepare(summaryCountSql(where)).all(named) as {
      collection: string;
      field: string;
      value: string | number;
      label_id: number;
      release_ms: number;
      n: number;
    }[];
    for (const r of rows)
      deltas.addCounted(
        r.collection,
        r.field,
        r.field === ASSET_FIELD ? JSON.parse(r.value as string) : r.value,
        r.label_id,
        r.release_ms,
        r.n,
      );
    this.writeSummary(deltas);
  }

  async summarize(collections: string[], scope: Scope): Promise<Map<string, CollectionSummary>> {
    const q = this.scoped(
      'SELECT items.collection AS collection, field, value FROM item_summary AS items',
      (b) => [b.inList('items.collection', collections), 'items.n > 0', ...itemScopeSql(scope, b)],
      ' GROUP BY items.collection, field, value',
    );
    const out = foldSummaryRows(this.stmt(q.sql).all(q.named) as never);
    for (const id of collections) {
      const s = out.get(id) ?? emptySummary();
      s.datetime = this.timeRange(id, scope);
      out.set(id, s);
    }
    return out;
  }

  /**
   * Earliest start and latest end of a collection's items in the scope, by the (collection, start)
   * index: the first and last start, then the latest end among items starting at most the longest
   * item span before the last start.
   */
  private timeRange(collection: string, scope: Scope): [number, number] | null {
    const edge = (dir: 'ASC' | 'DESC') => {
      const q = this.scoped(
        'SELECT dt_start AS t FROM items',
        (b) => [`items.collection = ${b.text(collection)}`, ...itemScopeSql(scope, b, '+')],
        ` ORDER BY dt_start ${dir} LIMIT 1`,
      );
      return (this.stmt(q.sql).get(q.named) as { t: number } | undefined)?.t;
    };
    const first = edge('ASC');
    const last = edge('DESC');
    if (first === undefined || last === undefined) return null;
    const q = this.scoped('SELECT max(dt_end) AS t FROM items', (b) => [
      `items.collection = ${b.text(collection)}`,
      `dt_start >= ${b.num(last - this.maxSpan)}`,
      ...itemScopeSql(scope, b, '+'),
    ]);
    const end = (this.stmt(q.sql).get(q.named) as { t: number | null }).t;
    return [first, end ?? last];
  }

  async getCollection(id: string, scope: Scope): Promise<StacCollection | null> {
    const q = this.scoped('SELECT doc FROM collections', (b) => [
      `id = ${b.text(id)}`,
      collectionScopeSql(scope, b),
    ]);
    const row = this.stmt(q.sql).get(q.named) as { doc: string } | undefined;
    return row ? JSON.parse(row.doc) : null;
  }

  async listCollections(scope: Scope): Promise<StacCollection[]> {
    const q = this.scoped(
      'SELECT doc FROM collections',
      (b) => [collectionScopeSql(scope, b)],
      ' ORDER BY id',
    );
    return (this.stmt(q.sql).all(q.named) as { doc: string }[]).map((r) => JSON.parse(r.doc));
  }

  async putCollection(c: StacCollection, mode: 'create' | 'replace'): Promise<void> {
    const label = collectionLabel(this.rules, c);
    const tx = this.db.transaction(() => {
      const labelId = this.labelId(label && labelRow(this.rules, label));
      if (mode === 'create') {
        const r = this.db
          .prepare('INSERT INTO collections (id, doc, label_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
          .run(c.id, JSON.stringify(c), labelId);
        if (r.changes === 0) throw new ConflictError(`collection '${c.id}' exists already`);
      } else {
        const old = this.db.prepare('SELECT label_id FROM collections WHERE id = ?').get(c.id) as
          | { label_id: number | null }
          | undefined;
        if (!old) throw new NotFoundError(`collection '${c.id}' does not exist`);
        this.db
          .prepare('UPDATE collections SET doc = ?, label_id = ? WHERE id = ?')
          .run(JSON.stringify(c), labelId, c.id);
        if (old.label_id === labelId) return;
        // Items without a label of their own have the collection's; their summary rows move with them.
        this.db
          .prepare('UPDATE items SET label_id = ? WHERE collection = ? AND label_own = 0')
          .run(labelId, c.id);
        this.db.prepare('DELETE FROM item_summary WHERE collection = ?').run(c.id);
        this.rebuildSummary('items.collection = ?1', [c.id]);
      }
    });
    tx();
  }

  async deleteCollection(id: string): Promise<boolean> {
    const tx = this.db.transaction(() => {
      this.db
        .prepare('DELETE FROM items_rtree WHERE seq IN (SELECT seq FROM items WHERE collection = ?)')
        .run(id);
      this.db.prepare('DELETE FROM items WHERE collection = ?').run(id);
      return this.db.prepare('DELETE FROM collections WHERE id = ?').run(id).changes > 0;
    });
    return tx();
  }

  async getItem(collection: string, id: string, scope: Scope): Promise<StacItem | null> {
    const q = this.scoped('SELECT doc FROM items', (b) => [
      `items.collection = ${b.text(collection)}`,
      `items.id = ${b.text(id)}`,
      ...itemScopeSql(scope, b),
    ]);
    const row = this.stmt(q.sql).get(q.named) as { doc: string } | undefined;
    return row ? JSON.parse(row.doc) : null;
  }

  async putItems(collection: string, items: StacItem[], mode: 'create' | 'upsert'): Promise<number> {
    return this.writeItems(collection, items, mode, null).n;
  }

  async publishItems(
    collection: string,
    items: StacItem[],
    event: NewOutboxEvent,
  ): Promise<{ eventAdded: boolean }> {
    return { eventAdded: this.writeItems(collection, items, 'upsert', event).eventAdded };
  }

  async events(q: OutboxQuery = {}): Promise<OutboxEvent[]> {
    return eventsSqlite(this.db, q);
  }

  async markDelivered(seq: number): Promise<void> {
    markDeliveredSqlite(this.db, seq);
  }

  /** Items (all or none) and, with `event`, the outbox event, in one transaction. */
  private writeItems(
    collection: string,
    items: StacItem[],
    mode: 'create' | 'upsert',
    event: NewOutboxEvent | null,
  ): { n: number; eventAdded: boolean } {
    const coll = this.db.prepare('SELECT label_id FROM collections WHERE id = ?').get(collection) as
      | { label_id: number | null }
      | undefined;
    if (!coll) throw new NotFoundError(`collection '${collection}' does not exist`);
    const labels = items.map((it) => {
      const l = itemLabel(this.rules, it);
      return l && labelRow(this.rules, l);
    });
    const releases = items.map(releaseMs);
    const find = this.stmt(
      "SELECT seq, properties, json_quote(json_extract(doc, '$.assets')) AS assets, label_id, release_ms FROM items WHERE collection = ? AND id = ?",
    );
    const delTree = this.db.prepare('DELETE FROM items_rtree WHERE seq = ?');
    const delItem = this.db.prepare('DELETE FROM items WHERE seq = ?');
    const ins = this.db.prepare(
      'INSERT INTO items (collection, id, dt_start, dt_end, geometry, properties, doc, label_id, label_own, release_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insTree = this.db.prepare(
      'INSERT INTO items_rtree (seq, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)',
    );
    const tx = this.db.transaction((list: StacItem[]) => {
      // The batch's summary changes, added up here and written once: the items it replaces out, its own in.
      const deltas = new SummaryDeltas();
      for (const [k, it] of list.entries()) {
        const own = labels[k];
        const old = find.get(collection, it.id) as (StoredSummaryRow & { seq: number }) | undefined;
        if (old) {
          if (mode === 'create')
            throw new ConflictError(`item '${it.id}' exists already in collection '${collection}'`);
          deltas.addItem(collection, storedSource(old), -1);
          delTree.run(old.seq);
          delItem.run(old.seq);
        }
        const [start, end] = itemTimes(it.properties);
        if (end - start > this.maxSpan) this.maxSpan = end - start;
        const labelId = own ? this.labelId(own) : coll.label_id;
        const r = ins.run(
          collection,
          it.id,
          start,
          end,
          JSON.stringify(it.geometry),
          JSON.stringify(it.properties),
          JSON.stringify({ ...it, collection }),
          labelId,
          own ? 1 : 0,
          releases[k],
        );
        const [w, s, e, n] = itemBbox(it);
        insTree.run(r.lastInsertRowid, w, e, s, n);
        deltas.addItem(
          collection,
          { properties: it.properties, assets: it.assets, labelId, releaseMs: releases[k] },
          1,
        );
      }
      this.writeSummary(deltas);
      return { n: list.length, eventAdded: event ? insertEventSqlite(this.db, event) : false };
    });
    const r = tx(items);
    this.maybeAnalyze(r.n);
    return r;
  }

  async deleteItem(collection: string, id: string): Promise<boolean> {
    const tx = this.db.transaction(() => {
      const row = this.db
        .prepare(
          "SELECT seq, properties, json_quote(json_extract(doc, '$.assets')) AS assets, label_id, release_ms FROM items WHERE collection = ? AND id = ?",
        )
        .get(collection, id) as (StoredSummaryRow & { seq: number }) | undefined;
      if (!row) return false;
      const deltas = new SummaryDeltas();
      deltas.addItem(collection, storedSource(row), -1);
      this.writeSummary(deltas);
      this.db.prepare('DELETE FROM items_rtree WHERE seq = ?').run(row.seq);
      this.db.prepare('DELETE FROM items WHERE seq = ?').run(row.seq);
      return true;
    });
    return tx();
  }

  async search(q: SearchParams, scope: Scope): Promise<SearchPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `?${params.length}`;
    };
    where.push(...itemScopeSql(scope, sqliteBinder(p), '+'));
    // The partner's "now" among the parameters (the scope's release condition), for the kept counts.
    const nowIndex = nowParamIndex(where, /^items\.release_ms <= \?(\d+)$/);
    if (q.collections) where.push(`items.collection IN (${q.collections.map(p).join(', ')})`);
    if (q.ids) where.push(`items.id IN (${q.ids.map(p).join(', ')})`);
    if (q.datetime?.start != null) {
      where.push(`dt_end >= ${p(q.datetime.start)}`);
      // Redundant for the result, but it bounds the time index from below.
      where.push(`dt_start >= ${p(q.datetime.start - this.maxSpan)}`);
    }
    if (q.datetime?.end != null) where.push(`dt_start <= ${p(q.datetime.end)}`);
    const spatial = q.intersects ?? (q.bbox ? bboxPolygon(q.bbox) : null);
    if (spatial)
      where.push(sqliteDialect.spatial('s_intersects', JSON.stringify(spatial), geometryBbox(spatial), p, p));
    if (q.filter !== undefined) {
      const t = new Cql2Sql(sqliteDialect, params.length);
      const sql = t.translate(q.filter);
      where.push(sql);
      params.push(...t.params);
    }
    // The count's conditions: the page's, without the token's keyset bounds.
    const matchWhere = [...where];
    const lastDir = q.sortby.at(-1)?.direction ?? 'desc';
    const sort = [
      ...q.sortby.map((s) => {
        const expr = sortExpr(s.field);
        return { expr, dir: s.direction, nullable: expr.startsWith('json_extract') };
      }),
      { expr: 'seq', dir: lastDir },
    ];
    if (q.token) {
      const key = decodeToken(q.token, sort.length);
      where.push(...keysetConditions(sort, key, (i) => p(key[i]), 'IS'));
    }
    const sql = `SELECT doc, ${sort.map((s, i) => `${s.expr} AS k${i}`).join(', ')} FROM items${
      where.length ? ` WHERE ${where.join(' AND ')}` : ''
    } ORDER BY ${orderBy(sort)} LIMIT ${p(q.limit + 1)}`;
    const c = compactParams(sql, params, '?');
    // better-sqlite3 binds numbered parameters (?1, ?2, ...) by name.
    const named = Object.fromEntries(c.params.map((v, i) => [String(i + 1), v]));
    const rows = this.stmt(c.sql).all(named) as Record<string, unknown>[];
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeToken(sort.map((_, i) => last[`k${i}`])) : null;
    return {
      items: page.map((r) => applyFields(JSON.parse(r.doc as string), q.fields)),
      next,
      matched: !q.token && !next ? page.length : this.count(matchWhere, params, nowIndex),
    };
  }

  /**
   * The number of items matching `where` (the scope's conditions among them), or null when there are
   * more than the count limit: counting stops there, so a count never costs more than reading that
   * many index entries past the page. A count is kept while the catalog is unchanged (this
   * connection's changes and SQLite's data version for other connections' commits), so the pages of
   * one search count once; for a partner (the parameter at `nowIndex` is the time of the request) it
   * is kept until the next release time of any held item after the time it was counted at.
   */
  private count(where: string[], params: unknown[], nowIndex: number | null): number | null {
    const limit = this.countLimit;
    if (limit <= 0) return null;
    const version = this.catalogVersion();
    const nowMs = nowIndex === null ? null : Number(params[nowIndex]);
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM items${
      where.length ? ` WHERE ${where.join(' AND ')}` : ''
    } LIMIT ${limit + 1})`;
    const c = compactParams(sql, params, '?');
    const key = this.counts.key(sql, params, nowIndex, '?');
    const kept = this.counts.get(key, version, nowMs);
    if (kept !== undefined) return kept;
    const named = Object.fromEntries(c.params.map((v, i) => [String(i + 1), v]));
    const counted = (this.stmt(c.sql).get(named) as { n: number }).n;
    const n = counted > limit ? null : counted;
    let nextReleaseMs = Number.POSITIVE_INFINITY;
    if (nowMs !== null) {
      const r = this.stmt(
        `SELECT min(release_ms) AS m FROM items WHERE release_ms > ${NO_HOLD_MS} AND release_ms > ?`,
      ).get(nowMs) as { m: number | null };
      nextReleaseMs = r.m ?? Number.POSITIVE_INFINITY;
    }
    this.counts.set(key, version, n, nowMs, nextReleaseMs);
    return n;
  }

  /** Changes when the catalog's rows may have: this connection's row changes, other connections' commits. */
  private catalogVersion(): string {
    const v = this.stmt('SELECT total_changes() AS t').get() as { t: number };
    return `${this.db.pragma('data_version', { simple: true })}:${v.t}`;
  }
}
