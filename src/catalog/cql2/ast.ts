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
