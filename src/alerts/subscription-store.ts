/**
 * Subscriptions, kept per organisation: every read and write names the organisation asking (null:
 * a provider, who sees all), and another organisation's subscription looks missing (hidden looks
 * like missing). The SQLite implementation keeps one table in the database it is given (the
 * identities' or the deliveries' file, or its own), the document as JSON beside the columns it is
 * looked up by, as src/access/identity.ts keeps principals.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { ValidationError } from '../errors.js';
import { statementCache } from '../util/sqlite-statements.js';
import type { Subscription, SubscriptionInput, SubscriptionState } from './subscription.js';

export interface NewSubscription extends SubscriptionInput {
  orgId: string;
  principalId: string;
  /** The first signing secret (null without a webhook). */
  secret: string | null;
}

export type SubscriptionPatch = Partial<SubscriptionInput>;

export interface SubscriptionStore {
  create(s: NewSubscription): Promise<Subscription>;
  /** The subscription, when `orgId` (null: any organisation) owns it. */
  get(id: string, orgId: string | null): Promise<Subscription | null>;
  /** The organisation's subscriptions (null: all), oldest first. */
  list(orgId: string | null): Promise<Subscription[]>;
  /** Active subscriptions of every organisation (for matching). */
  listActive(): Promise<Subscription[]>;
  update(id: string, orgId: string | null, patch: SubscriptionPatch): Promise<Subscription | null>;
  setState(
    id: string,
    orgId: string | null,
    state: SubscriptionState,
    reason?: string | null,
  ): Promise<Subscription | null>;
  /** A new newest secret; the others stop signing after `graceMs` (expired ones are dropped). */
  rotateSecret(
    id: string,
    orgId: string | null,
    secret: string,
    graceMs: number,
  ): Promise<Subscription | null>;
  delete(id: string, orgId: string | null): Promise<boolean>;
  close(): Promise<void>;
}

/** The secrets that sign now (unexpired), newest first. */
export function liveSecrets(s: Subscription, nowMs = Date.now()): string[] {
  return s.secrets
    .filter((x) => x.expiresAt === null || Date.parse(x.expiresAt) > nowMs)
    .map((x) => x.secret);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_subscriptions (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_subscriptions_org ON alert_subscriptions (org_id, created_at);
CREATE INDEX IF NOT EXISTS alert_subscriptions_state ON alert_subscriptions (state);
`;

export class SqliteSubscriptionStore implements SubscriptionStore {
  readonly db: Database.Database;
  private readonly stmt: (sql: string) => Database.Statement;
  private readonly owned: boolean;

  constructor(
    pathOrDb: string | Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.owned = typeof pathOrDb === 'string';
    this.db = typeof pathOrDb === 'string' ? new Database(pathOrDb) : pathOrDb;
    if (this.owned) this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    this.stmt = statementCache(this.db);
  }

  async close(): Promise<void> {
    if (this.owned) this.db.close();
  }

  async create(s: NewSubscription): Promise<Subscription> {
    const at = new Date(this.now()).toISOString();
    const sub: Subscription = {
      id: `sub_${randomBytes(12).toString('base64url')}`,
      orgId: s.orgId,
      principalId: s.principalId,
      disabledReason: null,
      name: s.name ?? null,
      area: s.area,
      eventTypes: s.eventTypes,
      options: s.options,
      filter: s.filter,
      filterLang: s.filterLang,
      webhookUrl: s.webhookUrl,
      secrets: s.secret ? [{ secret: s.secret, expiresAt: null }] : [],
      state: 'active',
      createdAt: at,
      updatedAt: at,
    };
    if (sub.webhookUrl && sub.secrets.length === 0)
      throw new ValidationError('a webhook subscription needs a secret');
    this.stmt(
      'INSERT INTO alert_subscriptions (id, org_id, state, created_at, doc) VALUES (?, ?, ?, ?, ?)',
    ).run(sub.id, sub.orgId, sub.state, sub.createdAt, JSON.stringify(sub));
    return sub;
  }

  async get(id: string, orgId: string | null): Promise<Subscription | null> {
    return this.read(id, orgId);
  }

  private read(id: string, orgId: string | null): Subscription | null {
    const row = this.stmt('SELECT org_id, doc FROM alert_subscriptions WHERE id = ?').get(id) as
      | { org_id: string; doc: string }
      | undefined;
    if (!row || (orgId !== null && row.org_id !== orgId)) return null;
    return JSON.parse(row.doc) as Subscription;
  }

  async list(orgId: string | null): Promise<Subscription[]> {
    const rows = (
      orgId === null
        ? this.stmt('SELECT doc FROM alert_subscriptions ORDER BY created_at, id').all()
        : this.stmt('SELECT doc FROM alert_subscriptions WHERE org_id = ? ORDER BY created_at, id').all(orgId)
    ) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as Subscription);
  }

  async listActive(): Promise<Subscription[]> {
    const rows = this.stmt(
      "SELECT doc FROM alert_subscriptions WHERE state = 'active' ORDER BY created_at, id",
    ).all() as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as Subscription);
  }

  private write(sub: Subscription): Subscription {
    sub.updatedAt = new Date(this.now()).toISOString();
    this.stmt('UPDATE alert_subscriptions SET state = ?, doc = ? WHERE id = ?').run(
      sub.state,
      JSON.stringify(sub),
      sub.id,
    );
    return sub;
  }

  private change(id: string, orgId: string | null, f: (s: Subscription) => void): Subscription | null {
    return this.db.transaction(() => {
      const sub = this.read(id, orgId);
      if (!sub) return null;
      f(sub);
      return this.write(sub);
    })();
  }

  async update(id: string, orgId: string | null, patch: SubscriptionPatch): Promise<Subscription | null> {
    return this.change(id, orgId, (s) => {
      for (const [k, v] of Object.entries(patch))
        if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
      if (s.webhookUrl && s.secrets.length === 0)
        throw new ValidationError('webhookUrl: a webhook needs a secret (rotate-secret)');
    });
  }

  async setState(id: string, orgId: string | null, state: SubscriptionState, reason: string | null = null) {
    return this.change(id, orgId, (s) => {
      s.state = state;
      s.disabledReason = state === 'disabled' ? reason : null;
    });
  }

  async rotateSecret(id: string, orgId: string | null, secret: string, graceMs: number) {
    const nowMs = this.now();
    return this.change(id, orgId, (s) => {
      const until = new Date(nowMs + graceMs).toISOString();
      const older = s.secrets
        .filter((x) => x.expiresAt === null || Date.parse(x.expiresAt) > nowMs)
        .map((x) => ({
          secret: x.secret,
          expiresAt: x.expiresAt === null || x.expiresAt > until ? until : x.expiresAt,
        }));
      s.secrets = [{ secret, expiresAt: null }, ...older];
    });
  }

  async delete(id: string, orgId: string | null): Promise<boolean> {
    const r =
      orgId === null
        ? this.stmt('DELETE FROM alert_subscriptions WHERE id = ?').run(id)
        : this.stmt('DELETE FROM alert_subscriptions WHERE id = ? AND org_id = ?').run(id, orgId);
    return r.changes > 0;
  }
}
