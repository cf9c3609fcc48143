import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type AuditInput, AuditLog, canonicalJson, verifyAuditFile } from '../src/access/audit.js';
import { AUDIT_SCHEMA } from '../src/access/audit-store.js';
import { mulberry32 } from '../src/util/random.js';
import { benchDir, fmt, median } from './util.js';

const N = Number(process.env.SARBRIDGE_BENCH_AUDIT_RECORDS ?? 100_000);
const ROUNDS = 5;

/** Seeded records as a server writes them: logins, searches, item reads, downloads, denials. */
function records(n: number): AuditInput[] {
  const rand = mulberry32(2026);
  const orgs = ['coastguard', 'navy', 'fisheries', 'customs', 'environment'];
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(rand() * 16).toString(16)).join('');
  return Array.from({ length: n }, () => {
    const org = pick(orgs);
    const actor = rand() < 0.6 ? `user:${org}-${Math.floor(rand() * 40)}` : `key:sb_${hex(8)}`;
    const item = `S1A_IW_GRDH_1SDV_2026${String(1 + Math.floor(rand() * 12)).padStart(2, '0')}_${hex(6)}`;
    const u = rand();
    const base = {
      actor,
      org,
      ip: `10.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.7`,
      requestId: hex(16),
    };
    if (u < 0.15)
      return {
        ...base,
        action: 'auth.success',
        resource: null,
        detail: { method: 'oauth2' },
        result: 'allow',
      };
    if (u < 0.18)
      return {
        ...base,
        actor: null,
        action: 'auth.failure',
        resource: null,
        detail: { reason: 'bad token' },
        result: 'deny',
      };
    if (u < 0.55) {
      const w = -20 + rand() * 40;
      const s = 30 + rand() * 30;
      return {
        ...base,
        action: 'search',
        resource: '/search',
        detail: {
          bbox: [w, s, w + 2, s + 2].map((v) => Number(v.toFixed(3))),
          datetime: '2026-05-01T00:00:00Z/2026-06-01T00:00:00Z',
          filter: '"sar:instrument_mode" = \'IW\'',
          limit: 100,
          returned: Math.floor(rand() * 100),
        },
        result: 'ok',
      };
    }
    if (u < 0.85)
      return {
        ...base,
        action: 'read',
        resource: `/collections/s1-grd/items/${item}`,
        detail: {},
        result: 'ok',
      };
    return {
      ...base,
      action: 'download',
      resource: `/collections/s1-grd/items/${item}/assets/vv`,
      detail: { bytes: Math.floor(rand() * 800_000_000), range: 'bytes=0-16383' },
      result: rand() < 0.05 ? 'Forbidden' : 'ok',
    };
  });
}

/** The reference: the same rows through the same schema and pragmas, without hashing or digests. */
function plainInserts(path: string, recs: AuditInput[]): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(AUDIT_SCHEMA);
  const st = db.prepare(
    `INSERT INTO records (seq, time, actor, org, action, resource, detail, result, ip, request_id, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '')`,
  );
  const t0 = performance.now();
  let seq = 0;
  for (const r of recs)
    st.run(
      ++seq,
      new Date().toISOString(),
      r.actor,
      r.org,
      r.action,
      r.resource,
      canonicalJson(r.detail),
      r.result,
      r.ip,
      r.requestId,
    );
  const s = (performance.now() - t0) / 1000;
  db.close();
  return recs.length / s;
}

function clean(path: string): void {
  for (const ext of ['', '-wal', '-shm', '.key.pem', '.pub.pem']) rmSync(`${path}${ext}`, { force: true });
}

/**
 * Appends per second into a fresh audit log (hash chain, a signed digest every 1000 records,
 * each append its own committed transaction), ROUNDS rounds of N records; prints the medians and
 * the ratio to plain SQLite inserts of the same rows, and verification speed.
 */
export async function benchAuditAppend(): Promise<{ recordsPerSec: number[]; median: number }> {
  const dir = benchDir('audit');
  const recs = records(N);
  const recordsPerSec: number[] = [];
  const plainPerSec: number[] = [];
  const verifyPerSec: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const path = join(dir, `audit-${round}.db`);
    clean(path);
    const log = new AuditLog(path);
    const t0 = performance.now();
    for (const r of recs) log.append(r);
    recordsPerSec.push(N / ((performance.now() - t0) / 1000));
    log.close();
    const t1 = performance.now();
    const v = verifyAuditFile(path);
    if (!v.ok) throw new Error(`bench log does not verify: ${JSON.stringify(v.firstBad)}`);
    verifyPerSec.push(v.records / ((performance.now() - t1) / 1000));
    clean(path);
    const ref = join(dir, `plain-${round}.db`);
    clean(ref);
    plainPerSec.push(plainInserts(ref, recs));
    clean(ref);
  }
  const m = median(recordsPerSec);
  const p = median(plainPerSec);
  console.log(`audit append: ${N} records x ${ROUNDS} rounds`);
  console.log(
    `  chained + signed: median ${fmt(m, 0)} records/s  [${recordsPerSec.map((x) => fmt(x, 0)).join(', ')}]`,
  );
  console.log(`  plain inserts:    median ${fmt(p, 0)} records/s (reference, same rows and schema)`);
  console.log(`  ratio chained / plain: ${fmt(m / p, 2)}`);
  console.log(`  verify: median ${fmt(median(verifyPerSec), 0)} records/s`);
  return { recordsPerSec, median: m };
}
