import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../errors.js';
import { mergeVary } from './http-conditional.js';

// The CORS protocol (Fetch standard §3.2): which other origins' scripts may read sarbridge's answers.

/** Methods a preflight allows (every method a route of the server answers). */
export const CORS_ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * Request headers a preflight allows: the credential, request bodies, Range and the conditional
 * headers of assets and transactions. Authorization must be named: `*` does not cover it (Fetch §3.2.3).
 */
export const CORS_ALLOW_HEADERS = [
  'Authorization',
  'Content-Type',
  'Accept',
  'Range',
  'If-Match',
  'If-None-Match',
  'If-Modified-Since',
  'If-Range',
];

/**
 * Response headers a script may read beyond the CORS-safelisted ones: what range reads of assets
 * (Accept-Ranges, Content-Range), caching (ETag), created resources (Location), the rate limit
 * (Retry-After), authentication errors (WWW-Authenticate) and support requests (x-request-id) need.
 */
export const CORS_EXPOSE_HEADERS = [
  'Accept-Ranges',
  'Content-Range',
  'Content-Length',
  'ETag',
  'Last-Modified',
  'Location',
  'Retry-After',
  'WWW-Authenticate',
  'x-request-id',
];

/** How long a browser may cache a preflight's answer, seconds (Chromium caps it at 7,200). */
export const CORS_MAX_AGE_S = 7200;

/**
 * Validate an allow-list of origins: each is `http(s)://host[:port]` with no path, query, user or
 * trailing slash, the way a browser serialises the Origin header (RFC 6454 §6.1); host names are
 * lower-cased and default ports dropped, so the list compares exactly with what browsers send.
 * Throws a ValidationError naming `option` (the CLI flag or server option the list came from).
 * @example parseCorsOrigins(['https://App.example.org:443'], '--cors-origin') // ['https://app.example.org']
 */
export function parseCorsOrigins(values: readonly string[], option: string): string[] {
  const out: string[] = [];
  for (const raw of values) {
    const v = String(raw).trim();
    const m = /^(https?):\/\/([^/?#@\s]+)$/i.exec(v);
    let origin: string | null = null;
    if (m) {
      try {
        const u = new URL(v);
        if (u.username === '' && u.password === '' && u.pathname === '/' && u.hostname !== '')
          origin = u.origin;
      } catch {
        origin = null;
      }
    }
    if (origin === null)
      throw new ValidationError(
        `${option}: expected an origin, scheme://host[:port] with scheme http or https and no path, got '${raw}'`,
      );
    if (!out.includes(origin)) out.push(origin);
  }
  return out;
}

/** Whether a request is a CORS-preflight request (Fetch §3.2.2): OPTIONS with Origin and the method it asks for. */
export function isPreflight(req: FastifyRequest): boolean {
  return (
    req.method === 'OPTIONS' &&
    typeof req.headers.origin === 'string' &&
    typeof req.headers['access-control-request-method'] === 'string'
  );
}

/**
 * CORS for the origins of `allowed` (validated with parseCorsOrigins). An allowed origin gets its own
 * origin back in Access-Control-Allow-Origin (never `*`: requests carry Authorization) on every
 * response, errors included, with the exposed headers; preflights (OPTIONS on any path, no credential
 * needed, as browsers send none) are answered 204 with the allowed methods, headers and max-age. A
 * preflight from any other origin is refused with 403 and no CORS header, so the browser blocks the
 * request it announced. Every response says `Vary: Origin` when the list is not empty, as its CORS
 * headers depend on the Origin. With an empty list no Access-Control-* header is ever sent.
 */
export function corsRoutes(app: FastifyInstance, allowed: readonly string[]): void {
  const origins = new Set(allowed);
  const allowedOrigin = (req: FastifyRequest): string | null => {
    const o = req.headers.origin;
    return typeof o === 'string' && origins.has(o) ? o : null;
  };

  app.options('*', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isPreflight(req)) {
      // A plain OPTIONS request (RFC 9110 §9.3.7): no content.
      return reply.status(204).send();
    }
    const origin = allowedOrigin(req);
    if (origin === null) {
      reply.status(403);
      return {
        code: 'Forbidden',
        description: `CORS: origin '${String(req.headers.origin).slice(0, 200)}' is not allowed (serve --cors-origin)`,
      };
    }
    reply
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-methods', CORS_ALLOW_METHODS.join(', '))
      .header('access-control-allow-headers', CORS_ALLOW_HEADERS.join(', '))
      .header('access-control-max-age', String(CORS_MAX_AGE_S))
      .header(
        'vary',
        mergeVary(reply.getHeader('vary'), 'Access-Control-Request-Method', 'Access-Control-Request-Headers'),
      );
    return reply.status(204).send();
  });

  if (origins.size === 0) return;
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('vary', mergeVary(reply.getHeader('vary'), 'Origin'));
    const origin = allowedOrigin(req);
    if (origin !== null && !isPreflight(req)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', CORS_EXPOSE_HEADERS.join(', '));
    }
    return payload;
  });
}
