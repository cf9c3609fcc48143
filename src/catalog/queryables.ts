import { SUPPORTED_OPS } from './cql2/sql.js';
import { INDEXED_PROPERTIES } from './sqlite/store.js';

/** The JSON Schema of the properties a filter can use. */
export function queryablesSchema(b: string, collection?: string): Record<string, unknown> {
  const str = { type: 'string' };
  const props: Record<string, unknown> = {
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
  return {
    $schema: 'https://json-schema.org/draft/2019-09/schema',
    $id: collection ? `${b}/collections/${collection}/queryables` : `${b}/queryables`,
    type: 'object',
    title: collection ? `Queryables of ${collection}` : 'Queryables',
    description: `Indexed: id, collection, datetime, geometry, ${INDEXED_PROPERTIES.join(', ')}. Operators: ${SUPPORTED_OPS.join(', ')}.`,
    properties: props,
    additionalProperties: true,
  };
}
