/**
 * Standard Webhooks signing: the `webhook-signature` header is `v1,<base64 HMAC-SHA256>` of
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the secret's bytes (a secret is `whsec_`
 * followed by the base64 of the key). During a secret rotation several secrets are live; the header
 * then holds one signature per secret, space-separated, and a receiver accepts any one of them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ValidationError } from '../errors.js';

export const SECRET_PREFIX = 'whsec_';
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(sizeBytes = 32): string {
  if (!Number.isInteger(sizeBytes) || sizeBytes < MIN_SECRET_BYTES || sizeBytes > MAX_SECRET_BYTES) {
    throw new ValidationError(
      `webhook secret size: expected an integer from ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes, got ${sizeBytes}`,
    );
  }
  return SECRET_PREFIX + randomBytes(sizeBytes).toString('base64');
}

/** The key bytes of a `whsec_<base64>` secret; throws ValidationError when it is not one. */
export function secretKey(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) {
    throw new ValidationError(`webhook secret: expected "${SECRET_PREFIX}<base64>"`);
  }
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(b64) || b64.length % 4 !== 0) {
    throw new ValidationError(`webhook secret: the part after "${SECRET_PREFIX}" is not base64`);
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new ValidationError(
      `webhook secret: expected ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} key bytes, got ${key.length}`,
    );
  }
  return key;
}

/** Whether a string is a well-formed signing secret. */
export function isWebhookSecret(secret: string): boolean {
  try {
    secretKey(secret);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `webhook-signature` header value: one `v1,<base64>` per secret (in the order given),
 * space-separated. Throws ValidationError for no secrets, a malformed secret, an empty id or a
 * timestamp that is not a whole number of seconds.
 */
export function signWebhook(secrets: string[], id: string, timestampS: number, body: string): string {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new ValidationError('webhook signature: expected at least one secret');
  }
  if (typeof id !== 'string' || id.length === 0 || id.includes('.')) {
    throw new ValidationError(`webhook-id: expected a non-empty string without ".", got "${id}"`);
  }
  if (!Number.isSafeInteger(timestampS) || timestampS < 0) {
    throw new ValidationError(`webhook-timestamp: expected whole seconds since the epoch, got ${timestampS}`);
  }
  const content = `${id}.${timestampS}.${body}`;
  return secrets
    .map((s) => `v1,${createHmac('sha256', secretKey(s)).update(content, 'utf8').digest('base64')}`)
    .join(' ');
}

/** The three Standard Webhooks headers of one message. */
export function webhookHeaders(
  secrets: string[],
  id: string,
  timestampS: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': signWebhook(secrets, id, timestampS, body),
  };
}
