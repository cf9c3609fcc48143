/**
 * A subscription: an organisation's standing question "tell me when this appears here". It holds an
 * area (GeoJSON Polygon or MultiPolygon, lon/lat), the event types, per-type options, an optional
 * CQL2 filter over the item's properties, and optionally a webhook endpoint (without one it feeds
 * the SSE stream only). validateSubscriptionInput checks what a partner sends and throws
 * ValidationError naming the field.
 */

import type { Cql2Expr } from '../catalog/cql2/ast.js';
import { typeLiterals } from '../catalog/cql2/typed.js';
import { queryableType } from '../catalog/queryables.js';
import { parseFilter } from '../catalog/search-params.js';
import { ValidationError } from '../errors.js';
import { type AlertEventType, EVENT_TYPES } from './types.js';

export const SUBSCRIPTION_STATES = ['active', 'paused', 'disabled'] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/** Most positions an area may have. */
export const MAX_AREA_VERTICES = 10_000;
/** Largest area, km² (about half of Asia; the whole Earth is 5.1e8 km²). */
export const MAX_AREA_KM2 = 5e6;
export const MAX_NAME_LENGTH = 200;
export const MAX_FILTER_TEXT = 10_000;

export interface AreaGeometry {
  type: 'Polygon' | 'MultiPolygon';
  coordinates: number[][][] | number[][][][];
}

export interface SubscriptionOptions {
  /** vessel.detected: only vessels without an AIS match (`dark: true`). */
  darkOnly?: boolean;
  /** change.detected: only change areas of at least this many m². */
  minAreaM2?: number;
  /** change.detected: only change areas whose |mean dB change| is at least this. */
  minAbsDb?: number;
}

export interface Subscription {
  id: string;
  orgId: string;
  /** The principal that created it ('user:<id>' or 'client:<id>'). */
  principalId: string;
  /** Why it is disabled (e.g. the endpoint answered 410), when it is. */
  disabledReason: string | null;
  name: string | null;
  area: AreaGeometry;
  eventTypes: AlertEventType[];
  options: SubscriptionOptions;
  /** The filter as given (text or JSON) and its language; null: none. */
  filter: string | Record<string, unknown> | null;
  filterLang: 'cql2-text' | 'cql2-json' | null;
  webhookUrl: string | null;
  /** Live signing secrets, newest first (two during a rotation's grace period). */
  secrets: { secret: string; expiresAt: string | null }[];
  state: SubscriptionState;
  createdAt: string;
  updatedAt: string;
}

/** What a partner sends on create (every field) or update (any field). */
export interface SubscriptionInput {
  name?: string | null;
  area: AreaGeometry;
  eventTypes: AlertEventType[];
  options: SubscriptionOptions;
  filter: string | Record<string, unknown> | null;
  filterLang: 'cql2-text' | 'cql2-json' | null;
  webhookUrl: string | null;
}

const bad = (field: string, msg: string): never => {
  throw new ValidationError(`${field}: ${msg}`);
};

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const FIELDS = ['name', 'area', 'eventTypes', 'options', 'filter', 'filterLang', 'webhookUrl'];

/** Checks a create body (partial: an update's body, only the fields given). */
export function validateSubscriptionInput(body: unknown, partial = false): Partial<SubscriptionInput> {
  if (!isObj(body)) return bad('body', 'expected a JSON object');
  for (const k of Object.keys(body))
    if (!FIELDS.includes(k)) bad(k, `unknown field (expected one of ${FIELDS.join(', ')})`);
  const out: Partial<SubscriptionInput> = {};
  if (body.name !== undefined) {
    if (body.name !== null && (typeof body.name !== 'string' || body.name.length > MAX_NAME_LENGTH))
      bad('name', `expected a string of at most ${MAX_NAME_LENGTH} characters`);
    out.name = body.name as string | null;
  }
  if (body.area !== undefined || !partial) out.area = checkArea(body.area);
  if (body.eventTypes !== undefined || !partial) out.eventTypes = checkEventTypes(body.eventTypes);
  if (body.options !== undefined || !partial) out.options = checkOptions(body.options ?? {});
  if (body.filter !== undefined || body.filterLang !== undefined || !partial) {
    const f = checkFilter(body.filter ?? null, body.filterLang ?? null);
    out.filter = f.filter;
    out.filterLang = f.filterLang;
  }
  if (body.webhookUrl !== undefined || !partial) {
    const u = body.webhookUrl ?? null;
    if (u !== null && (typeof u !== 'string' || u.length === 0 || u.length > 2048))
      bad('webhookUrl', 'expected an absolute URL of at most 2048 characters, or null');
    out.webhookUrl = u as string | null;
  }
  return out;
}

export function checkEventTypes(v: unknown): AlertEventType[] {
  if (!Array.isArray(v) || v.length === 0)
    return bad('eventTypes', `expected a non-empty array of ${EVENT_TYPES.join(', ')}`);
  for (const t of v)
    if (!EVENT_TYPES.includes(t as AlertEventType))
      bad('eventTypes', `unknown event type ${JSON.stringify(t)} (expected ${EVENT_TYPES.join(', ')})`);
  return [...new Set(v as AlertEventType[])];
}

export function checkOptions(v: unknown): SubscriptionOptions {
  if (!isObj(v)) return bad('options', 'expected an object');
  const out: SubscriptionOptions = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'darkOnly') {
      if (typeof x !== 'boolean') bad('options.darkOnly', 'expected true or false');
      out.darkOnly = x as boolean;
    } else if (k === 'minAreaM2' || k === 'minAbsDb') {
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
        bad(`options.${k}`, 'expected a finite number >= 0');
      out[k] = x as number;
    } else bad(`options.${k}`, 'unknown option (expected darkOnly, minAreaM2, minAbsDb)');
  }
  return out;
}

/** The filter parsed (text or JSON); every property it names must be a catalog queryable. */
export function checkFilter(
  filter: unknown,
  lang: unknown,
): {
  filter: string | Record<string, unknown> | null;
  filterLang: 'cql2-text' | 'cql2-json' | null;
  expr: Cql2Expr | undefined;
} {
  if (filter === null) {
    if (lang !== null) bad('filterLang', 'given without a filter');
    return { filter: null, filterLang: null, expr: undefined };
  }
  if (typeof filter === 'string' && filter.length > MAX_FILTER_TEXT)
    bad('filter', `at most ${MAX_FILTER_TEXT} characters, got ${filter.length}`);
  if (typeof filter !== 'string' && !isObj(filter))
    bad('filter', 'expected CQL2 text (a string) or CQL2 JSON (an object)');
  if (lang !== null && lang !== 'cql2-text' && lang !== 'cql2-json')
    bad('filterLang', 'expected cql2-text or cql2-json');
  const filterLang = (lang ?? (typeof filter === 'string' ? 'cql2-text' : 'cql2-json')) as
    | 'cql2-text'
    | 'cql2-json';
  let expr: Cql2Expr | undefined;
  try {
    expr = parseFilter(filter, filterLang);
  } catch (err) {
    if (err instanceof ValidationError) bad('filter', err.message.replace(/^filter: /, ''));
    throw err;
  }
  try {
    expr = expr === undefined ? undefined : typeLiterals(expr, queryableType);
  } catch (err) {
    if (err instanceof Error) bad('filter', err.message);
    throw err;
  }
  for (const p of propertiesOf(expr)) {
    if (!QUERYABLE_SPECIAL.has(p) && queryableType(p) === undefined)
      bad('filter', `property ${JSON.stringify(p)} is not a queryable of the catalog (see /queryables)`);
  }
  return { filter: filter as string | Record<string, unknown>, filterLang, expr };
}

const QUERYABLE_SPECIAL = new Set(['id', 'collection', 'datetime', 'geometry']);

function propertiesOf(e: Cql2Expr | undefined, out = new Set<string>()): Set<string> {
  if (e === null || e === undefined || typeof e !== 'object') return out;
  if (Array.isArray(e)) {
    for (const x of e) propertiesOf(x, out);
    return out;
  }
  if ('property' in e && typeof e.property === 'string') out.add(e.property);
  if ('args' in e && Array.isArray(e.args)) propertiesOf(e.args, out);
  if ('interval' in e && Array.isArray(e.interval)) propertiesOf(e.interval, out);
  return out;
}

/** The area checked: a Polygon or MultiPolygon with closed rings of 4+ valid lon/lat positions, bounded in size. */
export function checkArea(v: unknown): AreaGeometry {
  if (!isObj(v)) return bad('area', 'expected a GeoJSON Polygon or MultiPolygon');
  if (v.type !== 'Polygon' && v.type !== 'MultiPolygon')
    bad('area', `expected a GeoJSON Polygon or MultiPolygon, got type ${JSON.stringify(v.type)}`);
  const polys = (v.type === 'Polygon' ? [v.coordinates] : v.coordinates) as unknown;
  if (!Array.isArray(polys) || polys.length === 0) bad('area.coordinates', 'expected at least one polygon');
  let vertices = 0;
  let areaKm2 = 0;
  (polys as unknown[]).forEach((poly, pi) => {
    const where = v.type === 'Polygon' ? 'area.coordinates' : `area.coordinates[${pi}]`;
    if (!Array.isArray(poly) || poly.length === 0) bad(where, 'expected an array of linear rings');
    (poly as unknown[]).forEach((ring, ri) => {
      const w = `${where}[${ri}]`;
      if (!Array.isArray(ring) || ring.length < 4) bad(w, 'a linear ring needs at least 4 positions');
      for (const [k, pos] of (ring as unknown[]).entries()) {
        if (
          !Array.isArray(pos) ||
          pos.length < 2 ||
          pos.length > 3 ||
          !pos.every((x) => typeof x === 'number' && Number.isFinite(x))
        )
          bad(`${w}[${k}]`, 'expected [lon, lat] numbers');
        const [lon, lat] = pos as number[];
        if ((lon as number) < -180 || (lon as number) > 180 || (lat as number) < -90 || (lat as number) > 90)
          bad(`${w}[${k}]`, `position [${lon}, ${lat}] outside lon -180..180, lat -90..90`);
      }
      vertices += (ring as unknown[]).length;
      if (vertices > MAX_AREA_VERTICES) bad('area', `more than ${MAX_AREA_VERTICES} positions`);
      const first = (ring as number[][])[0] as number[];
      const last = (ring as number[][])[(ring as unknown[]).length - 1] as number[];
      if (first[0] !== last[0] || first[1] !== last[1])
        bad(w, 'the ring is not closed (first and last positions differ)');
      const a = ringAreaKm2(ring as number[][]);
      if (a === 0) bad(w, 'the ring has no area');
      areaKm2 += ri === 0 ? Math.abs(a) : -Math.abs(a);
    });
  });
  if (areaKm2 > MAX_AREA_KM2)
    bad('area', `${Math.round(areaKm2)} km², more than the ${MAX_AREA_KM2} km² allowed`);
  return { type: v.type as AreaGeometry['type'], coordinates: v.coordinates as AreaGeometry['coordinates'] };
}

/** Signed spherical area of a lon/lat ring, km² (Chamberlain and Duquette, as turf and d3 use). */
export function ringAreaKm2(ring: number[][]): number {
  const R = 6378.137;
  const rad = Math.PI / 180;
  let s = 0;
  for (let i = 0; i < ring.length - 1; i++) {
    const [l1, p1] = ring[i] as number[];
    const [l2, p2] = ring[i + 1] as number[];
    s +=
      ((l2 as number) - (l1 as number)) *
      rad *
      (2 + Math.sin((p1 as number) * rad) + Math.sin((p2 as number) * rad));
  }
  return (s * R * R) / 2;
}
