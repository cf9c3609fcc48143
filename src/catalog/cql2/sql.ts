import { SarbridgeError, ValidationError } from '../../errors.js';
import { bboxPolygon } from '../../geo/geojson.js';
import { geometryBbox } from '../validate.js';
import type { Cql2Expr, Cql2Geometry } from './ast.js';
import { ARITHMETIC_OPS, COMPARISON_OPS, Cql2Error, TEMPORAL_OPS } from './ast.js';

/** A filter uses an operator or function the catalog does not implement (HTTP 400, named). */
export class UnsupportedFilterError extends SarbridgeError {
  override readonly code: string = 'UnsupportedFilter';
}

/**
 * What a storage backend supplies to translate CQL2 into its SQL: column expressions for the core
 * fields, a JSON property accessor, and the spatial predicates. Parameters are collected in order
 * and written with `param()` (SQLite `?`, PostgreSQL `$n`).
 */
export interface SqlDialect {
  /** Placeholder of parameter `index` (1-based) holding a value literal (as encodeValue made it). */
  valueParam(index: number): string;
  /** Placeholder of a number (milliseconds, coordinates). */
  numParam(index: number): string;
  /** Placeholder of a text (a GeoJSON document). */
  textParam(index: number): string;
  /** A literal value as bound (SQLite: booleans as 0/1; PostgreSQL: JSON text for jsonb). */
  encodeValue(v: unknown): unknown;
  /** SQL of a property other than id / collection / datetime / geometry. */
  property(name: string): string;
  /** SQL turning a property's value into milliseconds since the epoch (for temporal tests). */
  toMillis(sql: string): string;
  /** Column expressions of the core fields (as values comparable with value literals). */
  id: string;
  collection: string;
  /** The item's temporal extent in milliseconds. */
  start: string;
  end: string;
  /** A spatial predicate of the item's geometry against a literal geometry (GeoJSON) and its bbox. */
  spatial(
    op: 's_intersects' | 's_within' | 's_contains',
    geojson: string,
    bbox: number[],
    num: (v: number) => string,
    text: (v: string) => string,
  ): string;
  /** Case- and accent-insensitive wrappers. */
  casei(sql: string): string;
  accenti(sql: string): string;
  /** + - * % on values; real division, integer division, power. */
  arith(op: '+' | '-' | '*' | '%', a: string, b: string): string;
  divide(a: string, b: string): string;
  intDivide(a: string, b: string): string;
  power(a: string, b: string): string;
  like(a: string, b: string): string;
  /**
   * True when the property holds an array with at least one element equal to one of the values
   * (placeholders of value literals); false for a missing property and for one that is no array.
   */
  arrayOverlaps(name: string, values: string[]): string;
}

/** The operators the catalog answers (the conformance classes it declares follow from this list). */
export const SUPPORTED_OPS: readonly string[] = [
  'and',
  'or',
  'not',
  ...COMPARISON_OPS,
  'like',
  'between',
  'in',
  'isNull',
  'casei',
  'accenti',
  ...ARITHMETIC_OPS,
  's_intersects',
  's_within',
  's_contains',
  's_disjoint',
  ...TEMPORAL_OPS,
];

/**
 * The query extension's match of an array property against values (any element among them); an
 * internal operation (not CQL2's: a filter naming it is refused as unsupported).
 */
export const ANY_IN_OP = 'sarbridge:any_in';

const DAY_MS = 86_400_000;

type Kind = 'value' | 'bool' | 'time' | 'geometry';

interface Frag {
  sql: string;
  kind: Kind;
  /** For temporal operands: start and end SQL. */
  start?: string;
  end?: string;
}

function isObj(e: Cql2Expr): e is Exclude<Cql2Expr, string | number | boolean | null | Cql2Expr[]> {
  return typeof e === 'object' && e !== null && !Array.isArray(e);
}

/**
 * Renumber the parameters of a SQL text written with numbered placeholders (`?N` or `$N`) in the
 * order they first appear, dropping the ones it never uses: translation may emit a value it then
 * does not need, and may use one value twice.
 */
export function compactParams(
  sql: string,
  params: unknown[],
  style: '?' | '$',
): { sql: string; params: unknown[] } {
  const re = style === '?' ? /\?(\d+)/g : /\$(\d+)/g;
  const order = new Map<number, number>();
  const out: unknown[] = [];
  const text = sql.replace(re, (_m, n: string) => {
    const k = Number(n);
    let m = order.get(k);
    if (m === undefined) {
      out.push(params[k - 1]);
      m = out.length;
      order.set(k, m);
    }
    return `${style}${m}`;
  });
  return { sql: text, params: out };
}

/** Translate a CQL2 AST into a SQL boolean expression and its parameters. */
export class Cql2Sql {
  readonly params: unknown[] = [];

  constructor(
    private readonly d: SqlDialect,
    private readonly offset = 0,
  ) {}

  /** A value literal parameter. */
  private p(v: unknown): string {
    this.params.push(this.d.encodeValue(v));
    return this.d.valueParam(this.offset + this.params.length);
  }

  /** A number (milliseconds, coordinates) parameter. */
  private pn(v: number): string {
    this.params.push(v);
    return this.d.numParam(this.offset + this.params.length);
  }

  /** A text parameter. */
  private ptext(v: string): string {
    this.params.push(v);
    return this.d.textParam(this.offset + this.params.length);
  }

  translate(e: Cql2Expr): string {
    try {
      const f = this.expr(e);
      if (f.kind !== 'bool')
        throw new Cql2Error('the filter must be a boolean expression (a comparison or predicate)');
      return f.sql;
    } catch (err) {
      if (err instanceof Cql2Error) throw new ValidationError(`filter: ${err.message}`);
      throw err;
    }
  }

  private expr(e: Cql2Expr): Frag {
    if (e === null) return { sql: 'NULL', kind: 'value' };
    if (typeof e === 'string' || typeof e === 'number') return { sql: this.p(e), kind: 'value' };
    if (typeof e === 'boolean') return { sql: this.p(e), kind: 'value' };
    if (Array.isArray(e)) throw new Cql2Error('an array is only allowed as the list of IN');
    if ('property' in e) return this.property(e.property);
    if ('timestamp' in e) {
      const ph = this.pn(Date.parse(e.timestamp));
      return { sql: ph, kind: 'time', start: ph, end: ph };
    }
    if ('date' in e) {
      const ms = Date.parse(`${e.date}T00:00:00Z`);
      const ph = this.pn(ms);
      return { sql: ph, kind: 'time', start: ph, end: this.pn(ms + DAY_MS - 1) };
    }
    if ('interval' in e) {
      const bound = (b: Cql2Expr, open: number): string => {
        if (b === '..') return this.pn(open);
        if (typeof b === 'string') {
          const ms = Date.parse(/^\d{4}-\d\d-\d\d$/.test(b) ? `${b}T00:00:00Z` : b);
          if (Number.isNaN(ms)) throw new Cql2Error(`interval bound '${b}' is not a date or timestamp`);
          return this.pn(ms);
        }
        const f = this.expr(b);
        if (f.kind === 'time') return open < 0 ? (f.start as string) : (f.end as string);
        return this.d.toMillis(f.sql);
      };
      return {
        sql: '',
        kind: 'time',
        start: bound(e.interval[0], -8.64e15),
        end: bound(e.interval[1], 8.64e15),
      };
    }
    if ('bbox' in e || 'type' in e) return { sql: '', kind: 'geometry' };
    return this.op(e as { op: string; args: Cql2Expr[] });
  }

  private property(name: string): Frag {
    if (name === 'id') return { sql: this.d.id, kind: 'value' };
    if (name === 'collection') return { sql: this.d.collection, kind: 'value' };
    if (name === 'datetime' || name === 'start_datetime' || name === 'end_datetime') {
      const col = name === 'end_datetime' ? this.d.end : this.d.start;
      return {
        sql: col,
        kind: 'time',
        start: name === 'datetime' ? this.d.start : col,
        end: name === 'datetime' ? this.d.end : col,
      };
    }
    if (name === 'geometry') return { sql: '', kind: 'geometry' };
    return { sql: this.d.property(name), kind: 'value' };
  }

  /** A value operand (a time operand becomes its start). */
  private value(e: Cql2Expr): string {
    const f = this.expr(e);
    if (f.kind === 'geometry') throw new Cql2Error('a geometry can only be used in a spatial operator');
    if (f.kind === 'time') return f.start as string;
    return f.sql;
  }

  /** A temporal operand: [start, end] in milliseconds. */
  private time(e: Cql2Expr): [string, string] {
    const f = this.expr(e);
    if (f.kind === 'time') return [f.start as string, f.end as string];
    if (f.kind === 'value') {
      const ms = this.d.toMillis(f.sql);
      return [ms, ms];
    }
    throw new Cql2Error('a temporal operator needs instants or intervals');
  }

  private op(e: { op: string; args: Cql2Expr[] }): Frag {
    const { op, args } = e;
    const n = (k: number) => {
      if (args.length !== k) throw new Cql2Error(`${op} takes ${k} arguments, got ${args.length}`);
    };
    const bool = (sql: string): Frag => ({ sql, kind: 'bool' });
    switch (op) {
      case 'and':
      case 'or': {
        if (args.length < 2) throw new Cql2Error(`${op} takes at least 2 arguments`);
        return bool(
          balanced(
            args.map((a) => this.boolOf(a)),
            op === 'and' ? 'AND' : 'OR',
          ),
        );
      }
      case 'not':
        n(1);
        return bool(`(NOT ${this.boolOf(args[0])})`);
      case '=':
      case '<>':
      case '<':
      case '>':
      case '<=':
      case '>=': {
        n(2);
        const [a, b] = args.map((x) => this.comparable(x, args));
        return bool(`(${a} ${op} ${b})`);
      }
      case 'like':
        n(2);
        return bool(this.d.like(this.value(args[0]), this.value(args[1])));
      case 'between':
        n(3);
        return bool(`(${this.value(args[0])} BETWEEN ${this.value(args[1])} AND ${this.value(args[2])})`);
      case 'in': {
        n(2);
        if (!Array.isArray(args[1]) || args[1].length === 0)
          throw new Cql2Error('in takes a value and a non-empty list');
        return bool(`(${this.value(args[0])} IN (${args[1].map((x) => this.value(x)).join(', ')}))`);
      }
      case 'isNull': {
        n(1);
        const a = args[0];
        // Every item of the catalog has a footprint.
        if (isObj(a) && 'property' in a && a.property === 'geometry') return bool('(1 = 0)');
        return bool(`(${this.value(a)} IS NULL)`);
      }
      case 'casei':
        n(1);
        return { sql: this.d.casei(this.value(args[0])), kind: 'value' };
      case 'accenti':
        n(1);
        return { sql: this.d.accenti(this.value(args[0])), kind: 'value' };
      case '+':
      case '-':
      case '*':
      case '%': {
        n(2);
        return { sql: this.d.arith(op, this.value(args[0]), this.value(args[1])), kind: 'value' };
      }
      case '/':
        n(2);
        return { sql: this.d.divide(this.value(args[0]), this.value(args[1])), kind: 'value' };
      case 'div':
        n(2);
        return { sql: this.d.intDivide(this.value(args[0]), this.value(args[1])), kind: 'value' };
      case '^':
        n(2);
        return { sql: this.d.power(this.value(args[0]), this.value(args[1])), kind: 'value' };
      case 's_intersects':
      case 's_within':
      case 's_contains':
      case 's_disjoint':
        n(2);
        return bool(this.spatial(op, args[0], args[1]));
      case ANY_IN_OP: {
        n(2);
        const [a, list] = args;
        if (!isObj(a) || !('property' in a) || !Array.isArray(list) || list.length === 0)
          throw new Cql2Error(`${op} takes a property and a non-empty list`);
        return bool(
          this.d.arrayOverlaps(
            a.property,
            list.map((x) => this.value(x)),
          ),
        );
      }
      default:
        if (op.startsWith('t_') && SUPPORTED_OPS.includes(op)) {
          n(2);
          return bool(temporal(op, this.time(args[0]), this.time(args[1])));
        }
        throw new UnsupportedFilterError(
          `the filter uses '${op}', which this catalog does not support (supported: ${SUPPORTED_OPS.join(', ')})`,
        );
    }
  }

  private boolOf(e: Cql2Expr): string {
    const f = this.expr(e);
    if (f.kind === 'bool') return f.sql;
    if (typeof e === 'boolean') return e ? '(1 = 1)' : '(1 = 0)';
    if (isObj(e) && 'property' in e) return `(${f.sql} = ${this.p(1)})`;
    throw new Cql2Error('AND, OR and NOT take boolean expressions');
  }

  /** A comparison operand: a time literal compared with a time property stays in milliseconds. */
  private comparable(x: Cql2Expr, both: Cql2Expr[]): string {
    const f = this.expr(x);
    if (f.kind === 'geometry') throw new Cql2Error('a geometry cannot be compared; use a spatial operator');
    const other = both.find((y) => y !== x);
    const otherIsTime = other !== undefined && isObj(other) && ('timestamp' in other || 'date' in other);
    if (f.kind === 'time') return f.start as string;
    if (otherIsTime && isObj(x) && 'property' in x) return this.d.toMillis(f.sql);
    return f.sql;
  }

  private spatial(op: string, a: Cql2Expr, b: Cql2Expr): string {
    const isGeomProp = (e: Cql2Expr) => isObj(e) && 'property' in e && e.property === 'geometry';
    let lit: Cql2Expr;
    let kind = op;
    if (isGeomProp(a)) lit = b;
    else if (isGeomProp(b)) {
      lit = a;
      if (op === 's_within') kind = 's_contains';
      else if (op === 's_contains') kind = 's_within';
    } else
      throw new UnsupportedFilterError(
        `the filter uses '${op}' on ${describeArg(a)} and ${describeArg(b)}; spatial operators are supported between the item's geometry (property 'geometry') and a literal geometry`,
      );
    const geom = literalGeometry(lit);
    const bbox = geometryBbox(geom as never);
    const test =
      kind === 's_disjoint' ? 's_intersects' : (kind as 's_intersects' | 's_within' | 's_contains');
    const sql = this.d.spatial(
      test,
      JSON.stringify(geom),
      bbox,
      (v) => this.pn(v),
      (v) => this.ptext(v),
    );
    return kind === 's_disjoint' ? `(NOT ${sql})` : sql;
  }
}

/**
 * Terms joined by AND / OR as a balanced tree, `((a AND b) AND (c AND d))`: SQL parsers nest a flat
 * chain one level per term (SQLite stops at an expression depth of 1,000), a balanced tree by the
 * logarithm of the count.
 */
function balanced(terms: string[], op: 'AND' | 'OR'): string {
  if (terms.length === 1) return terms[0];
  const mid = terms.length >> 1;
  return `(${balanced(terms.slice(0, mid), op)} ${op} ${balanced(terms.slice(mid), op)})`;
}

function describeArg(e: Cql2Expr): string {
  if (isObj(e) && 'property' in e) return `property '${e.property}'`;
  if (isObj(e) && 'op' in e) return `function '${e.op}'`;
  return 'a literal';
}

function literalGeometry(e: Cql2Expr): Cql2Geometry {
  if (isObj(e) && 'bbox' in e) {
    const b = e.bbox as number[];
    const [w, s, east, n] = b.length === 6 ? [b[0], b[1], b[3], b[4]] : b;
    return bboxPolygon([w, s, east, n]) as Cql2Geometry;
  }
  if (isObj(e) && 'type' in e) return e as Cql2Geometry;
  throw new Cql2Error('a spatial operator needs a geometry literal (WKT, GeoJSON or BBOX)');
}

/** Allen's interval relations on [s1, e1] and [s2, e2] as CQL2 defines its temporal operators. */
function temporal(op: string, [s1, e1]: [string, string], [s2, e2]: [string, string]): string {
  switch (op) {
    case 't_intersects':
      return `(${s1} <= ${e2} AND ${e1} >= ${s2})`;
    case 't_disjoint':
      return `(NOT (${s1} <= ${e2} AND ${e1} >= ${s2}))`;
    case 't_before':
      return `(${e1} < ${s2})`;
    case 't_after':
      return `(${s1} > ${e2})`;
    case 't_during':
      return `(${s1} > ${s2} AND ${e1} < ${e2})`;
    case 't_contains':
      return `(${s1} < ${s2} AND ${e1} > ${e2})`;
    case 't_equals':
      return `(${s1} = ${s2} AND ${e1} = ${e2})`;
    case 't_starts':
      return `(${s1} = ${s2} AND ${e1} < ${e2})`;
    case 't_startedBy':
      return `(${s1} = ${s2} AND ${e1} > ${e2})`;
    case 't_finishes':
      return `(${e1} = ${e2} AND ${s1} > ${s2})`;
    case 't_finishedBy':
      return `(${e1} = ${e2} AND ${s1} < ${s2})`;
    case 't_meets':
      return `(${e1} = ${s2})`;
    case 't_metBy':
      return `(${s1} = ${e2})`;
    case 't_overlaps':
      return `(${s1} < ${s2} AND ${e1} > ${s2} AND ${e1} < ${e2})`;
    default:
      return `(${s1} > ${s2} AND ${s1} < ${e2} AND ${e1} > ${e2})`;
  }
}
