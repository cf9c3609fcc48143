import { createHash, createPublicKey, hash, type KeyObject } from 'node:crypto';
import { ValidationError } from '../errors.js';

/**
 * The audit record, its canonical serialisation and the hash chain (pure: no I/O).
 *
 * hash(k) = SHA-256( prevHash(k) + "\n" + line(k) ), hex, where prevHash(1) = GENESIS_HASH and
 * prevHash(k) = hash(k - 1); line(k) is the JSON array
 * [seq, time, actor, org, action, resource, detail, result, ip, requestId] with `detail` in
 * canonical JSON (keys sorted by UTF-16 code unit, no whitespace), exactly the text stored.
 */

/** One entry of the access audit log. */
export interface AuditRecord {
  /** 1, 2, 3, ... without gaps. */
  seq: number;
  /** ISO 8601 UTC with milliseconds, e.g. 2026-06-01T06:00:00.000Z. */
  time: string;
  /** Principal id, e.g. 'user:alice' or 'key:sb_ab12cd34'; null for anonymous. */
  actor: string | null;
  org: string | null;
  /** e.g. 'auth.success', 'auth.failure', 'read', 'search', 'download', 'mutation', 'admin'. */
  action: string;
  /** e.g. '/collections/c/items/i'. */
  resource: string | null;
  /** Search parameters and count returned, bytes downloaded, ... (JSON values). */
  detail: Record<string, unknown>;
  /** 'allow' | 'deny' | 'ok' | 'error' | HTTP status text. */
  result: string;
  ip: string | null;
  requestId: string | null;
  /** Hash of record seq - 1 (GENESIS_HASH for seq 1), 64 hex digits. */
  prevHash: string;
  /** SHA-256 over prevHash and this record's canonical line, 64 hex digits. */
  hash: string;
}

/** What a caller gives `AuditLog.append`; `time` defaults to now. */
export type AuditInput = Omit<AuditRecord, 'seq' | 'time' | 'prevHash' | 'hash'> & { time?: string };

/** The prevHash of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The action of the record the log writes itself as the last record of each digest's range,
 * naming the digest (`detail: { digest, firstSeq, lastSeq }`), so a deleted digest is missed.
 * Callers may not append it.
 */
export const DIGEST_ACTION = 'audit.digest';

/** Bytes of each record's hash a digest keeps, so verification names the first record that differs. */
export const DIGEST_PREFIX_BYTES = 8;

/** Canonical JSON: object keys sorted, undefined members dropped (as JSON.stringify), no whitespace. */
export function canonicalJson(value: unknown): string {
  return canon(value, 0);
}

function canon(v: unknown, depth: number): string {
  if (depth > 64) throw new ValidationError('audit detail is nested deeper than 64 levels');
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'bigint') throw new ValidationError('audit detail holds a bigint, which JSON cannot');
    return JSON.stringify(v) ?? 'null';
  }
  const withJson = v as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return canon(withJson.toJSON(), depth + 1);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canon(v[i], depth + 1);
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    s += `${first ? '' : ','}${JSON.stringify(k)}:${canon(x, depth + 1)}`;
    first = false;
  }
  return `${s}}`;
}

/** The stored columns of a record that the hash covers (detail as its stored JSON text). */
export type RecordFields = Omit<AuditRecord, 'detail' | 'prevHash' | 'hash'> & { detailJson: string };

const js = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));

/** The canonical line of a record, the text its hash covers after prevHash. */
export function recordLine(f: RecordFields): string {
  return `[${f.seq},${js(f.time)},${js(f.actor)},${js(f.org)},${js(f.action)},${js(f.resource)},${f.detailJson},${js(f.result)},${js(f.ip)},${js(f.requestId)}]`;
}

/** SHA-256 hex of prevHash, a newline and the record's line. */
export function chainHash(prevHash: string, line: string): string {
  return hash('sha256', `${prevHash}\n${line}`, 'hex');
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * An ISO 8601 instant with a zone (or a date, taken as UTC midnight) as ISO UTC milliseconds.
 * @param name the field or parameter, for the error message.
 */
export function isoUtcMs(value: unknown, name: string): string {
  const t = typeof value === 'string' && ISO_RE.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(t))
    throw new ValidationError(
      `${name} must be an ISO 8601 time with a zone, e.g. 2026-06-01T06:00:00.000Z; got ${JSON.stringify(value)}`,
    );
  return new Date(t).toISOString();
}

/** A signed digest: the records [firstSeq, lastSeq] and the previous digest's signature. */
export interface AuditDigest {
  /** 1, 2, 3, ... without gaps. */
  n: number;
  /** ISO 8601 UTC ms. */
  time: string;
  firstSeq: number;
  lastSeq: number;
  /** The hash of record lastSeq (64 hex digits), which the chain ties every earlier record to. */
  lastHash: string;
  /** The first DIGEST_PREFIX_BYTES of each covered record's hash, in seq order. */
  recordHashes: Buffer;
  /** Signature of digest n - 1 (base64); '' for digest 1. */
  prevSignature: string;
  /** SHA-256 hex of the signing key's SubjectPublicKeyInfo (DER). */
  keyId: string;
  /** Ed25519 signature (base64) of digestPayload(). */
  signature: string;
}

/** The text a digest's signature covers. */
export function digestPayload(d: Omit<AuditDigest, 'signature'>): string {
  const hashes = createHash('sha256').update(d.recordHashes).digest('hex');
  return JSON.stringify([
    'sarbridge-audit-digest-1',
    d.n,
    d.time,
    d.firstSeq,
    d.lastSeq,
    d.lastHash,
    hashes,
    d.prevSignature,
    d.keyId,
  ]);
}

/** SHA-256 hex of a public (or private: its public half) key's SubjectPublicKeyInfo DER. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
