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

/**
 * The conditions that select the items after a token's key: for sort keys k0..kn (the last the
 * insertion number), (k0 after v0) OR (k0 = v0 AND k1 after v1) OR ..., plus the same bound on k0
 * alone so an index on it starts at the token's place. `param(i)` writes a placeholder bound to
 * key[i]; `same` is the backend's null-safe equality (SQLite IS, PostgreSQL IS NOT DISTINCT FROM).
 */
export function keysetConditions(
  sort: { expr: string; dir: 'asc' | 'desc' }[],
  key: unknown[],
  param: (i: number) => string,
  same: string,
): string[] {
  const ors: string[] = [];
  for (let i = 0; i < sort.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) ands.push(`${sort[j].expr} ${same} ${param(j)}`);
    ands.push(`${sort[i].expr} ${sort[i].dir === 'asc' ? '>' : '<'} ${param(i)}`);
    ors.push(`(${ands.join(' AND ')})`);
  }
  const out = [`(${ors.join(' OR ')})`];
  if (key[0] !== null) out.push(`${sort[0].expr} ${sort[0].dir === 'asc' ? '>=' : '<='} ${param(0)}`);
  return out;
}
