import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../errors.js';

/** What a signed URL grants: one path, to one principal, until `expMs`. */
export interface SignedGrant {
  principalId: string;
  credential: string;
  path: string;
  expMs: number;
}

/** The longest a signed URL lives (ms). */
export const MAX_SIGNED_TTL_MS = 24 * 3600_000;

/**
 * Signed, expiring URLs (HMAC-SHA256, like S3 presigned URLs) for tools that cannot send an
 * Authorization header: `?token=` carries the principal, the credential it was signed under, the
 * path and the expiry, and never outlives that expiry. The request it authorises still runs under
 * the principal's scope, and a revoked credential revokes its URLs.
 */
export class UrlSigner {
  private readonly secret: Buffer;

  constructor(
    secret?: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = secret ?? randomBytes(32);
  }

  sign(g: Omit<SignedGrant, 'expMs'>, ttlMs: number, notAfterMs = Number.POSITIVE_INFINITY): string {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_SIGNED_TTL_MS)
      throw new ValidationError(`expires: must be from 1 s to ${MAX_SIGNED_TTL_MS / 1000} s`);
    const expMs = Math.min(this.now() + ttlMs, notAfterMs);
    const body = Buffer.from(JSON.stringify([g.principalId, g.credential, g.path, expMs])).toString(
      'base64url',
    );
    return `${body}.${this.mac(body)}`;
  }

  /** The grant of a valid, unexpired token for `path`, or null. */
  verify(token: string, path: string): SignedGrant | null {
    if (token.length > 2048) return null;
    const dot = token.indexOf('.');
    if (dot < 0) return null;
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    const want = Buffer.from(this.mac(body), 'base64url');
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return null;
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (!Array.isArray(v) || v.length !== 4) return null;
    const [principalId, credential, p, expMs] = v as [string, string, string, number];
    if (p !== path || typeof expMs !== 'number' || expMs <= this.now()) return null;
    return { principalId, credential, path: p, expMs };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
