import { ValidationError } from '../errors.js';
import type { GeoJsonGeometry, StacCollection, StacItem } from './types.js';

/**
 * The catalog's own checks on write: what the STAC 1.0 item and collection schemas require (but
 * `links` and an item's `assets`, which the transaction extensions' write bodies may leave out), and
 * what sarbridge needs to index an item (a geometry, a datetime or a start/end range). Errors carry
 * the JSON pointer of the first bad member.
 */
export class InvalidDocumentError extends ValidationError {
  override readonly code: string = 'InvalidDocument';
  constructor(
    readonly pointer: string,
    problem: string,
  ) {
    super(`${pointer || '/'}: ${problem}`);
  }
}

const RFC3339 = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/;

/** Milliseconds of an RFC 3339 timestamp, or NaN. */
export function parseTimestamp(s: unknown): number {
  if (typeof s !== 'string' || !RFC3339.test(s)) return Number.NaN;
  return Date.parse(s.replace(' ', 'T'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function position(v: unknown, p: string): void {
  if (
    !Array.isArray(v) ||
    v.length < 2 ||
    v.length > 3 ||
    !v.every((c) => typeof c === 'number' && Number.isFinite(c))
  )
    throw new InvalidDocumentError(
      p,
      'must be a position [lon, lat] or [lon, lat, height] of finite numbers',
    );
  if (v[0] < -180 || v[0] > 180 || v[1] < -90 || v[1] > 90)
    throw new InvalidDocumentError(p, `[${v[0]}, ${v[1]}] is outside longitude -180..180 / latitude -90..90`);
}

function positions(v: unknown, p: string, min: number, ring: boolean): void {
  if (!Array.isArray(v) || v.length < min)
    throw new InvalidDocumentError(p, `must be an array of at least ${min} positions`);
  v.forEach((x, i) => {
    position(x, `${p}/${i}`);
  });
  if (ring) {
    const a = v[0] as number[];
    const b = v[v.length - 1] as number[];
    if (a[0] !== b[0] || a[1] !== b[1])
      throw new InvalidDocumentError(p, 'is not a closed ring (first and last positions differ)');
  }
}

/** A GeoJSON geometry (RFC 7946), checked member by member. */
export function checkGeometry(g: unknown, p: string): asserts g is GeoJsonGeometry {
  if (!isObject(g)) throw new InvalidDocumentError(p, 'must be a GeoJSON geometry object');
  const c = g.coordinates;
  const arr = (x: unknown, q: string) => {
    if (!Array.isArray(x)) throw new InvalidDocumentError(q, 'must be an array');
    return x;
  };
  switch (g.type) {
    case 'Point':
      position(c, `${p}/coordinates`);
      return;
    case 'MultiPoint':
      positions(c, `${p}/coordinates`, 1, false);
      return;
    case 'LineString':
      positions(c, `${p}/coordinates`, 2, false);
      return;
    case 'MultiLineString':
      arr(c, `${p}/coordinates`).forEach((l, i) => {
        positions(l, `${p}/coordinates/${i}`, 2, false);
      });
      return;
    case 'Polygon':
      if (arr(c, `${p}/coordinates`).length === 0)
        throw new InvalidDocumentError(`${p}/coordinates`, 'must hold at least one ring');
      (c as unknown[]).forEach((r, i) => {
        positions(r, `${p}/coordinates/${i}`, 4, true);
      });
      return;
    case 'MultiPolygon':
      arr(c, `${p}/coordinates`).forEach((poly, i) => {
        if (arr(poly, `${p}/coordinates/${i}`).length === 0)
          throw new InvalidDocumentError(`${p}/coordinates/${i}`, 'must hold at least one ring');
        (poly as unknown[]).forEach((r, j) => {
          positions(r, `${p}/coordinates/${i}/${j}`, 4, true);
        });
      });
      return;
    case 'GeometryCollection':
      arr(g.geometries, `${p}/geometries`).forEach((x, i) => {
        checkGeometry(x, `${p}/geometries/${i}`);
      });
      return;
    default:
      throw new InvalidDocumentError(
        `${p}/type`,
        `must be a GeoJSON geometry type, got ${JSON.stringify(g.type)}`,
      );
  }
}

/** [minLon, minLat, maxLon, maxLat] of a geometry. */
export function geometryBbox(g: GeoJsonGeometry): [number, number, number, number] {
  const b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (x: unknown): void => {
    if (Array.isArray(x) && typeof x[0] === 'number') {
      b[0] = Math.min(b[0], x[0]);
      b[1] = Math.min(b[1], x[1] as number);
      b[2] = Math.max(b[2], x[0]);
      b[3] = Math.max(b[3], x[1] as number);
    } else if (Array.isArray(x)) for (const y of x) visit(y);
  };
  if (g.type === 'GeometryCollection')
    for (const sub of g.geometries ?? []) {
      const s = geometryBbox(sub);
      b[0] = Math.min(b[0], s[0]);
      b[1] = Math.min(b[1], s[1]);
      b[2] = Math.max(b[2], s[2]);
      b[3] = Math.max(b[3], s[3]);
    }
  else visit(g.coordinates);
  return b;
}

function checkLinks(v: unknown, p: string): void {
  if (!Array.isArray(v)) throw new InvalidDocumentError(p, 'must be an array of links');
  v.forEach((l, i) => {
    if (!isObject(l)) throw new InvalidDocumentError(`${p}/${i}`, 'must be a link object');
    if (typeof l.href !== 'string' || l.href === '')
      throw new InvalidDocumentError(`${p}/${i}/href`, 'must be a non-empty string');
    if (typeof l.rel !== 'string' || l.rel === '')
      throw new InvalidDocumentError(`${p}/${i}/rel`, 'must be a non-empty string');
  });
}

const ID = /^[^/?#\s]{1,256}$/;

/**
 * Check an item for the catalog; returns it (with `links` and `assets` empty when absent: the server
 * makes an item's links itself, and the transaction extension's write bodies need neither) and its
 * indexed extent.
 */
export function validateItem(v: unknown): {
  item: StacItem;
  bbox: [number, number, number, number];
  start: number | null;
  end: number | null;
} {
  if (!isObject(v)) throw new InvalidDocumentError('', 'an item must be a JSON object');
  if (v.type !== 'Feature')
    throw new InvalidDocumentError('/type', `must be "Feature", got ${JSON.stringify(v.type)}`);
  if (typeof v.stac_version !== 'string')
    throw new InvalidDocumentError('/stac_version', 'must be a string such as "1.0.0"');
  if (
    v.stac_extensions !== undefined &&
    (!Array.isArray(v.stac_extensions) || !v.stac_extensions.every((e) => typeof e === 'string'))
  )
    throw new InvalidDocumentError('/stac_extensions', 'must be an array of schema URLs');
  if (typeof v.id !== 'string' || !ID.test(v.id))
    throw new InvalidDocumentError(
      '/id',
      'must be a string of 1-256 characters without /, ?, # or white space',
    );
  let bbox: [number, number, number, number];
  if (v.geometry === null) {
    if (v.bbox !== undefined)
      throw new InvalidDocumentError('/bbox', 'must be absent when the geometry is null');
    throw new InvalidDocumentError(
      '/geometry',
      'sarbridge indexes items by footprint: the geometry must not be null',
    );
  }
  checkGeometry(v.geometry, '/geometry');
  bbox = geometryBbox(v.geometry);
  if (v.bbox !== undefined) {
    const b = v.bbox;
    if (
      !Array.isArray(b) ||
      (b.length !== 4 && b.length !== 6) ||
      !b.every((x) => typeof x === 'number' && Number.isFinite(x))
    )
      throw new InvalidDocumentError('/bbox', 'must be 4 or 6 finite numbers');
    const [w, s, e, n] = b.length === 4 ? b : [b[0], b[1], b[3], b[4]];
    if (s > n) throw new InvalidDocumentError('/bbox', `south ${s} is greater than north ${n}`);
    bbox = [w, s, e, n];
  }
  if (!isObject(v.properties)) throw new InvalidDocumentError('/properties', 'must be an object');
  const props = v.properties;
  let start: number | null = null;
  let end: number | null = null;
  if (props.datetime === null) {
    start = parseTimestamp(props.start_datetime);
    end = parseTimestamp(props.end_datetime);
    if (Number.isNaN(start))
      throw new InvalidDocumentError(
        '/properties/start_datetime',
        'must be an RFC 3339 timestamp when datetime is null',
      );
    if (Number.isNaN(end))
      throw new InvalidDocumentError(
        '/properties/end_datetime',
        'must be an RFC 3339 timestamp when datetime is null',
      );
  } else {
    start = parseTimestamp(props.datetime);
    if (Number.isNaN(start))
      throw new InvalidDocumentError(
        '/properties/datetime',
        `must be an RFC 3339 timestamp or null, got ${JSON.stringify(props.datetime)}`,
      );
    end = start;
    for (const k of ['start_datetime', 'end_datetime'] as const)
      if (props[k] !== undefined && Number.isNaN(parseTimestamp(props[k])))
        throw new InvalidDocumentError(`/properties/${k}`, 'must be an RFC 3339 timestamp');
    if (props.start_datetime !== undefined) start = parseTimestamp(props.start_datetime);
    if (props.end_datetime !== undefined) end = parseTimestamp(props.end_datetime);
  }
  if ((start as number) > (end as number))
    throw new InvalidDocumentError('/properties/end_datetime', 'is before start_datetime');
  if (v.links !== undefined) checkLinks(v.links, '/links');
  if (v.assets !== undefined && !isObject(v.assets))
    throw new InvalidDocumentError('/assets', 'must be an object of assets');
  for (const [k, a] of Object.entries(v.assets ?? {})) {
    if (!isObject(a)) throw new InvalidDocumentError(`/assets/${k}`, 'must be an asset object');
    if (typeof a.href !== 'string' || a.href === '')
      throw new InvalidDocumentError(`/assets/${k}/href`, 'must be a non-empty string');
  }
  if (v.collection !== undefined && typeof v.collection !== 'string')
    throw new InvalidDocumentError('/collection', 'must be a string');
  const item = { ...v, links: v.links ?? [], assets: v.assets ?? {} } as unknown as StacItem;
  return { item, bbox, start, end };
}

/** Check a collection for the catalog; returns it with `links` empty when absent (the server adds its own). */
export function validateCollection(v: unknown): StacCollection {
  if (!isObject(v)) throw new InvalidDocumentError('', 'a collection must be a JSON object');
  if (v.type !== 'Collection')
    throw new InvalidDocumentError('/type', `must be "Collection", got ${JSON.stringify(v.type)}`);
  if (typeof v.stac_version !== 'string')
    throw new InvalidDocumentError('/stac_version', 'must be a string such as "1.0.0"');
  if (typeof v.id !== 'string' || !ID.test(v.id))
    throw new InvalidDocumentError(
      '/id',
      'must be a string of 1-256 characters without /, ?, # or white space',
    );
  if (typeof v.description !== 'string') throw new InvalidDocumentError('/description', 'must be a string');
  if (typeof v.license !== 'string')
    throw new InvalidDocumentError('/license', 'must be a string (an SPDX id, "various" or "proprietary")');
  if (!isObject(v.extent))
    throw new InvalidDocumentError('/extent', 'must be an object with spatial and temporal extents');
  const sp = v.extent.spatial;
  if (!isObject(sp) || !Array.isArray(sp.bbox) || sp.bbox.length === 0)
    throw new InvalidDocumentError('/extent/spatial/bbox', 'must be an array of at least one bbox');
  sp.bbox.forEach((b, i) => {
    if (
      !Array.isArray(b) ||
      (b.length !== 4 && b.length !== 6) ||
      !b.every((x) => typeof x === 'number' && Number.isFinite(x))
    )
      throw new InvalidDocumentError(`/extent/spatial/bbox/${i}`, 'must be 4 or 6 finite numbers');
  });
  const tp = v.extent.temporal;
  if (!isObject(tp) || !Array.isArray(tp.interval) || tp.interval.length === 0)
    throw new InvalidDocumentError('/extent/temporal/interval', 'must be an array of at least one interval');
  tp.interval.forEach((iv, i) => {
    if (!Array.isArray(iv) || iv.length !== 2)
      throw new InvalidDocumentError(`/extent/temporal/interval/${i}`, 'must be [start, end]');
    iv.forEach((t, j) => {
      if (t !== null && Number.isNaN(parseTimestamp(t)))
        throw new InvalidDocumentError(
          `/extent/temporal/interval/${i}/${j}`,
          'must be an RFC 3339 timestamp or null',
        );
    });
  });
  if (v.links !== undefined) checkLinks(v.links, '/links');
  return { ...v, links: v.links ?? [] } as unknown as StacCollection;
}
