import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AuditInput, AuditLog, type AuditRecord, verifyAuditFile } from '../src/access/audit.js';
import { registerAuditCommands, runAuditExport, runAuditVerify } from '../src/cli/audit-commands.js';
import { ConflictError, FormatError, ValidationError } from '../src/errors.js';

/*
 * The tamperer has the file: it opens it with its own connection, drops the append-only
 * triggers and edits rows. The reference hash below is written from the documented
 * construction (SHA-256 of prevHash, "\n" and the JSON line), not taken from the module.
 */

const ORGS = ['coastguard', 'navy', 'fisheries'];
const ACTIONS = ['auth.success', 'search', 'read', 'download', 'auth.failure', 'mutation'];

function sample(i: number): AuditInput {
  const anonymous = i % 7 === 6;
  const org = ORGS[i % 3];
  const action = ACTIONS[i % ACTIONS.length];
  return {
    time: new Date(Date.UTC(2026, 5, 1, 6, 0, 0) + i * 1000).toISOString(),
    actor: anonymous ? null : i % 2 ? `user:u${i % 4}` : `key:sb_${(0xab12cd00 + i).toString(16)}`,
    org: anonymous ? null : org,
    action,
    resource: action === 'search' ? '/search' : `/collections/s1/items/S1A_${i}`,
    detail:
      action === 'search'
        ? { bbox: [3.1, 51.2, 4.5, 52.0], datetime: '2026-05-01/2026-06-01', limit: 100, returned: i % 17 }
        : action === 'download'
          ? { bytes: 1_048_576 * i, asset: 'cog' }
          : {},
    result: action === 'auth.failure' ? 'deny' : 'ok',
    ip: `10.0.${i % 5}.${i % 250}`,
    requestId: `req-${i.toString(36)}`,
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sarbridge-audit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * 41 records with a digest every 10: digest 1 covers 1..11 (10 + its 'audit.digest' record),
 * 2 covers 12..22, 3 23..33, 4 34..44; then record 45 and the closing digest 5 covering 45..46.
 */
function makeLog(name = 'audit.db', n = 41): { path: string; inputs: AuditInput[] } {
  const path = join(dir, name);
  const log = new AuditLog(path, { digestEvery: 10 });
  const inputs = Array.from({ length: n }, (_, i) => sample(i));
  for (const r of inputs) log.append(r);
  log.close();
  return { path, inputs };
}

const TRIGGERS = ['records_no_update', 'records_no_delete', 'digests_no_update', 'digests_no_delete'];

function tamper(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    for (const t of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t}`);
    edit(db);
  } finally {
    db.close();
  }
}

type Row = Record<string, unknown> & { seq: number; detail: string; prev_hash: string; hash: string };

/** The documented record hash, written independently of the module. */
function referenceHash(prevHash: string, r: Row): string {
  const j = (v: unknown) => JSON.stringify(v);
  const line = `[${[r.seq, r.time, r.actor, r.org, r.action, r.resource].map(j).join(',')},${r.detail},${[r.result, r.ip, r.request_id].map(j).join(',')}]`;
  return createHash('sha256').update(`${prevHash}\n${line}`).digest('hex');
}

/** Recompute prev_hash and hash of every record from seq `from` on, as a careful tamperer would. */
function rehashFrom(db: Database.Database, from: number): void {
  const rows = db.prepare('SELECT * FROM records ORDER BY seq').all() as Row[];
  let prev = '0'.repeat(64);
  const upd = db.prepare('UPDATE records SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    if (r.seq >= from) {
      const h = referenceHash(prev, r);
      upd.run(prev, h, r.seq);
      prev = h;
    } else prev = r.hash;
  }
}

function expectBad(path: string, seq: number, reason: RegExp): void {
  const v = verifyAuditFile(path);
  expect(v.ok).toBe(false);
  expect(v.firstBad?.seq).toBe(seq);
  expect(v.firstBad?.reason).toMatch(reason);
}

describe('audit log: a clean log', () => {
  it('verifies, with the digests expected and nothing left unsigned after close', () => {
    const { path } = makeLog();
    const v = verifyAuditFile(path);
    expect(v).toMatchObject({ ok: true, records: 46, digests: 5, uncovered: 0 });
    expect(v.firstBad).toBeUndefined();
    // The same with the public key passed as PEM text and as a path.
    expect(verifyAuditFile(path, readFileSync(`${path}.pub.pem`, 'utf8')).ok).toBe(true);
    expect(verifyAuditFile(path, `${path}.pub.pem`).ok).toBe(true);
  });

  it('chains each record to the one before with the documented SHA-256 construction', () => {
    const { path } = makeLog();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT * FROM records ORDER BY seq').all() as Row[];
    db.close();
    let prev = '0'.repeat(64);
    for (const r of rows) {
      expect(r.prev_hash).toBe(prev);
      expect(r.hash).toBe(referenceHash(prev, r));
      prev = r.hash;
    }
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 46 }, (_, i) => i + 1));
  });

  it('keeps the generated signing key in a 0600 PEM file next to the log', () => {
    const { path } = makeLog();
    expect(statSync(`${path}.key.pem`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${path}.pub.pem`, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it('continues the chain and the digests when reopened', () => {
    const { path } = makeLog();
    const log = new AuditLog(path, { digestEvery: 10 });
    const r = log.append(sample(100));
    expect(r.seq).toBe(47);
    log.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 48, digests: 6 });
  });

  it('returns the record as stored: seq, ISO ms time, canonical detail, chained hashes', () => {
    const log = new AuditLog(join(dir, 'a.db'));
    const a = log.append({ ...sample(1), time: undefined, detail: { z: 1, a: { y: [1, 'x'], b: null } } });
    const b = log.append({ ...sample(2), time: '2026-06-01T08:00:00+02:00' });
    expect(a.seq).toBe(1);
    expect(a.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(a.prevHash).toBe('0'.repeat(64));
    expect(b.prevHash).toBe(a.hash);
    expect(b.time).toBe('2026-06-01T06:00:00.000Z');
    expect(Object.keys(a.detail)).toEqual(['a', 'z']);
    expect(log.verify()).toMatchObject({ ok: true, records: 2, digests: 0, uncovered: 2 });
    log.close();
  });

  it('rejects UPDATE and DELETE of records and digests while the triggers are in place', () => {
    const { path } = makeLog();
    const db = new Database(path);
    expect(() => db.prepare("UPDATE records SET result = 'deny' WHERE seq = 3").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM records WHERE seq = 3').run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE digests SET time = 'x' WHERE n = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM digests WHERE n = 5').run()).toThrow(/append-only/);
    db.close();
    expect(verifyAuditFile(path).ok).toBe(true);
  });
});

describe('audit log: tampering is caught and the first bad record named', () => {
  it('a field of record k edited', () => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare("UPDATE records SET result = 'ok' WHERE seq = 5").run());
    expectBad(path, 5, /contents do not match its hash: edited/);
  });

  it('a field of record k edited and the chain rehashed from k on', () => {
    const { path } = makeLog();
    tamper(path, (db) => {
      db.prepare("UPDATE records SET org = 'navy', detail = '{\"bytes\":1}' WHERE seq = 7").run();
      rehashFrom(db, 7);
    });
    expectBad(path, 7, /differs from the one signed in digest 1/);
  });

  it('record k deleted', () => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare('DELETE FROM records WHERE seq = 17').run());
    expectBad(path, 17, /record 17 is missing .*deleted/);
  });

  it('record k deleted, the later ones renumbered and the chain rehashed', () => {
    const { path } = makeLog();
    tamper(path, (db) => {
      db.prepare('DELETE FROM records WHERE seq = 17').run();
      db.prepare('UPDATE records SET seq = -(seq - 1) WHERE seq > 17').run();
      db.prepare('UPDATE records SET seq = -seq WHERE seq < 0').run();
      rehashFrom(db, 17);
    });
    expectBad(path, 17, /differs from the one signed in digest 2/);
  });

  it('a record inserted (later ones renumbered, the new one hashed onto the chain)', () => {
    const { path } = makeLog();
    tamper(path, (db) => {
      db.prepare('UPDATE records SET seq = -(seq + 1) WHERE seq >= 24').run();
      db.prepare('UPDATE records SET seq = -seq WHERE seq < 0').run();
      const prev = db.prepare('SELECT hash FROM records WHERE seq = 23').pluck().get() as string;
      const forged: Row = {
        seq: 24,
        time: '2026-06-01T06:00:23.500Z',
        actor: 'user:mallory',
        org: 'navy',
        action: 'download',
        resource: '/collections/s1/items/x',
        detail: '{"bytes":5}',
        result: 'ok',
        ip: '10.9.9.9',
        request_id: 'req-x',
        prev_hash: prev,
        hash: '',
      };
      forged.hash = referenceHash(prev, forged);
      db.prepare(
        'INSERT INTO records VALUES (:seq, :time, :actor, :org, :action, :resource, :detail, :result, :ip, :request_id, :prev_hash, :hash)',
      ).run(forged);
    });
    expectBad(path, 24, /record 24: its hash differs from the one signed in digest 3/);
  });

  it('a record inserted past the end without a valid hash', () => {
    const { path } = makeLog();
    tamper(path, (db) =>
      db
        .prepare(
          "INSERT INTO records SELECT seq + 1, time, actor, org, action, resource, detail, result, ip, request_id, hash, 'f00d' FROM records WHERE seq = 46",
        )
        .run(),
    );
    expectBad(path, 47, /record 47: its contents do not match its hash/);
  });

  it('two records swapped (reordered)', () => {
    const { path } = makeLog();
    tamper(path, (db) => {
      db.prepare('UPDATE records SET seq = -1 WHERE seq = 30').run();
      db.prepare('UPDATE records SET seq = 30 WHERE seq = 26').run();
      db.prepare('UPDATE records SET seq = 26 WHERE seq = -1').run();
    });
    expectBad(path, 26, /record 26: its prevHash is not the hash of record 25/);
  });

  it('the last n records truncated after a digest was written', () => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare('DELETE FROM records WHERE seq > 42').run());
    const v = verifyAuditFile(path);
    expect(v.firstBad).toMatchObject({ seq: 43, digest: 5 });
    expect(v.firstBad?.reason).toMatch(
      /records 43\.\.46 are missing though digest 5 covers them: .*truncated/,
    );
  });

  it('a digest edited', () => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare('UPDATE digests SET last_seq = 32 WHERE n = 3').run());
    const v = verifyAuditFile(path);
    expect(v.firstBad).toMatchObject({ seq: 23, digest: 3 });
    expect(v.firstBad?.reason).toMatch(/digest 3 \(records 23\.\.32\) has a bad signature: forged or edited/);
  });

  it("a digest's signature replaced by one made with another key", () => {
    const { path } = makeLog();
    const other = generateKeyPairSync('ed25519').privateKey;
    tamper(path, (db) => {
      const sig = sign(null, Buffer.from('anything'), other).toString('base64');
      db.prepare('UPDATE digests SET signature = ? WHERE n = 2').run(sig);
    });
    expectBad(path, 12, /digest 2 \(records 12\.\.22\) has a bad signature/);
  });

  it('the last digest deleted', () => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare('DELETE FROM digests WHERE n = 5').run());
    const v = verifyAuditFile(path);
    expect(v.firstBad).toMatchObject({ seq: 45, digest: 5 });
    expect(v.firstBad?.reason).toMatch(
      /digest 5 covering records 45\.\.46 is missing \(record 46 announces it\)/,
    );
  });

  it('a digest in the middle deleted (the digest chain broken)', () => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare('DELETE FROM digests WHERE n = 2').run());
    expectBad(path, 12, /digest 2 is missing .*digest chain is broken/);
  });

  it('a public key other than the signing one', () => {
    const { path } = makeLog();
    const other = generateKeyPairSync('ed25519').publicKey;
    const v = verifyAuditFile(path, other);
    expect(v.firstBad).toMatchObject({ seq: 1, digest: 1 });
    expect(v.firstBad?.reason).toMatch(/signed by key .*not by the public key given/);
  });

  it('records edited while the server was down are refused on reopen, not signed over', () => {
    const path = join(dir, 'live.db');
    const writer = new AuditLog(path, { digestEvery: 1000 });
    for (let i = 0; i < 5; i++) writer.append(sample(i));
    tamper(path, (db) => db.prepare("UPDATE records SET actor = 'user:bob' WHERE seq = 3").run());
    expect(() => new AuditLog(path)).toThrow(FormatError);
    expect(() => new AuditLog(path)).toThrow(/record 3 after the last digest breaks the chain/);
    writer.close();
    expectBad(path, 3, /record 3: its contents do not match its hash: edited/);
  });

  it('property: any single-field edit of any record is caught at that record', () => {
    const { path } = makeLog();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT * FROM records ORDER BY seq').all() as Row[];
    db.close();
    const fields = [
      'time',
      'actor',
      'org',
      'action',
      'resource',
      'detail',
      'result',
      'ip',
      'request_id',
      'prev_hash',
      'hash',
    ];
    const NOT_NULL = new Set(['time', 'action', 'detail', 'result', 'prev_hash', 'hash']);
    let run = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: rows.length }),
        fc.constantFrom(...fields),
        fc.oneof(
          fc.string({ maxLength: 12 }),
          fc.constant(null),
          fc.integer(),
          fc.json().map((j) => `{"x":${j}}`),
        ),
        (seq, field, value) => {
          const old = rows[seq - 1][field];
          fc.pre(value !== old && String(value) !== String(old) && !(value === null && NOT_NULL.has(field)));
          const copy = join(dir, `p${run++}.db`);
          copyFileSync(path, copy);
          copyFileSync(`${path}.pub.pem`, `${copy}.pub.pem`);
          tamper(copy, (t) => t.prepare(`UPDATE records SET ${field} = ? WHERE seq = ?`).run(value, seq));
          const v = verifyAuditFile(copy);
          rmSync(copy);
          return v.ok === false && v.firstBad?.seq === seq;
        },
      ),
      { numRuns: 100, seed: 20260601 },
    );
  });
});

describe('audit log: digests', () => {
  it('writes a digest after digestIntervalMs when records are unsigned', async () => {
    const log = new AuditLog(join(dir, 'timer.db'), { digestEvery: 1000, digestIntervalMs: 30 });
    for (let i = 0; i < 3; i++) log.append(sample(i));
    expect(log.verify()).toMatchObject({ digests: 0, uncovered: 3 });
    await new Promise((r) => setTimeout(r, 150));
    expect(log.verify()).toMatchObject({ ok: true, digests: 1, records: 4, uncovered: 0 });
    log.close();
  });

  it('digest() signs now and names its range in an audit.digest record', () => {
    const log = new AuditLog(join(dir, 'd.db'));
    log.append(sample(0));
    log.append(sample(1));
    const d = log.digest();
    expect(d).toMatchObject({ n: 1, firstSeq: 1, lastSeq: 3, prevSignature: '' });
    const marker = log.query({ action: 'audit.digest', limit: 10 });
    expect(marker).toHaveLength(1);
    expect(marker[0]).toMatchObject({
      seq: 3,
      detail: { digest: 1, firstSeq: 1, lastSeq: 3 },
      hash: d.lastHash,
    });
    expect(log.digest()).toMatchObject({ n: 2, firstSeq: 4, lastSeq: 4, prevSignature: d.signature });
    log.close();
  });
});

describe('audit log: writers, input and queries', () => {
  it('a second writer on the same file gets a ConflictError rather than forking the chain', () => {
    const path = join(dir, 'two.db');
    const a = new AuditLog(path);
    a.append(sample(0));
    const b = new AuditLog(path);
    b.append(sample(1));
    expect(() => a.append(sample(2))).toThrow(ConflictError);
    expect(() => a.append(sample(2))).toThrow(
      /record 2 was written by another connection; one server process/,
    );
    b.close();
    expect(verifyAuditFile(path).ok).toBe(true);
  });

  const bad: [string, Partial<Record<keyof AuditInput, unknown>>, RegExp][] = [
    ['empty action', { action: '' }, /audit action must be a non-empty string; got ""/],
    ["the log's own action", { action: 'audit.digest' }, /'audit.digest' is written by the log itself/],
    ['missing result', { result: undefined }, /audit result must be a non-empty string; got undefined/],
    [
      'time without a zone',
      { time: '2026-06-01T06:00:00' },
      /audit time must be an ISO 8601 time with a zone/,
    ],
    ['time not a time', { time: 'yesterday' }, /audit time must be .*got "yesterday"/],
    ['actor a number', { actor: 7 }, /audit actor must be a string or null; got number/],
    ['detail an array', { detail: [1] }, /audit detail must be an object; got \[1\]/],
    ['detail with a bigint', { detail: { n: 1n } }, /audit detail holds a bigint/],
  ];
  it.each(bad)('append rejects %s with a ValidationError', (_name, change, message) => {
    const log = new AuditLog(join(dir, 'v.db'));
    const rec = { ...sample(1), ...change } as AuditInput;
    expect(() => log.append(rec)).toThrow(ValidationError);
    expect(() => log.append(rec)).toThrow(message);
    expect(log.verify()).toMatchObject({ ok: true, records: 0 });
    log.close();
  });

  it.each([
    ['limit 0', { limit: 0 }, /limit must be an integer from 1 to 10000; got 0/],
    ['limit too large', { limit: 10_001 }, /limit must be an integer from 1 to 10000/],
    ['since not a time', { limit: 5, since: 'monday' }, /audit since must be an ISO 8601 time/],
    ['afterSeq negative', { limit: 5, afterSeq: -1 }, /audit afterSeq must be an integer >= 0; got -1/],
    ['empty org', { limit: 5, org: '' }, /audit org must be a non-empty string/],
  ])('query rejects %s', (_name, q, message) => {
    const log = new AuditLog(join(dir, 'q.db'));
    expect(() => log.query(q as never)).toThrow(ValidationError);
    expect(() => log.query(q as never)).toThrow(message);
    log.close();
  });

  it('query by org returns only that organisation, a full page even when its records are sparse', () => {
    const path = join(dir, 'org.db');
    const log = new AuditLog(path, { digestEvery: 50 });
    const inputs: AuditInput[] = [];
    for (let i = 0; i < 300; i++) {
      // 'fisheries' is one record in twenty.
      const r = { ...sample(i), org: i % 20 === 3 ? 'fisheries' : ORGS[i % 2] };
      inputs.push(r);
      log.append(r);
    }
    const page = log.query({ org: 'fisheries', limit: 10 });
    expect(page).toHaveLength(10);
    expect(page.every((r) => r.org === 'fisheries')).toBe(true);
    const all: AuditRecord[] = [];
    for (let after = 0; ; ) {
      const p = log.query({ org: 'fisheries', limit: 4, afterSeq: after });
      if (!p.length) break;
      all.push(...p);
      after = p[p.length - 1].seq;
    }
    expect(all.map((r) => r.requestId)).toEqual(
      inputs.filter((r) => r.org === 'fisheries').map((r) => r.requestId),
    );
    log.close();
  });

  it('property: query with org, actor, action and a time range returns exactly the matching records', () => {
    const log = new AuditLog(join(dir, 'prop.db'), { digestEvery: 100 });
    const inputs = Array.from({ length: 200 }, (_, i) => sample(i));
    for (const r of inputs) log.append(r);
    const t = (i: number) => inputs[i].time!;
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom(...ORGS), { nil: undefined }),
        fc.option(fc.constantFrom('user:u1', 'user:u3', 'key:sb_ab12cd00'), { nil: undefined }),
        fc.option(fc.constantFrom(...ACTIONS), { nil: undefined }),
        fc.integer({ min: 0, max: 199 }),
        fc.integer({ min: 0, max: 199 }),
        (org, actor, action, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const got = log.query({ org, actor, action, since: t(lo), until: t(hi), limit: 10_000 });
          const want = inputs.filter(
            (r) =>
              (org === undefined || r.org === org) &&
              (actor === undefined || r.actor === actor) &&
              (action === undefined || r.action === action) &&
              r.time! >= t(lo) &&
              r.time! < t(hi),
          );
          expect(got.map((r) => r.requestId)).toEqual(want.map((r) => r.requestId));
        },
      ),
      { numRuns: 100, seed: 7 },
    );
    log.close();
  });

  it('exports JSON lines to a stream, filtered, each line an AuditRecord', async () => {
    const { path } = makeLog('e.db');
    const log = new AuditLog(path, { digestEvery: 10 });
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => {
      text += c;
    });
    const n = await log.exportJsonLines(out, { org: 'navy', since: '2026-06-01T06:00:10Z' });
    log.close();
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(lines).toHaveLength(n);
    expect(n).toBeGreaterThan(5);
    for (const r of lines) {
      expect(r.org).toBe('navy');
      expect(r.time >= '2026-06-01T06:00:10.000Z').toBe(true);
      expect(Object.keys(r)).toEqual([
        'seq',
        'time',
        'actor',
        'org',
        'action',
        'resource',
        'detail',
        'result',
        'ip',
        'requestId',
        'prevHash',
        'hash',
      ]);
    }
  });
});

describe('audit CLI functions', () => {
  it('runAuditVerify: 0 for a clean log, 1 naming the first bad record', () => {
    const { path } = makeLog();
    const pub = join(dir, 'kept-elsewhere.pem');
    copyFileSync(`${path}.pub.pem`, pub);
    expect(runAuditVerify({ audit: path, publicKey: pub })).toMatchObject({ code: 0, result: { ok: true } });
    tamper(path, (db) => db.prepare('DELETE FROM records WHERE seq = 9').run());
    const r = runAuditVerify({ audit: path, publicKey: pub });
    expect(r.code).toBe(1);
    expect(r.message).toMatch(/audit\.db: first bad record 9: record 9 is missing/);
  });

  it('runAuditVerify throws for a file that is not an audit log', () => {
    const path = join(dir, 'other.db');
    const db = new Database(path);
    db.exec('CREATE TABLE t (x)');
    db.close();
    const pub = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => runAuditVerify({ audit: path, publicKey: pub })).toThrow(FormatError);
    expect(() => runAuditVerify({ audit: path, publicKey: pub })).toThrow(/not a sarbridge audit log/);
  });

  it('runAuditExport writes one organisation in a time range to a file', async () => {
    const { path, inputs } = makeLog();
    const out = join(dir, 'out.jsonl');
    const n = await runAuditExport({
      audit: path,
      org: 'coastguard',
      since: '2026-06-01T06:00:05Z',
      until: '2026-06-01T06:00:30Z',
      out,
    });
    const lines = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    const want = inputs.filter(
      (r) =>
        r.org === 'coastguard' &&
        r.time! >= '2026-06-01T06:00:05.000Z' &&
        r.time! < '2026-06-01T06:00:30.000Z',
    );
    expect(n).toBe(want.length);
    expect(lines.map((r) => r.requestId)).toEqual(want.map((r) => r.requestId));
  });

  it('the registered commands: audit verify prints JSON and throws naming the record; audit export', async () => {
    const { path } = makeLog();
    const program = new Command();
    program.exitOverride();
    registerAuditCommands(program);
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      stdout += String(s);
      return true;
    });
    try {
      await program.parseAsync(['audit', 'verify', '--audit', path], { from: 'user' });
      expect(JSON.parse(stdout)).toMatchObject({ ok: true, records: 46, digests: 5 });
      stdout = '';
      await program.parseAsync(['audit', 'export', '--audit', path, '--org', 'navy'], { from: 'user' });
      const lines = stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditRecord);
      expect(lines.length).toBe(12);
      expect(lines.every((r) => r.org === 'navy')).toBe(true);
      tamper(path, (db) => db.prepare("UPDATE records SET ip = '1.2.3.4' WHERE seq = 20").run());
      stdout = '';
      await expect(
        program.parseAsync(['audit', 'verify', '--audit', path], { from: 'user' }),
      ).rejects.toThrow(/first bad record 20: record 20: its contents do not match its hash: edited/);
      expect(JSON.parse(stdout)).toMatchObject({ ok: false, firstBad: { seq: 20 } });
    } finally {
      spy.mockRestore();
    }
  });
});
