import { SUPPORTED_OPS } from './cql2/sql.js';
import type { QueryableType, ScalarType } from './cql2/typed.js';
import { INDEXED_PROPERTIES } from './sqlite/store.js';

const str = { type: 'string' };

/**
 * The queryables: each property a filter (CQL2 or the query extension) can name, with its JSON
 * Schema. The schema's type is also the type the parser compares the property's values by (a
 * literal of another type is converted when it converts exactly, else the search answers 400).
 */
const QUERYABLES: Record<string, Record<string, unknown>> = {
  id: { description: 'Item id', type: 'string' },
  collection: { description: 'Collection id', type: 'string' },
  datetime: { description: 'Acquisition time', type: 'string', format: 'date-time' },
  geometry: { description: 'Footprint', $ref: 'https://geojson.org/schema/Geometry.json' },
  platform: str,
  constellation: str,
  'sar:instrument_mode': str,
  'sar:product_type': str,
  'sar:frequency_band': { type: 'string', enum: ['P', 'L', 'S', 'C', 'X', 'Ku', 'K', 'Ka'] },
  'sar:polarizations': { type: 'array', items: str },
  'sar:observation_direction': { type: 'string', enum: ['left', 'right'] },
  'sar:resolution_range': { type: 'number' },
  'sar:looks_equivalent_number': { type: 'number' },
  'sat:orbit_state': { type: 'string', enum: ['ascending', 'descending', 'geostationary'] },
  'sat:relative_orbit': { type: 'integer' },
  'sat:absolute_orbit': { type: 'integer' },
  'view:incidence_angle': { type: 'number' },
  'processing:level': str,
};

const SCALARS: readonly string[] = ['string', 'number', 'integer', 'boolean'];

/** A JSON Schema's scalar type, or undefined for a time, a geometry or anything else. */
function scalar(schema: Record<string, unknown> | undefined): ScalarType | undefined {
  if (!schema || schema.format !== undefined) return undefined;
  return SCALARS.includes(schema.type as string) ? (schema.type as ScalarType) : undefined;
}

const TYPES = new Map<string, QueryableType>();
for (const [name, schema] of Object.entries(QUERYABLES)) {
  if (schema.type === 'array') {
    const items = scalar(schema.items as Record<string, unknown> | undefined);
    if (items) TYPES.set(name, { type: 'array', items });
  } else {
    const type = scalar(schema);
    if (type) TYPES.set(name, { type });
  }
}

/**
 * The type values of a queryable compare by, from its JSON Schema; undefined for a property that is
 * not a queryable and for datetime and geometry (the filter translation treats those itself).
 * Example: `queryableType('sat:relative_orbit')` is `{ type: 'integer' }`.
 */
export function queryableType(name: string): QueryableType | undefined {
  return TYPES.get(name);
}

/** The JSON Schema of the properties a filter can use. */
export function queryablesSchema(b: string, collection?: string): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2019-09/schema',
    $id: collection ? `${b}/collections/${collection}/queryables` : `${b}/queryables`,
    type: 'object',
    title: collection ? `Queryables of ${collection}` : 'Queryables',
    description: `Indexed: id, collection, datetime, geometry, ${INDEXED_PROPERTIES.join(', ')}. Operators: ${SUPPORTED_OPS.join(', ')}.`,
    properties: structuredClone(QUERYABLES),
    additionalProperties: true,
  };
}
