import { readFile, stat } from 'node:fs/promises';
import { FormatError, ValidationError } from '../errors.js';

/** A geocoded product's metadata sidecar: a STAC item, or a flat JSON object with STAC property names. */
export interface Sidecar {
  path: string;
  /** The item's `properties` (or the flat object itself): `datetime`, `platform`, `sar:*`, `sat:*`, `view:*`. */
  properties: Record<string, unknown>;
}

/** Sidecars are small; a larger "sidecar" is not one (and is not read into memory). */
const MAX_SIDECAR_BYTES = 16 * 1024 * 1024;

/**
 * The file names a sidecar of `tiffPath` may have, in the order they are tried: `x.tif.json`,
 * `x.json`, `x_metadata.json`, `x.stac.json` (the product itself was recognised by its bytes; only its
 * sidecar is found by name).
 */
export function sidecarCandidates(tiffPath: string): string[] {
  const base = tiffPath.replace(/\.tiff?$/i, '');
  return [...new Set([`${tiffPath}.json`, `${base}.json`, `${base}_metadata.json`, `${base}.stac.json`])];
}

/** The first sidecar candidate that exists as a file, or null. */
export async function findSidecar(tiffPath: string): Promise<string | null> {
  for (const c of sidecarCandidates(tiffPath)) {
    try {
      if ((await stat(c)).isFile()) return c;
    } catch {
      // not there: try the next name
    }
  }
  return null;
}

/**
 * Read and check a sidecar: valid JSON, an object; a STAC item gives its `properties`. Throws a
 * FormatError naming the file for anything else, a ValidationError when it cannot be read.
 */
export async function readSidecar(path: string): Promise<Sidecar> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new ValidationError(
      `${path}: cannot read the sidecar (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { cause: err },
    );
  }
  if (size > MAX_SIDECAR_BYTES)
    throw new FormatError(
      path,
      `sidecar is ${size} bytes, over the ${MAX_SIDECAR_BYTES}-byte limit of a sidecar`,
    );
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(path, `is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new FormatError(path, 'must be a JSON object (a STAC item or a map of STAC properties)');
  const o = json as Record<string, unknown>;
  const props =
    o.type === 'Feature' &&
    o.properties !== null &&
    typeof o.properties === 'object' &&
    !Array.isArray(o.properties)
      ? (o.properties as Record<string, unknown>)
      : o;
  return { path, properties: props };
}
