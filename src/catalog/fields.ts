/**
 * The STAC API fields extension (v1.0.0, "Include/Exclude Semantics"): which fields of an item a
 * search returns. `include` undefined means the client did not send it ("missing"), which differs
 * from null or empty: with only `exclude` given, a missing include returns ALL the item's fields
 * but the excluded ones, a null or empty include the DEFAULT fields but the excluded ones.
 */
export interface FieldsSelection {
  include?: string[];
  exclude: string[];
}

/** The default fields: the ones a valid STAC item needs (plus `collection`, which its links use). */
export const DEFAULT_FIELDS = [
  'type',
  'stac_version',
  'id',
  'collection',
  'geometry',
  'bbox',
  'links',
  'assets',
  'properties.datetime',
];

/** Top-level fields of an item; any other name is read as a property (`datetime` = `properties.datetime`). */
const TOP_LEVEL = new Set([
  'type',
  'stac_version',
  'stac_extensions',
  'id',
  'collection',
  'geometry',
  'bbox',
  'properties',
  'links',
  'assets',
]);

/** A field name as a dotted path from the item's root: properties may be named without `properties.`. */
export function fieldPath(name: string): string {
  const head = name.split('.', 1)[0];
  return TOP_LEVEL.has(head) ? name : `properties.${name}`;
}

type Rule = 'include' | 'exclude';
const OMIT = Symbol('omit');

/**
 * The fields of `doc` a search returns, by the extension's rules: no `fields`, the whole item; an
 * empty selection (`fields=`, `{}`, null or empty lists), the DEFAULT fields; only `include`, only
 * those fields; `exclude` with include missing, ALL but those; with include null or empty, DEFAULT
 * but those. Where paths nest, the most specific path decides (include `properties`, exclude
 * `properties.foo`: every property but foo; exclude `properties`, include `properties.datetime`:
 * datetime alone in properties); the same path in both is included. Example:
 * `applyFields(item, { include: ['id'], exclude: [] })` is `{ id: item.id }`.
 */
export function applyFields<T extends Record<string, unknown>>(
  doc: T,
  fields: FieldsSelection | undefined,
): T {
  if (!fields) return doc;
  const rules = new Map<string, Rule>();
  const include = fields.include ?? [];
  let base: Rule = 'exclude';
  let includes = include;
  if (include.length === 0) {
    if (fields.exclude.length > 0 && fields.include === undefined) base = 'include';
    else {
      includes = [...DEFAULT_FIELDS];
      const props = doc.properties as Record<string, unknown> | undefined;
      if (props && props.datetime === null)
        includes.push('properties.start_datetime', 'properties.end_datetime');
    }
  }
  // A path the client both includes and excludes is included (§6); one of the defaults it excludes
  // is not (§4: DEFAULT but the excluded).
  const defaults = includes !== include;
  if (defaults) for (const p of includes) rules.set(p, 'include');
  for (const p of fields.exclude) rules.set(fieldPath(p), 'exclude');
  if (!defaults) for (const p of includes) rules.set(fieldPath(p), 'include');
  const parents = new Set<string>(['']);
  for (const p of rules.keys()) {
    const parts = p.split('.');
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join('.'));
  }
  const out = select(doc, '', base, rules, parents) as Record<string, unknown> | typeof OMIT;
  if (out === OMIT) return {} as T;
  // The links the server writes name the item's collection, so it comes with them.
  if ('links' in out && doc.collection !== undefined) out.collection = doc.collection;
  return out as T;
}

function select(
  v: unknown,
  path: string,
  inherited: Rule,
  rules: Map<string, Rule>,
  parents: Set<string>,
): unknown {
  const rule = (path && rules.get(path)) || inherited;
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && parents.has(path)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const r = select(x, path ? `${path}.${k}` : k, rule, rules, parents);
      if (r !== OMIT) out[k] = r;
    }
    return rule === 'include' || Object.keys(out).length > 0 ? out : OMIT;
  }
  return rule === 'include' ? v : OMIT;
}
