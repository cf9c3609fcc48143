/**
 * The CloudEvents 1.0 JSON form of an alert event (the webhook body, content type
 * `application/cloudevents+json`): specversion, id (the event id, also the webhook-id), source (the
 * API root), type (the event type, e.g. `item.published`), time, subject
 * (`<collection>/<item id>`), datacontenttype and data, whose
 * relative links (`/collections/...`) are made absolute against the API root.
 */
import type { AlertEvent } from './types.js';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** The CloudEvent of `ev`; `apiBaseUrl` is the API root ('https://sar.example.org/api'). */
export function cloudEvent(ev: AlertEvent, apiBaseUrl: string): Record<string, unknown> {
  const base = apiBaseUrl.replace(/\/+$/, '');
  return {
    specversion: '1.0',
    id: ev.id,
    source: base,
    type: ev.type,
    time: ev.time,
    subject: `${ev.collection}/${ev.itemId}`,
    datacontenttype: 'application/json',
    data: absolutise(ev.data, base) as Record<string, unknown>,
  };
}

/** The CloudEvent as the JSON body that is signed and sent. */
export function cloudEventBody(ev: AlertEvent, apiBaseUrl: string): string {
  return JSON.stringify(cloudEvent(ev, apiBaseUrl));
}

/** A copy with every `href` that starts with '/' prefixed by the API root. */
function absolutise(v: unknown, base: string): unknown {
  if (Array.isArray(v)) return v.map((x) => absolutise(x, base));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === 'href' && typeof x === 'string' && x.startsWith('/') ? `${base}${x}` : absolutise(x, base);
  }
  return out;
}
