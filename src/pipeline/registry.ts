import type { ConfidentialityLabel } from '../access/labels.js';

/** The pipeline's steps, in order. Each is one job on the queue. */
export const STEPS = ['verify', 'read', 'ard', 'detect', 'change', 'publish'] as const;
export type StepName = (typeof STEPS)[number];

/** processing: some step is waiting, running or retrying; failed: a step failed for good. */
export type ProductState = 'processing' | 'published' | 'failed';
/** retrying: the last attempt failed and the queue will try again after its back-off. */
export type StepState = 'pending' | 'running' | 'retrying' | 'done' | 'failed';

/** What the pipeline keeps of a product's acquisition (from its metadata, before any pixel is read). */
export interface AcquisitionSummary {
  format: 'sentinel-1-safe' | 'sicd' | 'geotiff';
  platform: string;
  mode: string;
  polarisations: string[];
  orbitDirection: 'ascending' | 'descending' | null;
  lookSide: 'left' | 'right' | null;
  relativeOrbit: number | null;
  incidenceDeg: number | null;
  startTime: string;
  endTime: string;
  /** Lon/lat ring, closed. */
  footprint: [number, number][];
}

/** Where a product's label came from. */
export type LabelSource = 'arrival' | 'drop-folder' | 'collection';

/** One arrived product, as the registry holds it. */
export interface ProductRecord {
  /** 'p' and the first 24 hex digits of the content checksum. */
  id: string;
  /** SHA-256 of the content at arrival (see productChecksum). */
  checksum: string;
  /** The provider's checksum (a .sha256 sidecar or given at ingest), verified by the first step. */
  expectedChecksum: string | null;
  expectedChecksumSource: string | null;
  sourcePath: string;
  /** The copy kept in the data directory, which the steps read. */
  storedPath: string;
  sizeBytes: number;
  collection: string;
  /** The label given at arrival or by the drop folder; null: the collection's. */
  label: ConfidentialityLabel | null;
  labelSource: LabelSource;
  /** After the read step: 'sentinel-1-safe', 'sicd' or 'geotiff'. */
  format: string | null;
  acquiredAt: string | null;
  /** Same key: same sensor mode, polarisation, orbit direction, look side and relative orbit. */
  geometryKey: string | null;
  /** Footprint bounds [west, south, east, north], degrees. */
  bbox: [number, number, number, number] | null;
  /** What the read step found (platform, mode, polarisations, geometry, footprint). */
  acquisition: AcquisitionSummary | null;
  state: ProductState;
  /** The step it is at (the failed step when failed; 'publish' once published). */
  step: StepName;
  error: string | null;
  arrivedAt: string;
  publishedAt: string | null;
  /** Items published for it (scene, change). */
  itemIds: string[];
}

export interface StepRecord {
  productId: string;
  step: StepName;
  state: StepState;
  jobId: string | null;
  attempts: number;
  /** Attempts that failed with an error (not a kill, not a wait), since the last operator retry. */
  failures: number;
  startedAt: string | null;
  finishedAt: string | null;
  /** The last attempt's duration, ms. */
  durationMs: number | null;
  error: string | null;
  /** What the step produced (store keys, counts), JSON. */
  result: unknown;
}

/** A row of the outbox (in the catalog's database: see src/catalog/outbox.ts). */
export type { OutboxEvent } from '../catalog/outbox.js';

export type NewProduct = Omit<
  ProductRecord,
  | 'format'
  | 'acquiredAt'
  | 'geometryKey'
  | 'bbox'
  | 'acquisition'
  | 'state'
  | 'step'
  | 'error'
  | 'publishedAt'
  | 'itemIds'
>;

/**
 * A new product's column values in the order both registries insert them: id, checksum,
 * expected_checksum, expected_checksum_source, source_path, stored_path, size_bytes, collection,
 * label (JSON), label_source, arrived_at.
 */
export function newProductValues(p: NewProduct): (string | number | null)[] {
  return [
    p.id,
    p.checksum,
    p.expectedChecksum,
    p.expectedChecksumSource,
    p.sourcePath,
    p.storedPath,
    p.sizeBytes,
    p.collection,
    p.label === null ? null : JSON.stringify(p.label),
    p.labelSource,
    p.arrivedAt,
  ];
}

export interface FailOptions {
  permanent: boolean;
  counted: boolean;
  maxFailures: number;
}

/** What a listing of products asks for. */
export interface ProductQuery {
  state?: ProductState;
  limit?: number;
  offset?: number;
}

/**
 * The durable product registry: one row per arrived product with the state of each step (the outbox
 * of `published` events is in the catalog's database, written with the items: `CatalogStore.events`). Two implementations: SQLite (`<data dir>/pipeline.db`, shared by
 * the worker processes of one machine; registry-sqlite.ts) and PostgreSQL (tables in the catalog's
 * database, shared by workers on any number of machines; registry-postgres.ts). `openRegistry`
 * (open-registry.ts) picks the one that goes with the catalog.
 */
export interface ProductRegistry {
  readonly backend: 'sqlite' | 'postgres';
  close(): Promise<void>;
  /** Add a product; when one with its id exists, nothing changes and `added` is false. */
  register(p: NewProduct): Promise<{ added: boolean; product: ProductRecord }>;
  get(id: string): Promise<ProductRecord | null>;
  /** Products, newest arrival first. */
  list(q?: ProductQuery): Promise<ProductRecord[]>;
  counts(): Promise<Record<ProductState, number>>;
  /** A product's steps, in pipeline order. */
  steps(productId: string): Promise<StepRecord[]>;
  step(productId: string, name: StepName): Promise<StepRecord | null>;
  /** True when some product's `name` step is running, in an attempt started at `sinceIso` or later. */
  running(name: StepName, sinceIso?: string): Promise<boolean>;
  /** Products whose step jobs may be missing (still processing), for the start-up sweep. */
  unfinished(): Promise<ProductRecord[]>;
  /** The job that runs a step (pending until it starts). */
  setJob(productId: string, name: StepName, jobId: string): Promise<void>;
  /** An attempt of a step starts: the product is processing again (an operator's retry clears its error). */
  startStep(productId: string, name: StepName, attempt: number, jobId: string): Promise<void>;
  finishStep(productId: string, name: StepName, result: unknown, durationMs: number): Promise<void>;
  /**
   * An attempt ended without a result, in one transaction (the step's row locked): `counted`
   * failures add to the step's failures (a wait for another product does not); the step fails for
   * good, and the product with it, when `permanent` (no attempt left, or the product itself is bad)
   * or the failures reach `maxFailures`.
   */
  failStep(
    productId: string,
    name: StepName,
    error: string,
    durationMs: number,
    o: FailOptions,
  ): Promise<{ permanent: boolean; failures: number }>;
  /** An operator's retry of a failed product: processing again, its failed step's failures forgotten. */
  reopen(productId: string, name: StepName): Promise<void>;
  /** What the read step learnt of the acquisition. */
  setAcquisition(
    productId: string,
    a: { acquisition: AcquisitionSummary; geometryKey: string; bbox: [number, number, number, number] },
  ): Promise<void>;
  /** Products of the same geometry acquired before `acquiredAt`, not failed, latest first. */
  earlier(geometryKey: string, acquiredAt: string, excludeId: string): Promise<ProductRecord[]>;
  /**
   * After the catalog's transaction of the items and the event: the product published with its
   * items and the publish step done, in one transaction (idempotent: a retry marks it again).
   */
  published(productId: string, itemIds: string[], durationMs: number): Promise<void>;
}
