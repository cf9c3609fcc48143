import type { Cql2Expr } from './cql2/ast.js';
import type { FieldsSelection } from './fields.js';

/** A STAC item as stored and served (sarbridge keeps the whole JSON document). */
export interface StacItem {
  type: 'Feature';
  stac_version: string;
  stac_extensions?: string[];
  id: string;
  collection?: string;
  geometry: GeoJsonGeometry | null;
  bbox?: number[];
  properties: Record<string, unknown> & { datetime: string | null };
  links: StacLink[];
  assets: Record<string, Record<string, unknown>>;
  [k: string]: unknown;
}

export interface StacCollection {
  type: 'Collection';
  stac_version: string;
  stac_extensions?: string[];
  id: string;
  description: string;
  license: string;
  extent: { spatial: { bbox: number[][] }; temporal: { interval: (string | null)[][] } };
  links: StacLink[];
  [k: string]: unknown;
}

export interface StacLink {
  href: string;
  rel: string;
  type?: string;
  title?: string;
  method?: string;
  body?: unknown;
  [k: string]: unknown;
}

export interface GeoJsonGeometry {
  type: string;
  coordinates?: unknown;
  geometries?: GeoJsonGeometry[];
}

export interface SortField {
  field: string;
  direction: 'asc' | 'desc';
}

/** A search, checked and normalised (from GET query parameters or a POST body). */
export interface SearchParams {
  collections?: string[];
  ids?: string[];
  bbox?: [number, number, number, number];
  intersects?: GeoJsonGeometry;
  /** Milliseconds since the epoch; null for an open end. */
  datetime?: { start: number | null; end: number | null };
  filter?: Cql2Expr;
  sortby: SortField[];
  limit: number;
  /** Opaque paging token from a previous page's next link. */
  token?: string;
  /** The fields extension's selection (include undefined: not sent). */
  fields?: FieldsSelection;
}

export interface SearchPage {
  items: StacItem[];
  /** Token for the next page, if there is one. */
  next: string | null;
  /**
   * Items matching in total within the scope (exact), or null when there are more than the count
   * limit (or, on PostgreSQL, the count took longer than its time limit).
   */
  matched: number | null;
}
