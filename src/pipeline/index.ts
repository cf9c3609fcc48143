/**
 * The pipeline: products in (ingest, a watched drop folder), through durable, idempotent steps on the
 * job queue (verify -> read -> ard -> detect -> change -> publish), to labelled items in the catalog
 * and a `published` event in the outbox. See /docs (life of a product).
 */
export { productChecksum, sidecarSha256 } from './checksum.js';
export { DEFAULT_COLLECTION, type PipelineContext } from './context.js';
export { type IngestOptions, type IngestProgress, type IngestResult, ingest, productId } from './ingest.js';
export { openRegistry } from './open-registry.js';
export { PRODUCT_FIELD } from './publish.js';
export { recogniseFormat } from './read.js';
export {
  type AcquisitionSummary,
  type OutboxEvent,
  type ProductRecord,
  type ProductRegistry,
  type ProductState,
  STEPS,
  type StepName,
  type StepRecord,
} from './registry.js';
export { PostgresProductRegistry } from './registry-postgres.js';
export { SqliteProductRegistry } from './registry-sqlite.js';
export { type JobsView, jobsView, type ProductView, productView, retryFailed } from './view.js';
export { type WatchOptions, watchDropFolder } from './watch.js';
export {
  enqueueStep,
  jobKey,
  jobName,
  type PipelineWorkers,
  resume,
  runStep,
  startWorkers,
} from './worker.js';
