import type { Scope } from '../access/scope.js';
import type { NewOutboxEvent, OutboxEvent, OutboxQuery } from './outbox.js';
import type { CollectionSummary } from './summaries.js';
import type { SearchPage, SearchParams, StacCollection, StacItem } from './types.js';

/**
 * The catalog's storage, one interface for the embedded SQLite backend and the PostgreSQL/PostGIS
 * one; the STAC API runs on either and the same test suite runs against both.
 *
 * Every read takes the caller's scope and applies it inside its SQL: what is outside the scope is
 * not fetched, not counted and not paged over, so hidden looks exactly like missing. Writes are the
 * provider's; their callers check roles and labels first.
 *
 * Labels: a collection's `sarbridge:label` member and an item's `sarbridge:label` property (see
 * src/access/labels.ts); an item without one has its collection's; a collection without one is
 * provider-only. An item's `sarbridge:release_datetime` property holds it back from partners until then.
 */
export interface CatalogStore {
  readonly backend: 'sqlite' | 'postgres';
  close(): Promise<void>;

  getCollection(id: string, scope: Scope): Promise<StacCollection | null>;
  listCollections(scope: Scope): Promise<StacCollection[]>;
  /** Create (fails with ConflictError when it exists) or replace a collection. */
  putCollection(c: StacCollection, mode: 'create' | 'replace'): Promise<void>;
  /** Delete a collection and its items; false when it did not exist. */
  deleteCollection(id: string): Promise<boolean>;

  getItem(collection: string, id: string, scope: Scope): Promise<StacItem | null>;
  /**
   * Insert items (all or none). `mode` 'create' fails with ConflictError on an existing id,
   * 'upsert' replaces. Items are validated by the caller.
   */
  putItems(collection: string, items: StacItem[], mode: 'create' | 'upsert'): Promise<number>;
  deleteItem(collection: string, id: string): Promise<boolean>;

  /**
   * A publication in one transaction: the items upserted (as `putItems` 'upsert') and the event
   * added to the outbox unless one with its `eventKey` is there (then `eventAdded` is false and the
   * items are written again, the same ones for a retried publication).
   */
  publishItems(
    collection: string,
    items: StacItem[],
    event: NewOutboxEvent,
  ): Promise<{ eventAdded: boolean }>;
  /** Outbox events after `afterSeq`, in seq order (which is commit order: read on from the last seq). */
  events(q?: OutboxQuery): Promise<OutboxEvent[]>;
  /** Mark an outbox event delivered (kept; `undelivered` reads leave it out). */
  markDelivered(seq: number): Promise<void>;

  /**
   * Search within the scope. The page's `matched` is the exact number of matching items in the
   * scope, or null when counting them would pass the count limit (see COUNT_LIMIT in paging.ts).
   */
  search(params: SearchParams, scope: Scope): Promise<SearchPage>;

  /**
   * What the items of these collections that the scope may see hold: distinct values of the
   * summarised properties, asset definitions and the time range, from the summary table the writes
   * maintain (no item scan). One entry per requested id (empty for a collection with no visible item).
   */
  summarize(collections: string[], scope: Scope): Promise<Map<string, CollectionSummary>>;
}
