import { ValidationError } from '../errors.js';

// Proactive content negotiation (RFC 9110 12.5.1) for the few resources that have more than one
// representation: the landing page (JSON, HTML) and the API description (OpenAPI JSON, HTML).

interface MediaRange {
  type: string;
  subtype: string;
  params: Map<string, string>;
  q: number;
}

function parseParams(parts: string[]): { params: Map<string, string>; q: number } {
  const params = new Map<string, string>();
  let q = 1;
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const value = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    // Parameters after q are accept-ext, not the media type's (RFC 9110 12.5.1).
    if (name === 'q') {
      const n = Number(value);
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? n : 1;
      break;
    }
    params.set(name, value);
  }
  return { params, q };
}

/** The media ranges of an Accept value; malformed elements are left out. */
export function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const element of header.split(',')) {
    const [range, ...rest] = element.split(';');
    const m = /^\s*([a-z0-9!#$&^_.+*-]+)\/([a-z0-9!#$&^_.+*-]+)\s*$/i.exec(range);
    if (!m) continue;
    out.push({ type: m[1].toLowerCase(), subtype: m[2].toLowerCase(), ...parseParams(rest) });
  }
  return out;
}

/** How specific a range is when it matches `offer` (-1: it does not), RFC 9110 12.5.1's precedence. */
function specificity(range: MediaRange, offer: MediaRange): number {
  if (range.type === '*' && range.subtype === '*') return 0;
  if (range.type !== offer.type) return -1;
  if (range.subtype === '*') return 1;
  if (range.subtype !== offer.subtype) return -1;
  for (const [k, v] of range.params) if (k !== 'charset' && offer.params.get(k) !== v) return -1;
  return 2 + range.params.size;
}

/**
 * The representation to send: of `offers` (media types, the server's preference first), the one the
 * Accept header gives the highest quality, its most specific matching range deciding; on a tie the
 * earlier offer. The first offer when there is no Accept header, and also when nothing offered is
 * acceptable: RFC 9110 12.5.1 lets a server disregard Accept rather than answer 406, which keeps
 * clients that send an unusual Accept working.
 * @example negotiate('text/html,application/xhtml+xml,*\/*;q=0.8', ['application/json', 'text/html']) // 'text/html'
 */
export function negotiate<T extends string>(accept: string | undefined, offers: readonly T[]): T {
  if (accept === undefined || accept.trim() === '') return offers[0];
  const ranges = parseAccept(accept);
  let best: T = offers[0];
  let bestQ = -1;
  for (const offer of offers) {
    const [type, ...rest] = offer.split(';');
    const [t, s] = type.trim().toLowerCase().split('/');
    const o: MediaRange = { type: t, subtype: s, ...parseParams(rest) };
    let q = -1;
    let spec = -1;
    for (const r of ranges) {
      const sp = specificity(r, o);
      if (sp > spec) {
        spec = sp;
        q = r.q;
      }
    }
    if (q > bestQ) {
      best = offer;
      bestQ = q;
    }
  }
  return bestQ > 0 ? best : offers[0];
}

/**
 * The `f` query parameter of a negotiated resource (OGC API Common's format override): 'json',
 * 'html', or undefined when absent; anything else is a ValidationError naming the parameter.
 */
export function formatParam(f: unknown, allowed: readonly string[] = ['json', 'html']): string | undefined {
  if (f === undefined) return undefined;
  if (typeof f !== 'string' || !allowed.includes(f))
    throw new ValidationError(
      `f: expected one of ${allowed.join(', ')}, got '${Array.isArray(f) ? f.join(',') : String(f).slice(0, 80)}'`,
    );
  return f;
}
