import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AuditLog } from './audit.js';
import { Authenticator, type AuthenticatorOptions } from './authenticate.js';
import { IdentityStore } from './identity.js';
import { LabelRules } from './labels.js';
import { UrlSigner } from './signed-url.js';
import { TokenService } from './tokens.js';

export interface AccessOptions {
  /** Folder of the identity store (identity.db) and the audit log (audit.db and its keys). */
  dir: string;
  /** The public base URL: the tokens' issuer and audience. */
  publicUrl: string;
  rules?: LabelRules;
  auth?: AuthenticatorOptions;
  /** Audit digest cadence (records, default 1000). */
  digestEvery?: number;
}

/** The access services of a server: labels, identities, tokens, signed URLs, authentication, audit. */
export interface AccessServices {
  rules: LabelRules;
  identity: IdentityStore;
  tokens: TokenService;
  signer: UrlSigner;
  authenticator: Authenticator;
  audit: AuditLog;
  close(): void;
}

/** Open (or create) the access services in `dir`. */
export function openAccess(o: AccessOptions): AccessServices {
  const rules = o.rules ?? new LabelRules();
  const identity = new IdentityStore(join(o.dir, 'identity.db'), rules);
  identity.db.exec('CREATE TABLE IF NOT EXISTS server_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)');
  identity.db
    .prepare("INSERT INTO server_secrets (name, value) VALUES ('url-signing', ?) ON CONFLICT DO NOTHING")
    .run(randomBytes(32));
  const secret = (
    identity.db.prepare("SELECT value FROM server_secrets WHERE name = 'url-signing'").get() as {
      value: Buffer;
    }
  ).value;
  const tokens = new TokenService(identity.db, { issuer: o.publicUrl, audience: o.publicUrl });
  const signer = new UrlSigner(secret);
  const audit = new AuditLog(join(o.dir, 'audit.db'), { digestEvery: o.digestEvery });
  const authenticator = new Authenticator(
    identity,
    tokens,
    signer,
    (r) => audit.append({ ...r, resource: null }),
    o.auth,
  );
  return {
    rules,
    identity,
    tokens,
    signer,
    authenticator,
    audit,
    close() {
      audit.close();
      identity.close();
    },
  };
}
