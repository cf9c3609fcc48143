/**
 * The retry policy of webhook deliveries (pure: no I/O, the clock and the random source passed in).
 *
 * The schedule: after failed attempt n the next waits `delaysMs[n-1]` (5 s, 30 s, 2 min, 10 min,
 * 30 min, 1 h), then `repeatMs` (3 h) for every later attempt, each wait with full jitter (drawn
 * uniformly from [d * (1 - jitter), d], jitter 1 by default: AWS's "full jitter"). An event is
 * dead after the first failed attempt made `totalMs` (24 h) or more after its first attempt, so
 * a receiver down for a day still gets it: with no jitter the attempts are at 0, 5 s, 35 s,
 * 2 min 35 s, 12 min 35 s, 42 min 35 s, 1 h 42 min 35 s, then every 3 h, the 15th and last at
 * 25 h 42 min 35 s. A 429 or 503 with Retry-After (seconds or an HTTP date) waits that long,
 * capped at `maxRetryAfterMs` (1 h); a 410 disables the
 * subscription; every other status, a timeout or a connection error is retried.
 */
import { ValidationError } from '../errors.js';

export interface RetrySchedule {
  /** The waits after attempts 1, 2, ... (ms). */
  delaysMs: number[];
  /** The wait after every later attempt (ms). */
  repeatMs: number;
  /** An attempt that fails this long (ms) or more after the first one is the last. */
  totalMs: number;
  /** Fraction of each wait drawn at random (0: none, 1: full jitter). */
  jitter: number;
  /** Retry-After is honoured up to this (ms). */
  maxRetryAfterMs: number;
}

export const DEFAULT_SCHEDULE: RetrySchedule = {
  delaysMs: [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000],
  repeatMs: 3 * 3_600_000,
  totalMs: 24 * 3_600_000,
  jitter: 1,
  maxRetryAfterMs: 3_600_000,
};

/** The default schedule with every duration multiplied by `factor` (tests and benchmarks). */
export function scaledSchedule(factor: number, base: RetrySchedule = DEFAULT_SCHEDULE): RetrySchedule {
  if (!Number.isFinite(factor) || factor <= 0)
    throw new ValidationError(`retry schedule factor: expected a number > 0, got ${factor}`);
  return {
    delaysMs: base.delaysMs.map((d) => d * factor),
    repeatMs: base.repeatMs * factor,
    totalMs: base.totalMs * factor,
    jitter: base.jitter,
    maxRetryAfterMs: base.maxRetryAfterMs * factor,
  };
}

/** Check a schedule; a ValidationError names the field. */
export function checkSchedule(s: RetrySchedule): RetrySchedule {
  const ms = (v: unknown, field: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new ValidationError(`retry schedule ${field}: expected a number of ms >= 0, got ${String(v)}`);
  };
  if (!Array.isArray(s.delaysMs))
    throw new ValidationError('retry schedule delaysMs: expected an array of ms');
  for (const [i, d] of s.delaysMs.entries()) ms(d, `delaysMs[${i}]`);
  ms(s.repeatMs, 'repeatMs');
  ms(s.totalMs, 'totalMs');
  ms(s.maxRetryAfterMs, 'maxRetryAfterMs');
  if (s.repeatMs === 0 && s.totalMs > 0)
    throw new ValidationError('retry schedule repeatMs: expected > 0 when totalMs > 0');
  if (typeof s.jitter !== 'number' || !(s.jitter >= 0 && s.jitter <= 1))
    throw new ValidationError(`retry schedule jitter: expected a fraction from 0 to 1, got ${s.jitter}`);
  return s;
}

/** The wait after failed attempt `attempt` (1-based), before jitter (ms). */
export function baseDelayMs(s: RetrySchedule, attempt: number): number {
  return attempt - 1 < s.delaysMs.length ? s.delaysMs[attempt - 1]! : s.repeatMs;
}

/** The jittered wait after failed attempt `attempt`: uniform in [d * (1 - jitter), d]. */
export function jitteredDelayMs(s: RetrySchedule, attempt: number, random: () => number): number {
  const d = baseDelayMs(s, attempt);
  return Math.round(d * (1 - s.jitter * random()));
}

/**
 * A Retry-After header as ms from `nowMs`: delta-seconds ("120") or an HTTP date
 * ("Wed, 21 Oct 2026 07:28:00 GMT"); null when absent or not either form. A date in the past is 0.
 */
export function parseRetryAfterMs(value: string | undefined | null, nowMs: number): number | null {
  if (value === undefined || value === null) return null;
  const v = value.trim();
  if (/^[0-9]{1,10}$/.test(v)) return Number(v) * 1000;
  if (!/^[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/.test(v)) return null;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) return null;
  return Math.max(0, t - nowMs);
}

/** How an attempt ended, as the policy needs it. */
export interface AttemptOutcome {
  /** The HTTP status, or null: no response (timeout, connection refused or reset). */
  status: number | null;
  /** The Retry-After header of the response, if any. */
  retryAfter?: string | null;
}

export type NextStep =
  | { kind: 'delivered' }
  | { kind: 'disable'; reason: string }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'dead'; reason: string };

/**
 * What follows attempt `attempt` (1-based) that ended with `outcome`, made at `nowMs` when the
 * first attempt was at `firstAttemptMs`.
 */
export function nextStep(
  s: RetrySchedule,
  outcome: AttemptOutcome,
  attempt: number,
  firstAttemptMs: number,
  nowMs: number,
  random: () => number = Math.random,
): NextStep {
  const st = outcome.status;
  if (st !== null && st >= 200 && st < 300) return { kind: 'delivered' };
  if (st === 410) return { kind: 'disable', reason: 'the endpoint answered 410 Gone' };
  const why = st === null ? 'no response' : `status ${st}`;
  if (nowMs - firstAttemptMs >= s.totalMs) {
    return {
      kind: 'dead',
      reason: `${why} on attempt ${attempt}, ${Math.round((nowMs - firstAttemptMs) / 1000)} s after the first`,
    };
  }
  if (st === 429 || st === 503) {
    const ra = parseRetryAfterMs(outcome.retryAfter, nowMs);
    if (ra !== null) {
      return {
        kind: 'retry',
        delayMs: Math.min(ra, s.maxRetryAfterMs),
        reason: `${why}, Retry-After ${outcome.retryAfter}`,
      };
    }
  }
  return { kind: 'retry', delayMs: jitteredDelayMs(s, attempt, random), reason: why };
}
