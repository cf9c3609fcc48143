import type {
  LabelSource,
  ProductRecord,
  ProductState,
  StepName,
  StepRecord,
  StepState,
} from './registry.js';

/**
 * A registry row as SQLite and PostgreSQL give it back: the JSON columns are text in SQLite and
 * jsonb (already parsed) in PostgreSQL; bigint columns are strings from pg.
 */
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

export interface ProductRow {
  id: string;
  checksum: string;
  expected_checksum: string | null;
  expected_checksum_source: string | null;
  source_path: string;
  stored_path: string;
  size_bytes: number | string;
  collection: string;
  label: unknown;
  label_source: LabelSource;
  format: string | null;
  acquired_at: string | null;
  geometry_key: string | null;
  bbox: unknown;
  acquisition: unknown;
  state: ProductState;
  step: StepName;
  error: string | null;
  arrived_at: string;
  published_at: string | null;
  item_ids: unknown;
}

export interface StepRow {
  product_id: string;
  step: StepName;
  state: StepState;
  job_id: string | null;
  attempts: number;
  failures: number;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  result: unknown;
}

export const productFromRow = (r: ProductRow): ProductRecord => ({
  id: r.id,
  checksum: r.checksum,
  expectedChecksum: r.expected_checksum,
  expectedChecksumSource: r.expected_checksum_source,
  sourcePath: r.source_path,
  storedPath: r.stored_path,
  sizeBytes: Number(r.size_bytes),
  collection: r.collection,
  label: r.label === null ? null : json(r.label),
  labelSource: r.label_source,
  format: r.format,
  acquiredAt: r.acquired_at,
  geometryKey: r.geometry_key,
  bbox: r.bbox === null ? null : json(r.bbox),
  acquisition: r.acquisition === null ? null : json(r.acquisition),
  state: r.state,
  step: r.step,
  error: r.error,
  arrivedAt: r.arrived_at,
  publishedAt: r.published_at,
  itemIds: json(r.item_ids),
});

export const stepFromRow = (r: StepRow): StepRecord => ({
  productId: r.product_id,
  step: r.step,
  state: r.state,
  jobId: r.job_id,
  attempts: r.attempts,
  failures: r.failures,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  durationMs: r.duration_ms,
  error: r.error,
  result: r.result === null ? null : json(r.result),
});
