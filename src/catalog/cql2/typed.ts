import type { Cql2Expr } from './ast.js';
import { Cql2Error } from './ast.js';
import { ANY_IN_OP, SUPPORTED_OPS, UnsupportedFilterError } from './sql.js';

/** A JSON Schema scalar type, as the queryables declare them. */
export type ScalarType = 'string' | 'number' | 'integer' | 'boolean';

/** The type a queryable's values compare by: a scalar, or an array of scalars. */
export type QueryableType = { type: ScalarType } | { type: 'array'; items: ScalarType };

/** A literal that does not convert to the type of the queryable it is compared with (HTTP 400). */
export class Cql2TypeError extends Cql2Error {
  constructor(
    readonly property: string,
    readonly expected: string,
    message: string,
  ) {
    super(message);
    this.name = 'Cql2TypeError';
  }
}

/** A decimal number as text: digits, one optional point, an optional exponent; no hex, no 'Infinity'. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

const ARTICLE: Record<string, string> = { integer: 'an integer', array: 'an array' };
const named = (t: string) => ARTICLE[t] ?? `a ${t}`;

function shown(v: Cql2Expr): string {
  const s = typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * A literal as a value of `type`: kept when it has the type, converted when it converts exactly
 * (the text '12' to the integer 12, '2.5' to the number 2.5, the number 12 to the text '12', 'true'
 * to true), else a Cql2TypeError naming the property and the type. Non-literals (properties,
 * functions, times, geometries) and null are returned as they are.
 * Example: `convertLiteral('12', 'integer', 'sat:relative_orbit')` is `12`.
 */
export function convertLiteral(v: Cql2Expr, type: ScalarType, property: string): Cql2Expr {
  if (v === null || typeof v === 'object') return v;
  switch (type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      break;
    case 'number':
    case 'integer':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && DECIMAL.test(v)) {
        const n = Number(v);
        if (type === 'number' ? Number.isFinite(n) : Number.isSafeInteger(n)) return n;
      }
      break;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      break;
  }
  throw new Cql2TypeError(
    property,
    type,
    `${property} is ${named(type)} (its queryable type); ${shown(v)} is not one and does not convert to one exactly`,
  );
}

const COMPARISONS = new Set(['=', '<>', '<', '>', '<=', '>=']);

const isProperty = (e: Cql2Expr): e is { property: string } =>
  typeof e === 'object' && e !== null && !Array.isArray(e) && 'property' in e;

/**
 * Compare values by the queryables' types: in every comparison (=, <>, <, >, <=, >=), BETWEEN and
 * IN of a queryable with literals, and in the query extension's match of an array queryable
 * (ANY_IN_OP), each literal is converted to the queryable's type (convertLiteral). A scalar
 * comparison of an array queryable is refused (CQL2 compares arrays with its array functions, which
 * the catalog does not implement). Properties that `typeOf` does not know keep their literals as
 * written. ANY_IN_OP is refused unless `internal` (a client's filter cannot name it).
 */
export function typeLiterals(
  e: Cql2Expr,
  typeOf: (name: string) => QueryableType | undefined,
  internal = false,
): Cql2Expr {
  if (typeof e !== 'object' || e === null) return e;
  if (Array.isArray(e)) return e.map((x) => typeLiterals(x, typeOf, internal));
  if (!('op' in e) || !Array.isArray(e.args)) return e;
  if (e.op === ANY_IN_OP && !internal)
    throw new UnsupportedFilterError(
      `the filter uses '${e.op}', which this catalog does not support (supported: ${SUPPORTED_OPS.join(', ')})`,
    );
  const args = e.args.map((x) => typeLiterals(x, typeOf, internal));
  const t = (x: Cql2Expr) => (isProperty(x) ? typeOf(x.property) : undefined);
  const scalarOf = (x: Cql2Expr, what: string): ScalarType | undefined => {
    const q = t(x);
    if (q?.type === 'array')
      throw new Cql2TypeError(
        (x as { property: string }).property,
        'array',
        `${(x as { property: string }).property} is an array (its queryable type): ${what} compares single values (the query extension's eq, neq and in match its elements)`,
      );
    return q?.type;
  };
  const p = (x: Cql2Expr) => (x as { property: string }).property;
  if (COMPARISONS.has(e.op) && args.length === 2) {
    for (const i of [0, 1]) {
      const other = args[1 - i];
      if (!isProperty(args[i]) || isProperty(other)) continue;
      const s = scalarOf(args[i], e.op);
      if (s) args[1 - i] = convertLiteral(other, s, p(args[i]));
    }
  } else if (e.op === 'between' && args.length === 3 && isProperty(args[0])) {
    const s = scalarOf(args[0], 'between');
    if (s) for (const i of [1, 2]) args[i] = convertLiteral(args[i], s, p(args[0]));
  } else if (e.op === 'in' && args.length === 2 && isProperty(args[0]) && Array.isArray(args[1])) {
    const s = scalarOf(args[0], 'in');
    if (s) args[1] = args[1].map((x) => convertLiteral(x, s, p(args[0])));
  } else if (e.op === ANY_IN_OP && args.length === 2 && Array.isArray(args[1])) {
    const q = t(args[0]);
    if (q?.type === 'array') args[1] = args[1].map((x) => convertLiteral(x, q.items, p(args[0])));
  }
  return { op: e.op, args };
}
