/**
 * What both queues share: a job spec checked and completed with the defaults, the back-off delay of
 * an attempt, and the checks of progress and list queries. Every bad value is a ValidationError that
 * names the field and says what was expected.
 */
import { ValidationError } from '../errors.js';
import {
  type Backoff,
  JOB_STATES,
  type JobListQuery,
  type JobProgress,
  type JobSpec,
  type JobState,
} from './queue.js';

export const DEFAULT_ATTEMPTS = 5;
export const MAX_ATTEMPTS = 1000;
export const DEFAULT_BACKOFF: Backoff = { delayMs: 1000, maxDelayMs: 300_000, jitter: 0.2 };
/** A payload is a reference to work (paths, ids), not the work's data. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_NAME_CHARS = 200;
export const MAX_KEY_CHARS = 1000;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;

/** A job spec with every default filled in and the payload as JSON text. */
export interface ResolvedSpec {
  name: string;
  payloadJson: string;
  key: string | null;
  orderKey: string | null;
  maxAttempts: number;
  backoff: Backoff;
  delayMs: number;
}

function text(value: unknown, field: string, maxChars: number): string {
  if (typeof value !== 'string' || value === '' || value.length > maxChars) {
    const got =
      typeof value === 'string' ? `${value.length} characters` : (JSON.stringify(value) ?? typeof value);
    throw new ValidationError(
      `job ${field}: expected a non-empty string of at most ${maxChars} characters, got ${got}`,
    );
  }
  return value;
}

function number(value: unknown, field: string, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ValidationError(
      `job ${field}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${String(value)}`,
    );
  }
  if (integer && !Number.isInteger(value)) {
    throw new ValidationError(`job ${field}: expected an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** Check a job spec and fill in the defaults (attempts 5, back-off 1 s doubling to 5 min, 20% jitter). */
export function resolveSpec(spec: JobSpec<unknown>): ResolvedSpec {
  if (spec === null || typeof spec !== 'object') {
    throw new ValidationError(`job spec: expected an object with name and payload, got ${String(spec)}`);
  }
  const name = text(spec.name, 'name', MAX_NAME_CHARS);
  let payloadJson: string | undefined;
  try {
    payloadJson = JSON.stringify(spec.payload ?? null);
  } catch (err) {
    throw new ValidationError(`job payload: expected a JSON value, ${(err as Error).message}`);
  }
  if (payloadJson === undefined)
    throw new ValidationError('job payload: expected a JSON value, got a function');
  if (Buffer.byteLength(payloadJson) > MAX_PAYLOAD_BYTES) {
    throw new ValidationError(
      `job payload: expected at most ${MAX_PAYLOAD_BYTES} bytes of JSON, got ${Buffer.byteLength(payloadJson)}`,
    );
  }
  const key = spec.key === undefined || spec.key === null ? null : text(spec.key, 'key', MAX_KEY_CHARS);
  const orderKey =
    spec.orderKey === undefined || spec.orderKey === null
      ? null
      : text(spec.orderKey, 'orderKey', MAX_KEY_CHARS);
  const maxAttempts =
    spec.attempts === undefined ? DEFAULT_ATTEMPTS : number(spec.attempts, 'attempts', 1, MAX_ATTEMPTS, true);
  const b = spec.backoff ?? {};
  if (typeof b !== 'object') throw new ValidationError(`job backoff: expected an object, got ${String(b)}`);
  const backoff: Backoff = {
    delayMs:
      b.delayMs === undefined
        ? DEFAULT_BACKOFF.delayMs
        : number(b.delayMs, 'backoff.delayMs', 0, MAX_DELAY_MS),
    maxDelayMs:
      b.maxDelayMs === undefined
        ? DEFAULT_BACKOFF.maxDelayMs
        : number(b.maxDelayMs, 'backoff.maxDelayMs', 0, MAX_DELAY_MS),
    jitter: b.jitter === undefined ? DEFAULT_BACKOFF.jitter : number(b.jitter, 'backoff.jitter', 0, 1),
  };
  const delayMs = spec.delayMs === undefined ? 0 : number(spec.delayMs, 'delayMs', 0, MAX_DELAY_MS);
  return { name, payloadJson, key, orderKey, maxAttempts, backoff, delayMs };
}

/**
 * The wait after failed attempt `attempt` (1-based): min(maxDelayMs, delayMs * 2^(attempt-1)), of
 * which the fraction `jitter` is drawn at random, so the wait lies in [d * (1 - jitter), d].
 */
export function backoffDelayMs(
  backoff: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const d = Math.min(backoff.maxDelayMs, backoff.delayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d * (1 - backoff.jitter * random()));
}

/** Check a handler's progress report. */
export function checkProgress(p: JobProgress): JobProgress {
  if (p === null || typeof p !== 'object')
    throw new ValidationError(`job progress: expected { done, total }, got ${p}`);
  const done = number(p.done, 'progress.done', 0, Number.MAX_SAFE_INTEGER);
  const total = number(p.total, 'progress.total', 0, Number.MAX_SAFE_INTEGER);
  if (p.message !== undefined && (typeof p.message !== 'string' || p.message.length > 1000)) {
    throw new ValidationError('job progress.message: expected a string of at most 1000 characters');
  }
  return p.message === undefined ? { done, total } : { done, total, message: p.message };
}

/** Check a list query and fill in the defaults (the newest 100). */
export function resolveListQuery(q: JobListQuery = {}): {
  state: JobState | null;
  name: string | null;
  limit: number;
  offset: number;
} {
  if (q.state !== undefined && !JOB_STATES.includes(q.state)) {
    throw new ValidationError(
      `job list state: expected one of ${JOB_STATES.join(', ')}, got ${String(q.state)}`,
    );
  }
  return {
    state: q.state ?? null,
    name: q.name === undefined ? null : text(q.name, 'list name', MAX_NAME_CHARS),
    limit:
      q.limit === undefined ? DEFAULT_LIST_LIMIT : number(q.limit, 'list limit', 1, MAX_LIST_LIMIT, true),
    offset: q.offset === undefined ? 0 : number(q.offset, 'list offset', 0, Number.MAX_SAFE_INTEGER, true),
  };
}

/** A handler's thrown value as one line for the job's error. */
export function errorMessage(err: unknown): string {
  const m = err instanceof Error ? err.message || err.name : String(err);
  return m.length > 4000 ? `${m.slice(0, 4000)}...` : m;
}

/** The result a handler answered, as JSON text (a result that is not JSON fails the attempt). */
export function resultJson(result: unknown): string {
  const json = JSON.stringify(result ?? null);
  if (json === undefined) throw new Error('the handler answered a value that is not JSON');
  return json;
}

/** Check worker options: concurrency 1..1000 (default 1), names non-empty strings. */
export function resolveWorkerOptions(
  handlers: Record<string, unknown>,
  opts: { concurrency?: number; names?: string[] } = {},
): { concurrency: number; names: string[] } {
  const concurrency =
    opts.concurrency === undefined ? 1 : number(opts.concurrency, 'worker concurrency', 1, 1000, true);
  const names = opts.names ?? Object.keys(handlers);
  if (names.length === 0) throw new ValidationError('job worker: expected at least one handler, got none');
  for (const n of names) {
    if (typeof handlers[n] !== 'function') {
      throw new ValidationError(
        `job worker names: no handler for '${n}' (handlers: ${Object.keys(handlers).join(', ')})`,
      );
    }
  }
  return { concurrency, names };
}
