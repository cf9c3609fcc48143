import { once } from 'node:events';
import { writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { FormatError, NotFoundError, ValidationError } from '../errors.js';
import { statementCache } from '../util/sqlite-statements.js';
import { type AuditDigest, type AuditRecord, isoUtcMs } from './audit-record.js';

/**
 * The audit log's SQLite tables and the reads shared by the writer (AuditLog) and the
 * read-only tools (verify, export). Records and digests are append-only: triggers RAISE on
 * UPDATE or DELETE. That stops mistakes, not a tamperer with the file (who can drop them);
 * the hash chain and the signed digests are what catch that.
 *
 * Two secondary indexes only, (org, seq) for a partner admin's pages and (time) for ranges:
 * every index costs each append's commit a page write (an actor index took ~25% of append
 * throughput), so actor and action filters run over the org index or the table.
 */
export const AUDIT_FORMAT = 'sarbridge-audit-1';

export const AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  actor TEXT,
  org TEXT,
  action TEXT NOT NULL,
  resource TEXT,
  detail TEXT NOT NULL,
  result TEXT NOT NULL,
  ip TEXT,
  request_id TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_org ON records (org, seq);
CREATE INDEX IF NOT EXISTS records_time ON records (time);
CREATE TABLE IF NOT EXISTS digests (
  n INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  last_hash TEXT NOT NULL,
  record_hashes BLOB NOT NULL,
  prev_signature TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS digests_no_update BEFORE UPDATE ON digests
  BEGIN SELECT RAISE(ABORT, 'audit digests are append-only'); END;
CREATE TRIGGER IF NOT EXISTS digests_no_delete BEFORE DELETE ON digests
  BEGIN SELECT RAISE(ABORT, 'audit digests are append-only'); END;
`;

/** The columns of a record row, named as AuditRecord (detail still JSON text). */
export const RECORD_COLUMNS =
  'seq, time, actor, org, action, resource, detail, result, ip, request_id AS requestId, prev_hash AS prevHash, hash';

export type RecordRow = Omit<AuditRecord, 'detail'> & { detail: string };

export function rowToRecord(r: RecordRow): AuditRecord {
  return { ...r, detail: JSON.parse(r.detail) as Record<string, unknown> };
}

interface DigestRow {
  n: number;
  time: string;
  first_seq: number;
  last_seq: number;
  last_hash: string;
  record_hashes: Buffer;
  prev_signature: string;
  key_id: string;
  signature: string;
}

function rowToDigest(r: DigestRow): AuditDigest {
  return {
    n: r.n,
    time: r.time,
    firstSeq: r.first_seq,
    lastSeq: r.last_seq,
    lastHash: r.last_hash,
    recordHashes: r.record_hashes,
    prevSignature: r.prev_signature,
    keyId: r.key_id,
    signature: r.signature,
  };
}

/** All digests, by n. */
export function readDigests(db: Database.Database): AuditDigest[] {
  return (db.prepare('SELECT * FROM digests ORDER BY n').all() as DigestRow[]).map(rowToDigest);
}

/** The digest with the highest n, or null when none was written. */
export function readLastDigest(db: Database.Database): AuditDigest | null {
  const r = db.prepare('SELECT * FROM digests ORDER BY n DESC LIMIT 1').get() as DigestRow | undefined;
  return r ? rowToDigest(r) : null;
}

export function insertDigestStatement(db: Database.Database): (d: AuditDigest) => void {
  const st = db.prepare(
    `INSERT INTO digests (n, time, first_seq, last_seq, last_hash, record_hashes, prev_signature, key_id, signature)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return (d) => {
    st.run(
      d.n,
      d.time,
      d.firstSeq,
      d.lastSeq,
      d.lastHash,
      d.recordHashes,
      d.prevSignature,
      d.keyId,
      d.signature,
    );
  };
}

/** Which records an export (or, with a limit, a query) takes; all conditions hold at once. */
export interface AuditFilter {
  org?: string;
  actor?: string;
  action?: string;
  /** Records at or after this ISO 8601 time. */
  since?: string;
  /** Records before this ISO 8601 time (exclusive). */
  until?: string;
  /** Records with seq > afterSeq (keyset paging: pass the last seq of the previous page). */
  afterSeq?: number;
}

/** A page of the audit log, e.g. for GET /admin/audit. */
export interface AuditQuery extends AuditFilter {
  /** 1 to MAX_AUDIT_LIMIT records, oldest first. */
  limit: number;
}

export const MAX_AUDIT_LIMIT = 10_000;

function optString(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new ValidationError(`audit ${name} must be a non-empty string; got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Audit queries over one database handle; statements prepared once per combination of filters.
 * The org condition is part of the SQL, so a partner admin's page holds its organisation only.
 */
export class AuditReader {
  private readonly stmt: (sql: string) => Database.Statement;

  constructor(db: Database.Database) {
    this.stmt = statementCache(db);
  }

  /** Records matching q, by seq ascending. Throws ValidationError on a bad parameter. */
  query(q: AuditQuery): AuditRecord[] {
    if (!Number.isInteger(q?.limit) || q.limit < 1 || q.limit > MAX_AUDIT_LIMIT)
      throw new ValidationError(
        `audit query limit must be an integer from 1 to ${MAX_AUDIT_LIMIT}; got ${JSON.stringify(q?.limit)}`,
      );
    const where: string[] = [];
    const args: (string | number)[] = [];
    const cond = (sql: string, arg: string | number | undefined) => {
      if (arg === undefined) return;
      where.push(sql);
      args.push(arg);
    };
    cond('org = ?', optString(q.org, 'org'));
    cond('actor = ?', optString(q.actor, 'actor'));
    cond('action = ?', optString(q.action, 'action'));
    cond('time >= ?', q.since === undefined ? undefined : isoUtcMs(q.since, 'audit since'));
    cond('time < ?', q.until === undefined ? undefined : isoUtcMs(q.until, 'audit until'));
    if (q.afterSeq !== undefined && (!Number.isInteger(q.afterSeq) || q.afterSeq < 0))
      throw new ValidationError(`audit afterSeq must be an integer >= 0; got ${JSON.stringify(q.afterSeq)}`);
    cond('seq > ?', q.afterSeq);
    const sql = `SELECT ${RECORD_COLUMNS} FROM records${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
    return (this.stmt(sql).all(...args, q.limit) as RecordRow[]).map(rowToRecord);
  }

  /**
   * Write the records matching filter as JSON lines (one AuditRecord a line), a page at a time,
   * waiting for 'drain' on a stream; the stream is not ended. Resolves to the number of records.
   */
  async exportJsonLines(out: NodeJS.WritableStream | number, filter: AuditFilter = {}): Promise<number> {
    let afterSeq = filter.afterSeq ?? 0;
    let count = 0;
    for (;;) {
      const page = this.query({ ...filter, afterSeq, limit: 1000 });
      if (page.length === 0) return count;
      let text = '';
      for (const r of page) text += `${JSON.stringify(r)}\n`;
      if (typeof out === 'number') writeSync(out, text);
      else if (!out.write(text)) await once(out, 'drain');
      count += page.length;
      afterSeq = page[page.length - 1].seq;
    }
  }
}

/** Open an existing audit log read-only; FormatError when it is not one. */
export function openAuditReadOnly(path: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new NotFoundError(`audit log ${path} cannot be opened: ${(err as Error).message}`, { cause: err });
  }
  try {
    const format = db.prepare("SELECT value FROM meta WHERE key = 'format'").pluck().get();
    if (format !== AUDIT_FORMAT) throw new Error(`format is ${JSON.stringify(format)}`);
  } catch (err) {
    db.close();
    throw new FormatError(
      path,
      `not a sarbridge audit log (expected meta format '${AUDIT_FORMAT}'): ${(err as Error).message}`,
    );
  }
  return db;
}
