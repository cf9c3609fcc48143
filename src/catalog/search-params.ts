import { ValidationError } from '../errors.js';
import type { Cql2Expr } from './cql2/ast.js';
import {
  Cql2Error,
  Cql2LimitError,
  checkCql2Limits,
  countPositions,
  MAX_FILTER_LENGTH,
  MAX_GEOMETRY_POSITIONS,
} from './cql2/ast.js';
import { parseCql2Json } from './cql2/json.js';
import { parseCql2Text } from './cql2/text.js';
import type { GeoJsonGeometry, SearchParams, SortField } from './types.js';
import { checkGeometry, InvalidDocumentError, parseTimestamp } from './validate.js';

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 10_000;

/**
 * Limits on the size of a search, far above what STAC clients send (pystac-client, STAC Browser
 * and QGIS send a handful of ids or collections and fields) and low enough that each search's SQL
 * stays within SQLite's 32,766 variables and PostgreSQL's 65,535 parameters together with the
 * filter's own limits (MAX_FILTER_NODES and the others in cql2/ast.ts). A larger search answers
 * 400 with a SearchLimitError naming the parameter, the limit and what was sent.
 */
/** Values of `ids`. */
export const MAX_IDS = 5_000;
/** Values of `collections`. */
export const MAX_COLLECTIONS = 1_000;
/** Names in `fields` (include and exclude together). */
export const MAX_FIELDS = 100;
/** Positions of the `intersects` geometry (all its rings and parts). */
export const MAX_INTERSECTS_POSITIONS = MAX_GEOMETRY_POSITIONS;

/** A bad search parameter (HTTP 400), naming the parameter. */
export class BadParameterError extends ValidationError {
  override readonly code: string = 'InvalidParameterValue';
}

/** A filter that does not parse (HTTP 400), with the position of the error. */
export class FilterSyntaxError extends ValidationError {
  override readonly code: string = 'InvalidFilter';
}

/** A search beyond one of the size limits (HTTP 400), naming the parameter, the limit and the size. */
export class SearchLimitError extends BadParameterError {
  override readonly code: string = 'LimitExceeded';
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter}: ${message}`);
  }
}

function list(name: string, v: unknown, max: number): string[] | undefined {
  if (v === undefined) return undefined;
  const arr = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (Array.isArray(arr) && arr.length > max)
    throw new SearchLimitError(name, `at most ${max} values, got ${arr.length}`);
  if (!Array.isArray(arr) || arr.length === 0 || !arr.every((s) => typeof s === 'string' && s !== ''))
    throw new BadParameterError(`${name} must be a non-empty list of strings`);
  return arr as string[];
}

/** A decimal number as text: digits, one optional point, an optional exponent; no hex, no 'Infinity'. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A positive integer parameter: a JSON integer, or text of decimal digits only (no sign, hex,
 * exponent, fraction or spaces: '0x10', '1e1', '16.0', '+16' and ' 16' are refused), at most `max`.
 */
export function parseInteger(name: string, v: unknown, max: number): number {
  const digits = typeof v === 'string' && /^\d+$/.test(v);
  const n = typeof v === 'number' ? v : digits ? Number(v) : Number.NaN;
  const shown = typeof v === 'string' ? `'${clip(v)}'` : clip(String(JSON.stringify(v)));
  if (n > max || (digits && !Number.isSafeInteger(n)))
    throw new BadParameterError(`${name} ${digits ? clip(v as string) : n} is above the maximum of ${max}`);
  if (!Number.isInteger(n) || n < 1)
    throw new BadParameterError(`${name} must be a positive integer in decimal digits, got ${shown}`);
  return n;
}

/** A value as quoted in a message: at most 40 characters. */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export function parseBbox(v: unknown): [number, number, number, number] | undefined {
  if (v === undefined) return undefined;
  const nums =
    typeof v === 'string' ? v.split(',').map((s) => (DECIMAL.test(s.trim()) ? Number(s) : Number.NaN)) : v;
  if (
    !Array.isArray(nums) ||
    (nums.length !== 4 && nums.length !== 6) ||
    !nums.every((x) => typeof x === 'number' && Number.isFinite(x))
  )
    throw new BadParameterError('bbox must be 4 (or 6) numbers: west,south,east,north');
  const [w, s, e, n] = nums.length === 6 ? [nums[0], nums[1], nums[3], nums[4]] : (nums as number[]);
  if (w < -180 || e > 180 || s < -90 || n > 90)
    throw new BadParameterError(
      `bbox [${w}, ${s}, ${e}, ${n}] is outside longitude -180..180 / latitude -90..90`,
    );
  if (s > n) throw new BadParameterError(`bbox south ${s} is greater than north ${n}`);
  if (w > e)
    throw new BadParameterError(
      `bbox west ${w} is greater than east ${e} (boxes across the antimeridian: search its two halves)`,
    );
  return [w, s, e, n];
}

/** A datetime or an interval 'start/end' with '..' or '' for open ends, in milliseconds. */
export function parseDatetime(v: unknown): { start: number | null; end: number | null } | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new BadParameterError('datetime must be an RFC 3339 timestamp or interval');
  const parts = v.split('/');
  if (parts.length > 2) throw new BadParameterError(`datetime '${v}' has more than one '/'`);
  const one = (s: string, name: string): number | null => {
    if (s === '..' || s === '') return null;
    const ms = parseTimestamp(s);
    if (Number.isNaN(ms)) throw new BadParameterError(`datetime ${name} '${s}' is not an RFC 3339 timestamp`);
    return ms;
  };
  if (parts.length === 1) {
    const t = one(parts[0], 'value');
    if (t === null) throw new BadParameterError("datetime '..' needs an interval: '../end' or 'start/..'");
    return { start: t, end: t };
  }
  const start = one(parts[0], 'start');
  const end = one(parts[1], 'end');
  if (start === null && end === null)
    throw new BadParameterError("datetime interval '../..' is open at both ends");
  if (start !== null && end !== null && start > end)
    throw new BadParameterError(`datetime interval '${v}' ends before it starts`);
  return { start, end };
}

function parseSortby(v: unknown): SortField[] {
  if (v === undefined) return [{ field: 'datetime', direction: 'desc' }];
  let fields: SortField[];
  if (typeof v === 'string') {
    fields = v.split(',').map((s) => {
      const t = s.trim();
      if (t.startsWith('-')) return { field: t.slice(1), direction: 'desc' as const };
      return { field: t.replace(/^\+/, ''), direction: 'asc' as const };
    });
  } else if (Array.isArray(v)) {
    fields = v.map((f, i) => {
      if (typeof f !== 'object' || f === null || typeof (f as SortField).field !== 'string')
        throw new BadParameterError(`sortby[${i}] must be {"field": ..., "direction": "asc" | "desc"}`);
      const dir = (f as SortField).direction ?? 'asc';
      if (dir !== 'asc' && dir !== 'desc')
        throw new BadParameterError(`sortby[${i}].direction must be asc or desc`);
      return { field: (f as SortField).field, direction: dir };
    });
  } else throw new BadParameterError('sortby must be a list of fields');
  if (fields.length === 0 || fields.length > 4 || fields.some((f) => !/^[A-Za-z0-9_:.]+$/.test(f.field)))
    throw new BadParameterError('sortby takes 1 to 4 field names');
  return fields;
}

function parseFields(v: unknown): { include: string[]; exclude: string[] } | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    const include: string[] = [];
    const exclude: string[] = [];
    const names = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (names.length > MAX_FIELDS)
      throw new SearchLimitError('fields', `at most ${MAX_FIELDS} names, got ${names.length}`);
    for (const s of names) {
      if (s.startsWith('-')) exclude.push(s.slice(1));
      else include.push(s.replace(/^\+/, ''));
    }
    return { include, exclude };
  }
  if (typeof v === 'object' && v !== null) {
    const o = v as { include?: unknown; exclude?: unknown };
    const include = list('fields.include', o.include, MAX_FIELDS) ?? [];
    const exclude = list('fields.exclude', o.exclude, MAX_FIELDS) ?? [];
    if (include.length + exclude.length > MAX_FIELDS)
      throw new SearchLimitError(
        'fields',
        `at most ${MAX_FIELDS} names, got ${include.length + exclude.length}`,
      );
    return { include, exclude };
  }
  throw new BadParameterError('fields must be a list or {include, exclude}');
}

/** The STAC query extension ({"prop": {"eq": v, ...}}) as CQL2. */
function queryToCql2(v: unknown): Cql2Expr | undefined {
  if (v === undefined) return undefined;
  let q = v;
  if (typeof q === 'string') {
    try {
      q = JSON.parse(q);
    } catch {
      throw new BadParameterError('query must be a JSON object');
    }
  }
  if (typeof q !== 'object' || q === null || Array.isArray(q))
    throw new BadParameterError('query must be a JSON object');
  const ops: Record<string, string> = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };
  const terms: Cql2Expr[] = [];
  for (const [prop, cond] of Object.entries(q as Record<string, unknown>)) {
    if (typeof cond !== 'object' || cond === null)
      throw new BadParameterError(`query.${prop} must be an object of operators`);
    for (const [op, val] of Object.entries(cond as Record<string, unknown>)) {
      const p = { property: prop };
      if (op in ops) terms.push({ op: ops[op], args: [p, val as Cql2Expr] });
      else if (op === 'in' && Array.isArray(val)) terms.push({ op: 'in', args: [p, val as Cql2Expr[]] });
      else if (op === 'startsWith' && typeof val === 'string')
        terms.push({ op: 'like', args: [p, `${likeEscape(val)}%`] });
      else if (op === 'endsWith' && typeof val === 'string')
        terms.push({ op: 'like', args: [p, `%${likeEscape(val)}`] });
      else if (op === 'contains' && typeof val === 'string')
        terms.push({ op: 'like', args: [p, `%${likeEscape(val)}%`] });
      else
        throw new BadParameterError(
          `query.${prop}.${op} is not a query operator (eq, neq, lt, lte, gt, gte, in, startsWith, endsWith, contains)`,
        );
    }
  }
  if (terms.length === 0) return undefined;
  const e: Cql2Expr = terms.length === 1 ? terms[0] : { op: 'and', args: terms };
  try {
    checkCql2Limits(e);
  } catch (err) {
    if (err instanceof Cql2LimitError)
      throw new SearchLimitError(
        'query',
        err.message.replace(/^and: at most (\d+) arguments/, 'at most $1 conditions'),
      );
    throw err;
  }
  return e;
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A filter from text or JSON, by filter-lang (cql2-text for strings, cql2-json for objects by default). */
export function parseFilter(v: unknown, lang: unknown): Cql2Expr | undefined {
  if (v === undefined) return undefined;
  const l = lang ?? (typeof v === 'string' ? 'cql2-text' : 'cql2-json');
  if (typeof v === 'string' && v.length > MAX_FILTER_LENGTH)
    throw new SearchLimitError('filter', `at most ${MAX_FILTER_LENGTH} characters, got ${v.length}`);
  try {
    if (l === 'cql2-text') {
      if (typeof v !== 'string')
        throw new BadParameterError('filter-lang cql2-text needs the filter as a string');
      return parseCql2Text(v);
    }
    if (l === 'cql2-json') {
      let doc = v;
      if (typeof v === 'string') {
        try {
          doc = JSON.parse(v);
        } catch (err) {
          throw new FilterSyntaxError(`filter is not JSON: ${(err as Error).message}`);
        }
      }
      return parseCql2Json(doc);
    }
  } catch (err) {
    if (err instanceof Cql2LimitError) throw new SearchLimitError('filter', err.message);
    if (err instanceof Cql2Error) throw new FilterSyntaxError(`filter: ${err.message}`);
    throw err;
  }
  throw new BadParameterError(`filter-lang must be cql2-text or cql2-json, got '${l}'`);
}

function andFilters(a: Cql2Expr | undefined, b: Cql2Expr | undefined): Cql2Expr | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { op: 'and', args: [a, b] };
}

/** Search parameters from a GET query string or a POST body (the same names; arrays in the body). */
export function parseSearch(raw: Record<string, unknown>, opts: { maxLimit?: number } = {}): SearchParams {
  const maxLimit = opts.maxLimit ?? MAX_LIMIT;
  const limit = raw.limit === undefined ? DEFAULT_LIMIT : parseInteger('limit', raw.limit, maxLimit);
  let intersects: GeoJsonGeometry | undefined;
  if (raw.intersects !== undefined) {
    let g = raw.intersects;
    if (typeof g === 'string') {
      try {
        g = JSON.parse(g);
      } catch {
        throw new BadParameterError('intersects must be a GeoJSON geometry');
      }
    }
    const positions = countPositions(g);
    if (positions > MAX_INTERSECTS_POSITIONS)
      throw new SearchLimitError(
        'intersects',
        `at most ${MAX_INTERSECTS_POSITIONS} positions, got ${positions} (simplify the geometry)`,
      );
    try {
      checkGeometry(g, '/intersects');
    } catch (err) {
      if (err instanceof InvalidDocumentError) throw new BadParameterError(`intersects ${err.message}`);
      throw err;
    }
    intersects = g as GeoJsonGeometry;
  }
  const bbox = parseBbox(raw.bbox);
  if (bbox && intersects) throw new BadParameterError('bbox and intersects cannot be used together');
  if (raw.token !== undefined && typeof raw.token !== 'string')
    throw new BadParameterError('token must be a string');
  return {
    collections: list('collections', raw.collections, MAX_COLLECTIONS),
    ids: list('ids', raw.ids, MAX_IDS),
    bbox,
    intersects,
    datetime: parseDatetime(raw.datetime),
    filter: andFilters(parseFilter(raw.filter, raw['filter-lang']), queryToCql2(raw.query)),
    sortby: parseSortby(raw.sortby),
    limit,
    token: raw.token as string | undefined,
    fields: parseFields(raw.fields),
  };
}
