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
import { ANY_IN_OP } from './cql2/sql.js';
import { parseCql2Text } from './cql2/text.js';
import { Cql2TypeError, typeLiterals } from './cql2/typed.js';
import type { FieldsSelection } from './fields.js';
import { queryableType } from './queryables.js';
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

/**
 * A list of strings: an array, or (in a query string) comma-separated text; a POST body must send
 * an array (STAC API Item Search: ids and collections are JSON arrays of strings).
 */
function list(name: string, v: unknown, max: number, from: ParamSource): string[] | undefined {
  if (v === undefined) return undefined;
  if (from === 'body' && !Array.isArray(v))
    throw new BadParameterError(`${name} must be a JSON array of strings in a POST body, got ${jsonType(v)}`);
  const arr = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (Array.isArray(arr) && arr.length > max)
    throw new SearchLimitError(name, `at most ${max} values, got ${arr.length}`);
  if (!Array.isArray(arr) || arr.length === 0 || !arr.every((s) => typeof s === 'string' && s !== ''))
    throw new BadParameterError(`${name} must be a non-empty list of strings`);
  return arr as string[];
}

/** Where the parameters come from: a GET query string (all text) or a POST JSON body (typed). */
export type ParamSource = 'query' | 'body';

/** The JSON type of a value, as a message names it. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string '${clip(v)}'`;
  return typeof v === 'object' ? 'an object' : `the ${typeof v} ${clip(String(v))}`;
}

/** A decimal number as text: digits, one optional point, an optional exponent; no hex, no 'Infinity'. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A positive integer parameter: a JSON integer, or text of decimal digits only (no sign, hex,
 * exponent, fraction or spaces: '0x10', '1e1', '16.0', '+16' and ' 16' are refused). A value above
 * `max` is read as `max` (OGC API - Features, /req/core/fc-limit-response-1 C: a limit larger than
 * the maximum "SHALL NOT result in an error (instead use the maximum as the parameter value)").
 */
export function parseInteger(name: string, v: unknown, max: number): number {
  const digits = typeof v === 'string' && /^\d+$/.test(v);
  const n = typeof v === 'number' ? v : digits ? Number(v) : Number.NaN;
  const shown = typeof v === 'string' ? `'${clip(v)}'` : clip(String(JSON.stringify(v)));
  if (n > max && (digits || Number.isInteger(n))) return max;
  if (!Number.isInteger(n) || n < 1)
    throw new BadParameterError(`${name} must be a positive integer in decimal digits, got ${shown}`);
  return n;
}

/** A value as quoted in a message: at most 40 characters. */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export function parseBbox(
  v: unknown,
  from: ParamSource = 'query',
): [number, number, number, number] | undefined {
  if (v === undefined) return undefined;
  if (from === 'body' && !Array.isArray(v))
    throw new BadParameterError(
      `bbox must be a JSON array of 4 (or 6) numbers in a POST body, got ${jsonType(v)}`,
    );
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

function parseSortby(v: unknown, from: ParamSource): SortField[] {
  if (v === undefined) return [{ field: 'datetime', direction: 'desc' }];
  let fields: SortField[];
  if (typeof v === 'string' && from === 'body')
    throw new BadParameterError(
      `sortby must be a JSON array of {"field": ..., "direction": ...} in a POST body, got ${jsonType(v)}`,
    );
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

/**
 * The fields extension's selection. A query string's `fields` is a comma-separated list, `-name`
 * excluded, `name` or `+name` included; with no included names its include is empty (the text form
 * cannot tell missing from empty; the extension says to read it as empty). A body's `fields` is
 * null or an object whose `include` and `exclude` are each missing, null or an array of names.
 */
function parseFields(v: unknown, from: ParamSource): FieldsSelection | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && from === 'query') {
    const include: string[] = [];
    const exclude: string[] = [];
    const names = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (names.length > MAX_FIELDS)
      throw new SearchLimitError('fields', `at most ${MAX_FIELDS} names, got ${names.length}`);
    for (const s of names) {
      const name = s.startsWith('-') || s.startsWith('+') ? s.slice(1) : s;
      if (name === '') throw new BadParameterError(`fields: '${clip(s)}' names no field`);
      (s.startsWith('-') ? exclude : include).push(name);
    }
    return { include, exclude };
  }
  if (from === 'query' && (typeof v !== 'object' || v === null || Array.isArray(v)))
    throw new BadParameterError('fields must be one comma-separated list (give the parameter once)');
  if (v === null) return { include: [], exclude: [] };
  if (typeof v !== 'object' || Array.isArray(v))
    throw new BadParameterError(
      `fields must be a JSON object {"include": [...], "exclude": [...]} in a POST body, got ${jsonType(v)}`,
    );
  const o = v as { include?: unknown; exclude?: unknown };
  const extra = Object.keys(o).filter((k) => k !== 'include' && k !== 'exclude');
  if (extra.length > 0)
    throw new BadParameterError(`fields.${clip(extra[0])} is not a member of fields (include, exclude)`);
  const names = (name: string, x: unknown): string[] | undefined => {
    if (x === undefined) return undefined;
    if (x === null) return [];
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string' && s !== ''))
      throw new BadParameterError(`${name} must be null or a JSON array of field names, got ${jsonType(x)}`);
    return x as string[];
  };
  const include = names('fields.include', o.include);
  const exclude = names('fields.exclude', o.exclude) ?? [];
  const n = (include?.length ?? 0) + exclude.length;
  if (n > MAX_FIELDS) throw new SearchLimitError('fields', `at most ${MAX_FIELDS} names, got ${n}`);
  return include === undefined ? { exclude } : { include, exclude };
}

/**
 * The STAC query extension ({"prop": {"eq": v, ...}}) as CQL2. On an array queryable (e.g.
 * sar:polarizations) `in` matches when any element is in the list, `eq` when the array holds the
 * value and `neq` when it does not (ANY_IN_OP); the ordering and text operators do not apply.
 */
function queryToCql2(v: unknown, from: ParamSource): Cql2Expr | undefined {
  if (v === undefined) return undefined;
  let q = v;
  if (typeof q === 'string' && from === 'query') {
    try {
      q = JSON.parse(q);
    } catch {
      throw new BadParameterError('query must be a JSON object');
    }
  }
  if (typeof q !== 'object' || q === null || Array.isArray(q))
    throw new BadParameterError(
      from === 'body'
        ? `query must be a JSON object in a POST body, got ${jsonType(q)}`
        : 'query must be a JSON object',
    );
  const ops: Record<string, string> = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };
  const terms: Cql2Expr[] = [];
  for (const [prop, cond] of Object.entries(q as Record<string, unknown>)) {
    if (typeof cond !== 'object' || cond === null || Array.isArray(cond))
      throw new BadParameterError(`query.${prop} must be an object of operators`);
    const isArray = queryableType(prop)?.type === 'array';
    for (const [op, val] of Object.entries(cond as Record<string, unknown>)) {
      const p = { property: prop };
      const scalar = val === null || ['string', 'number', 'boolean'].includes(typeof val);
      if (isArray && (op === 'eq' || op === 'neq' || op === 'in')) {
        const list = op === 'in' ? val : [val];
        if (!Array.isArray(list) || list.length === 0 || (op !== 'in' && !scalar))
          throw new BadParameterError(
            `query.${prop}.${op}: ${prop} is an array; ${op} takes ${op === 'in' ? 'a non-empty list of values' : 'one value'} (matched against its elements)`,
          );
        const overlaps: Cql2Expr = { op: ANY_IN_OP, args: [p, list as Cql2Expr[]] };
        terms.push(
          op === 'neq'
            ? {
                op: 'and',
                args: [
                  { op: 'not', args: [{ op: 'isNull', args: [p] }] },
                  { op: 'not', args: [overlaps] },
                ],
              }
            : overlaps,
        );
      } else if (isArray)
        throw new BadParameterError(`query.${prop}.${op}: ${prop} is an array; it takes eq, neq and in`);
      else if (op in ops) {
        if (!scalar)
          throw new BadParameterError(`query.${prop}.${op} takes a single value, got ${jsonType(val)}`);
        terms.push({ op: ops[op], args: [p, val as Cql2Expr] });
      } else if (op === 'in' && Array.isArray(val) && val.length > 0)
        terms.push({ op: 'in', args: [p, val as Cql2Expr[]] });
      else if (op === 'startsWith' && typeof val === 'string')
        terms.push({ op: 'like', args: [p, `${likeEscape(val)}%`] });
      else if (op === 'endsWith' && typeof val === 'string')
        terms.push({ op: 'like', args: [p, `%${likeEscape(val)}`] });
      else if (op === 'contains' && typeof val === 'string')
        terms.push({ op: 'like', args: [p, `%${likeEscape(val)}%`] });
      else
        throw new BadParameterError(
          `query.${prop}.${op} is not a query operator (eq, neq, lt, lte, gt, gte, in, startsWith, endsWith, contains) with a value of its type`,
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
  return typed('query', e);
}

/** A filter with its literals converted to the queryables' types; a literal that does not convert is a 400 naming the parameter. */
function typed(name: 'filter' | 'query', e: Cql2Expr | undefined): Cql2Expr | undefined {
  if (e === undefined) return undefined;
  try {
    return typeLiterals(e, queryableType, name === 'query');
  } catch (err) {
    if (err instanceof Cql2TypeError) throw new BadParameterError(`${name}: ${err.message}`);
    throw err;
  }
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

/**
 * Search parameters from a GET query string (`from: 'query'`, text) or a POST body (`from: 'body'`,
 * where each parameter must have the JSON type STAC API Item Search gives it: bbox an array of
 * numbers, ids and collections arrays of strings, intersects a GeoJSON object, limit an integer,
 * fields and query objects, sortby an array).
 */
export function parseSearch(
  raw: Record<string, unknown>,
  opts: { maxLimit?: number; from?: ParamSource } = {},
): SearchParams {
  const maxLimit = opts.maxLimit ?? MAX_LIMIT;
  const from = opts.from ?? 'query';
  if (from === 'body' && typeof raw.limit === 'string')
    throw new BadParameterError(`limit must be a JSON integer in a POST body, got ${jsonType(raw.limit)}`);
  const limit = raw.limit === undefined ? DEFAULT_LIMIT : parseInteger('limit', raw.limit, maxLimit);
  let intersects: GeoJsonGeometry | undefined;
  if (raw.intersects !== undefined) {
    let g = raw.intersects;
    if (typeof g === 'string' && from === 'body')
      throw new BadParameterError(
        `intersects must be a GeoJSON geometry object in a POST body, got ${jsonType(g)}`,
      );
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
  const bbox = parseBbox(raw.bbox, from);
  if (bbox && intersects) throw new BadParameterError('bbox and intersects cannot be used together');
  if (raw.token !== undefined && typeof raw.token !== 'string')
    throw new BadParameterError('token must be a string');
  return {
    collections: list('collections', raw.collections, MAX_COLLECTIONS, from),
    ids: list('ids', raw.ids, MAX_IDS, from),
    bbox,
    intersects,
    datetime: parseDatetime(raw.datetime),
    filter: andFilters(
      typed('filter', parseFilter(raw.filter, raw['filter-lang'])),
      queryToCql2(raw.query, from),
    ),
    sortby: parseSortby(raw.sortby, from),
    limit,
    token: raw.token as string | undefined,
    fields: parseFields(raw.fields, from),
  };
}
