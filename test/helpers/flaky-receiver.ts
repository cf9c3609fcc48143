/**
 * A real webhook receiver on 127.0.0.1 for the delivery tests and the benchmark. It verifies every
 * request's signature with the `standardwebhooks` package (the reference implementation of the
 * Standard Webhooks spec, independent of sarbridge's signer), records every request, and misbehaves
 * on demand, per path:
 *
 * - 'ok': 204 (accepted).
 * - 'flaky': a seeded share of requests dropped (socket destroyed before any answer), hung (never
 *   answered: the sender's timeout), answered 503 with Retry-After, answered with garbage, or
 *   accepted with the answer lost (the sender sees a reset and sends a duplicate); the rest accepted.
 * - 'gone': 410. 'redirect': 301 to another path. 'huge': 200 with a body of `hugeBytes` sent
 *   slowly. 'garbage': bytes that are not HTTP. 'retry-after': 503 with `Retry-After` on the first
 *   `retryAfterTimes` requests of each webhook-id, then 204. 'fail': 500 always.
 *
 * `down(ms)` closes the port for that long (connections refused), then listens again on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type ReceiverMode = 'ok' | 'flaky' | 'gone' | 'redirect' | 'huge' | 'garbage' | 'retry-after' | 'fail';

export interface FlakyOptions {
  /** whsec_... secret the signatures are verified with. */
  secret: string;
  seed?: number;
  /** Shares of 'flaky' requests (defaults: drop 0.3, hang 0.05, 503 0.05, garbage 0.02). */
  dropShare?: number;
  hangShare?: number;
  unavailableShare?: number;
  garbageShare?: number;
  /** Accepted (recorded) but the answer lost: the socket destroyed, so the sender retries a duplicate. */
  lostAnswerShare?: number;
  /** Retry-After seconds of 503 answers (default '1'). */
  retryAfter?: string;
  /** 'retry-after' mode: answer 503 this many times per webhook-id (default 1). */
  retryAfterTimes?: number;
  hugeBytes?: number;
  /** Per path mode; other paths are 'ok'. */
  modes?: Record<string, ReceiverMode>;
}

export interface ReceivedRequest {
  path: string;
  webhookId: string;
  timestampS: number;
  body: string;
  /** Signature verified by standardwebhooks. */
  verified: boolean;
  /** What the receiver did: 'accepted' (2xx) or the misbehaviour. */
  outcome: string;
  atMs: number;
}

export interface FlakyReceiver {
  readonly port: number;
  url(path: string): string;
  /** Every request, in arrival order. */
  readonly requests: ReceivedRequest[];
  /** The first accepted request of each webhook-id on a path, in order of acceptance. */
  firstAccepted(path: string): ReceivedRequest[];
  setMode(path: string, mode: ReceiverMode): void;
  /** Close the port for `ms`, then listen again. Resolves once closed. */
  down(ms: number): Promise<void>;
  /** True while down. */
  isDown(): boolean;
  close(): Promise<void>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFlakyReceiver(o: FlakyOptions): Promise<FlakyReceiver> {
  const wh = new Webhook(o.secret);
  const random = mulberry32(o.seed ?? 1);
  const modes = new Map(Object.entries(o.modes ?? {}));
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  const retryCounts = new Map<string, number>();
  let downUntil = 0;
  let server: Server;
  let port = 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0]!;
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let verified = false;
      try {
        wh.verify(body, headers);
        verified = true;
      } catch {
        verified = false;
      }
      const rec: ReceivedRequest = {
        path,
        webhookId: headers['webhook-id'],
        timestampS: Number(headers['webhook-timestamp']),
        body,
        verified,
        outcome: 'accepted',
        atMs: Date.now(),
      };
      requests.push(rec);
      if (!verified) {
        rec.outcome = 'bad-signature';
        res.writeHead(401).end('bad signature');
        return;
      }
      const mode = modes.get(path) ?? 'ok';
      const act = (outcome: string, f: () => void) => {
        rec.outcome = outcome;
        f();
      };
      switch (mode) {
        case 'ok':
          return act('accepted', () => res.writeHead(204).end());
        case 'fail':
          return act('500', () => res.writeHead(500).end('no'));
        case 'gone':
          return act('410', () => res.writeHead(410).end());
        case 'redirect':
          return act('301', () => res.writeHead(301, { Location: `${path}/moved` }).end());
        case 'garbage':
          return act('garbage', () => res.socket?.end('\x00\x01NOT HTTP AT ALL\r\n\r\n'));
        case 'huge':
          return act('huge', () => {
            res.writeHead(200, { 'Content-Type': 'text/plain' });
            const block = Buffer.alloc(64 * 1024, 0x61);
            let left = o.hugeBytes ?? 64 * 1024 * 1024;
            const pump = () => {
              while (left > 0 && !res.destroyed) {
                left -= block.length;
                if (!res.write(block)) return void res.once('drain', pump);
              }
              res.end();
            };
            pump();
          });
        case 'retry-after': {
          const n = retryCounts.get(rec.webhookId) ?? 0;
          if (n < (o.retryAfterTimes ?? 1)) {
            retryCounts.set(rec.webhookId, n + 1);
            return act('503', () => res.writeHead(503, { 'Retry-After': o.retryAfter ?? '1' }).end());
          }
          return act('accepted', () => res.writeHead(204).end());
        }
        case 'flaky': {
          const r = random();
          const drop = o.dropShare ?? 0.3;
          const hang = drop + (o.hangShare ?? 0.05);
          const unavailable = hang + (o.unavailableShare ?? 0.05);
          const garbage = unavailable + (o.garbageShare ?? 0.02);
          const lost = garbage + (o.lostAnswerShare ?? 0.03);
          if (r < drop) return act('drop', () => req.socket.destroy());
          if (r < hang) return act('hang', () => hung.add(res));
          if (r < unavailable)
            return act('503', () => res.writeHead(503, { 'Retry-After': o.retryAfter ?? '1' }).end());
          if (r < garbage) return act('garbage', () => res.socket?.end('HTTP/1.1 banana\r\n\r\n'));
          if (r < lost) return act('accepted', () => req.socket.destroy());
          return act('accepted', () => res.writeHead(204).end());
        }
      }
    });
  };

  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer(handle);
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      for (const r of hung) r.destroy();
      hung.clear();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  await listen(0);
  let reopen: NodeJS.Timeout | null = null;
  return {
    get port() {
      return port;
    },
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    firstAccepted(path) {
      const seen = new Set<string>();
      const out: ReceivedRequest[] = [];
      for (const r of requests) {
        if (r.path !== path || r.outcome !== 'accepted' || seen.has(r.webhookId)) continue;
        seen.add(r.webhookId);
        out.push(r);
      }
      return out;
    },
    setMode(path, mode) {
      modes.set(path, mode);
    },
    async down(ms) {
      downUntil = Date.now() + ms;
      await shut();
      reopen = setTimeout(() => {
        reopen = null;
        void listen(port).then(() => {
          downUntil = 0;
        });
      }, ms);
    },
    isDown: () => Date.now() < downUntil,
    async close() {
      if (reopen !== null) clearTimeout(reopen);
      if (downUntil === 0 || server.listening) await shut();
    },
  };
}
