import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticationError } from '../access/errors.js';
import { RateLimitedError } from '../access/limits.js';
import { UnsupportedFilterError } from '../catalog/cql2/sql.js';
import { ConflictError, ForbiddenError, NotFoundError, SarbridgeError, ValidationError } from '../errors.js';

/** The one table from sarbridge's errors to HTTP statuses; every error body is {code, description}. */
export function statusOf(err: unknown): number {
  if (err instanceof AuthenticationError) return 401;
  if (err instanceof RateLimitedError) return 429;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof UnsupportedFilterError) return 400;
  if (err instanceof ValidationError) return 400;
  if (err instanceof SarbridgeError) {
    const s = (err as { status?: unknown }).status;
    return typeof s === 'number' && s >= 400 && s < 500 ? s : 400;
  }
  return 500;
}

/** The error handler; `logToStderr` when the server runs without a logger, so no 5xx goes unrecorded. */
export const errorHandler =
  (logToStderr: boolean) =>
  (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void => {
    const fe = err as FastifyError;
    if (err instanceof SarbridgeError) {
      const status = statusOf(err);
      if (err instanceof AuthenticationError)
        reply.header('www-authenticate', 'Bearer realm="sarbridge", error="invalid_token"');
      if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterS));
      const challenge = (err as { wwwAuthenticate?: string }).wwwAuthenticate;
      if (challenge) reply.header('www-authenticate', challenge);
      const body = (err as { toBody?: () => Record<string, unknown> }).toBody?.();
      reply.status(status).send(body ?? { code: err.code, description: err.message });
      return;
    }
    // Fastify's own client errors: malformed JSON, body too large, bad content type, schema.
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code =
        fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'PayloadTooLarge'
          : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'UnsupportedMediaType'
            : 'BadRequest';
      reply.status(fe.statusCode).send({ code, description: err.message });
      return;
    }
    req.log.error({ err, requestId: req.id }, 'internal error');
    if (logToStderr)
      process.stderr.write(
        `${new Date().toISOString()} request ${req.id} ${req.method} ${req.url.split('?')[0]}: ${err.stack ?? err.message}\n`,
      );
    reply
      .status(500)
      .send({ code: 'InternalError', description: 'internal error', requestId: String(req.id) });
  };
