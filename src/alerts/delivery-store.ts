/**
 * Delivery records: one row per (subscription, event), the truth about a webhook delivery. The job
 * queue only wakes the deliverer; whatever a kill -9 interrupts, the row says what is left to do.
 * The table lives beside the subscriptions' (same SQLite database) and holds the event as it was
 * fanned out, so a retry sends the same event under the same webhook-id.
 *
 * States: pending (to attempt, at nextAttemptAt), delivering (an attempt is running; a killed one
 * is attempted again), delivered (2xx), dead (the last attempt failed: a dead letter the partner
 * may redeliver), dropped (the subscriber may no longer see the item: nothing was sent), disabled
 * (the endpoint answered 410, or the subscription was disabled or deleted).
 */
import type Database from 'better-sqlite3';
import { ValidationError } from '../errors.js';
import { statementCache } from '../util/sqlite-statements.js';
import type { AlertEvent } from './types.js';

export const DELIVERY_STATES = ['pending', 'delivering', 'delivered', 'dead', 'dropped', 'disabled'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/** States after which the next delivery of the subscription may start. */
export const FINAL_STATES: readonly DeliveryState[] = ['delivered', 'dead', 'dropped', 'disabled'];

export interface DeliveryRecord {
  /** 'd' and a number, unique in the database. */
  id: string;
  subscriptionId: string;
  eventId: string;
  /** The webhook-id header: the event id (the same on every attempt and every redelivery). */
  webhookId: string;
  outboxSeq: number;
  eventIndex: number;
  state: DeliveryState;
  /** Attempts made (over every redelivery). */
  attempts: number;
  /** Attempts since the delivery was created or last redelivered (what the schedule counts). */
  roundAttempts: number;
  /** Redeliveries asked for through the API. */
  generation: number;
  firstAttemptAt: string | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
  event: AlertEvent;
}

export const DELIVERY_SQLITE_SQL = `
CREATE TABLE IF NOT EXISTS alert_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  outbox_seq INTEGER NOT NULL,
  event_index INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  round_attempts INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0,
  first_attempt_at TEXT,
  last_attempt_at TEXT,
  next_attempt_at TEXT,
  last_status INTEGER,
  last_error TEXT,
  delivered_at TEXT,
  created_at TEXT NOT NULL,
  event TEXT NOT NULL,
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_sub_state ON alert_deliveries (subscription_id, state, outbox_seq, event_index);
CREATE TABLE IF NOT EXISTS alert_dispatch_cursor (name TEXT PRIMARY KEY, after_seq INTEGER NOT NULL);
`;

interface Row {
  id: number;
  subscription_id: string;
  event_id: string;
  outbox_seq: number;
  event_index: number;
  state: DeliveryState;
  attempts: number;
  round_attempts: number;
  generation: number;
  first_attempt_at: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  event: string;
}

const record = (r: Row): DeliveryRecord => ({
  id: `d${r.id}`,
  subscriptionId: r.subscription_id,
  eventId: r.event_id,
  webhookId: r.event_id,
  outboxSeq: r.outbox_seq,
  eventIndex: r.event_index,
  state: r.state,
  attempts: r.attempts,
  roundAttempts: r.round_attempts,
  generation: r.generation,
  firstAttemptAt: r.first_attempt_at,
  lastAttemptAt: r.last_attempt_at,
  nextAttemptAt: r.next_attempt_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  createdAt: r.created_at,
  event: JSON.parse(r.event) as AlertEvent,
});

/** The numeric row id of 'd<n>', or null when it is not one. */
function rowId(id: string): number | null {
  return /^d[1-9][0-9]{0,15}$/.test(id) ? Number(id.slice(1)) : null;
}

export interface DeliveryQuery {
  state?: DeliveryState;
  limit?: number;
  /** Records after this id (paging). */
  afterId?: string;
}

/** How an attempt ended, as the record keeps it. */
export interface AttemptRecord {
  state: 'pending' | 'delivered' | 'dead' | 'disabled';
  status: number | null;
  error: string | null;
  nextAttemptAt: string | null;
}

/** The delivery records on a SQLite database (the subscriptions' own). */
export class SqliteDeliveryStore {
  private readonly stmt: (sql: string) => Database.Statement;

  constructor(readonly db: Database.Database) {
    db.exec(DELIVERY_SQLITE_SQL);
    this.stmt = statementCache(db);
  }

  /** Create the records of one event for these subscriptions (idempotent): the ones created. */
  async create(
    ev: AlertEvent,
    subscriptionIds: readonly string[],
    nowIso = new Date().toISOString(),
  ): Promise<DeliveryRecord[]> {
    const ins = this.stmt(
      `INSERT OR IGNORE INTO alert_deliveries (subscription_id, event_id, outbox_seq, event_index, state, next_attempt_at, created_at, event)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
    );
    const json = JSON.stringify(ev);
    const out: DeliveryRecord[] = [];
    this.db.transaction(() => {
      for (const sub of subscriptionIds) {
        ins.run(sub, ev.id, ev.outboxSeq, ev.index, nowIso, nowIso, json);
        const r = this.stmt('SELECT * FROM alert_deliveries WHERE subscription_id = ? AND event_id = ?').get(
          sub,
          ev.id,
        ) as Row;
        out.push(record(r));
      }
    })();
    return out;
  }

  async get(id: string): Promise<DeliveryRecord | null> {
    const n = rowId(id);
    if (n === null) return null;
    const r = this.stmt('SELECT * FROM alert_deliveries WHERE id = ?').get(n) as Row | undefined;
    return r === undefined ? null : record(r);
  }

  /** A subscription's records in event order (outboxSeq, index), optionally of one state. */
  async list(subscriptionId: string, q: DeliveryQuery = {}): Promise<DeliveryRecord[]> {
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new ValidationError(`deliveries limit: expected an integer from 1 to 1000, got ${q.limit}`);
    if (q.state !== undefined && !DELIVERY_STATES.includes(q.state))
      throw new ValidationError(
        `deliveries state: expected one of ${DELIVERY_STATES.join(', ')}, got ${String(q.state)}`,
      );
    const after = q.afterId === undefined ? 0 : rowId(q.afterId);
    if (after === null)
      throw new ValidationError(`deliveries after: expected a delivery id d<n>, got ${q.afterId}`);
    const rows = this.stmt(
      `SELECT * FROM alert_deliveries WHERE subscription_id = ? AND (? IS NULL OR state = ?) AND id > ?
       ORDER BY outbox_seq, event_index, id LIMIT ?`,
    ).all(subscriptionId, q.state ?? null, q.state ?? null, after, limit) as Row[];
    return rows.map(record);
  }

  /** Count of records per state (all subscriptions, or one). */
  async counts(subscriptionId?: string): Promise<Record<DeliveryState, number>> {
    const rows = this.stmt(
      'SELECT state, count(*) AS n FROM alert_deliveries WHERE (? IS NULL OR subscription_id = ?) GROUP BY state',
    ).all(subscriptionId ?? null, subscriptionId ?? null) as { state: DeliveryState; n: number }[];
    const out = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>;
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  /** An attempt starts: delivering, one more attempt counted (the first attempt's time kept). */
  async begin(id: string, nowIso: string): Promise<DeliveryRecord> {
    const n = rowId(id);
    this.stmt(
      `UPDATE alert_deliveries SET state = 'delivering', attempts = attempts + 1, round_attempts = round_attempts + 1,
         first_attempt_at = coalesce(first_attempt_at, ?), last_attempt_at = ? WHERE id = ?`,
    ).run(nowIso, nowIso, n);
    const r = await this.get(id);
    if (r === null) throw new ValidationError(`delivery ${id}: not found`);
    return r;
  }

  /** How the attempt ended. */
  async end(id: string, a: AttemptRecord, nowIso: string): Promise<void> {
    this.stmt(
      `UPDATE alert_deliveries SET state = ?, last_status = ?, last_error = ?, next_attempt_at = ?,
         delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE id = ?`,
    ).run(a.state, a.status, a.error, a.nextAttemptAt, a.state, nowIso, rowId(id));
  }

  /** Nothing sent and nothing to send: dropped (not visible) or disabled (subscription gone). */
  async settle(id: string, state: 'dropped' | 'disabled', reason: string): Promise<void> {
    this.stmt(
      `UPDATE alert_deliveries SET state = ?, last_error = ?, next_attempt_at = NULL
       WHERE id = ? AND state IN ('pending', 'delivering')`,
    ).run(state, reason, rowId(id));
  }

  /**
   * A dead letter back to pending with a fresh schedule (the partner's redelivery); the new
   * generation, or null when the record is not dead.
   */
  async redeliver(id: string, nowIso: string): Promise<number | null> {
    const r = this.stmt(
      `UPDATE alert_deliveries SET state = 'pending', round_attempts = 0, first_attempt_at = NULL,
         next_attempt_at = ?, generation = generation + 1 WHERE id = ? AND state = 'dead' RETURNING generation`,
    ).get(nowIso, rowId(id)) as { generation: number } | undefined;
    return r === undefined ? null : r.generation;
  }

  /** A subscription's next delivery: its earliest unfinished record in event order, or null. */
  async head(subscriptionId: string): Promise<DeliveryRecord | null> {
    const r = this.stmt(
      `SELECT * FROM alert_deliveries WHERE subscription_id = ? AND state IN ('pending', 'delivering')
       ORDER BY outbox_seq, event_index, id LIMIT 1`,
    ).get(subscriptionId) as Row | undefined;
    return r === undefined ? null : record(r);
  }

  /** The subscriptions with deliveries still to make (for the start-up sweep). */
  async unfinishedSubscriptions(): Promise<string[]> {
    const rows = this.stmt(
      `SELECT DISTINCT subscription_id FROM alert_deliveries WHERE state IN ('pending', 'delivering')`,
    ).all() as { subscription_id: string }[];
    return rows.map((r) => r.subscription_id);
  }

  /** The records still to deliver (pending or interrupted), oldest event first, for the start-up sweep. */
  async unfinished(limit = 10_000): Promise<DeliveryRecord[]> {
    const rows = this.stmt(
      `SELECT * FROM alert_deliveries WHERE state IN ('pending', 'delivering') ORDER BY outbox_seq, event_index, id LIMIT ?`,
    ).all(limit) as Row[];
    return rows.map(record);
  }

  /** The dispatcher's durable cursor: the last outbox seq whose deliveries are all created and queued. */
  async cursor(name: string): Promise<number> {
    const r = this.stmt('SELECT after_seq FROM alert_dispatch_cursor WHERE name = ?').get(name) as
      | { after_seq: number }
      | undefined;
    return r?.after_seq ?? 0;
  }

  async setCursor(name: string, afterSeq: number): Promise<void> {
    this.stmt(
      `INSERT INTO alert_dispatch_cursor (name, after_seq) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET after_seq = max(after_seq, excluded.after_seq)`,
    ).run(name, afterSeq);
  }
}

export type DeliveryStore = SqliteDeliveryStore;
