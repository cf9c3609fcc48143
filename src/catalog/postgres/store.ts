import pg from 'pg';
import { LabelRules } from '../../access/labels.js';
import type { Scope } from '../../access/scope.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { bboxPolygon } from '../../geo/geojson.js';
import { Cql2Sql, compactParams, type SqlDialect } from '../cql2/sql.js';
import { applyFields } from '../fields.js';
import { KeptCounts, nowParamIndex } from '../kept-counts.js';
import {
  collectionLabel,
  itemLabel,
  type LabelRow,
  labelRow,
  NO_HOLD_MS,
  releaseMs,
} from '../label-index.js';
import {
  eventsPostgres,
  insertEventPostgres,
  markDeliveredPostgres,
  type NewOutboxEvent,
  OUTBOX_POSTGRES_SQL,
  type OutboxEvent,
  type OutboxQuery,
} from '../outbox.js';
import {
  COUNT_LIMIT,
  COUNT_TIMEOUT_MS,
  decodeToken,
  encodeToken,
  keysetConditions,
  orderBy,
} from '../paging.js';
import { collectionScopeSql, itemScopeSql, type ScopeBinder } from '../scope-sql.js';
import { INDEXED_PROPERTIES, itemTimes } from '../sqlite/store.js';
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
import type { SearchPage, SearchParams, StacCollection, StacItem } from '../types.js';

const NAME = /^[A-Za-z0-9_:.-]{1,128}$/;

function prop(name: string): string {
  if (!NAME.test(name))
    throw new ValidationError(`property name '${name}' may only hold letters, digits and _ : . -`);
  return `NULLIF(properties -> '${name}', 'null'::jsonb)`;
}

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TABLE IF NOT EXISTS labels (id bigserial PRIMARY KEY, canon text NOT NULL UNIQUE, policy text NOT NULL, rank int NOT NULL);
CREATE TABLE IF NOT EXISTS label_rel (label_id bigint NOT NULL, code text NOT NULL, PRIMARY KEY (label_id, code));
CREATE TABLE IF NOT EXISTS label_caveat (label_id bigint NOT NULL, caveat text NOT NULL, PRIMARY KEY (label_id, caveat));
CREATE TABLE IF NOT EXISTS collections (id text PRIMARY KEY, part serial UNIQUE, doc jsonb NOT NULL);
ALTER TABLE collections ADD COLUMN IF NOT EXISTS label_id bigint;
CREATE TABLE IF NOT EXISTS item_keys (
  collection text NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  id text NOT NULL,
  PRIMARY KEY (collection, id)
);
CREATE SEQUENCE IF NOT EXISTS items_seq;
CREATE TABLE IF NOT EXISTS items (
  seq bigint NOT NULL,
  collection text NOT NULL,
  id text NOT NULL,
  dt_start double precision NOT NULL,
  dt_end double precision NOT NULL,
  geometry geometry(Geometry, 4326) NOT NULL,
  properties jsonb NOT NULL,
  doc jsonb NOT NULL
) PARTITION BY LIST (collection);
ALTER TABLE items ADD COLUMN IF NOT EXISTS label_id bigint;
ALTER TABLE items ADD COLUMN IF NOT EXISTS label_own boolean NOT NULL DEFAULT false;
ALTER TABLE items ADD COLUMN IF NOT EXISTS release_ms double precision NOT NULL DEFAULT ${NO_HOLD_MS};
CREATE INDEX IF NOT EXISTS items_geom ON items USING gist (geometry);
CREATE INDEX IF NOT EXISTS items_dt ON items (dt_start, seq);
CREATE INDEX IF NOT EXISTS items_key ON items (collection, id);
CREATE INDEX IF NOT EXISTS items_release ON items (release_ms) WHERE release_ms > ${NO_HOLD_MS};
${INDEXED_PROPERTIES.map((p, i) => `CREATE INDEX IF NOT EXISTS items_q${i} ON items ((${prop(p)}));`).join('\n')}
CREATE TABLE IF NOT EXISTS item_summary (
  collection text NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  field text NOT NULL,
  value text NOT NULL,
  label_id bigint NOT NULL,
  release_ms double precision NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (collection, field, value, label_id, release_ms)
);
CREATE OR REPLACE FUNCTION sb_num(v jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE AS
  $$ SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::numeric END $$;
CREATE OR REPLACE FUNCTION sb_ms(v jsonb) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF jsonb_typeof(v) <> 'string' THEN RETURN NULL; END IF;
  RETURN extract(epoch FROM (v #>> '{}')::timestamptz) * 1000;
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
`;

/**
 * The summary rows of the items `rows` selects, counted by PostgreSQL (for rebuilding a
 * collection's rows from its items): one per summarised property value (array elements one by one)
 * and per asset definition, grouped by collection, label (0: none, provider-only) and release time;
 * `value` is the JSON value, or for an asset the pair [key, {type, roles, title}].
 */
function summaryCountSql(rows: string): string {
  // Each document is taken apart once (jsonb_each): every `->` on a compressed jsonb value would
  // decompress all of it again.
  const fields = `ARRAY[${SUMMARY_FIELDS.map((f) => pg.escapeLiteral(f)).join(', ')}]::text[]`;
  const group = 'coalesce(src.label_id, 0) AS label_id, src.release_ms';
  return `WITH src AS (${rows})
  SELECT collection, field, value, label_id, release_ms, count(*) AS n FROM (
    SELECT src.collection, p.key AS field, e.v AS value, ${group}
    FROM src CROSS JOIN LATERAL jsonb_each(src.properties) AS p(key, value)
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(p.value) = 'array'
      THEN p.value ELSE jsonb_build_array(p.value) END) AS e(v)
    WHERE p.key = ANY(${fields}) AND jsonb_typeof(e.v) IN ('string', 'number')
    UNION ALL
    SELECT src.collection, '${ASSET_FIELD}', jsonb_build_array(a.key, jsonb_build_object('type', a.value -> 'type',
      'roles', a.value -> 'roles', 'title', a.value -> 'title')), ${group}
    FROM src CROSS JOIN LATERAL jsonb_each(jsonb_path_query_first(src.doc, '$.assets ? (@.type() == "object")'))
      AS a(key, value)
    WHERE jsonb_typeof(a.value) = 'object'
  ) t GROUP BY 1, 2, 3, 4, 5`;
}

/** What a summary update reads back from the items a write replaces or deletes (RETURNING). */
const STORED_SUMMARY = "properties, doc -> 'assets' AS assets, label_id, release_ms";
interface StoredSummaryRow {
  properties: Record<string, unknown>;
  assets: unknown;
  label_id: string | null;
  release_ms: number;
}
const storedSource = (r: StoredSummaryRow): SummarySource => ({
  properties: r.properties,
  assets: r.assets,
  labelId: r.label_id === null ? null : Number(r.label_id),
  releaseMs: r.release_ms,
});

const pgDialect: SqlDialect = {
  valueParam: (i) => `$${i}::jsonb`,
  numParam: (i) => `$${i}::float8`,
  textParam: (i) => `$${i}::text`,
  encodeValue: (v) => JSON.stringify(v),
  property: prop,
  toMillis: (sql) => `sb_ms(${sql})`,
  id: 'to_jsonb(items.id)',
  collection: 'to_jsonb(items.collection)',
  start: 'dt_start',
  end: 'dt_end',
  spatial(op, geojson, _bbox, _num, text) {
    const fn = op === 's_within' ? 'ST_Within' : op === 's_contains' ? 'ST_Contains' : 'ST_Intersects';
    return `${fn}(geometry, ST_SetSRID(ST_GeomFromGeoJSON(${text(geojson)}), 4326))`;
  },
  casei: (sql) => `to_jsonb(lower(${sql} #>> '{}'))`,
  accenti: (sql) => `to_jsonb(unaccent(${sql} #>> '{}'))`,
  arith: (op, a, b) =>
    op === '%' ? `to_jsonb(mod(sb_num(${a}), sb_num(${b})))` : `to_jsonb(sb_num(${a}) ${op} sb_num(${b}))`,
  divide: (a, b) => `to_jsonb(sb_num(${a}) / NULLIF(sb_num(${b}), 0))`,
  intDivide: (a, b) => `to_jsonb(div(sb_num(${a}), NULLIF(sb_num(${b}), 0)))`,
  power: (a, b) => `to_jsonb(power(sb_num(${a}), sb_num(${b})))`,
  like: (a, b) => `((${a} #>> '{}') LIKE (${b} #>> '{}'))`,
  arrayOverlaps: (name, values) =>
    `EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${prop(name)}) = 'array' THEN ${prop(name)} ELSE '[]'::jsonb END) AS e(v) WHERE e.v IN (${values.join(', ')}))`,
};

/** Binds a scope's values as typed parameters; lists as text arrays. */
function pgBinder(p: (v: unknown, cast: string) => string): ScopeBinder {
  return {
    num: (v) => p(v, 'float8'),
    text: (v) => p(v, 'text'),
    inList: (expr, values) => `${expr} = ANY(${p(values, 'text[]')})`,
    notInList: (expr, values) => `${expr} <> ALL(${p(values, 'text[]')})`,
  };
}

/** Sort field -> SQL expression and the cast of its keyset parameter. */
function sortExpr(field: string): { expr: string; cast: string } {
  const f = field.replace(/^properties\./, '');
  if (f === 'id') return { expr: 'items.id', cast: 'text' };
  if (f === 'collection') return { expr: 'items.collection', cast: 'text' };
  if (f === 'datetime' || f === 'start_datetime') return { expr: 'dt_start', cast: 'float8' };
  if (f === 'end_datetime') return { expr: 'dt_end', cast: 'float8' };
  return { expr: prop(f), cast: 'jsonb' };
}

const MONTH_MS = (y: number, m: number) => Date.UTC(y, m, 1);

/**
 * The scale-out catalog on PostgreSQL with PostGIS: items partitioned by collection (LIST), each
 * collection by month of acquisition (RANGE on the start time), as pgstac does; GiST on the
 * footprints, B-trees on time and on the SAR queryables; the same keyset paging as SQLite.
 */
export class PostgresCatalog implements CatalogStore {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;
  private ready: Promise<void>;
  private readonly months = new Set<string>();
  /** Items written since the planner's statistics were last refreshed, and the total then. */
  private sinceAnalyze = 0;
  private rowsAtAnalyze = 0;
  private analyzing: Promise<unknown> | null = null;
  /** The longest time span of any item (ms), so a search from time S can also bound starts by S - span. */
  private maxSpan: number | null = null;

  private readonly rules: LabelRules;

  /** numberMatched is counted up to this many items, for at most countTimeoutMs; else left out (0: never counted). */
  private readonly countLimit: number;
  private readonly countTimeoutMs: number;
  /** Counts kept while the database is unchanged (see count). */
  private readonly counts = new KeptCounts();

  constructor(
    connectionString: string,
    opts: { rules?: LabelRules; countLimit?: number; countTimeoutMs?: number } = {},
  ) {
    this.rules = opts.rules ?? new LabelRules();
    this.countLimit = opts.countLimit ?? COUNT_LIMIT;
    this.countTimeoutMs = opts.countTimeoutMs ?? COUNT_TIMEOUT_MS;
    this.pool = new pg.Pool({ connectionString, max: 8 });
    // An idle connection the server ends (a restart, a dropped database) is taken out of the pool;
    // without a listener its error would end the process.
    this.pool.on('error', () => {});
    this.ready = this.init();
  }

  private async init(): Promise<void> {
    const c = await this.pool.connect();
    try {
      // One schema creation at a time across processes.
      await c.query('SELECT pg_advisory_lock(764251)');
      const had = await c.query<{ t: string | null }>("SELECT to_regclass('item_summary')::text AS t");
      await c.query(SCHEMA);
      await c.query(OUTBOX_POSTGRES_SQL);
      // A catalog written before the summary table: build it once from its items.
      if (had.rows[0]?.t === null) await this.rebuildSummary(c, 'SELECT * FROM items', []);
      await c.query('SELECT pg_advisory_unlock(764251)');
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    await this.analyzing;
    await this.pool.end();
  }

  private async span(): Promise<number> {
    if (this.maxSpan === null) {
      const r = await this.q<{ m: number | null }>('SELECT max(dt_end - dt_start) AS m FROM items');
      this.maxSpan = Math.max(this.maxSpan ?? 0, Number(r.rows[0]?.m ?? 0));
    }
    return this.maxSpan;
  }

  /** Run `fn` in a transaction on one connection: committed when it returns, rolled back when it throws. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await fn(client);
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  private async q<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    await this.ready;
    return this.pool.query<R>(sql, params);
  }

  /** A query with its conditions, the scope's among them, and typed numbered parameters. */
  private scoped(select: string, where: (b: ScopeBinder) => (string | null)[], tail = '') {
    const params: unknown[] = [];
    const p = (v: unknown, cast: string) => {
      params.push(v);
      return `$${params.length}::${cast}`;
    };
    const conds = where(pgBinder(p)).filter((c): c is string => c !== null);
    return { sql: `${select}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}${tail}`, params };
  }

  /** The id of a label's row, inserting it (and its codes and caveats) the first time. */
  private async labelId(client: pg.PoolClient, row: LabelRow | null): Promise<number | null> {
    if (row === null) return null;
    const found = await client.query<{ id: string }>('SELECT id FROM labels WHERE canon = $1', [row.canon]);
    if (found.rows[0]) return Number(found.rows[0].id);
    const r = await client.query<{ id: string }>(
      `WITH l AS (INSERT INTO labels (canon, policy, rank) VALUES ($1, $2, $3)
         ON CONFLICT (canon) DO UPDATE SET canon = EXCLUDED.canon RETURNING id),
       r AS (INSERT INTO label_rel (label_id, code) SELECT l.id, unnest($4::text[]) FROM l ON CONFLICT DO NOTHING),
       v AS (INSERT INTO label_caveat (label_id, caveat) SELECT l.id, unnest($5::text[]) FROM l ON CONFLICT DO NOTHING)
       SELECT id FROM l`,
      [row.canon, row.policy, row.rank, row.codes, row.caveats],
    );
    return Number(r.rows[0].id);
  }

  /**
   * Write a batch's summary changes in one statement (one row per distinct key, in key order, so
   * concurrent writers lock rows in the same order), then drop the rows left at zero.
   */
  private async writeSummary(client: pg.PoolClient, deltas: SummaryDeltas): Promise<void> {
    // In one order for every writer: two transactions updating shared rows in different orders
    // would deadlock.
    const key = (r: {
      collection: string;
      field: string;
      value: string;
      labelId: number;
      releaseMs: number;
    }) => `${r.collection}\u0000${r.field}\u0000${r.labelId}\u0000${r.releaseMs}\u0000${r.value}`;
    const rows = deltas
      .list()
      .map((r) => ({ r, k: key(r) }))
      .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
      .map((x) => x.r);
    if (rows.length === 0) return;
    await client.query(
      `INSERT INTO item_summary (collection, field, value, label_id, release_ms, n)
       SELECT c, f, v, l, r, n FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::bigint[])
         WITH ORDINALITY AS t(c, f, v, l, r, n, k) ORDER BY k
       ON CONFLICT (collection, field, value, label_id, release_ms) DO UPDATE SET n = item_summary.n + EXCLUDED.n`,
      [
        rows.map((r) => r.collection),
        rows.map((r) => r.field),
        rows.map((r) => r.value),
        rows.map((r) => r.labelId),
        rows.map((r) => r.releaseMs),
        rows.map((r) => r.n),
      ],
    );
    // Only the rows this write took from (locked by its upsert already): a scan of the collection's
    // rows would wait for other writers' rows while they wait for these.
    const down = rows.filter((r) => r.n < 0);
    if (down.length > 0)
      await client.query(
        `DELETE FROM item_summary s USING unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[])
           AS t(c, f, v, l, r)
         WHERE s.collection = t.c AND s.field = t.f AND s.value = t.v AND s.label_id = t.l AND s.release_ms = t.r
           AND s.n <= 0`,
        [
          down.map((r) => r.collection),
          down.map((r) => r.field),
          down.map((r) => r.value),
          down.map((r) => r.labelId),
          down.map((r) => r.releaseMs),
        ],
      );
  }

  /** Add the summary rows of the items `rows` selects (a query on items), counted in SQL. */
  private async rebuildSummary(client: pg.PoolClient, rows: string, params: unknown[]): Promise<void> {
    const deltas = new SummaryDeltas();
    const counted = await client.query<{
      collection: string;
      field: string;
      value: unknown;
      label_id: string;
      release_ms: number;
      n: string;
    }>(summaryCountSql(rows), params);
    for (const r of counted.rows)
      deltas.addCounted(r.collection, r.field, r.value, Number(r.label_id), r.release_ms, Number(r.n));
    await this.writeSummary(client, deltas);
  }

  async summarize(collections: string[], scope: Scope): Promise<Map<string, CollectionSummary>> {
    const s = this.scoped(
      'SELECT items.collection AS collection, field, value FROM item_summary AS items',
      (b) => [b.inList('items.collection', collections), 'items.n > 0', ...itemScopeSql(scope, b)],
      ' GROUP BY 1, 2, 3',
    );
    const rows = (await this.q<{ collection: string; field: string; value: string }>(s.sql, s.params)).rows;
    const out = foldSummaryRows(rows);
    const ranges = await Promise.all(collections.map((id) => this.timeRange(id, scope)));
    for (const [k, id] of collections.entries()) {
      const sum = out.get(id) ?? emptySummary();
      sum.datetime = ranges[k];
      out.set(id, sum);
    }
    return out;
  }

  /**
   * Earliest start and latest end of a collection's items in the scope, by the start-time index of
   * its partitions: the first and last start, then the latest end among items starting at most the
   * longest item span before the last start.
   */
  private async timeRange(collection: string, scope: Scope): Promise<[number, number] | null> {
    const edge = async (dir: 'ASC' | 'DESC') => {
      const s = this.scoped(
        'SELECT dt_start AS t FROM items',
        (b) => [`items.collection = ${b.text(collection)}`, ...itemScopeSql(scope, b)],
        ` ORDER BY dt_start ${dir} LIMIT 1`,
      );
      const r = await this.q<{ t: number }>(s.sql, s.params);
      return r.rows[0] ? Number(r.rows[0].t) : undefined;
    };
    const [first, last] = await Promise.all([edge('ASC'), edge('DESC')]);
    if (first === undefined || last === undefined) return null;
    const span = await this.span();
    const s = this.scoped('SELECT max(dt_end) AS t FROM items', (b) => [
      `items.collection = ${b.text(collection)}`,
      `dt_start >= ${b.num(last - span)}`,
      ...itemScopeSql(scope, b),
    ]);
    const end = (await this.q<{ t: number | null }>(s.sql, s.params)).rows[0]?.t;
    return [first, end === null || end === undefined ? last : Number(end)];
  }

  async getCollection(id: string, scope: Scope): Promise<StacCollection | null> {
    const s = this.scoped('SELECT doc FROM collections', (b) => [
      `id = ${b.text(id)}`,
      collectionScopeSql(scope, b),
    ]);
    const r = await this.q<{ doc: StacCollection }>(s.sql, s.params);
    return r.rows[0]?.doc ?? null;
  }

  async listCollections(scope: Scope): Promise<StacCollection[]> {
    const s = this.scoped(
      'SELECT doc FROM collections',
      (b) => [collectionScopeSql(scope, b)],
      ' ORDER BY id',
    );
    return (await this.q<{ doc: StacCollection }>(s.sql, s.params)).rows.map((r) => r.doc);
  }

  async putCollection(c: StacCollection, mode: 'create' | 'replace'): Promise<void> {
    await this.ready;
    const label = collectionLabel(this.rules, c);
    const row = label && labelRow(this.rules, label);
    if (mode === 'replace') {
      await this.transaction(async (client) => {
        const labelId = await this.labelId(client, row);
        const old = await client.query<{ label_id: string | null }>(
          'SELECT label_id FROM collections WHERE id = $1 FOR UPDATE',
          [c.id],
        );
        if (old.rowCount === 0) throw new NotFoundError(`collection '${c.id}' does not exist`);
        await client.query('UPDATE collections SET doc = $2, label_id = $3 WHERE id = $1', [
          c.id,
          c,
          labelId,
        ]);
        const was = old.rows[0].label_id === null ? null : Number(old.rows[0].label_id);
        if (was === labelId) return;
        // Items without a label of their own have the collection's; their summary rows move with them.
        await client.query('UPDATE items SET label_id = $2 WHERE collection = $1 AND NOT label_own', [
          c.id,
          labelId,
        ]);
        await client.query('DELETE FROM item_summary WHERE collection = $1', [c.id]);
        await this.rebuildSummary(client, 'SELECT * FROM items WHERE collection = $1', [c.id]);
      });
      return;
    }
    await this.transaction(async (client) => {
      const labelId = await this.labelId(client, row);
      const r = await client.query<{ part: number }>(
        'INSERT INTO collections (id, doc, label_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING part',
        [c.id, c, labelId],
      );
      if (r.rowCount === 0) throw new ConflictError(`collection '${c.id}' exists already`);
      const part = r.rows[0].part;
      await client.query(
        `CREATE TABLE items_c${part} PARTITION OF items FOR VALUES IN (${pg.escapeLiteral(c.id)}) PARTITION BY RANGE (dt_start)`,
      );
    });
  }

  async deleteCollection(id: string): Promise<boolean> {
    const r = await this.q<{ part: number }>('SELECT part FROM collections WHERE id = $1', [id]);
    if (r.rowCount === 0) return false;
    await this.transaction(async (client) => {
      await client.query(`DROP TABLE IF EXISTS items_c${r.rows[0].part} CASCADE`);
      await client.query('DELETE FROM collections WHERE id = $1', [id]);
    });
    for (const k of this.months) if (k.startsWith(`${r.rows[0].part}/`)) this.months.delete(k);
    return true;
  }

  async getItem(collection: string, id: string, scope: Scope): Promise<StacItem | null> {
    const s = this.scoped('SELECT doc FROM items', (b) => [
      `items.collection = ${b.text(collection)}`,
      `items.id = ${b.text(id)}`,
      ...itemScopeSql(scope, b),
    ]);
    const r = await this.q<{ doc: StacItem }>(s.sql, s.params);
    return r.rows[0]?.doc ?? null;
  }

  /**
   * Month partitions of a collection for the given start times, each made in a short transaction of
   * its own before the write: DDL inside concurrent writers' transactions deadlocks them (the
   * partition's AccessExclusiveLock on the parent queued between their row locks).
   */
  private async ensureMonths(part: number, starts: number[]): Promise<void> {
    const need = new Set<string>();
    for (const t of starts) {
      const d = new Date(t);
      const key = `${part}/${d.getUTCFullYear()}/${d.getUTCMonth()}`;
      if (!this.months.has(key)) need.add(key);
    }
    for (const key of need) {
      const [, y, m] = key.split('/').map(Number);
      const name = `items_c${part}_${y}${String(m + 1).padStart(2, '0')}`;
      // Two processes creating the same partition at once would both pass IF NOT EXISTS and one
      // fail ('already exists'): the first holds this lock until it commits, the second then skips.
      await this.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(764254, hashtext($1))', [name]);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF items_c${part} FOR VALUES FROM (${MONTH_MS(y, m)}) TO (${MONTH_MS(y, m + 1)})`,
        );
      });
      this.months.add(key);
    }
  }

  async putItems(collection: string, items: StacItem[], mode: 'create' | 'upsert'): Promise<number> {
    return (await this.writeItems(collection, items, mode, null)).n;
  }

  async publishItems(
    collection: string,
    items: StacItem[],
    event: NewOutboxEvent,
  ): Promise<{ eventAdded: boolean }> {
    return { eventAdded: (await this.writeItems(collection, items, 'upsert', event)).eventAdded };
  }

  async events(q: OutboxQuery = {}): Promise<OutboxEvent[]> {
    await this.ready;
    return eventsPostgres(this.pool, q);
  }

  async markDelivered(seq: number): Promise<void> {
    await this.ready;
    await markDeliveredPostgres(this.pool, seq);
  }

  /** Items (all or none) and, with `event`, the outbox event, in one transaction. */
  private async writeItems(
    collection: string,
    items: StacItem[],
    mode: 'create' | 'upsert',
    event: NewOutboxEvent | null,
  ): Promise<{ n: number; eventAdded: boolean }> {
    await this.ready;
    const seen = new Set<string>();
    for (const it of items) {
      if (seen.has(it.id)) throw new ValidationError(`item '${it.id}' appears twice in the request`);
      seen.add(it.id);
    }
    const times = items.map((it) => itemTimes(it.properties));
    const own = items.map((it) => {
      const l = itemLabel(this.rules, it);
      return l && labelRow(this.rules, l);
    });
    const releases = items.map(releaseMs);
    const coll = await this.pool.query<{ part: number }>('SELECT part FROM collections WHERE id = $1', [
      collection,
    ]);
    if (coll.rowCount === 0) throw new NotFoundError(`collection '${collection}' does not exist`);
    await this.ensureMonths(
      coll.rows[0].part,
      times.map((t) => t[0]),
    );
    const eventAdded = await this.transaction(async (client) => {
      const c = await client.query<{ part: number; label_id: string | null }>(
        'SELECT part, label_id FROM collections WHERE id = $1',
        [collection],
      );
      if (c.rowCount === 0) throw new NotFoundError(`collection '${collection}' does not exist`);
      const inherited = c.rows[0].label_id === null ? null : Number(c.rows[0].label_id);
      const labelIds: (number | null)[] = [];
      const byCanon = new Map<string, number | null>();
      for (const row of own) {
        if (row === null) labelIds.push(inherited);
        else {
          if (!byCanon.has(row.canon)) byCanon.set(row.canon, await this.labelId(client, row));
          labelIds.push(byCanon.get(row.canon) ?? null);
        }
      }
      const ids = items.map((it) => it.id);
      // The batch's summary changes, added up here and written once: the items it replaces out, its own in.
      const deltas = new SummaryDeltas();

      if (mode === 'create') {
        const r = await client.query<{ id: string }>(
          'INSERT INTO item_keys (collection, id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING id',
          [collection, ids],
        );
        if (r.rowCount !== ids.length) {
          const added = new Set(r.rows.map((x) => x.id));
          const dup = ids.find((id) => !added.has(id));
          throw new ConflictError(`item '${dup}' exists already in collection '${collection}'`);
        }
      } else {
        // The keys first, locked: a concurrent upsert of the same ids waits here until this one
        // commits, then its DELETE (a later statement) sees and replaces these items (no second copy).
        await client.query(
          'INSERT INTO item_keys (collection, id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
          [collection, ids],
        );
        await client.query(
          'SELECT 1 FROM item_keys WHERE collection = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE',
          [collection, ids],
        );
        // The items this batch replaces go, and their summary rows with them.
        const gone = await client.query<StoredSummaryRow>(
          `DELETE FROM items WHERE collection = $1 AND id = ANY($2::text[]) RETURNING ${STORED_SUMMARY}`,
          [collection, ids],
        );
        for (const r of gone.rows) deltas.addItem(collection, storedSource(r), -1);
      }
      await client.query(
        `INSERT INTO items (seq, collection, id, dt_start, dt_end, geometry, properties, doc, label_id, label_own, release_ms)
       SELECT nextval('items_seq'), $1, i, s, e, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326), p, d, l, o, r
       FROM unnest($2::text[], $3::float8[], $4::float8[], $5::text[], $6::jsonb[], $7::jsonb[], $8::bigint[], $9::boolean[], $10::float8[])
         AS t(i, s, e, g, p, d, l, o, r)`,
        [
          collection,
          ids,
          times.map((t) => t[0]),
          times.map((t) => t[1]),
          items.map((it) => JSON.stringify(it.geometry)),
          items.map((it) => JSON.stringify(it.properties)),
          items.map((it) => JSON.stringify({ ...it, collection })),
          labelIds,
          own.map((r) => r !== null),
          releases,
        ],
      );
      for (const [k, it] of items.entries())
        deltas.addItem(
          collection,
          { properties: it.properties, assets: it.assets, labelId: labelIds[k], releaseMs: releases[k] },
          1,
        );
      await this.writeSummary(client, deltas);
      return event ? insertEventPostgres(client, event) : false;
    });
    const span = Math.max(0, ...times.map((t) => t[1] - t[0]));
    if (this.maxSpan !== null && span > this.maxSpan) this.maxSpan = span;
    this.sinceAnalyze += items.length;
    // Fresh statistics once the table has doubled (autovacuum may come later than a bulk load),
    // in the background: ANALYZE does not block writes. The label tables too: without their
    // statistics the planner takes the visible labels of a partner scope for one row and joins
    // label_rel by a sequential scan per label (60 ms a search with 250 labels).
    if (this.analyzing === null && this.sinceAnalyze >= Math.max(10_000, this.rowsAtAnalyze)) {
      this.rowsAtAnalyze += this.sinceAnalyze;
      this.sinceAnalyze = 0;
      this.analyzing = this.pool
        .query('ANALYZE items, labels, label_rel, label_caveat')
        .catch(() => {})
        .finally(() => {
          this.analyzing = null;
        });
    }
    return { n: items.length, eventAdded };
  }

  async deleteItem(collection: string, id: string): Promise<boolean> {
    await this.ready;
    return this.transaction(async (client) => {
      const r = await client.query('DELETE FROM item_keys WHERE collection = $1 AND id = $2', [
        collection,
        id,
      ]);
      const gone = await client.query<StoredSummaryRow>(
        `DELETE FROM items WHERE collection = $1 AND id = $2 RETURNING ${STORED_SUMMARY}`,
        [collection, id],
      );
      const deltas = new SummaryDeltas();
      for (const row of gone.rows) deltas.addItem(collection, storedSource(row), -1);
      await this.writeSummary(client, deltas);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async search(q: SearchParams, scope: Scope): Promise<SearchPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown, cast: string) => {
      params.push(v);
      return `$${params.length}::${cast}`;
    };
    where.push(...itemScopeSql(scope, pgBinder(p)));
    if (q.collections) where.push(`items.collection = ANY(${p(q.collections, 'text[]')})`);
    if (q.ids) where.push(`items.id = ANY(${p(q.ids, 'text[]')})`);
    if (q.datetime?.start != null) {
      where.push(`dt_end >= ${p(q.datetime.start, 'float8')}`);
      // Redundant for the result, but it prunes the month partitions and bounds the time index.
      where.push(`dt_start >= ${p(q.datetime.start - (await this.span()), 'float8')}`);
    }
    if (q.datetime?.end != null) where.push(`dt_start <= ${p(q.datetime.end, 'float8')}`);
    const spatial = q.intersects ?? (q.bbox ? bboxPolygon(q.bbox) : null);
    if (spatial)
      where.push(
        pgDialect.spatial(
          's_intersects',
          JSON.stringify(spatial),
          [],
          (v) => p(v, 'float8'),
          (v) => p(v, 'text'),
        ),
      );
    if (q.filter !== undefined) {
      const t = new Cql2Sql(pgDialect, params.length);
      where.push(t.translate(q.filter));
      params.push(...t.params);
    }
    // The count's conditions: the page's, without the token's keyset bounds.
    const matchWhere = [...where];
    const matchParams = [...params];
    const lastDir = q.sortby.at(-1)?.direction ?? 'desc';
    const sort = [
      ...q.sortby.map((s) => {
        const e = sortExpr(s.field);
        return { ...e, dir: s.direction, nullable: e.cast === 'jsonb' };
      }),
      { expr: 'seq', cast: 'bigint', dir: lastDir },
    ];
    if (q.token) {
      const key = decodeToken(q.token, sort.length);
      // A missing value is SQL NULL (prop() maps JSON null to it), not the JSON value null.
      const val = (i: number) =>
        sort[i].cast === 'jsonb' && key[i] !== null ? JSON.stringify(key[i]) : key[i];
      where.push(...keysetConditions(sort, key, (i) => p(val(i), sort[i].cast), 'IS NOT DISTINCT FROM'));
    }
    const sql = `SELECT doc, ${sort.map((s, i) => `${s.expr} AS k${i}`).join(', ')} FROM items${
      where.length ? ` WHERE ${where.join(' AND ')}` : ''
    } ORDER BY ${orderBy(sort)} LIMIT ${p(q.limit + 1, 'int')}`;
    const c = compactParams(sql, params, '$');
    // The count runs beside the page, on its own connection.
    const counting = this.count(
      matchWhere,
      matchParams,
      nowParamIndex(matchWhere, /^items\.release_ms <= \$(\d+)::float8$/),
    );
    let rows: Record<string, unknown>[];
    try {
      rows = (await this.q(c.sql, c.params)).rows;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      // Data exceptions and bad operand types come from the filter's values (e.g. text compared with a time).
      if (code.startsWith('22') || code === '42883' || code === '42804' || code.startsWith('XX'))
        throw new ValidationError(`filter: the catalog cannot evaluate it (${(err as Error).message})`);
      throw err;
    }
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next =
      rows.length > q.limit && last
        ? encodeToken(sort.map((s, i) => (s.cast === 'bigint' ? Number(last[`k${i}`]) : last[`k${i}`])))
        : null;
    return {
      items: page.map((r) => applyFields(r.doc as StacItem, q.fields)),
      next,
      // A first page that holds every match is its own count: the count is not waited for (it
      // finishes on its connection, bounded by the count limit and time limit, and never rejects).
      matched: !q.token && !next ? page.length : await counting,
    };
  }

  /**
   * The number of items matching `where` (the scope's conditions among them), or null when there are
   * more than the count limit or counting takes longer than the count time limit. Never rejects: a
   * filter the catalog cannot evaluate fails the page query itself. A count is kept while the
   * database's WAL insert position is unchanged (every commit that writes moves it; it is read before
   * counting, so a commit in between only makes the next page count again), so the pages of one
   * search count once; for a partner (the parameter at `nowIndex` is the time of the request) it is
   * kept until the next release time of any held item after the time it was counted at.
   */
  private async count(where: string[], params: unknown[], nowIndex: number | null): Promise<number | null> {
    const limit = this.countLimit;
    if (limit <= 0) return null;
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM items${
      where.length ? ` WHERE ${where.join(' AND ')}` : ''
    } LIMIT ${limit + 1}) t`;
    const c = compactParams(sql, params, '$');
    const nowMs = nowIndex === null ? null : Number(params[nowIndex]);
    const key = this.counts.key(sql, params, nowIndex, '$');
    await this.ready;
    const client = await this.pool.connect().catch(() => null);
    if (client === null) return null;
    try {
      await client.query('BEGIN READ ONLY');
      // No WAL position on a standby: counted every time there.
      const lsn = await client
        .query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')
        .then((r) => r.rows[0].lsn)
        .catch(() => null);
      if (lsn === null) await client.query('ROLLBACK; BEGIN READ ONLY');
      const kept = lsn === null ? undefined : this.counts.get(key, lsn, nowMs);
      if (kept !== undefined) {
        await client.query('COMMIT');
        return kept;
      }
      await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(this.countTimeoutMs))}`);
      const counted = Number((await client.query<{ n: string }>(c.sql, c.params)).rows[0].n);
      let nextReleaseMs = Number.POSITIVE_INFINITY;
      if (nowMs !== null) {
        const r = await client.query<{ m: number | null }>(
          `SELECT min(release_ms) AS m FROM items WHERE release_ms > ${NO_HOLD_MS} AND release_ms > $1::float8`,
          [nowMs],
        );
        nextReleaseMs = r.rows[0].m ?? Number.POSITIVE_INFINITY;
      }
      await client.query('COMMIT');
      const n = counted > limit ? null : counted;
      if (lsn !== null) this.counts.set(key, lsn, n, nowMs, nextReleaseMs);
      return n;
    } catch {
      await client.query('ROLLBACK').catch(() => {});
      return null;
    } finally {
      client.release();
    }
  }
}
