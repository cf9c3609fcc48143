/**
 * The webhook retry policy, table by table. Expected values are written out from the schedule the
 * module documents (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 3 h until 24 h after the
 * first attempt) and RFC 9110's Retry-After forms, not taken from a run of the code.
 */
import { describe, expect, it } from 'vitest';
import {
  baseDelayMs,
  checkSchedule,
  DEFAULT_SCHEDULE,
  jitteredDelayMs,
  nextStep,
  parseRetryAfterMs,
  type RetrySchedule,
  scaledSchedule,
} from '../src/alerts/retry.js';
import { ValidationError } from '../src/errors.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const noJitter: RetrySchedule = { ...DEFAULT_SCHEDULE, jitter: 0 };

describe('the schedule', () => {
  it.each([
    [1, 5 * S],
    [2, 30 * S],
    [3, 2 * MIN],
    [4, 10 * MIN],
    [5, 30 * MIN],
    [6, 1 * H],
    [7, 3 * H],
    [8, 3 * H],
    [20, 3 * H],
  ])('after failed attempt %i the wait is %i ms', (attempt, ms) => {
    expect(baseDelayMs(DEFAULT_SCHEDULE, attempt)).toBe(ms);
  });

  it('without jitter, a receiver that never answers gets 15 attempts, the last 25 h 42 min 35 s after the first', () => {
    let t = 0;
    const times: number[] = [];
    for (let attempt = 1; ; attempt++) {
      times.push(t);
      const step = nextStep(noJitter, { status: null }, attempt, 0, t);
      if (step.kind === 'dead') break;
      expect(step.kind).toBe('retry');
      if (step.kind === 'retry') t += step.delayMs;
    }
    expect(times.length).toBe(15);
    expect(times.slice(0, 8)).toEqual([
      0,
      5 * S,
      35 * S,
      155 * S,
      755 * S,
      2555 * S,
      6155 * S,
      6155 * S + 3 * H,
    ]);
    expect(times.at(-1)).toBe(25 * H + 42 * MIN + 35 * S);
    expect(times.at(-2)!).toBeLessThan(24 * H);
  });

  it('with full jitter every wait lies in [0, d], and retries go on until 24 h have passed', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let t = 0;
    let attempt = 1;
    for (; ; attempt++) {
      const step = nextStep(DEFAULT_SCHEDULE, { status: 500 }, attempt, 0, t, random);
      if (step.kind === 'dead') break;
      if (step.kind !== 'retry') throw new Error(`unexpected ${step.kind}`);
      expect(step.delayMs).toBeGreaterThanOrEqual(0);
      expect(step.delayMs).toBeLessThanOrEqual(baseDelayMs(DEFAULT_SCHEDULE, attempt));
      t += step.delayMs;
    }
    expect(t).toBeGreaterThanOrEqual(24 * H);
    expect(attempt).toBeGreaterThan(15);
  });

  it.each([
    [0, 5 * S],
    [0.5, 2.5 * S],
    [0.999, 5],
  ])('full jitter with random() = %f waits %i ms after attempt 1', (r, ms) => {
    expect(jitteredDelayMs(DEFAULT_SCHEDULE, 1, () => r)).toBe(ms);
  });

  it('scales every duration', () => {
    const s = scaledSchedule(0.001);
    expect(s.delaysMs).toEqual([5, 30, 120, 600, 1800, 3600]);
    expect(s.repeatMs).toBe(10_800);
    expect(s.totalMs).toBe(86_400);
    expect(s.maxRetryAfterMs).toBe(3600);
  });
});

describe('what follows an attempt', () => {
  const now = Date.parse('2026-12-02T12:00:00Z');
  it.each<[string, number | null, string | null, string, number | null]>([
    ['200', 200, null, 'delivered', null],
    ['204', 204, null, 'delivered', null],
    ['410 disables', 410, null, 'disable', null],
    ['301 is a failure, retried', 301, null, 'retry', 5 * S],
    ['400', 400, null, 'retry', 5 * S],
    ['404', 404, null, 'retry', 5 * S],
    ['500', 500, null, 'retry', 5 * S],
    ['no response', null, null, 'retry', 5 * S],
    ['429 Retry-After 120 s', 429, '120', 'retry', 120 * S],
    ['503 Retry-After 7 s', 503, '7', 'retry', 7 * S],
    ['503 Retry-After HTTP date 90 s ahead', 503, 'Wed, 02 Dec 2026 12:01:30 GMT', 'retry', 90 * S],
    ['503 Retry-After date in the past', 503, 'Wed, 02 Dec 2026 11:00:00 GMT', 'retry', 0],
    ['429 Retry-After 1 day is capped at 1 h', 429, '86400', 'retry', H],
    ['503 Retry-After garbage falls back to the schedule', 503, 'soon', 'retry', 5 * S],
    ['500 Retry-After is not honoured', 500, '120', 'retry', 5 * S],
  ])('%s', (_name, status, retryAfter, kind, delayMs) => {
    const step = nextStep(noJitter, { status, retryAfter }, 1, now, now);
    expect(step.kind).toBe(kind);
    if (step.kind === 'retry') expect(step.delayMs).toBe(delayMs);
  });

  it('a failure 24 h after the first attempt is dead, a success then still delivered', () => {
    expect(nextStep(noJitter, { status: 500 }, 9, 0, 24 * H).kind).toBe('dead');
    expect(nextStep(noJitter, { status: 503, retryAfter: '5' }, 9, 0, 24 * H).kind).toBe('dead');
    expect(nextStep(noJitter, { status: 200 }, 9, 0, 24 * H).kind).toBe('delivered');
    expect(nextStep(noJitter, { status: 500 }, 9, 0, 24 * H - 1).kind).toBe('retry');
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-12-02T12:00:00Z');
  it.each<[string | null | undefined, number | null]>([
    ['0', 0],
    ['1', 1000],
    [' 30 ', 30_000],
    ['Wed, 02 Dec 2026 12:00:10 GMT', 10_000],
    [undefined, null],
    [null, null],
    ['', null],
    ['-5', null],
    ['1.5', null],
    ['10 s', null],
    ['2026-12-02T12:00:10Z', null],
    ['Wed, 02 Dec 2026 12:00:10 PST', null],
    ['Xyz, 99 Foo 2026 99:99:99 GMT', null],
  ])('%j -> %j', (value, ms) => {
    expect(parseRetryAfterMs(value, now)).toBe(ms);
  });
});

describe('bad schedules', () => {
  it.each<[string, Partial<RetrySchedule>, RegExp]>([
    ['negative delay', { delaysMs: [5, -1] }, /delaysMs\[1\]: expected a number of ms >= 0, got -1/],
    ['NaN repeat', { repeatMs: Number.NaN }, /repeatMs: expected a number of ms >= 0/],
    ['zero repeat', { repeatMs: 0 }, /repeatMs: expected > 0/],
    ['jitter above 1', { jitter: 1.5 }, /jitter: expected a fraction from 0 to 1, got 1.5/],
    ['total as text', { totalMs: '1' as unknown as number }, /totalMs: expected a number of ms/],
    ['delays not an array', { delaysMs: 5 as unknown as number[] }, /delaysMs: expected an array/],
  ])('%s', (_name, patch, message) => {
    expect(() => checkSchedule({ ...DEFAULT_SCHEDULE, ...patch })).toThrow(ValidationError);
    expect(() => checkSchedule({ ...DEFAULT_SCHEDULE, ...patch })).toThrow(message);
  });
  it('a factor of 0 is refused', () => {
    expect(() => scaledSchedule(0)).toThrow(/factor: expected a number > 0, got 0/);
  });
});
