import { RateLimitedError } from '../access/limits.js';
import type { Principal, Scope } from '../access/scope.js';
import type { OutboxEvent } from '../catalog/outbox.js';
import { SarbridgeError, ValidationError } from '../errors.js';
import { isAfter, SSE_HEARTBEAT, type StreamCursor, sseFrame } from './sse-format.js';
import { type CloseReason, StreamClient, type StreamRequest } from './stream-client.js';
import { wants } from './stream-filter.js';
import { type ItemRef, itemKey, scopeAt } from './stream-visibility.js';
import type { AlertEvent } from './types.js';

/** A resume point older than what the outbox keeps (HTTP 410): events after it may be gone. */
export class StreamGoneError extends SarbridgeError {
  override readonly code: string = 'Gone';
  readonly status = 410;
}

export interface EventHubOptions {
  /** Outbox rows after `afterSeq`, oldest first (the registry's `events({ afterSeq, limit })`). */
  readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]>;
  /** The alert events of one outbox row, ids `<seq>-<n>` in order (alerts/fanout.ts). */
  eventsOf(row: OutboxEvent): Promise<AlertEvent[]>;
  /** Which items the scope may see (itemKey set), decided by the catalog store (stream-visibility.ts). */
  visible(scope: Scope, items: ItemRef[]): Promise<Set<string>>;
  /** The `data:` of an event: one line of JSON (default: the AlertEvent as JSON). */
  serialise?(ev: AlertEvent): string;
  /** The policy: a principal's scope now. */
  scopeOf(p: Principal): Scope;
  /** The principal again from the identity store (null: revoked, disabled or expired). */
  refreshPrincipal?(p: Principal): Principal | null;
  /** The lowest outbox seq still kept (default 1: the outbox keeps everything). */
  oldestSeq?(): Promise<number>;
  /** Outbox poll period (default 250 ms); `wake()` polls at once. */
  pollMs?: number;
  /** Comment line to every stream this often (default 15 s). */
  heartbeatMs?: number;
  /** Scopes recomputed from the identity store this often (default 60 s). */
  refreshMs?: number;
  /** Outbox rows read per poll (default 100). */
  batchRows?: number;
  /**
   * A stream whose own queue (chunks waiting while its socket is full) would pass this many bytes
   * is dropped (default 1 MiB) ...
   */
  maxQueuedBytes?: number;
  /** ... or this many events (default 1,000). */
  maxQueuedEvents?: number;
  /** Concurrent streams on the server (default 5,000) and per principal (default 10); past them 429. */
  maxStreams?: number;
  maxStreamsPerPrincipal?: number;
  /** How long a replaying stream may wait for its socket to drain before it is dropped (default 30 s). */
  replayDrainMs?: number;
  /** Where poll errors go (default stderr). */
  onError?(err: unknown): void;
}

/** Rows whose events are kept for replays and resume checks. */
const EVENT_CACHE_ROWS = 2_000;
const HEARTBEAT = Buffer.from(SSE_HEARTBEAT);

/**
 * The event stream hub: one poller of the outbox for the whole server, fanning each row's alert
 * events out to the connected streams. Visibility is asked of the catalog once per batch of rows
 * and distinct scope (streams with equal scopes share the lookup and the bytes written). A stream
 * that resumes (Last-Event-ID) replays from the outbox on its own, then joins the live streams at a
 * point of the poller's choosing, so nothing is missed or sent twice at the seam. A stream whose
 * queue passes its bound is dropped, so slow clients cost bounded memory.
 */
export class EventHub {
  private readonly o: Required<Omit<EventHubOptions, 'refreshPrincipal' | 'oldestSeq'>> &
    Pick<EventHubOptions, 'refreshPrincipal' | 'oldestSeq'>;
  private readonly clients = new Set<StreamClient>();
  private readonly perPrincipal = new Map<string, number>();
  private joiners: StreamClient[] = [];
  private nextId = 1;
  /** Every outbox row up to this one has been delivered to the live streams. */
  private processedSeq = 0;
  private closed = false;
  private started: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private refreshDue = false;
  private timers: NodeJS.Timeout[] = [];
  private pumping: Promise<void> | null = null;
  private readonly eventCache = new Map<number, AlertEvent[]>();

  constructor(o: EventHubOptions) {
    this.o = {
      serialise: (ev) => JSON.stringify(ev),
      pollMs: 250,
      heartbeatMs: 15_000,
      refreshMs: 60_000,
      batchRows: 100,
      maxQueuedBytes: 1024 * 1024,
      maxQueuedEvents: 1_000,
      maxStreams: 5_000,
      maxStreamsPerPrincipal: 10,
      replayDrainMs: 30_000,
      onError: (err) => console.error('event stream hub:', err),
      ...o,
    };
  }

  /** Find the outbox's end and start polling (once; later calls wait for the first). */
  start(): Promise<void> {
    this.started ??= (async () => {
      for (;;) {
        const rows = await this.o.readOutbox(this.processedSeq, 1_000);
        if (rows.length === 0) break;
        this.processedSeq = rows[rows.length - 1].seq;
      }
      this.pumping = this.pump();
      this.timers.push(setInterval(() => this.heartbeat(), this.o.heartbeatMs));
      this.timers.push(
        setInterval(() => {
          this.refreshDue = true;
        }, this.o.refreshMs),
      );
      for (const t of this.timers) t.unref();
    })();
    return this.started;
  }

  /** Poll the outbox now (an in-process publication's notification). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Open streams, and the last outbox seq delivered to the live ones. */
  stats(): { streams: number; live: number; processedSeq: number } {
    let live = 0;
    for (const c of this.clients) if (c.state === 'live') live++;
    return { streams: this.clients.size, live, processedSeq: this.processedSeq };
  }

  /**
   * Check a resume point before the stream opens: a ValidationError naming `source` for an id no
   * outbox row has (beyond the newest, or an index past its row's events), StreamGoneError for one
   * older than the outbox keeps.
   */
  async checkResume(c: StreamCursor, source: string): Promise<void> {
    await this.start();
    const id = `${c.seq}-${c.n}`;
    const oldest = this.o.oldestSeq ? await this.o.oldestSeq() : 1;
    if (c.seq < oldest)
      throw new StreamGoneError(
        `${source}: event '${id}' is older than the outbox keeps (its oldest row is ${oldest}); open the stream without it and catch up with /search`,
      );
    const [row] = await this.o.readOutbox(c.seq - 1, 1);
    if (row === undefined && c.seq > this.processedSeq)
      throw new ValidationError(`${source}: no event '${id}': the newest outbox row is ${this.processedSeq}`);
    if (row?.seq === c.seq) {
      const evs = await this.events(row);
      if (c.n >= evs.length)
        throw new ValidationError(
          `${source}: no event '${id}': outbox row ${c.seq} has ${evs.length} event(s), ${c.seq}-0 to ${c.seq}-${evs.length - 1}`,
        );
    }
  }

  /**
   * Open a stream (limits checked first: RateLimitedError, 429). A resuming stream replays what
   * came after its cursor; the others start with what the outbox gets from now on.
   */
  open(r: StreamRequest): { close(reason: CloseReason): void } {
    if (this.closed) throw new RateLimitedError('the server is shutting down', 5);
    if (this.clients.size >= this.o.maxStreams)
      throw new RateLimitedError(`too many event streams on this server (at most ${this.o.maxStreams})`, 5);
    const pid = r.principal.id;
    const mine = this.perPrincipal.get(pid) ?? 0;
    if (mine >= this.o.maxStreamsPerPrincipal)
      throw new RateLimitedError(
        `too many event streams for ${pid} (at most ${this.o.maxStreamsPerPrincipal}); close one first`,
        5,
      );
    const start = r.resumeFrom ?? { seq: this.processedSeq, n: Number.POSITIVE_INFINITY };
    const cl = new StreamClient(
      this.nextId++,
      {
        ...r,
        onClose: (reason, sent) => {
          this.clients.delete(cl);
          const left = (this.perPrincipal.get(pid) ?? 1) - 1;
          if (left > 0) this.perPrincipal.set(pid, left);
          else this.perPrincipal.delete(pid);
          r.onClose?.(reason, sent);
        },
      },
      start,
    );
    this.clients.add(cl);
    this.perPrincipal.set(pid, mine + 1);
    if (r.resumeFrom) void this.catchUp(cl);
    else this.join(cl);
    return { close: (reason) => cl.close(reason) };
  }

  /** Stop polling and end every stream. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.wake();
    for (const c of [...this.clients]) c.close('server');
    await this.pumping;
  }

  private join(cl: StreamClient): void {
    cl.state = 'joining';
    this.joiners.push(cl);
    this.wake();
  }

  /** A resuming stream's replay on its own, up to where the poller is; the poller does the rest. */
  private async catchUp(cl: StreamClient): Promise<void> {
    try {
      while (cl.state === 'catch-up' && cl.cursor.seq < this.processedSeq)
        if (!(await this.replayPage(cl, this.processedSeq, true))) break;
      if (cl.state === 'catch-up') this.join(cl);
    } catch (err) {
      this.o.onError(err);
      cl.close('error');
    }
  }

  /**
   * Replay one page of rows after the stream's cursor, up to `untilSeq`, to the stream alone. False
   * when there was nothing more to read.
   */
  private async replayPage(cl: StreamClient, untilSeq: number, waitDrain: boolean): Promise<boolean> {
    const after = cl.cursor.n === Number.POSITIVE_INFINITY ? cl.cursor.seq : cl.cursor.seq - 1;
    const rows = (await this.o.readOutbox(after, this.o.batchRows)).filter((r) => r.seq <= untilSeq);
    if (rows.length === 0) {
      cl.cursor = { seq: Math.max(cl.cursor.seq, untilSeq), n: Number.POSITIVE_INFINITY };
      return false;
    }
    await this.deliver(rows, [cl]);
    if (waitDrain && !(await cl.drained(this.o.replayDrainMs))) cl.close('slow');
    return true;
  }

  /** The events of a row, computed once for the poller and every replay. */
  private async events(row: OutboxEvent): Promise<AlertEvent[]> {
    const hit = this.eventCache.get(row.seq);
    if (hit) return hit;
    const evs = await this.o.eventsOf(row);
    this.eventCache.set(row.seq, evs);
    if (this.eventCache.size > EVENT_CACHE_ROWS) {
      const first = this.eventCache.keys().next().value as number;
      this.eventCache.delete(first);
    }
    return evs;
  }

  /**
   * Send the events of `rows` to `clients`: per distinct scope one visibility lookup for the items
   * the scope's streams ask about, then per stream one write of the frames it may see and wants,
   * after its cursor (streams with equal scope, filter and cursor share one buffer).
   */
  private async deliver(rows: OutboxEvent[], clients: StreamClient[]): Promise<void> {
    const events: AlertEvent[] = [];
    for (const row of rows) events.push(...(await this.events(row)));
    const last = rows[rows.length - 1].seq;
    const groups = new Map<string, { scope: Scope; clients: StreamClient[] }>();
    for (const c of clients) {
      if (c.state === 'closed') continue;
      const g = groups.get(c.scopeKey);
      if (g) g.clients.push(c);
      else groups.set(c.scopeKey, { scope: c.scope, clients: [c] });
    }
    const nowMs = Date.now();
    const lookups = await Promise.all(
      [...groups.values()].map(async (g) => {
        const refs = new Map<string, ItemRef>();
        for (const ev of events)
          if (g.clients.some((c) => isAfter(ev.outboxSeq, ev.index, c.cursor) && wants(c.filter, ev)))
            refs.set(itemKey(ev.collection, ev.itemId), ev);
        const seen =
          refs.size === 0
            ? new Set<string>()
            : await this.o.visible(scopeAt(g.scope, nowMs), [...refs.values()]);
        return { g, seen };
      }),
    );
    const frames = new Map<string, string>();
    const frame = (ev: AlertEvent) => {
      let f = frames.get(ev.id);
      if (f === undefined) {
        f = sseFrame(ev.id, ev.type, this.o.serialise(ev));
        frames.set(ev.id, f);
      }
      return f;
    };
    for (const { g, seen } of lookups) {
      const shared = new Map<string, { buf: Buffer; count: number } | null>();
      for (const c of g.clients) {
        if (c.state === 'closed') continue;
        const whole = c.cursor.seq < rows[0].seq;
        const key = whole ? c.filterKey : null;
        let out = key === null ? undefined : shared.get(key);
        if (out === undefined) {
          let text = '';
          let count = 0;
          for (const ev of events)
            if (
              isAfter(ev.outboxSeq, ev.index, c.cursor) &&
              wants(c.filter, ev) &&
              seen.has(itemKey(ev.collection, ev.itemId))
            ) {
              text += frame(ev);
              count++;
            }
          out = count === 0 ? null : { buf: Buffer.from(text), count };
          if (key !== null) shared.set(key, out);
        }
        if (c.cursor.seq <= last) c.cursor = { seq: last, n: Number.POSITIVE_INFINITY };
        if (out !== null && !c.write(out.buf, out.count, this.o.maxQueuedBytes, this.o.maxQueuedEvents))
          c.close('slow');
      }
    }
  }

  /** The poller: joins waiting streams at its current row, recomputes scopes when due, reads and fans out. */
  private async pump(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.refreshDue) this.refresh();
        const joiners = this.joiners;
        this.joiners = [];
        for (const c of joiners) {
          while (c.state === 'joining' && c.cursor.seq < this.processedSeq)
            if (!(await this.replayPage(c, this.processedSeq, false))) break;
          if (c.state === 'joining') c.state = 'live';
        }
        const rows = await this.o.readOutbox(this.processedSeq, this.o.batchRows);
        if (rows.length > 0) {
          const live = [...this.clients].filter((c) => c.state === 'live');
          await this.deliver(rows, live);
          this.processedSeq = rows[rows.length - 1].seq;
          continue;
        }
        if (this.joiners.length > 0) continue;
        await this.sleep(this.o.pollMs);
      } catch (err) {
        this.o.onError(err);
        await this.sleep(this.o.pollMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }

  private heartbeat(): void {
    for (const c of [...this.clients])
      if (c.state !== 'closed' && !c.write(HEARTBEAT, 0, this.o.maxQueuedBytes, this.o.maxQueuedEvents))
        c.close('slow');
  }

  /** Recompute each live stream's scope; a principal revoked or left with no scope ends its streams. */
  private refresh(): void {
    this.refreshDue = false;
    if (!this.o.refreshPrincipal) return;
    for (const c of [...this.clients]) {
      if (c.state !== 'live') continue;
      const p = this.o.refreshPrincipal(c.principal);
      const s = p === null ? null : this.o.scopeOf(p);
      if (p === null || s === null || s.kind === 'none') c.close('revoked');
      else c.setScope(p, s);
    }
  }
}
