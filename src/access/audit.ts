import {
  createPrivateKey,
  createPublicKey,
  verify as cryptoVerify,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ConflictError, FormatError, NotFoundError, ValidationError } from '../errors.js';
import {
  type AuditDigest,
  type AuditInput,
  type AuditRecord,
  canonicalJson,
  chainHash,
  DIGEST_ACTION,
  DIGEST_PREFIX_BYTES,
  digestPayload,
  GENESIS_HASH,
  isoUtcMs,
  keyIdOf,
  recordLine,
} from './audit-record.js';
import {
  AUDIT_FORMAT,
  AUDIT_SCHEMA,
  type AuditFilter,
  type AuditQuery,
  AuditReader,
  insertDigestStatement,
  openAuditReadOnly,
  RECORD_COLUMNS,
  type RecordRow,
  readLastDigest,
} from './audit-store.js';
import { type AuditVerifyResult, verifyAuditDb } from './audit-verify.js';

export type { AuditDigest, AuditInput, AuditRecord } from './audit-record.js';
export { canonicalJson, DIGEST_ACTION, GENESIS_HASH } from './audit-record.js';
export type { AuditFilter, AuditQuery } from './audit-store.js';
export { MAX_AUDIT_LIMIT } from './audit-store.js';
export type { AuditVerifyResult } from './audit-verify.js';

/**
 * A tamper-evident access audit log, after AWS CloudTrail's log file integrity validation.
 *
 * Each record holds the SHA-256 of the one before it (a hash chain from a fixed genesis hash);
 * every `digestEvery` records, every `digestIntervalMs` and on close the log writes a digest
 * signed with the server's Ed25519 key: the seq range it covers, the hash of its last record, a
 * short prefix of each covered record's hash (to name the record that differs), and the
 * previous digest's signature (digests are chained). The last record of each digest's range is
 * one the log writes itself (action 'audit.digest') naming the digest, so a deleted last digest
 * is found. `verify` names the first bad record: edited, deleted, inserted, reordered, a
 * truncated tail, a forged or edited digest, a deleted digest.
 *
 * What it cannot catch without a copy kept elsewhere: cutting off the records after the last
 * digest, or rolling the whole file back to an earlier digest; ship digests (or `verify`'s
 * result) off the host to close that, as CloudTrail's digest files in S3 do.
 *
 * One server process owns a log file: the last hash and seq live in memory, so a second writer
 * would fork the chain. Records carry explicit seqs, so a second writer's insert fails with a
 * ConflictError rather than forking silently; readers (verify, export) may run alongside.
 *
 * @example
 * const log = new AuditLog('audit.db');
 * log.append({ actor: 'user:alice', org: 'coastguard', action: 'search', resource: '/search',
 *   detail: { bbox: [3, 51, 4, 52], returned: 12 }, result: 'ok', ip: '10.0.0.7', requestId: 'r1' });
 * log.close();
 */
export class AuditLog {
  /** The public half of the signing key, PEM (SPKI); also written to `${path}.pub.pem`. */
  readonly publicKeyPem: string;
  readonly keyId: string;
  private readonly db: Database.Database;
  private readonly reader: AuditReader;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly digestEvery: number;
  private readonly insertRecord: Database.Statement;
  private readonly insertDigest: (d: AuditDigest) => void;
  private readonly writeDigestTx: (marker: AuditRecord, markerJson: string, d: AuditDigest) => void;
  private readonly timer: NodeJS.Timeout | null;
  private lastSeq = 0;
  private lastHash = GENESIS_HASH;
  private lastDigestN = 0;
  private lastDigestSeq = 0;
  private lastSignature = '';
  /** Hashes of the records after the last digest. */
  private pending: string[] = [];
  private timerError: unknown = null;
  private closed = false;

  /**
   * Open (or create) the log at path.
   * @param opts.signingKey an Ed25519 private key, or the path of one in PEM; default: the key in
   *   `${path}.key.pem`, generated (mode 0600) when missing.
   * @param opts.digestEvery records per digest, default 1000.
   * @param opts.digestIntervalMs the longest time records stay unsigned, default 60000.
   */
  constructor(
    readonly path: string,
    opts: { signingKey?: KeyObject | string; digestEvery?: number; digestIntervalMs?: number } = {},
  ) {
    const digestEvery = opts.digestEvery ?? 1000;
    const intervalMs = opts.digestIntervalMs ?? 60_000;
    if (!Number.isInteger(digestEvery) || digestEvery < 1)
      throw new ValidationError(`audit digestEvery must be an integer >= 1; got ${digestEvery}`);
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs))
      throw new ValidationError(`audit digestIntervalMs must be a positive number; got ${intervalMs}`);
    this.digestEvery = digestEvery;
    this.privateKey = loadSigningKey(path, opts.signingKey);
    this.publicKey = createPublicKey(this.privateKey);
    this.keyId = keyIdOf(this.publicKey);
    this.publicKeyPem = this.publicKey.export({ type: 'spki', format: 'pem' }).toString();

    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(AUDIT_SCHEMA);
      this.claimKey();
      this.insertRecord = this.db.prepare(
        `INSERT INTO records (seq, time, actor, org, action, resource, detail, result, ip, request_id, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.insertDigest = insertDigestStatement(this.db);
      this.writeDigestTx = this.db.transaction((marker: AuditRecord, markerJson: string, d: AuditDigest) => {
        this.insert(marker, markerJson);
        this.insertDigest(d);
      });
      this.resume();
      this.reader = new AuditReader(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.timer = setInterval(() => {
      try {
        if (this.pending.length > 0) this.digest();
      } catch (err) {
        this.timerError = err;
      }
    }, intervalMs);
    this.timer.unref();
  }

  /** The meta rows of a new log; for an existing one, check it is ours and signed with our key. */
  private claimKey(): void {
    const meta = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    const format = meta.get('format') as string | undefined;
    const keyId = meta.get('keyId') as string | undefined;
    const pubPath = `${this.path}.pub.pem`;
    if (format === undefined) {
      const put = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      this.db.transaction(() => {
        put.run('format', AUDIT_FORMAT);
        put.run('keyId', this.keyId);
      })();
      writeFileSync(pubPath, this.publicKeyPem);
      return;
    }
    if (format !== AUDIT_FORMAT)
      throw new FormatError(
        this.path,
        `not a sarbridge audit log (meta format is ${JSON.stringify(format)})`,
      );
    if (keyId !== this.keyId)
      throw new ValidationError(
        `audit log ${this.path} is signed by key ${keyId?.slice(0, 16)}...; the signing key given is ${this.keyId.slice(0, 16)}...`,
      );
    if (!existsSync(pubPath)) writeFileSync(pubPath, this.publicKeyPem);
  }

  /**
   * Load the chain's tail: check the last digest's signature and the records after it, so the
   * next digest never signs over records edited while the server was down.
   */
  private resume(): void {
    const fail = (problem: string) =>
      new FormatError(
        this.path,
        `${problem}; run 'sarbridge audit verify', keep the file as evidence and start a new log`,
      );
    const d = readLastDigest(this.db);
    if (d) {
      if (
        !cryptoVerify(null, Buffer.from(digestPayload(d)), this.publicKey, Buffer.from(d.signature, 'base64'))
      )
        throw fail(`the last digest (${d.n}) has a bad signature`);
      const h = this.db.prepare('SELECT hash FROM records WHERE seq = ?').pluck().get(d.lastSeq);
      if (h !== d.lastHash) throw fail(`record ${d.lastSeq} does not match digest ${d.n}`);
      this.lastDigestN = d.n;
      this.lastDigestSeq = d.lastSeq;
      this.lastSignature = d.signature;
      this.lastSeq = d.lastSeq;
      this.lastHash = d.lastHash;
    }
    const tail = this.db
      .prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE seq > ? ORDER BY seq`)
      .iterate(this.lastSeq) as IterableIterator<RecordRow>;
    for (const r of tail) {
      const computed = chainHash(this.lastHash, recordLine({ ...r, detailJson: r.detail }));
      if (r.seq !== this.lastSeq + 1 || r.prevHash !== this.lastHash || r.hash !== computed) {
        tail.return?.();
        throw fail(`record ${this.lastSeq + 1} after the last digest breaks the chain`);
      }
      this.lastSeq = r.seq;
      this.lastHash = computed;
      this.pending.push(computed);
    }
  }

  private insert(r: AuditRecord, detailJson: string): void {
    try {
      this.insertRecord.run(
        r.seq,
        r.time,
        r.actor,
        r.org,
        r.action,
        r.resource,
        detailJson,
        r.result,
        r.ip,
        r.requestId,
        r.prevHash,
        r.hash,
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new ConflictError(
          `audit log ${this.path}: record ${r.seq} was written by another connection; one server process must own an audit log`,
          { cause: err },
        );
      throw err;
    }
  }

  private build(input: AuditInput, detailJson: string): AuditRecord {
    const seq = this.lastSeq + 1;
    const r = {
      seq,
      time: input.time === undefined ? new Date().toISOString() : isoUtcMs(input.time, 'audit time'),
      actor: nullableString(input.actor, 'actor'),
      org: nullableString(input.org, 'org'),
      action: input.action,
      resource: nullableString(input.resource, 'resource'),
      detail: input.detail ?? {},
      result: input.result,
      ip: nullableString(input.ip, 'ip'),
      requestId: nullableString(input.requestId, 'requestId'),
      prevHash: this.lastHash,
      hash: '',
    };
    r.hash = chainHash(this.lastHash, recordLine({ ...r, detailJson }));
    return r;
  }

  private check(): void {
    if (this.closed) throw new ValidationError(`audit log ${this.path} is closed`);
    if (this.timerError) throw this.timerError;
  }

  /**
   * Append one record (synchronously, committed before it returns) and write a digest when
   * digestEvery records are unsigned. Returns the record as stored (detail in its JSON form).
   */
  append(input: AuditInput): AuditRecord {
    this.check();
    if (typeof input?.action !== 'string' || input.action === '')
      throw new ValidationError(
        `audit action must be a non-empty string; got ${JSON.stringify(input?.action)}`,
      );
    if (input.action === DIGEST_ACTION)
      throw new ValidationError(`audit action '${DIGEST_ACTION}' is written by the log itself`);
    if (typeof input.result !== 'string' || input.result === '')
      throw new ValidationError(
        `audit result must be a non-empty string; got ${JSON.stringify(input.result)}`,
      );
    const detail = input.detail ?? {};
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
      throw new ValidationError(`audit detail must be an object; got ${JSON.stringify(detail)}`);
    const detailJson = detailText(detail);
    const r = this.build(input, detailJson);
    this.insert(r, detailJson);
    this.lastSeq = r.seq;
    this.lastHash = r.hash;
    this.pending.push(r.hash);
    if (this.pending.length >= this.digestEvery) this.digest();
    r.detail = JSON.parse(detailJson) as Record<string, unknown>;
    return r;
  }

  /**
   * Sign the records written since the last digest now: appends the 'audit.digest' record that
   * closes the range and the digest, in one transaction.
   */
  digest(): AuditDigest {
    this.check();
    const n = this.lastDigestN + 1;
    const time = new Date().toISOString();
    const firstSeq = this.lastDigestSeq + 1;
    const detail = { digest: n, firstSeq, lastSeq: this.lastSeq + 1 };
    const markerJson = canonicalJson(detail);
    const marker = this.build(
      {
        time,
        actor: null,
        org: null,
        action: DIGEST_ACTION,
        resource: null,
        detail,
        result: 'ok',
        ip: null,
        requestId: null,
      },
      markerJson,
    );
    const hashes = [...this.pending, marker.hash];
    const unsigned = {
      n,
      time,
      firstSeq,
      lastSeq: marker.seq,
      lastHash: marker.hash,
      recordHashes: Buffer.from(hashes.map((h) => h.slice(0, 2 * DIGEST_PREFIX_BYTES)).join(''), 'hex'),
      prevSignature: this.lastSignature,
      keyId: this.keyId,
    };
    const d: AuditDigest = {
      ...unsigned,
      signature: sign(null, Buffer.from(digestPayload(unsigned)), this.privateKey).toString('base64'),
    };
    this.writeDigestTx(marker, markerJson, d);
    this.lastSeq = marker.seq;
    this.lastHash = marker.hash;
    this.lastDigestN = n;
    this.lastDigestSeq = marker.seq;
    this.lastSignature = d.signature;
    this.pending = [];
    return d;
  }

  /** Records matching q, oldest first; the org condition is in the SQL. */
  query(q: AuditQuery): AuditRecord[] {
    this.check();
    return this.reader.query(q);
  }

  /** The records matching filter as JSON lines on out; resolves to how many. */
  exportJsonLines(out: NodeJS.WritableStream | number, filter: AuditFilter = {}): Promise<number> {
    this.check();
    return this.reader.exportJsonLines(out, filter);
  }

  /** Verify the whole log; publicKey (KeyObject, PEM text or PEM path) defaults to the log's own. */
  verify(publicKey?: KeyObject | string): AuditVerifyResult {
    this.check();
    return verifyAuditDb(this.db, publicKey === undefined ? this.publicKey : loadPublicKey(publicKey));
  }

  /** Write a final digest (when records are unsigned) and close the file. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    try {
      if (this.pending.length > 0 && !this.timerError) this.digest();
    } finally {
      this.closed = true;
      this.db.close();
    }
  }
}

function detailText(detail: Record<string, unknown>): string {
  try {
    return canonicalJson(detail);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(`audit detail is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

function nullableString(v: unknown, name: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string')
    throw new ValidationError(`audit ${name} must be a string or null; got ${typeof v}`);
  return v;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new NotFoundError(`${what} ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

function requireEd25519(key: KeyObject, where: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ValidationError(`${where} must be an Ed25519 key; got ${key.asymmetricKeyType ?? key.type}`);
  return key;
}

/** The signing key: given, from a PEM path, or `${logPath}.key.pem` (generated, mode 0600, when missing). */
function loadSigningKey(logPath: string, given: KeyObject | string | undefined): KeyObject {
  if (typeof given === 'object') {
    if (given.type !== 'private') throw new ValidationError('audit signingKey must be a private key');
    return requireEd25519(given, 'audit signingKey');
  }
  if (typeof given === 'string') {
    const pem = readPem(given, 'audit signing key');
    try {
      return requireEd25519(createPrivateKey(pem), `audit signing key ${given}`);
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new FormatError(given, `not a PEM private key: ${(err as Error).message}`, { cause: err });
    }
  }
  const keyPath = `${logPath}.key.pem`;
  if (existsSync(keyPath)) return loadSigningKey(logPath, keyPath);
  if (existsSync(logPath))
    throw new NotFoundError(
      `audit log ${logPath} exists but its signing key ${keyPath} does not; pass signingKey`,
    );
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(keyPath, 0o600);
  return privateKey;
}

/** A public key from a KeyObject (a private one gives its public half), PEM text or a PEM path. */
export function loadPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key === 'object')
    return requireEd25519(key.type === 'public' ? key : createPublicKey(key), 'audit public key');
  const pem = key.startsWith('-----BEGIN') ? key : readPem(key, 'audit public key');
  try {
    return requireEd25519(createPublicKey(pem), 'audit public key');
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new FormatError(key.startsWith('-----BEGIN') ? 'public key' : key, 'not a PEM public key', {
      cause: err,
    });
  }
}

/**
 * Verify the audit log file at path, read-only (the server may keep writing).
 * @param publicKey KeyObject, PEM text or PEM path; default `${path}.pub.pem`, which a tamperer
 *   with the file may have replaced too, so pass a copy kept elsewhere for real assurance.
 */
export function verifyAuditFile(path: string, publicKey?: KeyObject | string): AuditVerifyResult {
  const key = loadPublicKey(publicKey ?? `${path}.pub.pem`);
  const db = openAuditReadOnly(path);
  try {
    return verifyAuditDb(db, key);
  } finally {
    db.close();
  }
}

/** Export the records of the audit log at path matching filter as JSON lines, read-only. */
export async function exportAuditFile(
  path: string,
  out: NodeJS.WritableStream | number,
  filter: AuditFilter = {},
): Promise<number> {
  const db = openAuditReadOnly(path);
  try {
    return await new AuditReader(db).exportJsonLines(out, filter);
  } finally {
    db.close();
  }
}
