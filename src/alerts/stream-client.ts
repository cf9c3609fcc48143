import type { Principal, Scope } from '../access/scope.js';
import type { StreamCursor } from './sse-format.js';
import type { StreamFilter } from './stream-filter.js';
import { scopeKey } from './stream-visibility.js';

/**
 * Where a stream's bytes go: an HTTP response as the hub sees it (the route adapts a Node stream).
 * `write` returning false means the transport's buffer is full; the bytes are queued all the same.
 */
export interface StreamSink {
  write(chunk: Buffer): boolean;
  /** Called each time the queue has drained. */
  onDrain(cb: () => void): void;
  /** End the stream at once: nothing more is sent and the connection is closed. */
  destroy(): void;
}

/** Why a stream ended. */
export type CloseReason = 'client' | 'slow' | 'revoked' | 'server' | 'error';

/** What a route gives the hub to open a stream. */
export interface StreamRequest {
  principal: Principal;
  scope: Scope;
  filter: StreamFilter;
  sink: StreamSink;
  /** The last event the client has (Last-Event-ID), or null: only events from now on. */
  resumeFrom: StreamCursor | null;
  /** Called once when the stream ends, with how many events it was sent. */
  onClose?(reason: CloseReason, eventsSent: number): void;
}

/** One connected stream, as the hub keeps it. */
export class StreamClient {
  state: 'catch-up' | 'joining' | 'live' | 'closed' = 'catch-up';
  principal: Principal;
  scope: Scope;
  scopeKey: string;
  readonly filter: StreamFilter;
  /** Filter as a string: streams with equal keys (and scope keys) get the same bytes. */
  readonly filterKey: string;
  readonly sink: StreamSink;
  /** The last event considered for this stream (sent or not). */
  cursor: StreamCursor;
  eventsSent = 0;
  /** Events waiting in the stream's own queue while the transport is full. */
  queuedEvents = 0;
  private queueBytes = 0;
  private queue: { chunk: Buffer; events: number }[] = [];
  private full = false;
  private drainWaiters: (() => void)[] = [];
  private readonly onCloseCb: StreamRequest['onClose'];

  constructor(
    readonly id: number,
    r: StreamRequest,
    startCursor: StreamCursor,
  ) {
    this.principal = r.principal;
    this.scope = r.scope;
    this.scopeKey = scopeKey(r.scope);
    this.filter = r.filter;
    this.filterKey = JSON.stringify([r.filter.types, r.filter.collections, r.filter.bbox]);
    this.sink = r.sink;
    this.cursor = startCursor;
    this.onCloseCb = r.onClose;
    r.sink.onDrain(() => this.flush());
  }

  setScope(p: Principal, s: Scope): void {
    this.principal = p;
    this.scope = s;
    this.scopeKey = scopeKey(s);
  }

  /**
   * Write a chunk of `events` events. While the transport is full, chunks wait in the stream's own
   * queue (Buffers shared with the other streams that get the same bytes); false when that queue
   * would pass `maxBytes` or `maxEvents` (the caller drops the stream). So a stream holds at most
   * the one chunk the transport took plus its bounded queue.
   */
  write(chunk: Buffer, events: number, maxBytes: number, maxEvents: number): boolean {
    if (this.state === 'closed') return true;
    if (!this.full) {
      if (!this.sink.write(chunk)) this.full = true;
      this.eventsSent += events;
      return true;
    }
    if (this.queueBytes + chunk.length > maxBytes || this.queuedEvents + events > maxEvents) return false;
    this.queue.push({ chunk, events });
    this.queueBytes += chunk.length;
    this.queuedEvents += events;
    this.eventsSent += events;
    return true;
  }

  /** Bytes waiting in the stream's own queue. */
  queuedBytes(): number {
    return this.queueBytes;
  }

  private flush(): void {
    this.full = false;
    while (this.queue.length > 0 && this.state !== 'closed') {
      const q = this.queue.shift() as { chunk: Buffer; events: number };
      this.queueBytes -= q.chunk.length;
      this.queuedEvents -= q.events;
      if (!this.sink.write(q.chunk)) {
        this.full = true;
        return;
      }
    }
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when the transport has drained (at once when it is not full); false on timeout or close. */
  drained(timeoutMs: number): Promise<boolean> {
    if (!this.full || this.state === 'closed') return Promise.resolve(this.state !== 'closed');
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve(this.state !== 'closed');
      });
    });
  }

  /** End the stream (once): the sink is destroyed and the route told why. */
  close(reason: CloseReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue = [];
    this.queueBytes = 0;
    if (reason !== 'client') this.sink.destroy();
    for (const f of this.drainWaiters) f();
    this.drainWaiters = [];
    this.onCloseCb?.(reason, this.eventsSent);
  }
}
