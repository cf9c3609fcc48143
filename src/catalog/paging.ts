import { ValidationError } from '../errors.js';

/**
 * Keyset paging tokens: the sort key of the last item of a page (and its insertion sequence number),
 * so the next page starts strictly after it. Items inserted meanwhile before that point are not
 * seen; none is repeated or skipped.
 */
export function encodeToken(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeToken(token: string, length: number): unknown[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('token is not a paging token from this catalog');
  }
  if (
    !Array.isArray(key) ||
    key.length !== length ||
    !key.every((k) => k === null || ['string', 'number'].includes(typeof k))
  )
    throw new ValidationError('token does not belong to this search (its sort order differs)');
  return key;
}
