import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import { ValidationError } from '../errors.js';
import { AuthenticationError } from './errors.js';

/**
 * Short-lived OAuth2 client-credentials access tokens (RFC 6749 4.4) as ES256 JWTs in the RFC 9068
 * profile (`typ: at+jwt`), signed with keys that rotate and are kept in the identity database.
 */

/** The only signature algorithm issued and accepted. */
export const TOKEN_ALG = 'ES256';
/** The JOSE header `typ` of our access tokens (RFC 9068 2.1); other JWTs are refused. */
export const TOKEN_TYP = 'at+jwt';
/** Clock skew allowed between the instances that issue and verify, for exp, nbf and iat (seconds). */
export const CLOCK_TOLERANCE_S = 5;
/** Longer strings are refused before any parsing (ours are about 600 characters). */
export const MAX_TOKEN_CHARS = 4096;

/** What an access token says about its client. */
export interface TokenClaimsInput {
  /** The client (for client credentials, the client_id). */
  sub: string;
  /** The partner organisation the client belongs to. */
  org: string;
  roles: string[];
  /** Space-separated granted scope (RFC 6749 3.3). */
  scope?: string;
}

/** The token endpoint's successful response body (RFC 6749 5.1). */
export interface IssuedToken {
  access_token: string;
  token_type: 'Bearer';
  /** Lifetime in seconds. */
  expires_in: number;
  scope?: string;
}

/** The claims of a token that verified. */
export interface VerifiedToken {
  sub: string;
  org: string;
  roles: string[];
  jti: string;
  /** Expiry, seconds since the Unix epoch. */
  exp: number;
  scope?: string;
}

/** One public key of the JWKS (RFC 7517), never holding private parameters. */
export interface PublicJwk extends JWK {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface TokenServiceOptions {
  /** `iss` of the tokens, e.g. the token endpoint's base URL. */
  issuer: string;
  /** `aud` of the tokens, the API that accepts them. */
  audience: string;
  /** Token lifetime in seconds (default 900). */
  tokenTtlS?: number;
  /** Age in seconds after which the signing key is replaced by a new one (default 86400). */
  rotateAfterS?: number;
  /** Verified tokens kept so that repeated requests skip the signature check (default 10000; 0 disables). */
  cacheSize?: number;
  /** Clock in milliseconds since the epoch (default Date.now), for tests. */
  now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS signing_keys (
  kid TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  alg TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  private_jwk TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  retired_at_s INTEGER,
  max_exp_s INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS signing_keys_issuer ON signing_keys (issuer, created_at_s);
`;

interface KeyRow {
  kid: string;
  public_jwk: string;
  private_jwk: string;
  created_at_s: number;
}

interface CacheEntry {
  claims: VerifiedToken;
  nbf: number;
  iat: number;
  exp: number;
}

/** Our kids are RFC 7638 thumbprints: base64url SHA-256, 43 characters. */
const KID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Every this many cache insertions, expired entries are swept out. */
const SWEEP_EVERY = 1024;

const fail = (reason: AuthenticationError['reason'], message: string) =>
  new AuthenticationError(reason, message);

/**
 * Issues and verifies access tokens. Keys live in the `signing_keys` table of the shared identity
 * database, so every instance on that database signs with the same current key and accepts every
 * key's tokens; a retired key stays (and stays in the JWKS) until the last token it signed has
 * expired, then is deleted.
 *
 * @example
 * const tokens = new TokenService(db, { issuer: 'https://sarbridge.example/oauth', audience: 'sarbridge-api' });
 * const { access_token } = await tokens.issue({ sub: 'client-7', org: 'coastguard', roles: ['reader'] });
 * const claims = await tokens.verify(access_token); // { sub: 'client-7', org: 'coastguard', ... }
 */
export class TokenService {
  private readonly issuer: string;
  private readonly audience: string;
  private readonly tokenTtlS: number;
  private readonly rotateAfterS: number;
  private readonly now: () => number;
  private readonly cache: VerifiedTokenCache;
  /** Public keys imported once, by kid. */
  private readonly publicKeys = new Map<string, CryptoKey>();
  private readonly privateKeys = new Map<string, CryptoKey>();
  private rotation: Promise<void> | undefined;
  private readonly stmts: {
    current: Database.Statement<[string], KeyRow>;
    byKid: Database.Statement<[string, string], KeyRow>;
    reserve: Database.Statement<[number, string]>;
    insert: Database.Statement<[string, string, string, string, string, number]>;
    retireOthers: Database.Statement<[number, string, string]>;
    prune: Database.Statement<[string, number, number], { kid: string }>;
    publicJwks: Database.Statement<[string], { public_jwk: string }>;
  };
  private readonly reserveTx: (nowS: number) => KeyRow | null;
  private readonly installTx: (row: KeyRow, nowS: number) => void;

  constructor(db: Database.Database, opts: TokenServiceOptions) {
    this.issuer = nonEmpty('issuer', opts.issuer);
    this.audience = nonEmpty('audience', opts.audience);
    this.tokenTtlS = positiveInt('tokenTtlS', opts.tokenTtlS ?? 900);
    this.rotateAfterS = positiveInt('rotateAfterS', opts.rotateAfterS ?? 86400);
    const cacheSize = opts.cacheSize ?? 10_000;
    if (!Number.isInteger(cacheSize) || cacheSize < 0)
      throw new ValidationError(`cacheSize: expected an integer >= 0, got ${cacheSize}`);
    this.cache = new VerifiedTokenCache(cacheSize);
    this.now = opts.now ?? Date.now;

    db.exec(SCHEMA);
    this.stmts = {
      current: db.prepare(
        `SELECT kid, public_jwk, private_jwk, created_at_s FROM signing_keys
         WHERE issuer = ? AND retired_at_s IS NULL ORDER BY created_at_s DESC, kid LIMIT 1`,
      ),
      byKid: db.prepare(
        'SELECT kid, public_jwk, private_jwk, created_at_s FROM signing_keys WHERE issuer = ? AND kid = ?',
      ),
      reserve: db.prepare('UPDATE signing_keys SET max_exp_s = MAX(max_exp_s, ?) WHERE kid = ?'),
      insert: db.prepare(
        `INSERT INTO signing_keys (kid, issuer, alg, public_jwk, private_jwk, created_at_s)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      retireOthers: db.prepare(
        `UPDATE signing_keys SET retired_at_s = ?
         WHERE issuer = ? AND kid != ? AND retired_at_s IS NULL`,
      ),
      prune: db.prepare(
        `DELETE FROM signing_keys
         WHERE issuer = ? AND retired_at_s IS NOT NULL AND max_exp_s + ? <= ? RETURNING kid`,
      ),
      publicJwks: db.prepare(
        'SELECT public_jwk FROM signing_keys WHERE issuer = ? ORDER BY created_at_s DESC, kid',
      ),
    };
    // The current key, if young enough, with this token's expiry recorded on it in the same
    // transaction, so that no instance deletes the key before the token has expired.
    this.reserveTx = db.transaction((nowS: number): KeyRow | null => {
      const row = this.stmts.current.get(this.issuer);
      if (row === undefined || nowS - row.created_at_s >= this.rotateAfterS) return null;
      this.stmts.reserve.run(nowS + this.tokenTtlS, row.kid);
      return row;
    });
    const install = db.transaction((row: KeyRow, nowS: number) => {
      // Another instance may have rotated while this one generated its key: keep theirs.
      const current = this.stmts.current.get(this.issuer);
      if (current !== undefined && nowS - current.created_at_s < this.rotateAfterS) return;
      this.stmts.insert.run(row.kid, this.issuer, TOKEN_ALG, row.public_jwk, row.private_jwk, nowS);
      this.stmts.retireOthers.run(nowS, this.issuer, row.kid);
    });
    this.installTx = (row, nowS) => install.immediate(row, nowS);
  }

  /**
   * Signs an access token for a client that has authenticated, with the current key (replacing
   * it first when it is older than `rotateAfterS`).
   * @throws ValidationError when a claim is empty or of the wrong type.
   */
  async issue(claims: TokenClaimsInput): Promise<IssuedToken> {
    const sub = nonEmpty('sub', claims?.sub);
    const org = nonEmpty('org', claims?.org);
    if (!Array.isArray(claims.roles) || claims.roles.some((r) => typeof r !== 'string' || r === ''))
      throw new ValidationError('roles: expected an array of non-empty strings');
    const scope = claims.scope;
    if (scope !== undefined && typeof scope !== 'string')
      throw new ValidationError(`scope: expected a string, got ${typeof scope}`);

    const nowS = Math.floor(this.now() / 1000);
    this.prune(nowS);
    let row = this.reserveTx(nowS);
    for (let attempt = 0; row === null && attempt < 3; attempt++) {
      await this.rotate(nowS);
      row = this.reserveTx(nowS);
    }
    if (row === null) throw new Error('no signing key could be installed in signing_keys');
    const key = await this.privateKey(row);

    const payload: JWTPayload = { org, roles: [...claims.roles] };
    if (scope !== undefined && scope !== '') payload.scope = scope;
    const accessToken = await new SignJWT(payload)
      .setProtectedHeader({ alg: TOKEN_ALG, kid: row.kid, typ: TOKEN_TYP })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(sub)
      .setJti(randomUUID())
      .setIssuedAt(nowS)
      .setNotBefore(nowS)
      .setExpirationTime(nowS + this.tokenTtlS)
      .sign(key);
    const out: IssuedToken = { access_token: accessToken, token_type: 'Bearer', expires_in: this.tokenTtlS };
    if (payload.scope !== undefined) out.scope = scope;
    return out;
  }

  /**
   * Checks a bearer token: ES256 only, `typ` at+jwt, a kid of ours, the signature, `iss`, `aud`,
   * `exp`, `nbf` and `iat` (with CLOCK_TOLERANCE_S), and the claims' types. A token that verified
   * is remembered until its exp, so its next uses skip the signature check.
   * @throws AuthenticationError saying in general terms why the token is refused.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const nowMs = this.now();
    const nowS = Math.floor(nowMs / 1000);
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS)
      throw fail('malformed', 'token malformed');
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      try {
        this.checkTimes(hit, nowS);
      } catch (err) {
        this.cache.delete(token);
        throw err;
      }
      return copyClaims(hit.claims);
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.resolveKey, {
        algorithms: [TOKEN_ALG],
        typ: TOKEN_TYP,
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'],
        maxTokenAge: this.tokenTtlS,
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(nowMs),
      }));
    } catch (err) {
      throw toAuthenticationError(err);
    }
    const entry = entryOf(payload);
    this.cache.set(token, entry, nowS - CLOCK_TOLERANCE_S);
    return copyClaims(entry.claims);
  }

  /**
   * The public keys that verify tokens still valid (RFC 7517 JWK Set), newest first, for
   * `/.well-known/jwks.json`. Deletes retired keys whose tokens have all expired.
   */
  jwks(): { keys: PublicJwk[] } {
    this.prune(Math.floor(this.now() / 1000));
    const keys = this.stmts.publicJwks.all(this.issuer).map((r) => {
      const j = JSON.parse(r.public_jwk) as PublicJwk;
      return { kty: j.kty, crv: j.crv, x: j.x, y: j.y, kid: j.kid, alg: j.alg, use: j.use } as PublicJwk;
    });
    return { keys };
  }

  /** jose's key lookup: by kid, among our keys only; imports each public key once. */
  private readonly resolveKey = (header: { kid?: unknown }): CryptoKey | Promise<CryptoKey> => {
    const kid = header.kid;
    if (typeof kid !== 'string') throw fail('unknown_key', 'token header has no kid');
    const cached = this.publicKeys.get(kid);
    if (cached !== undefined) return cached;
    // A key another instance created since: look it up (kids are thumbprints, so check the shape first).
    const row = KID_PATTERN.test(kid) ? this.stmts.byKid.get(this.issuer, kid) : undefined;
    if (row === undefined) throw fail('unknown_key', 'token signing key unknown');
    return this.importPublic(row);
  };

  private async importPublic(row: KeyRow): Promise<CryptoKey> {
    const j = JSON.parse(row.public_jwk) as PublicJwk;
    const key = (await importJWK({ kty: j.kty, crv: j.crv, x: j.x, y: j.y }, TOKEN_ALG)) as CryptoKey;
    this.publicKeys.set(row.kid, key);
    return key;
  }

  private async privateKey(row: KeyRow): Promise<CryptoKey> {
    const cached = this.privateKeys.get(row.kid);
    if (cached !== undefined) return cached;
    const key = (await importJWK(JSON.parse(row.private_jwk) as JWK, TOKEN_ALG)) as CryptoKey;
    this.privateKeys.set(row.kid, key);
    return key;
  }

  /** Generates a key and makes it current (one generation at a time per instance). */
  private rotate(nowS: number): Promise<void> {
    this.rotation ??= (async () => {
      const { publicKey, privateKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
      const pub = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(pub, 'sha256');
      const publicJwk: PublicJwk = {
        kty: 'EC',
        crv: 'P-256',
        x: pub.x!,
        y: pub.y!,
        kid,
        alg: TOKEN_ALG,
        use: 'sig',
      };
      const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: TOKEN_ALG, use: 'sig' };
      this.installTx(
        {
          kid,
          public_jwk: JSON.stringify(publicJwk),
          private_jwk: JSON.stringify(privateJwk),
          created_at_s: nowS,
        },
        nowS,
      );
    })().finally(() => {
      this.rotation = undefined;
    });
    return this.rotation;
  }

  /** Deletes retired keys whose last token is past its exp (and the clock tolerance). */
  private prune(nowS: number): void {
    for (const { kid } of this.stmts.prune.all(this.issuer, CLOCK_TOLERANCE_S, nowS)) {
      this.publicKeys.delete(kid);
      this.privateKeys.delete(kid);
    }
  }

  /** The time checks of jwtVerify, repeated for a cached token. */
  private checkTimes(e: CacheEntry, nowS: number): void {
    if (e.nbf > nowS + CLOCK_TOLERANCE_S) throw fail('not_yet_valid', 'token not yet valid');
    if (e.exp <= nowS - CLOCK_TOLERANCE_S) throw fail('expired', 'token expired');
    const age = nowS - e.iat;
    if (age - CLOCK_TOLERANCE_S > this.tokenTtlS) throw fail('expired', 'token expired');
    if (age < -CLOCK_TOLERANCE_S) throw fail('issued_in_future', 'token issued in the future');
  }
}

/** Tokens that verified, least recently used first; bounded, and swept of expired entries. */
class VerifiedTokenCache {
  private readonly map = new Map<string, CacheEntry>();
  private setsSinceSweep = 0;

  constructor(private readonly capacity: number) {}

  get(token: string): CacheEntry | undefined {
    const e = this.map.get(token);
    if (e !== undefined) {
      this.map.delete(token);
      this.map.set(token, e);
    }
    return e;
  }

  /** `expiredAtOrBefore`: entries whose exp is at or before this (seconds) are swept. */
  set(token: string, e: CacheEntry, expiredAtOrBefore: number): void {
    if (this.capacity === 0) return;
    this.map.delete(token);
    this.map.set(token, e);
    if (++this.setsSinceSweep >= SWEEP_EVERY) {
      this.setsSinceSweep = 0;
      for (const [k, v] of this.map) if (v.exp <= expiredAtOrBefore) this.map.delete(k);
    }
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  delete(token: string): void {
    this.map.delete(token);
  }
}

/** Our claims, typed, from a payload whose signature and registered claims jose has checked. */
function entryOf(p: JWTPayload): CacheEntry {
  const bad = (claim: string) => fail('claims', `token claim '${claim}' missing or invalid`);
  if (typeof p.sub !== 'string' || p.sub === '') throw bad('sub');
  if (typeof p.org !== 'string' || p.org === '') throw bad('org');
  if (!Array.isArray(p.roles) || p.roles.some((r) => typeof r !== 'string')) throw bad('roles');
  if (typeof p.jti !== 'string' || p.jti === '') throw bad('jti');
  if (p.scope !== undefined && typeof p.scope !== 'string') throw bad('scope');
  for (const c of ['exp', 'nbf', 'iat'] as const) if (!Number.isSafeInteger(p[c])) throw bad(c);
  const claims: VerifiedToken = { sub: p.sub, org: p.org, roles: [...p.roles], jti: p.jti, exp: p.exp! };
  if (p.scope !== undefined) claims.scope = p.scope;
  return { claims, nbf: p.nbf!, iat: p.iat!, exp: p.exp! };
}

function copyClaims(c: VerifiedToken): VerifiedToken {
  return { ...c, roles: [...c.roles] };
}

/** jose's errors as general reasons; nothing of the token or key is repeated. */
function toAuthenticationError(err: unknown): AuthenticationError {
  if (err instanceof AuthenticationError) return err;
  if (err instanceof joseErrors.JWTExpired) return fail('expired', 'token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return fail('claims', `token claim '${err.claim}' missing`);
    switch (err.claim) {
      case 'iss':
        return fail('issuer', 'token issuer mismatch');
      case 'aud':
        return fail('audience', 'token audience mismatch');
      case 'nbf':
        return err.reason === 'check_failed'
          ? fail('not_yet_valid', 'token not yet valid')
          : fail('claims', "token claim 'nbf' missing or invalid");
      case 'iat':
        return err.reason === 'check_failed'
          ? fail('issued_in_future', 'token issued in the future')
          : fail('claims', "token claim 'iat' missing or invalid");
      case 'typ':
        return fail('type', `token type mismatch (expected ${TOKEN_TYP})`);
      default:
        return fail('claims', `token claim '${err.claim}' missing or invalid`);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return fail('signature', 'token signature invalid');
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return fail('algorithm', `token algorithm not allowed (expected ${TOKEN_ALG})`);
  if (err instanceof joseErrors.JOSEError) return fail('malformed', 'token malformed');
  return new AuthenticationError('malformed', 'token malformed', { cause: err });
}

function nonEmpty(name: string, v: unknown): string {
  if (typeof v !== 'string' || v === '')
    throw new ValidationError(`${name}: expected a non-empty string, got ${v === '' ? "''" : typeof v}`);
  return v;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new ValidationError(`${name}: expected an integer > 0, got ${v}`);
  return v;
}
