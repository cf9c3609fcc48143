import { createHash } from 'node:crypto';
import { AuthenticationError } from './errors.js';
import { IdentityStore } from './identity.js';
import { Lockout, RateLimiter } from './limits.js';
import type { Principal } from './scope.js';
import type { UrlSigner } from './signed-url.js';
import type { TokenService } from './tokens.js';

/** What the authenticator records: one line per authentication, success or failure. */
export type AuthAudit = (rec: {
  actor: string | null;
  org: string | null;
  action: string;
  result: string;
  detail: Record<string, unknown>;
  ip: string;
  requestId: string | null;
}) => void;

/** The request as far as authentication needs it. */
export interface AuthRequest {
  authorization?: string;
  /** `?token=` of a signed URL, and the path it was signed for. */
  signedToken?: string;
  path: string;
  ip: string;
  requestId?: string;
}

export interface AuthenticatorOptions {
  /** Requests per second per credential (default 100; 0 turns the limit off) and the burst (default 400). */
  ratePerS?: number;
  burst?: number;
  /** Failed authentications that lock a source address or credential (default 10 in 15 min, for 15 min). */
  maxFailures?: number;
  lockMs?: number;
  now?: () => number;
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Turns a request's credential into a principal, once per request: an API key
 * (`Authorization: Bearer sb_...`), an OAuth2 access token (a JWT of ours), or a signed URL's
 * `?token=`. No credential: null (the policy makes that an empty scope). A refused credential:
 * AuthenticationError (401). Repeated failures lock the source address and the credential out, and
 * each credential has a request rate limit (RateLimitedError, 429).
 */
export class Authenticator {
  private readonly limiter: RateLimiter;
  private readonly lockout: Lockout;

  constructor(
    private readonly identity: IdentityStore,
    private readonly tokens: TokenService,
    private readonly signer: UrlSigner,
    private readonly audit: AuthAudit,
    o: AuthenticatorOptions = {},
  ) {
    this.limiter = new RateLimiter(o.ratePerS ?? 100, o.burst ?? 400, o.now);
    this.lockout = new Lockout(o.maxFailures ?? 10, 15 * 60_000, o.lockMs ?? 15 * 60_000, o.now);
  }

  async authenticate(r: AuthRequest): Promise<Principal | null> {
    const auth = r.authorization;
    if (auth === undefined && r.signedToken === undefined) return null;
    const m = auth === undefined ? null : /^Bearer +(\S{1,4096})\s*$/i.exec(auth);
    const cred = m?.[1];
    // An API key is locked by its prefix; any other bearer string by its own digest (the first
    // characters of a JWT are its header, the same for every token signed with one key).
    const credKey = cred
      ? `cred:${IdentityStore.keyPrefix(cred) ?? createHash('sha256').update(cred).digest('base64url').slice(0, 27)}`
      : `signed:${(r.signedToken ?? '').slice(0, 64)}`;
    // The address, and the credential from that address: a key's prefix is not secret, so failures
    // against it from elsewhere must not lock its owner out.
    const keys = [`ip:${r.ip}`, `${r.ip}|${credKey}`];
    this.lockout.check(keys);
    let p: Principal | null = null;
    let method = 'key';
    try {
      if (auth !== undefined) {
        if (!cred)
          throw new AuthenticationError(
            'malformed',
            'the Authorization header must be "Bearer <credential>"',
          );
        if (cred.startsWith('sb_')) {
          p = this.identity.authenticateKey(cred);
          if (!p) throw new AuthenticationError('unknown_key', 'invalid, expired or revoked API key');
        } else if (JWT.test(cred)) {
          method = 'jwt';
          const t = await this.tokens.verify(cred);
          p = this.identity.resolve(t.sub, `jwt:${t.jti}`);
          if (!p || p.orgId !== t.org)
            throw new AuthenticationError('claims', 'the token names no active client');
          if (this.expiry.size > 10_000) this.expiry.clear();
          this.expiry.set(p.credential, t.exp * 1000);
        } else
          throw new AuthenticationError(
            'malformed',
            'the bearer credential is neither an API key nor an access token',
          );
      } else {
        method = 'signed-url';
        const g = this.signer.verify(r.signedToken as string, r.path);
        if (!g) throw new AuthenticationError('signature', 'the signed URL is invalid or has expired');
        if (g.credential.startsWith('key:') && !this.identity.keyActive(g.credential.slice(4)))
          throw new AuthenticationError(
            'unknown_key',
            'the signed URL was made with a key that is no longer valid',
          );
        p = this.identity.resolve(g.principalId, g.credential);
        if (!p) throw new AuthenticationError('claims', 'the signed URL names no active principal');
      }
    } catch (err) {
      if (err instanceof AuthenticationError) {
        this.lockout.fail(keys);
        this.audit({
          actor: null,
          org: null,
          action: 'auth.failure',
          result: 'deny',
          detail: { method, reason: err.reason, credential: credKey.slice(5, 24) },
          ip: r.ip,
          requestId: r.requestId ?? null,
        });
      }
      throw err;
    }
    this.lockout.succeed([`${r.ip}|${credKey}`]);
    this.limiter.take(p.credential.startsWith('jwt:') ? p.id : p.credential);
    this.audit({
      actor: p.id,
      org: p.orgId,
      action: 'auth.success',
      result: 'allow',
      detail: { method, credential: p.credential },
      ip: r.ip,
      requestId: r.requestId ?? null,
    });
    return p;
  }

  /** The lock-out, for credential checks outside the Authorization header (the token endpoint). */
  lockoutCheck(keys: string[]): void {
    this.lockout.check(keys);
  }

  lockoutFail(keys: string[]): void {
    this.lockout.fail(keys);
  }

  /** Expiry of JWT credentials seen, so signed URLs made under them do not outlive them. */
  private readonly expiry = new Map<string, number>();

  /** When the credential a principal authenticated with stops being valid (ms). */
  credentialExpiry(p: Principal): number {
    if (p.credential.startsWith('key:')) return this.identity.keyExpiry(p.credential.slice(4)) ?? 0;
    return this.expiry.get(p.credential) ?? Date.now() + 900_000;
  }
}
