import { ValidationError } from '../errors.js';

/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events", 9.2): an event is `id:`, `event:`
 * and `data:` lines ended by a blank line; a line starting with `:` is a comment (our heartbeat).
 */

/** Where a stream is in the outbox: the last event sent was event `n` of outbox row `seq`. */
export interface StreamCursor {
  seq: number;
  /** Index of the event within its row; Infinity: the whole row (a fresh stream starts after a row). */
  n: number;
}

/** Largest outbox seq and event index an id may name (beyond any real outbox, below 2^53). */
const MAX_SEQ = 1e15;
const MAX_INDEX = 1e6;
const EVENT_ID = /^(\d{1,16})-(\d{1,7})$/;

/**
 * An event id `<outbox seq>-<n>` (AlertEvent.id) as a cursor. Throws a ValidationError naming
 * `source` (the header or query parameter it came from) and what was expected.
 * @example parseEventId('42-3', 'Last-Event-ID') // { seq: 42, n: 3 }
 */
export function parseEventId(raw: string, source: string): StreamCursor {
  const m = EVENT_ID.exec(raw);
  const seq = m ? Number(m[1]) : Number.NaN;
  const n = m ? Number(m[2]) : Number.NaN;
  if (!m || seq < 1 || seq > MAX_SEQ || n > MAX_INDEX)
    throw new ValidationError(
      `${source}: expected an event id '<outbox seq>-<n>' as this stream sends them (e.g. '42-0'), got '${raw.slice(0, 60)}'`,
    );
  return { seq, n };
}

/** Whether event (seq, n) comes after the cursor. */
export const isAfter = (seq: number, n: number, c: StreamCursor): boolean =>
  seq > c.seq || (seq === c.seq && n > c.n);

/** One event's frame. `data` is one JSON document (no newline in JSON.stringify's output). */
export function sseFrame(id: string, type: string, data: string): string {
  return `id: ${id}\nevent: ${type}\ndata: ${data}\n\n`;
}

/** The reconnection delay hint the stream opens with. */
export const sseRetry = (retryMs: number): string => `retry: ${Math.round(retryMs)}\n\n`;

/** The heartbeat: a comment line, which EventSource ignores and proxies see as traffic. */
export const SSE_HEARTBEAT = ': keep-alive\n\n';
