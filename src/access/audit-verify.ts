import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import {
  type AuditDigest,
  chainHash,
  DIGEST_ACTION,
  DIGEST_PREFIX_BYTES,
  digestPayload,
  GENESIS_HASH,
  keyIdOf,
  recordLine,
} from './audit-record.js';
import { RECORD_COLUMNS, type RecordRow, readDigests } from './audit-store.js';

/** What verification found; `firstBad` names the lowest seq at which the log stops being trustworthy. */
export interface AuditVerifyResult {
  ok: boolean;
  /** Records in the log. */
  records: number;
  /** Digests in the log. */
  digests: number;
  /** The first bad record; for a bad or missing digest, the first record it covers (`digest` its n). */
  firstBad?: { seq: number; reason: string; digest?: number };
  /**
   * Records after the last digest (when ok): the chain holds them but no signature does yet, so
   * cutting them off is not detectable until the next digest is written (on close at the latest).
   */
  uncovered: number;
  /** The id (SHA-256 of the SPKI DER, hex) of the public key the digests were checked with. */
  keyId: string;
}

type Bad = NonNullable<AuditVerifyResult['firstBad']>;

/** Check the digest chain: consecutive n, our key, good signatures, chained, contiguous ranges. */
function checkDigests(digests: AuditDigest[], publicKey: KeyObject, keyId: string) {
  const trusted: AuditDigest[] = [];
  let prev: AuditDigest | null = null;
  for (const d of digests) {
    const n = prev ? prev.n + 1 : 1;
    const first = prev ? prev.lastSeq + 1 : 1;
    const range = `records ${d.firstSeq}..${d.lastSeq}`;
    let bad: Bad | undefined;
    if (d.n !== n)
      bad = {
        seq: first,
        digest: n,
        reason: `digest ${n} is missing (digest ${prev?.n ?? 0} is followed by digest ${d.n}): a digest was deleted, the digest chain is broken`,
      };
    else if (d.keyId !== keyId)
      bad = {
        seq: Math.min(first, d.firstSeq),
        digest: n,
        reason: `digest ${n} (${range}) is signed by key ${d.keyId.slice(0, 16)}..., not by the public key given (${keyId.slice(0, 16)}...)`,
      };
    else if (
      !cryptoVerify(
        null,
        Buffer.from(digestPayload(d)),
        publicKey,
        Buffer.from(String(d.signature), 'base64'),
      )
    )
      bad = {
        seq: Math.min(first, d.firstSeq),
        digest: n,
        reason: `digest ${n} (${range}) has a bad signature: forged or edited`,
      };
    else if (d.prevSignature !== (prev?.signature ?? ''))
      bad = {
        seq: first,
        digest: n,
        reason: `digest ${n} does not chain to digest ${n - 1} (its prevSignature differs): the digest chain is broken`,
      };
    else if (d.firstSeq !== first)
      bad = {
        seq: Math.min(first, d.firstSeq),
        digest: n,
        reason: `digest ${n} starts at record ${d.firstSeq}, expected ${first}: the digest chain is broken`,
      };
    else if (
      d.lastSeq < d.firstSeq ||
      d.recordHashes.length !== (d.lastSeq - d.firstSeq + 1) * DIGEST_PREFIX_BYTES
    )
      bad = { seq: first, digest: n, reason: `digest ${n} (${range}) is malformed` };
    if (bad) return { trusted, bad };
    trusted.push(d);
    prev = d;
  }
  return { trusted, bad: undefined };
}

function announcedDigest(detailJson: string): { n: number; firstSeq: number } | null {
  try {
    const d = JSON.parse(detailJson) as { digest?: unknown; firstSeq?: unknown };
    return typeof d.digest === 'number' && typeof d.firstSeq === 'number'
      ? { n: d.digest, firstSeq: d.firstSeq }
      : null;
  } catch {
    return null;
  }
}

/**
 * Walk the records in seq order, recomputing the chain from the genesis hash, against the
 * trusted digests; stops at the first problem or at seq `stopAt`.
 */
function walkRecords(
  db: Database.Database,
  trusted: AuditDigest[],
  digestNs: Set<number>,
  stopAt: number,
): { bad?: Bad; lastSeq: number } {
  let expected = 1;
  let prevHash = GENESIS_HASH;
  let di = 0;
  const rows = db
    .prepare(`SELECT ${RECORD_COLUMNS} FROM records ORDER BY seq`)
    .iterate() as IterableIterator<RecordRow>;
  for (const r of rows) {
    const seq = r.seq;
    if (seq >= stopAt) {
      rows.return?.();
      return { lastSeq: expected - 1 };
    }
    let bad: Bad | undefined;
    if (seq !== expected) {
      bad =
        seq > expected
          ? {
              seq: expected,
              reason: `record ${expected} is missing (record ${expected - 1} is followed by ${seq}): deleted`,
            }
          : { seq, reason: `record ${seq} is out of sequence (expected ${expected}): inserted` };
    } else {
      const computed = chainHash(prevHash, recordLine({ ...r, detailJson: String(r.detail) }));
      while (di < trusted.length && trusted[di].lastSeq < seq) di++;
      const d = di < trusted.length && trusted[di].firstSeq <= seq ? trusted[di] : null;
      const off = d ? (seq - d.firstSeq) * DIGEST_PREFIX_BYTES : 0;
      if (r.prevHash !== prevHash)
        bad = {
          seq,
          reason: `record ${seq}: its prevHash is not the hash of record ${seq - 1}: records were inserted, deleted or reordered here`,
        };
      else if (computed !== r.hash)
        bad = { seq, reason: `record ${seq}: its contents do not match its hash: edited` };
      else if (
        d &&
        (d.recordHashes.toString('hex', off, off + DIGEST_PREFIX_BYTES) !==
          computed.slice(0, 2 * DIGEST_PREFIX_BYTES) ||
          (seq === d.lastSeq && computed !== d.lastHash))
      )
        bad = {
          seq,
          reason: `record ${seq}: its hash differs from the one signed in digest ${d.n}: edited, inserted or reordered (and rehashed)`,
        };
      else if (r.action === DIGEST_ACTION) {
        const a = announcedDigest(String(r.detail));
        if (a && !digestNs.has(a.n))
          bad = {
            seq: Math.min(seq, a.firstSeq),
            digest: a.n,
            reason: `digest ${a.n} covering records ${a.firstSeq}..${seq} is missing (record ${seq} announces it): deleted`,
          };
      }
      prevHash = computed;
    }
    if (bad) {
      rows.return?.();
      return { bad, lastSeq: expected - 1 };
    }
    expected++;
  }
  const last = trusted[trusted.length - 1];
  if (last && expected <= last.lastSeq && expected < stopAt)
    return {
      bad: {
        seq: expected,
        digest: last.n,
        reason: `records ${expected}..${last.lastSeq} are missing though digest ${last.n} covers them: the log was truncated`,
      },
      lastSeq: expected - 1,
    };
  return { lastSeq: expected - 1 };
}

/**
 * Verify an audit log's hash chain and signed digests in one read snapshot.
 * @param publicKey the Ed25519 public key the digests must be signed with; for real assurance
 *   one obtained out of band, not the copy next to the log.
 */
export function verifyAuditDb(db: Database.Database, publicKey: KeyObject): AuditVerifyResult {
  const keyId = keyIdOf(publicKey);
  return db.transaction(() => {
    const records = db.prepare('SELECT count(*) FROM records').pluck().get() as number;
    const digests = readDigests(db);
    const checked = checkDigests(digests, publicKey, keyId);
    const walk = walkRecords(
      db,
      checked.trusted,
      new Set(digests.map((d) => d.n)),
      checked.bad?.seq ?? Number.POSITIVE_INFINITY,
    );
    const bad =
      walk.bad && (!checked.bad || walk.bad.seq <= checked.bad.seq) ? walk.bad : (checked.bad ?? undefined);
    const covered = checked.trusted[checked.trusted.length - 1]?.lastSeq ?? 0;
    return {
      ok: bad === undefined,
      records,
      digests: digests.length,
      ...(bad ? { firstBad: bad } : {}),
      uncovered: bad ? 0 : Math.max(0, walk.lastSeq - covered),
      keyId,
    };
  })();
}
