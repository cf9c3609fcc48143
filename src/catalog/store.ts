import type { SearchPage, SearchParams, StacCollection, StacItem } from './types.js';

/**
 * The catalog's storage, one interface for the embedded SQLite backend and the PostgreSQL/PostGIS
 * one; the STAC API runs on either and the same test suite runs against both.
 */
export interface CatalogStore {
  readonly backend: 'sqlite' | 'postgres';
  close(): Promise<void>;

  getCollection(id: string): Promise<StacCollection | null>;
  listCollections(): Promise<StacCollection[]>;
  /** Create (fails with ConflictError when it exists) or replace a collection. */
  putCollection(c: StacCollection, mode: 'create' | 'replace'): Promise<void>;
  /** Delete a collection and its items; false when it did not exist. */
  deleteCollection(id: string): Promise<boolean>;

  getItem(collection: string, id: string): Promise<StacItem | null>;
  /**
   * Insert items (all or none). `mode` 'create' fails with ConflictError on an existing id,
   * 'upsert' replaces. Items are validated by the caller.
   */
  putItems(collection: string, items: StacItem[], mode: 'create' | 'upsert'): Promise<number>;
  deleteItem(collection: string, id: string): Promise<boolean>;

  search(params: SearchParams): Promise<SearchPage>;
}
