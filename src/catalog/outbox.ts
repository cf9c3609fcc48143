import type Database from 'better-sqlite3';
import type pg from 'pg';
import { ValidationError } from '../errors.js';

/**
 * The outbox: one row per event to deliver (a product's publication: its items are in the catalog),
 * kept in the catalog's own database and written in the same transaction as the items
 * (`CatalogStore.publishItems`), so an event exists exactly when its items do. The alerts work reads
 * it with `CatalogStore.events`.
 */
export interface OutboxEvent {
  /** Increasing with each insert: read on with `afterSeq`. */
  seq: number;
  /** Unique: one event per publication ('published:<product id>'). */
  eventKey: string;
  type: 'published';
  productId: string;
  collection: string;
  itemIds: string[];
  payload: Record<string, unknown>;
  createdAt: string;
  deliveredAt: string | null;
}

/** An event as its writer gives it (the store adds seq, createdAt, deliveredAt). */
export type NewOutboxEvent = Omit<OutboxEvent, 'seq' | 'createdAt' | 'deliveredAt'>;

export interface OutboxQuery {
  /** Events with a larger seq (default 0: from the first). */
  afterSeq?: number;
  /** At most this many (default 1000, 1 to 10000). */
  limit?: number;
  /** Only those not marked delivered. */
  undelivered?: boolean;
}

export const OUTBOX_SQLITE_SQL = `
CREATE TABLE IF NOT EXISTS pipeline_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_key TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  product_id TEXT NOT NULL,
  collection TEXT NOT NULL,
  item_ids TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  delivered_at TEXT
);`;

export const OUTBOX_POSTGRES_SQL = `
CREATE TABLE IF NOT EXISTS pipeline_outbox (
  seq bigserial PRIMARY KEY,
  event_key text NOT NULL UNIQUE,
  type text NOT NULL,
  product_id text NOT NULL,
  collection text NOT NULL,
  item_ids jsonb NOT NULL,
  payload jsonb NOT NULL,
  created_at text NOT NULL,
  delivered_at text
);`;

interface OutboxRow {
  seq: number | string;
  event_key: string;
  type: 'published';
  product_id: string;
  collection: string;
  item_ids: string | string[];
  payload: string | Record<string, unknown>;
  created_at: string;
  delivered_at: string | null;
}

const json = <T>(v: string | T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

const outboxEvent = (r: OutboxRow): OutboxEvent => ({
  seq: Number(r.seq),
  eventKey: r.event_key,
  type: r.type,
  productId: r.product_id,
  collection: r.collection,
  itemIds: json(r.item_ids),
  payload: json(r.payload),
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});

function outboxParams(q: OutboxQuery): { after: number; limit: number; undelivered: boolean } {
  const after = q.afterSeq ?? 0;
  const limit = q.limit ?? 1000;
  if (!Number.isSafeInteger(after) || after < 0)
    throw new ValidationError(`events: afterSeq must be an integer >= 0, got ${q.afterSeq}`);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000)
    throw new ValidationError(`events: limit must be an integer from 1 to 10000, got ${q.limit}`);
  return { after, limit, undelivered: q.undelivered === true };
}

/** Insert an event unless one with its key exists (inside the caller's transaction); true when added. */
export function insertEventSqlite(db: Database.Database, e: NewOutboxEvent): boolean {
  const r = db
    .prepare(
      `INSERT OR IGNORE INTO pipeline_outbox (event_key, type, product_id, collection, item_ids, payload, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      e.eventKey,
      e.type,
      e.productId,
      e.collection,
      JSON.stringify(e.itemIds),
      JSON.stringify(e.payload),
      new Date().toISOString(),
    );
  return r.changes === 1;
}

export function eventsSqlite(db: Database.Database, q: OutboxQuery): OutboxEvent[] {
  const p = outboxParams(q);
  const rows = db
    .prepare(
      `SELECT * FROM pipeline_outbox WHERE seq > ? AND (? = 0 OR delivered_at IS NULL) ORDER BY seq LIMIT ?`,
    )
    .all(p.after, p.undelivered ? 1 : 0, p.limit) as OutboxRow[];
  return rows.map(outboxEvent);
}

export function markDeliveredSqlite(db: Database.Database, seq: number): void {
  db.prepare('UPDATE pipeline_outbox SET delivered_at = coalesce(delivered_at, ?) WHERE seq = ?').run(
    new Date().toISOString(),
    seq,
  );
}

/** The transaction-scoped advisory lock that orders the outbox's inserts (see insertEventPostgres). */
const OUTBOX_LOCK = 764252;

/**
 * As insertEventSqlite, on the caller's PostgreSQL transaction (`ON CONFLICT DO NOTHING`), which
 * should end soon after. A seq is taken when a transaction inserts, not when it commits: without
 * care a reader could see seq 8 before a slower transaction commits seq 7, read on after 8 and never
 * see 7. So the insert first takes a transaction-scoped lock that the commit releases: the seqs
 * commit in order (publications are one per product; they wait for each other only that long).
 */
export async function insertEventPostgres(client: pg.ClientBase, e: NewOutboxEvent): Promise<boolean> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [OUTBOX_LOCK]);
  const r = await client.query(
    `INSERT INTO pipeline_outbox (event_key, type, product_id, collection, item_ids, payload, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_key) DO NOTHING`,
    [
      e.eventKey,
      e.type,
      e.productId,
      e.collection,
      JSON.stringify(e.itemIds),
      JSON.stringify(e.payload),
      new Date().toISOString(),
    ],
  );
  return r.rowCount === 1;
}

/** Events in seq order (committed in that order: see insertEventPostgres). */
export async function eventsPostgres(pool: pg.Pool, q: OutboxQuery): Promise<OutboxEvent[]> {
  const p = outboxParams(q);
  const r = await pool.query<OutboxRow>(
    `SELECT seq, event_key, type, product_id, collection, item_ids, payload, created_at, delivered_at
     FROM pipeline_outbox
     WHERE seq > $1 AND ($2::boolean = false OR delivered_at IS NULL)
     ORDER BY seq LIMIT $3`,
    [p.after, p.undelivered, p.limit],
  );
  return r.rows.map(outboxEvent);
}

export async function markDeliveredPostgres(pool: pg.Pool, seq: number): Promise<void> {
  await pool.query('UPDATE pipeline_outbox SET delivered_at = coalesce(delivered_at, $1) WHERE seq = $2', [
    new Date().toISOString(),
    seq,
  ]);
}
