import { SarbridgeError } from '../errors.js';

/**
 * Why a bearer token was refused, in general terms (RFC 6750 `invalid_token` covers all of them).
 * The server may log it; it never holds any part of a key, a secret or the token itself.
 */
export type AuthenticationFailure =
  | 'malformed'
  | 'algorithm'
  | 'type'
  | 'unknown_key'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'issuer'
  | 'audience'
  | 'claims';

/** The caller did not prove who it is: no, a malformed, or a refused credential (HTTP 401). */
export class AuthenticationError extends SarbridgeError {
  override readonly code: string = 'Unauthorized';
  /** Machine-readable reason, for logs and metrics. */
  readonly reason: AuthenticationFailure;
  constructor(reason: AuthenticationFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
