/**
 * One webhook delivery attempt: a POST over node:http or node:https to the address the egress
 * policy resolved (the URL's host name in the Host header and as the TLS server name), with the
 * Standard Webhooks headers. The whole attempt (connect, request, response) has one timeout; a
 * redirect is not followed (3xx is a failure); at most `maxResponseBytes` of the response body are
 * read, then the socket is destroyed, so a receiver that answers slowly, hugely or with garbage
 * costs one bounded attempt and nothing else.
 */
import http from 'node:http';
import https from 'node:https';

export interface AttemptRequest {
  /** The endpoint URL as the subscription holds it (https: or, where the policy allows, http:). */
  url: string;
  /** The resolved IP address to connect to (from the egress policy), and its family. */
  address: string;
  family: 4 | 6;
  /** webhook-id: the same on every attempt of a delivery. */
  webhookId: string;
  /** webhook-timestamp, seconds since the epoch. */
  timestampS: number;
  /** webhook-signature: 'v1,<base64>' (space-separated when several secrets are live). */
  signature: string;
  /** The CloudEvent, JSON. */
  body: string;
  timeoutMs: number;
  /** Response body bytes read at most (default 4096). */
  maxResponseBytes?: number;
  userAgent?: string;
  /** Extra CA certificates (tests with a private TLS receiver). */
  ca?: string | Buffer;
}

export interface AttemptResult {
  /** The HTTP status, or null when no response came (timeout, refused, reset, bad response). */
  status: number | null;
  /** Retry-After of the response, if any. */
  retryAfter: string | null;
  durationMs: number;
  /** Why it failed, when it did ('timeout after 10000 ms', 'redirect to ... not followed', 'ECONNREFUSED'). */
  error: string | null;
  /** The first bytes of the response body (at most maxResponseBytes), for the delivery record. */
  responseSnippet: string;
}

export const DEFAULT_USER_AGENT = 'sarbridge-webhooks/1';
export const DEFAULT_MAX_RESPONSE_BYTES = 4096;

/** POST one webhook; never throws (every failure is in the result). */
export function attemptDelivery(req: AttemptRequest): Promise<AttemptResult> {
  const started = performance.now();
  const maxBytes = req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    let status: number | null = null;
    let retryAfter: string | null = null;
    const chunks: Buffer[] = [];
    let got = 0;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve({
        status,
        retryAfter,
        durationMs: Math.round(performance.now() - started),
        error,
        responseSnippet: Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8'),
      });
    };
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      resolve({
        status: null,
        retryAfter: null,
        durationMs: 0,
        error: `bad URL '${req.url}'`,
        responseSnippet: '',
      });
      return;
    }
    const tls = url.protocol === 'https:';
    const lib = tls ? https : http;
    const body = Buffer.from(req.body, 'utf8');
    const request = lib.request({
      method: 'POST',
      host: req.address,
      family: req.family,
      port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      servername: tls ? url.hostname : undefined,
      ca: req.ca,
      agent: false,
      headers: {
        Host: url.host,
        'Content-Type': 'application/cloudevents+json',
        'Content-Length': body.length,
        'User-Agent': req.userAgent ?? DEFAULT_USER_AGENT,
        'webhook-id': req.webhookId,
        'webhook-timestamp': String(req.timestampS),
        'webhook-signature': req.signature,
        Connection: 'close',
      },
    });
    const timer = setTimeout(() => finish(`timeout after ${req.timeoutMs} ms`), req.timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    request.on('response', (res) => {
      status = res.statusCode ?? null;
      const ra = res.headers['retry-after'];
      retryAfter = typeof ra === 'string' ? ra : null;
      if (status !== null && status >= 300 && status < 400) {
        finish(`redirect to ${String(res.headers.location ?? '(no location)').slice(0, 200)} not followed`);
        return;
      }
      const ok = status !== null && status >= 200 && status < 300;
      res.on('data', (c: Buffer) => {
        if (got < maxBytes) chunks.push(c.subarray(0, maxBytes - got));
        got += c.length;
        if (got >= maxBytes) finish(ok ? null : `status ${status}`);
      });
      res.on('end', () => finish(ok ? null : `status ${status}`));
      res.on('error', (err: NodeJS.ErrnoException) => finish(ok ? null : (err.code ?? err.message)));
      res.on('aborted', () => finish(ok ? null : 'response aborted'));
    });
    request.end(body);
  });
}
