import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { statementCache } from '../util/sqlite-statements.js';
import { type LabelRules, ORG_CODE } from './labels.js';
import { type Principal, ROLES, type Role } from './scope.js';

/** A provider or partner organisation. */
export interface Organisation {
  id: string;
  name: string;
  kind: 'provider' | 'partner';
  /** Releasability codes: its own (ISO 3166 alpha-3) and the groups it belongs to (e.g. NATO). */
  codes: string[];
  /** The highest classification it may see, per policy. */
  clearance: { policy: string; classification: string }[];
  caveats: string[];
  createdAt: string;
}

/** A user or machine client; it may hold less than its organisation (clearance, caveats). */
export interface PrincipalRecord {
  id: string;
  kind: 'user' | 'client';
  orgId: string;
  name: string;
  roles: Role[];
  clearance: { policy: string; classification: string }[] | null;
  caveats: string[] | null;
  disabled: boolean;
  createdAt: string;
}

export interface ApiKeyInfo {
  prefix: string;
  principalId: string;
  orgId: string;
  name: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

const ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const KEY = /^sb_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$/;
const SECRET = /^cs_[A-Za-z0-9_-]{43}$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest();
const base32 = (b: Buffer) => {
  const abc = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  for (const x of b) out += abc[x & 31];
  return out;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS organisations (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS principals (
  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organisations(id), doc TEXT NOT NULL,
  secret_hash BLOB
);
CREATE TABLE IF NOT EXISTS api_keys (
  prefix TEXT PRIMARY KEY, principal_id TEXT NOT NULL REFERENCES principals(id), hash BLOB NOT NULL,
  name TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, revoked_ms INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_principal ON api_keys (principal_id);
`;

function str(v: unknown, field: string, re: RegExp, what: string): string {
  if (typeof v !== 'string' || !re.test(v))
    throw new ValidationError(`${field}: must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

function strings(v: unknown, field: string, re: RegExp, what: string): string[] {
  if (!Array.isArray(v) || v.length > 64)
    throw new ValidationError(`${field}: must be an array of at most 64 ${what}`);
  return [...new Set(v.map((x, i) => str(x, `${field}/${i}`, re, what)))].sort();
}

/**
 * Organisations, users, machine clients and API keys, in an SQLite file of their own. Keys and client
 * secrets are 256-bit random strings shown once; only their SHA-256 is stored. A key is
 * `sb_<prefix>_<secret>`: the prefix names it (lists, audit) and is not secret.
 */
export class IdentityStore {
  readonly db: Database.Database;

  constructor(
    pathOrDb: string | Database.Database,
    private readonly rules: LabelRules,
    private readonly now: () => number = Date.now,
  ) {
    this.db = typeof pathOrDb === 'string' ? new Database(pathOrDb) : pathOrDb;
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.stmt = statementCache(this.db);
  }

  /** Statements prepared once: authentication runs on every request. */
  private readonly stmt: (sql: string) => Database.Statement;

  close(): void {
    this.db.close();
  }

  isEmpty(): boolean {
    return this.stmt('SELECT 1 FROM organisations LIMIT 1').get() === undefined;
  }

  private clearance(v: unknown, field: string): { policy: string; classification: string }[] {
    if (!Array.isArray(v) || v.length > 8)
      throw new ValidationError(`${field}: must be an array of {policy, classification}`);
    return v.map((c, i) => {
      const o = (c ?? {}) as Record<string, unknown>;
      const policy = String(o.policy ?? '');
      const classification = String(o.classification ?? '');
      this.rules.policy(policy, `${field}/${i}/policy`);
      this.rules.rank(policy, classification, `${field}/${i}/classification`);
      return { policy, classification };
    });
  }

  /** Check an organisation document (from the admin API or CLI); errors name the field. */
  checkOrganisation(v: unknown): Omit<Organisation, 'createdAt'> {
    const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const kind = o.kind ?? 'partner';
    if (kind !== 'provider' && kind !== 'partner')
      throw new ValidationError(`kind: must be provider or partner, got ${JSON.stringify(kind)}`);
    return {
      id: str(o.id, 'id', ID, 'an id of lower-case letters, digits, _ . -'),
      name: typeof o.name === 'string' && o.name.length <= 200 ? o.name : String(o.id),
      kind,
      codes: strings(
        o.codes ?? [],
        'codes',
        ORG_CODE,
        'organisation codes (ISO 3166 alpha-3 or a tetragraph)',
      ),
      clearance: this.clearance(o.clearance ?? [], 'clearance'),
      caveats: strings(o.caveats ?? [], 'caveats', /^[A-Za-z0-9][A-Za-z0-9 _./-]{0,63}$/, 'caveat values'),
    };
  }

  createOrganisation(v: unknown): Organisation {
    const o = { ...this.checkOrganisation(v), createdAt: new Date(this.now()).toISOString() };
    const r = this.db
      .prepare('INSERT INTO organisations (id, doc) VALUES (?, ?) ON CONFLICT DO NOTHING')
      .run(o.id, JSON.stringify(o));
    if (r.changes === 0) throw new ConflictError(`organisation '${o.id}' exists already`);
    return o;
  }

  updateOrganisation(id: string, patch: Record<string, unknown>): Organisation {
    const old = this.getOrganisation(id);
    if (!old) throw new NotFoundError(`organisation '${id}' does not exist`);
    if (patch.id !== undefined && patch.id !== id) throw new ValidationError('id: cannot be changed');
    if (patch.kind !== undefined && patch.kind !== old.kind)
      throw new ValidationError('kind: cannot be changed');
    const o = { ...this.checkOrganisation({ ...old, ...patch }), createdAt: old.createdAt };
    this.stmt('UPDATE organisations SET doc = ? WHERE id = ?').run(JSON.stringify(o), id);
    return o;
  }

  getOrganisation(id: string): Organisation | null {
    const r = this.stmt('SELECT doc FROM organisations WHERE id = ?').get(id) as { doc: string } | undefined;
    return r ? JSON.parse(r.doc) : null;
  }

  listOrganisations(): Organisation[] {
    return (this.stmt('SELECT doc FROM organisations ORDER BY id').all() as { doc: string }[]).map((r) =>
      JSON.parse(r.doc),
    );
  }

  /**
   * Create a user or machine client of an organisation. Roles must fit the organisation's kind;
   * clearance and caveats, when given, may only be less than the organisation's. A client gets a
   * secret for the OAuth2 client-credentials grant, returned once.
   */
  createPrincipal(
    orgId: string,
    kind: 'user' | 'client',
    v: unknown,
  ): { principal: PrincipalRecord; clientSecret?: string } {
    const org = this.getOrganisation(orgId);
    if (!org) throw new NotFoundError(`organisation '${orgId}' does not exist`);
    const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const name = str(o.id, 'id', ID, 'an id of lower-case letters, digits, _ . -');
    const roles = strings(o.roles ?? [], 'roles', /^[a-z-]+$/, 'roles') as Role[];
    if (roles.length === 0) throw new ValidationError(`roles: at least one of ${ROLES.join(', ')}`);
    for (const [i, r] of roles.entries()) {
      if (!(ROLES as readonly string[]).includes(r))
        throw new ValidationError(`roles/${i}: unknown role '${r}' (expected one of ${ROLES.join(', ')})`);
      if (!r.startsWith(`${org.kind}-`))
        throw new ValidationError(`roles/${i}: role '${r}' is not one of a ${org.kind} organisation's`);
    }
    const clearance = o.clearance === undefined ? null : this.clearance(o.clearance, 'clearance');
    for (const [i, c] of (clearance ?? []).entries()) {
      const mine = org.clearance.find((x) => x.policy === c.policy);
      if (
        !mine ||
        this.rules.rank(c.policy, c.classification) > this.rules.rank(c.policy, mine.classification)
      )
        throw new ValidationError(
          `clearance/${i}: ${c.policy} ${c.classification} is above the organisation's clearance`,
        );
    }
    const caveats =
      o.caveats === undefined
        ? null
        : strings(o.caveats, 'caveats', /^[A-Za-z0-9][A-Za-z0-9 _./-]{0,63}$/, 'caveat values');
    for (const c of caveats ?? [])
      if (!org.caveats.includes(c))
        throw new ValidationError(`caveats: '${c}' is not held by organisation '${orgId}'`);
    const p: PrincipalRecord = {
      id: `${kind}:${name}`,
      kind,
      orgId,
      name: typeof o.name === 'string' ? o.name.slice(0, 200) : name,
      roles,
      clearance,
      caveats,
      disabled: false,
      createdAt: new Date(this.now()).toISOString(),
    };
    const secret = kind === 'client' ? `cs_${randomBytes(32).toString('base64url')}` : undefined;
    const r = this.db
      .prepare(
        'INSERT INTO principals (id, org_id, doc, secret_hash) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(p.id, orgId, JSON.stringify(p), secret ? sha256(secret) : null);
    if (r.changes === 0) throw new ConflictError(`${kind} '${name}' exists already`);
    return { principal: p, clientSecret: secret };
  }

  getPrincipalRecord(id: string): PrincipalRecord | null {
    const r = this.stmt('SELECT doc FROM principals WHERE id = ?').get(id) as { doc: string } | undefined;
    return r ? JSON.parse(r.doc) : null;
  }

  listPrincipals(orgId?: string): PrincipalRecord[] {
    const rows = (
      orgId === undefined
        ? this.stmt('SELECT doc FROM principals ORDER BY id').all()
        : this.stmt('SELECT doc FROM principals WHERE org_id = ? ORDER BY id').all(orgId)
    ) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc));
  }

  setDisabled(id: string, disabled: boolean): void {
    const p = this.getPrincipalRecord(id);
    if (!p) throw new NotFoundError(`principal '${id}' does not exist`);
    this.stmt('UPDATE principals SET doc = ? WHERE id = ?').run(JSON.stringify({ ...p, disabled }), id);
  }

  /** The principal as the policy sees it: the organisation's codes, the lesser clearance and caveats. */
  resolve(id: string, credential: string): Principal | null {
    const p = this.getPrincipalRecord(id);
    if (!p || p.disabled) return null;
    const org = this.getOrganisation(p.orgId);
    if (!org) return null;
    const clearance = p.clearance
      ? p.clearance.filter((c) => org.clearance.some((o) => o.policy === c.policy))
      : org.clearance;
    const caveats = p.caveats ? p.caveats.filter((c) => org.caveats.includes(c)) : org.caveats;
    return {
      id: p.id,
      kind: p.kind,
      orgId: org.id,
      orgKind: org.kind,
      roles: p.roles,
      codes: org.codes,
      clearance,
      caveats,
      credential,
    };
  }

  /** A new API key for a principal, returned once; `expiresInDays` from 1 to 3650 (default 90). */
  createKey(
    principalId: string,
    opts: { name?: string; expiresInDays?: number } = {},
  ): { key: string; info: ApiKeyInfo } {
    const p = this.getPrincipalRecord(principalId);
    if (!p) throw new NotFoundError(`principal '${principalId}' does not exist`);
    const days = opts.expiresInDays ?? 90;
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw new ValidationError(`expiresInDays: must be an integer from 1 to 3650, got ${days}`);
    const prefix = base32(randomBytes(10));
    const key = `sb_${prefix}_${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const name = (opts.name ?? '').slice(0, 200);
    this.db
      .prepare(
        'INSERT INTO api_keys (prefix, principal_id, hash, name, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(prefix, principalId, sha256(key), name, now, now + days * 86_400_000);
    return { key, info: this.keyInfo(prefix) as ApiKeyInfo };
  }

  keyInfo(prefix: string): ApiKeyInfo | null {
    const r = this.db
      .prepare(
        'SELECT k.*, p.org_id FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.prefix = ?',
      )
      .get(prefix) as Record<string, unknown> | undefined;
    return r ? toKeyInfo(r) : null;
  }

  listKeys(orgId?: string): ApiKeyInfo[] {
    const sql = `SELECT k.*, p.org_id FROM api_keys k JOIN principals p ON p.id = k.principal_id${
      orgId === undefined ? '' : ' WHERE p.org_id = ?'
    } ORDER BY k.created_ms`;
    const rows = (orgId === undefined ? this.stmt(sql).all() : this.stmt(sql).all(orgId)) as Record<
      string,
      unknown
    >[];
    return rows.map(toKeyInfo);
  }

  /** Revoke a key by its prefix; false when there is no such key. */
  revokeKey(prefix: string): boolean {
    return (
      this.db
        .prepare('UPDATE api_keys SET revoked_ms = ? WHERE prefix = ? AND revoked_ms IS NULL')
        .run(this.now(), prefix).changes > 0
    );
  }

  /** Whether the key is unrevoked and unexpired. */
  keyActive(prefix: string): boolean {
    const r = this.stmt('SELECT expires_ms, revoked_ms FROM api_keys WHERE prefix = ?').get(prefix) as
      | { expires_ms: number; revoked_ms: number | null }
      | undefined;
    return r !== undefined && r.revoked_ms === null && r.expires_ms > this.now();
  }

  keyExpiry(prefix: string): number | null {
    const r = this.stmt('SELECT expires_ms FROM api_keys WHERE prefix = ?').get(prefix) as
      | { expires_ms: number }
      | undefined;
    return r ? r.expires_ms : null;
  }

  /** The prefix of a string shaped like a key (for lock-out and audit), or null. */
  static keyPrefix(key: string): string | null {
    return KEY.exec(key)?.[1] ?? null;
  }

  /** The principal of a valid, unexpired, unrevoked key, or null. */
  authenticateKey(key: string): Principal | null {
    const m = KEY.exec(key);
    if (!m) return null;
    const r = this.db
      .prepare('SELECT principal_id, hash, expires_ms, revoked_ms FROM api_keys WHERE prefix = ?')
      .get(m[1]) as
      | { principal_id: string; hash: Buffer; expires_ms: number; revoked_ms: number | null }
      | undefined;
    if (!r || !timingSafeEqual(r.hash, sha256(key)) || r.revoked_ms !== null || r.expires_ms <= this.now())
      return null;
    return this.resolve(r.principal_id, `key:${m[1]}`);
  }

  /** The principal of a machine client whose secret matches, or null. */
  authenticateClient(clientId: string, secret: string): Principal | null {
    if (!SECRET.test(secret) || !ID.test(clientId)) return null;
    const r = this.stmt('SELECT secret_hash FROM principals WHERE id = ?').get(`client:${clientId}`) as
      | { secret_hash: Buffer | null }
      | undefined;
    if (!r?.secret_hash || !timingSafeEqual(r.secret_hash, sha256(secret))) return null;
    return this.resolve(`client:${clientId}`, `client:${clientId}`);
  }

  /**
   * On first start: the provider organisation and a provider-admin user with a key, returned once to
   * print. Null when the store already holds organisations.
   */
  bootstrap(): { key: string; principalId: string } | null {
    if (!this.isEmpty()) return null;
    const policy = this.rules.policies[0];
    this.createOrganisation({
      id: 'provider',
      name: 'Provider',
      kind: 'provider',
      codes: [],
      clearance: [{ policy: policy.id, classification: policy.classifications.at(-1) }],
      caveats: [],
    });
    this.createPrincipal('provider', 'user', { id: 'admin', roles: ['provider-admin'] });
    return {
      key: this.createKey('user:admin', { name: 'bootstrap', expiresInDays: 365 }).key,
      principalId: 'user:admin',
    };
  }
}

function toKeyInfo(r: Record<string, unknown>): ApiKeyInfo {
  return {
    prefix: String(r.prefix),
    principalId: String(r.principal_id),
    orgId: String(r.org_id),
    name: String(r.name),
    createdAt: new Date(Number(r.created_ms)).toISOString(),
    expiresAt: new Date(Number(r.expires_ms)).toISOString(),
    revokedAt: r.revoked_ms === null ? null : new Date(Number(r.revoked_ms)).toISOString(),
  };
}
