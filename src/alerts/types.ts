/**
 * The alert events a partner can subscribe to. The pipeline's outbox holds one `published` row per
 * product publication; the alerts work fans each out into the events below (one `item.published`
 * per published item, one `vessel.detected` per vessel, one `change.detected` per change area), and
 * the tasking work will add `order.status_changed`.
 */
export const EVENT_TYPES = [
  'item.published',
  'vessel.detected',
  'change.detected',
  'order.status_changed',
] as const;
export type AlertEventType = (typeof EVENT_TYPES)[number];

/** A GeoJSON geometry as the events carry it (lon/lat, WGS 84). */
export interface EventGeometry {
  type: 'Point' | 'Polygon' | 'MultiPolygon';
  coordinates: unknown;
}

/** One event, before it is matched to subscriptions or wrapped for a transport (webhook, SSE). */
export interface AlertEvent {
  /**
   * Unique and stable for ever: `<outbox seq>-<n>` (n counts the events one outbox row fans out to,
   * from 0). A retried delivery carries the same id; it is the webhook-id and the SSE event id.
   */
  id: string;
  /** The outbox row it came from; events are ordered by (outboxSeq, index). */
  outboxSeq: number;
  index: number;
  type: AlertEventType;
  /** When it happened (ISO 8601, UTC): the publication time for pipeline events. */
  time: string;
  /** The item the event is about; who may see it is decided on this item, again at delivery time. */
  collection: string;
  itemId: string;
  /** Where it is, for area matching; null: matches no area. */
  geometry: EventGeometry | null;
  /** What a subscription's CQL2 filter is evaluated on (the item's properties, and the event's own). */
  properties: Record<string, unknown>;
  /** The CloudEvents `data`: the item, detection or change, with links back to the API. */
  data: Record<string, unknown>;
}
