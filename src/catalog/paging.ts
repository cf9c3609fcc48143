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

/** A sort key: its SQL, its direction, and whether it can be NULL (a property an item may lack). */
export interface SortKey {
  expr: string;
  dir: 'asc' | 'desc';
  nullable?: boolean;
}

/**
 * ORDER BY for sort keys. Both backends order a missing value (NULL) as the greatest, as PostgreSQL
 * does by default: last going up, first going down. Keys that cannot be NULL get no NULLS clause, so
 * SQLite still walks an index for them.
 */
export function orderBy(sort: SortKey[]): string {
  return sort
    .map((s) =>
      s.nullable
        ? `${s.expr} ${s.dir === 'asc' ? 'ASC NULLS LAST' : 'DESC NULLS FIRST'}`
        : `${s.expr} ${s.dir.toUpperCase()}`,
    )
    .join(', ');
}

/** `expr` comes strictly after `v` in the key's order (NULL the greatest value). */
function after(s: SortKey, v: unknown, param: string): string {
  const op = s.dir === 'asc' ? '>' : '<';
  if (!s.nullable) return `${s.expr} ${op} ${param}`;
  if (v === null) return s.dir === 'asc' ? '1 = 0' : `${s.expr} IS NOT NULL`;
  return s.dir === 'asc' ? `(${s.expr} > ${param} OR ${s.expr} IS NULL)` : `${s.expr} < ${param}`;
}

/**
 * The conditions that select the items after a token's key: for sort keys k0..kn (the last the
 * insertion number), (k0 after v0) OR (k0 = v0 AND k1 after v1) OR ..., plus the same bound on k0
 * alone so an index on it starts at the token's place. `param(i)` writes a placeholder bound to
 * key[i]; `same` is the backend's null-safe equality (SQLite IS, PostgreSQL IS NOT DISTINCT FROM).
 */
export function keysetConditions(
  sort: SortKey[],
  key: unknown[],
  param: (i: number) => string,
  same: string,
): string[] {
  const ors: string[] = [];
  for (let i = 0; i < sort.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) ands.push(`${sort[j].expr} ${same} ${param(j)}`);
    ands.push(after(sort[i], key[i], param(i)));
    ors.push(`(${ands.join(' AND ')})`);
  }
  const out = [`(${ors.join(' OR ')})`];
  const k0 = sort[0];
  if (key[0] !== null && (!k0.nullable || k0.dir === 'desc'))
    out.push(`${k0.expr} ${k0.dir === 'asc' ? '>=' : '<='} ${param(0)}`);
  return out;
}

/**
 * numberMatched: a search's matching items are counted (in SQL, within the caller's scope) up to this
 * many; above it the count is left out of the response rather than estimated, since OGC API -
 * Features (/req/core/fc-numberMatched) requires it, when present, to be the exact number.
 */
export const COUNT_LIMIT = 10_000;

/** PostgreSQL also stops a count after this long (statement_timeout) and leaves it out. */
export const COUNT_TIMEOUT_MS = 250;
