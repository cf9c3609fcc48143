/**
 * The STAC API fields extension: keep the included paths (dotted, e.g. properties.datetime) and drop
 * the excluded ones; type, stac_version, id, geometry, bbox, links, assets and properties.datetime
 * stay unless excluded explicitly.
 */
export function applyFields<T extends Record<string, unknown>>(
  doc: T,
  fields: { include: string[]; exclude: string[] } | undefined,
): T {
  if (!fields || (fields.include.length === 0 && fields.exclude.length === 0)) return doc;
  let out: Record<string, unknown>;
  if (fields.include.length > 0) {
    const keep = [
      'type',
      'stac_version',
      'stac_extensions',
      'id',
      'collection',
      'geometry',
      'bbox',
      'links',
      'assets',
      'properties.datetime',
      ...fields.include,
    ];
    out = {};
    for (const path of keep) copyPath(doc, out, path.split('.'));
  } else out = structuredClone(doc);
  for (const path of fields.exclude) deletePath(out, path.split('.'));
  return out as T;
}

function copyPath(from: Record<string, unknown>, to: Record<string, unknown>, parts: string[]): void {
  const [head, ...rest] = parts;
  if (!(head in from)) return;
  if (rest.length === 0) {
    to[head] = from[head];
    return;
  }
  const sub = from[head];
  if (typeof sub !== 'object' || sub === null) return;
  const target = (to[head] ??= {}) as Record<string, unknown>;
  copyPath(sub as Record<string, unknown>, target, rest);
}

function deletePath(obj: Record<string, unknown>, parts: string[]): void {
  const [head, ...rest] = parts;
  if (rest.length === 0) {
    delete obj[head];
    return;
  }
  const sub = obj[head];
  if (typeof sub === 'object' && sub !== null) deletePath(sub as Record<string, unknown>, rest);
}
