import { ValidationError } from '../errors.js';
import type { ByteRange } from '../io/asset-storage.js';

// HTTP's Range and conditional request headers (RFC 9110 13 and 14), as the asset route answers them.

/**
 * Parse a `Range` header (RFC 9110 14.2) against a representation of `size` bytes.
 * - `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last n bytes); the unit is case-insensitive and
 *   whitespace around the header, '=' and ',' is allowed; an end past the file is clamped to size-1;
 *   a suffix longer than the file selects all of it; numbers of any length are compared exactly.
 * - null (ignore the header, answer 200 with the whole file, as 14.2 allows) when absent, malformed
 *   (other unit, non-digits, `b < a`) or when it asks for more than one range: multipart/byteranges is
 *   not served, which also keeps many-small-ranges requests from costing more than one full response.
 *   Empty list elements (`bytes=0-1,`) do not count as ranges.
 * - 'unsatisfiable' (416) when the first position is at or past the end, for `bytes=-0`, and for any
 *   range of an empty file.
 * @example parseRange('bytes=-500', 1000) // { start: 500, end: 999 }
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ValidationError(`parseRange: size ${size} is not a byte count (expected an integer >= 0)`);
  }
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*([\s\S]*?)\s*$/i.exec(header);
  if (!m) return null;
  const specs = m[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length !== 1) return null;
  const spec = /^(\d*)-(\d*)$/.exec(specs[0]);
  if (!spec || (spec[1] === '' && spec[2] === '')) return null;
  const total = BigInt(size);
  if (spec[1] === '') {
    const suffix = BigInt(spec[2]);
    if (suffix === 0n || size === 0) return 'unsatisfiable';
    return { start: suffix >= total ? 0 : size - Number(suffix), end: size - 1 };
  }
  const first = BigInt(spec[1]);
  const last = spec[2] === '' ? null : BigInt(spec[2]);
  if (last !== null && last < first) return null;
  if (first >= total) return 'unsatisfiable';
  return { start: Number(first), end: last === null || last >= total ? size - 1 : Number(last) };
}

/** The entity tags of an If-None-Match value, or '*', or null when the list is malformed. */
function parseEtagList(value: string): string[] | '*' | null {
  if (value.trim() === '*') return '*';
  const tags: string[] = [];
  const tag = /(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/y;
  let pos = 0;
  for (;;) {
    while (pos < value.length && /[\s,]/.test(value[pos])) pos++;
    if (pos === value.length) return tags;
    tag.lastIndex = pos;
    const m = tag.exec(value);
    if (!m) return null;
    tags.push(m[0]);
    pos = tag.lastIndex;
    while (pos < value.length && /\s/.test(value[pos])) pos++;
    if (pos < value.length && value[pos] !== ',') return null;
  }
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Whether a Range request with this `If-Range` value should be honoured (RFC 9110 13.1.5): true when
 * the header is absent; for an entity tag, when it equals `etag` by strong comparison (a weak tag never
 * matches); for an HTTP-date, when it equals Last-Modified to the second and the file was modified at
 * least a second before `nowMs` (otherwise the date is not a strong validator). False: send 200, whole.
 */
export function ifRangeMatches(
  ifRange: string | undefined,
  etag: string,
  lastModifiedMs: number,
  nowMs: number = Date.now(),
): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !etag.startsWith('W/') && v === etag;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return false;
  const modified = Math.floor(lastModifiedMs / 1000) * 1000;
  return date === modified && nowMs - lastModifiedMs >= 1000;
}

/**
 * Whether a GET or HEAD may be answered 304 Not Modified (RFC 9110 13.1.2, 13.1.3): `If-None-Match`
 * matches when it is `*` or lists `etag` by weak comparison (`W/"x"` matches `"x"`); a malformed list
 * matches nothing. Only without If-None-Match, and when `lastModifiedMs` is given, `If-Modified-Since`
 * matches when the file was not modified after that date (to the second).
 */
export function notModified(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  etag: string,
  lastModifiedMs?: number,
): boolean {
  const inm = headerValue(headers['if-none-match']);
  if (inm !== undefined) {
    const tags = parseEtagList(inm);
    if (tags === '*') return true;
    return tags?.some((t) => opaque(t) === opaque(etag)) ?? false;
  }
  const ims = headerValue(headers['if-modified-since']);
  if (ims === undefined || lastModifiedMs === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(lastModifiedMs / 1000) * 1000 <= since;
}

/**
 * A Vary value (RFC 9110 12.5.5) with `fields` added to what `current` lists, each field once
 * (compared case-insensitively); `*` stays `*`.
 * @example mergeVary('Authorization', 'Origin') // 'Authorization, Origin'
 */
export function mergeVary(current: string | string[] | number | undefined, ...fields: string[]): string {
  const have = (Array.isArray(current) ? current.join(',') : current === undefined ? '' : String(current))
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  if (have.includes('*')) return '*';
  for (const f of fields) if (!have.some((h) => h.toLowerCase() === f.toLowerCase())) have.push(f);
  return have.join(', ');
}
