import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { UnsupportedFilterError } from '../catalog/cql2/sql.js';
import { ConflictError, ForbiddenError, NotFoundError, SarbridgeError, ValidationError } from '../errors.js';

/** The one table from sarbridge's errors to HTTP statuses; every error body is {code, description}. */
export function statusOf(err: unknown): number {
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof UnsupportedFilterError) return 400;
  if (err instanceof ValidationError) return 400;
  if (err instanceof SarbridgeError) return 400;
  return 500;
}

export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const fe = err as FastifyError;
  if (err instanceof SarbridgeError) {
    reply.status(statusOf(err)).send({ code: err.code, description: err.message });
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
  req.log.error({ err }, 'internal error');
  reply.status(500).send({ code: 'InternalError', description: 'internal error' });
}
