/**
 * The SQLite queue's table and the mapping of its rows to JobRecords. Times are epoch milliseconds;
 * the stored states are waiting, active, completed and failed (a waiting job whose run_after lies
 * ahead is reported as delayed).
 */
import type { JobProgress, JobRecord, JobState } from './queue.js';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  key TEXT UNIQUE,
  order_key TEXT,
  order_seq INTEGER NOT NULL DEFAULT 0,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'completed', 'failed')),
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  backoff TEXT NOT NULL,
  run_after INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  progress TEXT,
  result TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS queue_jobs_ready ON queue_jobs (run_after, id) WHERE state = 'waiting';
CREATE INDEX IF NOT EXISTS queue_jobs_leased ON queue_jobs (lease_expires_at) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS queue_jobs_order ON queue_jobs (order_key, order_seq)
  WHERE order_key IS NOT NULL AND state IN ('waiting', 'active');
CREATE INDEX IF NOT EXISTS queue_jobs_state ON queue_jobs (state, name);
CREATE TABLE IF NOT EXISTS queue_order_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT OR IGNORE INTO queue_order_seq (id, value) VALUES (1, 0);
`;

export interface JobRow {
  id: number;
  name: string;
  key: string | null;
  order_key: string | null;
  order_seq: number;
  payload: string;
  state: 'waiting' | 'active' | 'completed' | 'failed';
  attempt: number;
  max_attempts: number;
  backoff: string;
  run_after: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  progress: string | null;
  result: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** The SQL condition for a reported state (delayed and waiting are both stored as waiting). */
export function stateCondition(state: JobState): string {
  if (state === 'delayed') return "state = 'waiting' AND run_after > @now";
  if (state === 'waiting') return "state = 'waiting' AND run_after <= @now";
  return `state = '${state}'`;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function rowState(row: JobRow, nowMs: number): JobState {
  return row.state === 'waiting' && row.run_after > nowMs ? 'delayed' : row.state;
}

export function rowToRecord(row: JobRow, nowMs: number): JobRecord {
  const state = rowState(row, nowMs);
  return {
    id: String(row.id),
    name: row.name,
    key: row.key,
    orderKey: row.order_key,
    payload: JSON.parse(row.payload),
    state,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    progress: row.progress === null ? null : (JSON.parse(row.progress) as JobProgress),
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error,
    createdAt: iso(row.created_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    runAfter: state === 'waiting' || state === 'delayed' ? iso(row.run_after) : null,
  };
}
