import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const SCHEMAS = join(import.meta.dirname, '..', '..', '..', 'shared', 'schemas', 'stac');
/** The GeoJSON schemas the STAC item schema refers to, from the geojson/schema project (npm geojson-schema). */
const GEOJSON = join(import.meta.dirname, '..', '..', 'node_modules', 'geojson-schema');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.json') ? [p] : [];
  });
}

/**
 * Validate a STAC item against the official STAC 1.0.0 item schema and the schema of every extension
 * it lists, all loaded offline (../shared/schemas and the GeoJSON schemas) under their $id.
 * Returns the error messages.
 */
export function validateStacItem(item: Record<string, unknown>): string[] {
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const byId = new Map<string, unknown>();
  for (const f of [...files(SCHEMAS), ...files(GEOJSON).filter((p) => !p.endsWith('package.json'))]) {
    const schema = JSON.parse(readFileSync(f, 'utf8')) as { $id?: string };
    if (!schema.$id) continue;
    ajv.addSchema(schema);
    byId.set(schema.$id.replace(/#$/, ''), schema);
  }
  // The projection extension refers to the PROJJSON schema for proj:projjson, which is not available
  // offline. sarbridge's items do not carry proj:projjson; the field is rejected outright so that a
  // placeholder can never pass an unvalidated PROJJSON.
  if ('proj:projjson' in ((item.properties as Record<string, unknown>) ?? {}))
    return ['proj:projjson is present but cannot be validated offline'];
  ajv.addSchema({ $id: 'https://proj.org/schemas/v0.7/projjson.schema.json' });
  const errors: string[] = [];
  const check = (id: string) => {
    const validate = ajv.getSchema(id) ?? ajv.getSchema(`${id}#`);
    if (!validate && id === PROJ_V1_2) {
      errors.push(...projectionV12(item, (doc) => validateWith(ajv, PROJ_V2, doc)));
      return;
    }
    if (!validate && id === ITEM_ASSETS) {
      errors.push(...itemAssetsErrors(ajv, item));
      return;
    }
    if (!validate) {
      errors.push(`no schema ${id} in shared/schemas`);
      return;
    }
    if (!validate(item))
      for (const e of validate.errors ?? []) errors.push(`${id}: ${e.instancePath} ${e.message}`);
  };
  check(
    item.type === 'Collection'
      ? 'https://schemas.stacspec.org/v1.0.0/collection-spec/json-schema/collection.json'
      : 'https://schemas.stacspec.org/v1.0.0/item-spec/json-schema/item.json',
  );
  for (const ext of (item.stac_extensions as string[]) ?? []) check(ext);
  return errors;
}

const PROJ_V1_2 = 'https://stac-extensions.github.io/projection/v1.2.0/schema.json';
const PROJ_V2 = 'https://stac-extensions.github.io/projection/v2.0.0/schema.json';

function validateWith(ajv: InstanceType<typeof Ajv.default>, id: string, doc: unknown): string[] {
  const validate = ajv.getSchema(id);
  if (!validate) return [`no schema ${id} in shared/schemas`];
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${id}: ${e.instancePath} ${e.message}`);
}

/**
 * Projection v1.2.0 is not in shared/schemas (only v2.0.0 is). Its changelog says v2.0.0 differs
 * from it only by removing the deprecated proj:epsg (integer or null in v1.2.0), so the item is
 * checked as: proj:epsg an integer or null wherever it appears, and the item without proj:epsg,
 * listing v2.0.0 instead, against the official v2.0.0 schema (items: properties and assets;
 * collections: assets and item_assets, the places the schema checks).
 */
function projectionV12(item: Record<string, unknown>, v2: (doc: unknown) => string[]): string[] {
  const errors: string[] = [];
  const strip = (o: unknown, at: string) => {
    if (typeof o !== 'object' || o === null) return o;
    const { 'proj:epsg': epsg, ...rest } = o as Record<string, unknown>;
    if (epsg !== undefined && epsg !== null && !Number.isInteger(epsg))
      errors.push(`${PROJ_V1_2}: ${at}/proj:epsg must be integer or null`);
    return rest;
  };
  const assets = (item.assets ?? {}) as Record<string, unknown>;
  const doc = {
    ...item,
    stac_extensions: ((item.stac_extensions as string[]) ?? []).map((u) => (u === PROJ_V1_2 ? PROJ_V2 : u)),
    properties: strip(item.properties, '/properties'),
    assets: Object.fromEntries(Object.entries(assets).map(([k, a]) => [k, strip(a, `/assets/${k}`)])),
    ...(item.item_assets
      ? {
          item_assets: Object.fromEntries(
            Object.entries(item.item_assets as Record<string, unknown>).map(([k, a]) => [
              k,
              strip(a, `/item_assets/${k}`),
            ]),
          ),
        }
      : {}),
  };
  return [...errors, ...v2(doc).map((e) => e.replace(PROJ_V2, PROJ_V1_2))];
}

const ITEM_ASSETS = 'https://stac-extensions.github.io/item-assets/v1.0.0/schema.json';

/**
 * The Item Assets extension (v1.0.0) is not in shared/schemas. Its rules, from its README and JSON
 * schema: the collection lists the extension and has `item_assets`, an object of asset objects each
 * with at least two fields, title, description and type strings, roles an array of strings.
 */
function itemAssetsErrors(ajv: InstanceType<typeof Ajv.default>, doc: Record<string, unknown>): string[] {
  const validate = ajv.compile({
    type: 'object',
    required: ['stac_extensions', 'item_assets'],
    properties: {
      stac_extensions: { type: 'array', contains: { const: ITEM_ASSETS } },
      item_assets: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          minProperties: 2,
          properties: {
            title: { type: 'string' },
            description: { type: 'string' },
            type: { type: 'string' },
            roles: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  });
  return validate(doc)
    ? []
    : (validate.errors ?? []).map((e) => `${ITEM_ASSETS}: ${e.instancePath} ${e.message}`);
}

/** Validate a STAC collection against the official STAC 1.0.0 collection schema (and its extensions). */
export function validateCollection(c: Record<string, unknown>): string[] {
  return validateStacItem(c);
}

/** Validate a GeoJSON FeatureCollection against the geojson/schema project's schema; returns the errors. */
export function validateFeatureCollection(doc: unknown): string[] {
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  const schema = JSON.parse(readFileSync(join(GEOJSON, 'FeatureCollection.json'), 'utf8'));
  const validate = ajv.compile(schema);
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
