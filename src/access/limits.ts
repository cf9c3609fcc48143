import { SarbridgeError } from '../errors.js';

/** Too many requests or failed authentications (HTTP 429); `retryAfterS` for the Retry-After header. */
export class RateLimitedError extends SarbridgeError {
  override readonly code: string = 'TooManyRequests';
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

/**
 * A token bucket per credential: `ratePerS` requests a second on average, bursts of `burst`.
 * Buckets of idle credentials are dropped once full again, so memory follows the active callers.
 * A rate of 0 or less turns the limit off.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one token for `key`; throws RateLimitedError when the bucket is empty. */
  take(key: string): void {
    if (this.ratePerS <= 0) return;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerS);
    b.at = t;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw new RateLimitedError(
        `rate limit of ${this.ratePerS} requests/s (bursts of ${this.burst}) exceeded for this credential`,
        Math.ceil((1 - b.tokens) / this.ratePerS),
      );
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > 100_000) this.sweep(t);
  }

  private sweep(t: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((t - b.at) / 1000) * this.ratePerS >= this.burst) this.buckets.delete(k);
  }
}

/**
 * Lock-out after repeated failed authentications: `maxFailures` within `windowMs` from one source
 * address, or against one credential from one address, locks that address or that credential there
 * for `lockMs`.
 */
export class Lockout {
  private readonly failures = new Map<string, { times: number[]; lockedUntil: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 15 * 60_000,
    private readonly lockMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws RateLimitedError when any of `keys` is locked. */
  check(keys: string[]): void {
    const t = this.now();
    for (const k of keys) {
      const f = this.failures.get(k);
      if (f && f.lockedUntil > t)
        throw new RateLimitedError(
          'too many failed authentications: locked out, try again later',
          Math.ceil((f.lockedUntil - t) / 1000),
        );
    }
  }

  fail(keys: string[]): void {
    const t = this.now();
    for (const k of keys) {
      const f = this.failures.get(k) ?? { times: [], lockedUntil: 0 };
      f.times = f.times.filter((x) => x > t - this.windowMs);
      f.times.push(t);
      if (f.times.length >= this.maxFailures) {
        f.lockedUntil = t + this.lockMs;
        f.times = [];
      }
      this.failures.set(k, f);
    }
    if (this.failures.size > 100_000)
      for (const [k, f] of this.failures)
        if (f.lockedUntil <= t && f.times.every((x) => x <= t - this.windowMs)) this.failures.delete(k);
  }

  succeed(keys: string[]): void {
    for (const k of keys) {
      const f = this.failures.get(k);
      if (f && f.lockedUntil <= this.now()) this.failures.delete(k);
    }
  }
}
