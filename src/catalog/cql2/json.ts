import type { Cql2Expr } from './ast.js';
import { Cql2Error, Cql2LimitError, checkCql2Limits, MAX_FILTER_DEPTH, normaliseTimestamp } from './ast.js';

const GEOMETRY_TYPES = new Set([
  'Point',
  'LineString',
  'Polygon',
  'MultiPoint',
  'MultiLineString',
  'MultiPolygon',
  'GeometryCollection',
]);

function checkCoordinates(v: unknown, depth: number, path: string): void {
  if (depth === 0) {
    if (
      !Array.isArray(v) ||
      v.length < 2 ||
      v.length > 4 ||
      !v.every((c) => typeof c === 'number' && Number.isFinite(c))
    )
      throw new Cql2Error(`${path} must be a position of 2 or 3 numbers`);
    return;
  }
  if (!Array.isArray(v)) throw new Cql2Error(`${path} must be an array`);
  v.forEach((x, i) => {
    checkCoordinates(x, depth - 1, `${path}/${i}`);
  });
}

const NESTING: Record<string, number> = {
  Point: 0,
  LineString: 1,
  MultiPoint: 1,
  Polygon: 2,
  MultiLineString: 2,
  MultiPolygon: 3,
};

/**
 * Check a cql2-json expression (already parsed from JSON) and return it with timestamps normalised.
 * Errors name the JSON pointer of the bad member; a filter beyond the limits of ast.ts (depth,
 * nodes, list sizes) throws a Cql2LimitError.
 */
export function parseCql2Json(v: unknown): Cql2Expr {
  const e = parseNode(v, '', 0);
  checkCql2Limits(e);
  return e;
}

function parseNode(v: unknown, path: string, depth: number): Cql2Expr {
  if (depth > MAX_FILTER_DEPTH)
    throw new Cql2LimitError(`${path || '/'} nests deeper than ${MAX_FILTER_DEPTH} levels`, 'depth');
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Cql2Error(`${path || '/'} is not a finite number`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => parseNode(x, `${path}/${i}`, depth + 1));
  if (typeof v !== 'object') throw new Cql2Error(`${path || '/'} is not a CQL2 expression`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if ('op' in o) {
    if (typeof o.op !== 'string' || o.op === '') throw new Cql2Error(`${path}/op must be a non-empty string`);
    if (!Array.isArray(o.args)) throw new Cql2Error(`${path}/args must be an array`);
    const extra = keys.filter((k) => k !== 'op' && k !== 'args');
    if (extra.length > 0) throw new Cql2Error(`${path}/${extra[0]} is not a member of an operation`);
    return { op: o.op, args: o.args.map((x, i) => parseNode(x, `${path}/args/${i}`, depth + 1)) };
  }
  if (keys.length === 1 && 'property' in o) {
    if (typeof o.property !== 'string' || o.property === '')
      throw new Cql2Error(`${path}/property must be a non-empty string`);
    return { property: o.property };
  }
  if (keys.length === 1 && 'date' in o) {
    if (typeof o.date !== 'string' || !/^\d{4}-\d\d-\d\d$/.test(o.date))
      throw new Cql2Error(`${path}/date must be a date YYYY-MM-DD`);
    return { date: o.date };
  }
  if (keys.length === 1 && 'timestamp' in o) {
    if (typeof o.timestamp !== 'string' || Number.isNaN(Date.parse(o.timestamp)))
      throw new Cql2Error(`${path}/timestamp must be an RFC 3339 timestamp`);
    return { timestamp: normaliseTimestamp(o.timestamp) };
  }
  if (keys.length === 1 && 'interval' in o) {
    const iv = o.interval;
    if (!Array.isArray(iv) || iv.length !== 2) throw new Cql2Error(`${path}/interval must have two bounds`);
    const bound = (b: unknown, i: number): Cql2Expr => {
      if (typeof b === 'string') {
        if (b === '..' || /^\d{4}-\d\d-\d\d$/.test(b)) return b;
        if (Number.isNaN(Date.parse(b)))
          throw new Cql2Error(`${path}/interval/${i} must be a date, a timestamp or '..'`);
        return normaliseTimestamp(b);
      }
      return parseNode(b, `${path}/interval/${i}`, depth + 1);
    };
    return { interval: [bound(iv[0], 0), bound(iv[1], 1)] };
  }
  if (keys.length === 1 && 'bbox' in o) {
    const b = o.bbox;
    if (
      !Array.isArray(b) ||
      (b.length !== 4 && b.length !== 6) ||
      !b.every((x) => typeof x === 'number' && Number.isFinite(x))
    )
      throw new Cql2Error(`${path}/bbox must be 4 or 6 numbers`);
    return { bbox: b as number[] };
  }
  if (typeof o.type === 'string' && GEOMETRY_TYPES.has(o.type)) {
    if (o.type === 'GeometryCollection') {
      if (!Array.isArray(o.geometries)) throw new Cql2Error(`${path}/geometries must be an array`);
      return {
        type: 'GeometryCollection',
        geometries: o.geometries.map((g, i) => {
          const p = parseNode(g, `${path}/geometries/${i}`, depth + 1);
          if (p === null || typeof p !== 'object' || !('type' in p))
            throw new Cql2Error(`${path}/geometries/${i} must be a geometry`);
          return p as never;
        }),
      };
    }
    checkCoordinates(o.coordinates, NESTING[o.type], `${path}/coordinates`);
    return { type: o.type as 'Point', coordinates: o.coordinates };
  }
  throw new Cql2Error(`${path || '/'} is not a CQL2 expression (members: ${keys.join(', ') || 'none'})`);
}
