import booleanIntersects from '@turf/boolean-intersects';
import { parseBbox } from '../catalog/search-params.js';
import { ValidationError } from '../errors.js';
import { bboxPolygon } from '../geo/geojson.js';
import { type AlertEvent, type AlertEventType, EVENT_TYPES } from './types.js';

/**
 * What one event stream asks for, besides what its scope lets it see: event types, collections and
 * an area (lon/lat box). Absent: everything.
 */
export interface StreamFilter {
  types: AlertEventType[] | null;
  collections: string[] | null;
  /** [west, south, east, north], degrees. */
  bbox: [number, number, number, number] | null;
}

/** Most collections one stream may name. */
export const MAX_STREAM_COLLECTIONS = 100;

type Query = Record<string, string | string[] | undefined>;

function once(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new ValidationError(`${name}: give it once, got ${v.length} values`);
  return v;
}

function list(q: Query, name: string): string[] | null {
  const v = once(q, name);
  if (v === undefined) return null;
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((s) => s === ''))
    throw new ValidationError(`${name}: expected a comma-separated list of names, got '${v.slice(0, 60)}'`);
  return [...new Set(parts)];
}

/**
 * The stream's filter from its query parameters `types=item.published,vessel.detected`,
 * `collections=a,b` and `bbox=w,s,e,n`. Bad values: a ValidationError naming the parameter.
 * @example parseStreamFilter({ types: 'vessel.detected', bbox: '4.5,43,5.2,43.6' })
 */
export function parseStreamFilter(q: Query): StreamFilter {
  const types = list(q, 'types');
  for (const t of types ?? [])
    if (!(EVENT_TYPES as readonly string[]).includes(t))
      throw new ValidationError(`types: expected some of ${EVENT_TYPES.join(', ')}, got '${t.slice(0, 60)}'`);
  const collections = list(q, 'collections');
  if (collections && collections.length > MAX_STREAM_COLLECTIONS)
    throw new ValidationError(
      `collections: at most ${MAX_STREAM_COLLECTIONS} collections, got ${collections.length}`,
    );
  const rawBbox = once(q, 'bbox');
  let bbox: [number, number, number, number] | null = null;
  if (rawBbox !== undefined) {
    try {
      bbox = parseBbox(rawBbox) ?? null;
    } catch (err) {
      throw new ValidationError(`bbox: ${(err as Error).message.replace(/^bbox /, '')}`);
    }
  }
  return { types: types as AlertEventType[] | null, collections, bbox };
}

/** Whether the event is one the filter asks for (its visibility is decided elsewhere, by the store). */
export function wants(f: StreamFilter, ev: AlertEvent): boolean {
  if (f.types && !f.types.includes(ev.type)) return false;
  if (f.collections && !f.collections.includes(ev.collection)) return false;
  if (f.bbox) {
    if (ev.geometry === null) return false;
    return booleanIntersects(bboxPolygon(f.bbox), ev.geometry as Parameters<typeof booleanIntersects>[1]);
  }
  return true;
}
