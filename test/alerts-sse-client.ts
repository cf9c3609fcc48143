import { request } from 'node:http';

/** One event as an SSE client parses it. */
export interface SseEvent {
  id: string;
  type: string;
  data: string;
}

/**
 * A real SSE client over node:http: parses frames as EventSource does (WHATWG HTML 9.2), counts
 * comment lines (heartbeats), and can stop reading (pauses the socket).
 */
export interface SseClient {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body of a non-200 answer. */
  body: string;
  events: SseEvent[];
  comments: number;
  retry: number | null;
  ended: boolean;
  waitFor(pred: () => boolean, timeoutMs?: number): Promise<void>;
  pause(): void;
  close(): void;
}

export function sseConnect(port: number, path: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: { accept: 'text/event-stream', ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const c: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: '',
        events: [],
        comments: 0,
        retry: null,
        ended: false,
        async waitFor(pred, timeoutMs = 10_000) {
          const t0 = Date.now();
          while (!pred()) {
            if (Date.now() - t0 > timeoutMs)
              throw new Error(`timed out after ${timeoutMs} ms (${c.events.length} events)`);
            await new Promise((r) => setTimeout(r, 10));
          }
        },
        pause() {
          res.pause();
          res.socket.pause();
        },
        close() {
          req.destroy();
        },
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (c.status !== 200) {
          c.body += chunk;
          return;
        }
        buf += chunk;
        for (let k = buf.indexOf('\n\n'); k >= 0; k = buf.indexOf('\n\n')) {
          const block = buf.slice(0, k);
          buf = buf.slice(k + 2);
          const ev: Partial<SseEvent> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) c.comments++;
            else if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('event: ')) ev.type = line.slice(7);
            else if (line.startsWith('data: ')) ev.data = line.slice(6);
            else if (line.startsWith('retry: ')) c.retry = Number(line.slice(7));
          }
          if (ev.data !== undefined) c.events.push(ev as SseEvent);
        }
      });
      const end = () => {
        c.ended = true;
      };
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
      resolve(c);
    });
    req.end();
  });
}
