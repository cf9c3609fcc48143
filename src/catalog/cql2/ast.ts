/**
 * CQL2 expressions in their JSON encoding (OGC 21-065, cql2-json), which is also sarbridge's AST:
 * the text parser produces it and the storage backends translate it.
 */
export type Cql2Geometry = {
  type:
    | 'Point'
    | 'LineString'
    | 'Polygon'
    | 'MultiPoint'
    | 'MultiLineString'
    | 'MultiPolygon'
    | 'GeometryCollection';
  coordinates?: unknown;
  geometries?: Cql2Geometry[];
};

export type Cql2Expr =
  | string
  | number
  | boolean
  | null
  | Cql2Expr[]
  | { property: string }
  | { date: string }
  | { timestamp: string }
  | { interval: [Cql2Expr, Cql2Expr] }
  | { bbox: number[] }
  | Cql2Geometry
  | { op: string; args: Cql2Expr[] };

/** A parse error with its position (0-based character offset) in the filter text. */
export class Cql2Error extends Error {
  readonly position: number | null;
  constructor(message: string, position: number | null = null) {
    super(position === null ? message : `${message} at position ${position}`);
    this.name = 'Cql2Error';
    this.position = position;
  }
}

/** Operators with a fixed meaning in CQL2 (lower case in cql2-json); others are function calls. */
export const COMPARISON_OPS = ['=', '<>', '<', '>', '<=', '>='] as const;
export const ARITHMETIC_OPS = ['+', '-', '*', '/', '^', '%', 'div'] as const;
export const SPATIAL_OPS = [
  's_intersects',
  's_equals',
  's_disjoint',
  's_touches',
  's_within',
  's_overlaps',
  's_crosses',
  's_contains',
] as const;
export const TEMPORAL_OPS = [
  't_after',
  't_before',
  't_contains',
  't_disjoint',
  't_during',
  't_equals',
  't_finishedBy',
  't_finishes',
  't_intersects',
  't_meets',
  't_metBy',
  't_overlappedBy',
  't_overlaps',
  't_startedBy',
  't_starts',
] as const;
export const ARRAY_OPS = ['a_equals', 'a_contains', 'a_containedBy', 'a_overlaps'] as const;
export const STANDARD_OPS: readonly string[] = [
  'and',
  'or',
  'not',
  'like',
  'between',
  'in',
  'isNull',
  'casei',
  'accenti',
  ...COMPARISON_OPS,
  ...ARITHMETIC_OPS,
  ...SPATIAL_OPS,
  ...TEMPORAL_OPS,
  ...ARRAY_OPS,
];

/**
 * A timestamp as cql2 normalises it: RFC 3339 with the fraction's trailing zeros dropped
 * ('2012-08-10T05:30:00.000000Z' -> '2012-08-10T05:30:00Z').
 */
export function normaliseTimestamp(s: string): string {
  return s.replace(/\.(\d*?)0+(?=(Z|[+-]\d\d:\d\d)$)/i, (_m, keep: string) => (keep ? `.${keep}` : ''));
}

/** The canonical (cql2-json) spelling of a standard operator written in any case, or null. */
export function standardOp(name: string): string | null {
  const lower = name.toLowerCase();
  return STANDARD_OPS.find((op) => op.toLowerCase() === lower) ?? null;
}

/**
 * Limits on a filter's size, far above what STAC clients send (pystac-client, STAC Browser and
 * QGIS write filters of a few to a few dozen nodes) and low enough that every filter within them
 * translates into SQL that SQLite (32,766 variables, expression depth 1,000) and PostgreSQL (65,535
 * parameters, its stack depth) accept: a larger filter is refused (400) instead of failing (500).
 */
/** Characters of a filter text (cql2-text, or cql2-json sent as a string). */
export const MAX_FILTER_LENGTH = 100_000;
/** Nesting of operations, lists and intervals. */
export const MAX_FILTER_DEPTH = 100;
/** Nodes of the expression: operations, properties, literals and list values. */
export const MAX_FILTER_NODES = 10_000;
/** Arguments of one `and` or `or`. */
export const MAX_LOGICAL_ARGS = 256;
/** Values in the list of one `in`. */
export const MAX_IN_VALUES = 5_000;
/** Positions in all the geometry literals of a filter (and in an `intersects` geometry). */
export const MAX_GEOMETRY_POSITIONS = 100_000;

/** A filter beyond one of the limits above; `limit` names it (e.g. 'in values'). */
export class Cql2LimitError extends Cql2Error {
  constructor(
    message: string,
    readonly limit: string,
    position: number | null = null,
  ) {
    super(message, position);
    this.name = 'Cql2LimitError';
  }
}

/**
 * Positions in a GeoJSON geometry's coordinates (a Point has 1), counting nested
 * GeometryCollections. Iterative, so any nesting is safe.
 */
export function countPositions(geometry: unknown): number {
  let n = 0;
  const stack: unknown[] = [geometry];
  while (stack.length > 0) {
    const g = stack.pop();
    if (typeof g !== 'object' || g === null) continue;
    const o = g as { coordinates?: unknown; geometries?: unknown };
    if (Array.isArray(o.geometries)) for (const x of o.geometries) stack.push(x);
    const coords: unknown[] = [o.coordinates];
    while (coords.length > 0) {
      const c = coords.pop();
      if (!Array.isArray(c)) continue;
      if (c.length === 0 || !Array.isArray(c[0])) {
        if (c.length > 0) n++;
      } else for (const x of c) coords.push(x);
    }
  }
  return n;
}

/**
 * Check a parsed filter against the limits (MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_LOGICAL_ARGS,
 * MAX_IN_VALUES, MAX_GEOMETRY_POSITIONS); throws a Cql2LimitError naming the limit, what it allows
 * and what the filter has. Iterative: an AST of any depth is safe to check.
 */
export function checkCql2Limits(e: Cql2Expr): void {
  let nodes = 0;
  let positions = 0;
  const stack: [Cql2Expr, number][] = [[e, 1]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop() as [Cql2Expr, number];
    nodes++;
    if (typeof x !== 'object' || x === null) continue;
    const nests = Array.isArray(x) || 'op' in x || 'interval' in x;
    if (nests && depth > MAX_FILTER_DEPTH)
      throw new Cql2LimitError(`the filter nests deeper than ${MAX_FILTER_DEPTH} levels`, 'depth');
    if (Array.isArray(x)) {
      for (const y of x) stack.push([y, depth + 1]);
      continue;
    }
    if ('op' in x && Array.isArray(x.args)) {
      const op = x.op.toLowerCase();
      if ((op === 'and' || op === 'or') && x.args.length > MAX_LOGICAL_ARGS)
        throw new Cql2LimitError(
          `${op}: at most ${MAX_LOGICAL_ARGS} arguments, got ${x.args.length}`,
          'logical arguments',
        );
      if (op === 'in' && Array.isArray(x.args[1]) && x.args[1].length > MAX_IN_VALUES)
        throw new Cql2LimitError(`in: at most ${MAX_IN_VALUES} values, got ${x.args[1].length}`, 'in values');
      for (const y of x.args) stack.push([y, depth + 1]);
    } else if ('interval' in x && Array.isArray(x.interval)) {
      for (const y of x.interval) stack.push([y, depth + 1]);
    } else if ('type' in x && typeof x.type === 'string') {
      positions += countPositions(x);
      if (positions > MAX_GEOMETRY_POSITIONS)
        throw new Cql2LimitError(
          `geometry literals: at most ${MAX_GEOMETRY_POSITIONS} positions in all, got ${positions}`,
          'geometry positions',
        );
    }
  }
  if (nodes > MAX_FILTER_NODES)
    throw new Cql2LimitError(`at most ${MAX_FILTER_NODES} nodes, got ${nodes}`, 'nodes');
}
