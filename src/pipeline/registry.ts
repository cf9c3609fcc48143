import Database from 'better-sqlite3';
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

/** A row of the outbox: an event to deliver (the alerts work delivers them). */
export interface OutboxEvent {
  seq: number;
  /** Unique: one event per publication ('published:<product id>'). */
  eventKey: string;
  type: 'published';
  productId: string;
  collection: string;
  itemIds: string[];
  payload: Record<string, unknown>;
  createdAt: string;
  deliveredAt: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pipeline_products (
  id TEXT PRIMARY KEY,
  checksum TEXT NOT NULL,
  expected_checksum TEXT,
  expected_checksum_source TEXT,
  source_path TEXT NOT NULL,
  stored_path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  collection TEXT NOT NULL,
  label TEXT,
  label_source TEXT NOT NULL,
  format TEXT,
  acquired_at TEXT,
  geometry_key TEXT,
  bbox TEXT,
  acquisition TEXT,
  state TEXT NOT NULL,
  step TEXT NOT NULL,
  error TEXT,
  arrived_at TEXT NOT NULL,
  published_at TEXT,
  item_ids TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS pipeline_products_geometry ON pipeline_products (geometry_key, acquired_at);
CREATE INDEX IF NOT EXISTS pipeline_products_state ON pipeline_products (state, arrived_at);
CREATE TABLE IF NOT EXISTS pipeline_steps (
  product_id TEXT NOT NULL REFERENCES pipeline_products(id),
  step TEXT NOT NULL,
  state TEXT NOT NULL,
  job_id TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  started_at TEXT,
  finished_at TEXT,
  duration_ms REAL,
  error TEXT,
  result TEXT,
  PRIMARY KEY (product_id, step)
);
CREATE TABLE IF NOT EXISTS pipeline_outbox (
  seq INTEGER PRIMARY KEY,
  event_key TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  product_id TEXT NOT NULL,
  collection TEXT NOT NULL,
  item_ids TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  delivered_at TEXT
);
`;

interface ProductRow {
  id: string;
  checksum: string;
  expected_checksum: string | null;
  expected_checksum_source: string | null;
  source_path: string;
  stored_path: string;
  size_bytes: number;
  collection: string;
  label: string | null;
  label_source: LabelSource;
  format: string | null;
  acquired_at: string | null;
  geometry_key: string | null;
  bbox: string | null;
  acquisition: string | null;
  state: ProductState;
  step: StepName;
  error: string | null;
  arrived_at: string;
  published_at: string | null;
  item_ids: string;
}

interface StepRow {
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
  result: string | null;
}

const product = (r: ProductRow): ProductRecord => ({
  id: r.id,
  checksum: r.checksum,
  expectedChecksum: r.expected_checksum,
  expectedChecksumSource: r.expected_checksum_source,
  sourcePath: r.source_path,
  storedPath: r.stored_path,
  sizeBytes: r.size_bytes,
  collection: r.collection,
  label: r.label === null ? null : JSON.parse(r.label),
  labelSource: r.label_source,
  format: r.format,
  acquiredAt: r.acquired_at,
  geometryKey: r.geometry_key,
  bbox: r.bbox === null ? null : JSON.parse(r.bbox),
  acquisition: r.acquisition === null ? null : JSON.parse(r.acquisition),
  state: r.state,
  step: r.step,
  error: r.error,
  arrivedAt: r.arrived_at,
  publishedAt: r.published_at,
  itemIds: JSON.parse(r.item_ids),
});

const step = (r: StepRow): StepRecord => ({
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
  result: r.result === null ? null : JSON.parse(r.result),
});

const now = () => new Date().toISOString();

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
 * The durable product registry: one row per arrived product with the state of each step, and the
 * outbox of `published` events, in one SQLite file (WAL, shared by the worker processes of one
 * machine; a busy database is waited for up to `busyTimeoutMs`).
 */
export class ProductRegistry {
  private readonly db: Database.Database;

  constructor(
    readonly path: string,
    opts: { busyTimeoutMs?: number } = {},
  ) {
    this.db = new Database(path);
    this.db.pragma(`busy_timeout = ${Math.round(opts.busyTimeoutMs ?? 30_000)}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Add a product; when one with its id exists, nothing changes and `added` is false. */
  register(p: NewProduct): { added: boolean; product: ProductRecord } {
    const r = this.db
      .prepare(
        `INSERT OR IGNORE INTO pipeline_products (id, checksum, expected_checksum, expected_checksum_source,
          source_path, stored_path, size_bytes, collection, label, label_source, state, step, arrived_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'processing', 'verify', ?)`,
      )
      .run(
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
      );
    return { added: r.changes === 1, product: this.get(p.id) as ProductRecord };
  }

  get(id: string): ProductRecord | null {
    const r = this.db.prepare('SELECT * FROM pipeline_products WHERE id = ?').get(id) as
      | ProductRow
      | undefined;
    return r ? product(r) : null;
  }

  /** Products, newest arrival first. */
  list(q: { state?: ProductState; limit?: number; offset?: number } = {}): ProductRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM pipeline_products WHERE (@state IS NULL OR state = @state)
         ORDER BY arrived_at DESC, id LIMIT @limit OFFSET @offset`,
      )
      .all({ state: q.state ?? null, limit: q.limit ?? 100, offset: q.offset ?? 0 }) as ProductRow[];
    return rows.map(product);
  }

  counts(): Record<ProductState, number> {
    const out: Record<ProductState, number> = { processing: 0, published: 0, failed: 0 };
    for (const r of this.db
      .prepare('SELECT state, count(*) AS n FROM pipeline_products GROUP BY state')
      .all() as {
      state: ProductState;
      n: number;
    }[])
      out[r.state] = r.n;
    return out;
  }

  steps(productId: string): StepRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM pipeline_steps WHERE product_id = ?')
      .all(productId) as StepRow[];
    return rows.map(step).sort((a, b) => STEPS.indexOf(a.step) - STEPS.indexOf(b.step));
  }

  step(productId: string, name: StepName): StepRecord | null {
    const r = this.db
      .prepare('SELECT * FROM pipeline_steps WHERE product_id = ? AND step = ?')
      .get(productId, name) as StepRow | undefined;
    return r ? step(r) : null;
  }

  /** True when some product's `name` step is running, in an attempt started at `sinceIso` or later. */
  running(name: StepName, sinceIso = ''): boolean {
    return (
      this.db
        .prepare(
          "SELECT 1 FROM pipeline_steps WHERE step = ? AND state = 'running' AND started_at >= ? LIMIT 1",
        )
        .get(name, sinceIso) !== undefined
    );
  }

  /** Products whose step jobs may be missing (still processing), for the start-up sweep. */
  unfinished(): ProductRecord[] {
    return (
      this.db.prepare("SELECT * FROM pipeline_products WHERE state = 'processing'").all() as ProductRow[]
    ).map(product);
  }

  /** The job that runs a step (pending until it starts). */
  setJob(productId: string, name: StepName, jobId: string): void {
    this.db
      .prepare(
        `INSERT INTO pipeline_steps (product_id, step, state, job_id) VALUES (?, ?, 'pending', ?)
         ON CONFLICT (product_id, step) DO UPDATE SET job_id = excluded.job_id`,
      )
      .run(productId, name, jobId);
  }

  /** An attempt of a step starts: the product is processing again (an operator's retry clears its error). */
  startStep(productId: string, name: StepName, attempt: number, jobId: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO pipeline_steps (product_id, step, state, job_id, attempts, started_at)
           VALUES (@id, @step, 'running', @job, @attempt, @now)
           ON CONFLICT (product_id, step) DO UPDATE SET state = 'running', job_id = @job,
             attempts = @attempt, started_at = @now, finished_at = NULL, error = NULL`,
        )
        .run({ id: productId, step: name, job: jobId, attempt, now: now() });
      this.db
        .prepare(
          "UPDATE pipeline_products SET state = 'processing', step = ?, error = NULL WHERE id = ? AND state != 'published'",
        )
        .run(name, productId);
    })();
  }

  finishStep(productId: string, name: StepName, result: unknown, durationMs: number): void {
    this.db
      .prepare(
        `UPDATE pipeline_steps SET state = 'done', finished_at = ?, duration_ms = ?, error = NULL, result = ?
         WHERE product_id = ? AND step = ?`,
      )
      .run(now(), durationMs, JSON.stringify(result ?? null), productId, name);
  }

  /**
   * An attempt ended without a result: `counted` failures add to the step's failures (a wait for
   * another product does not); `permanent` (no attempt left, or the product itself is bad) fails
   * the product.
   */
  failStep(
    productId: string,
    name: StepName,
    error: string,
    durationMs: number,
    o: { permanent: boolean; counted: boolean },
  ): void {
    const permanent = o.permanent;
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE pipeline_steps SET state = ?, finished_at = ?, duration_ms = ?, error = ?, failures = failures + ?
           WHERE product_id = ? AND step = ?`,
        )
        .run(permanent ? 'failed' : 'retrying', now(), durationMs, error, o.counted ? 1 : 0, productId, name);
      if (permanent)
        this.db
          .prepare(
            "UPDATE pipeline_products SET state = 'failed', step = ?, error = ? WHERE id = ? AND state != 'published'",
          )
          .run(name, `${name}: ${error}`, productId);
    })();
  }

  /** An operator's retry of a failed product: processing again, its failed step's failures forgotten. */
  reopen(productId: string, name: StepName): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE pipeline_steps SET state = 'pending', failures = 0 WHERE product_id = ? AND step = ?",
        )
        .run(productId, name);
      this.db
        .prepare(
          "UPDATE pipeline_products SET state = 'processing', error = NULL WHERE id = ? AND state = 'failed'",
        )
        .run(productId);
    })();
  }

  /** What the read step learnt of the acquisition. */
  setAcquisition(
    productId: string,
    a: { acquisition: AcquisitionSummary; geometryKey: string; bbox: [number, number, number, number] },
  ): void {
    this.db
      .prepare(
        'UPDATE pipeline_products SET format = ?, acquired_at = ?, geometry_key = ?, bbox = ?, acquisition = ? WHERE id = ?',
      )
      .run(
        a.acquisition.format,
        a.acquisition.startTime,
        a.geometryKey,
        JSON.stringify(a.bbox),
        JSON.stringify(a.acquisition),
        productId,
      );
  }

  /** Products of the same geometry acquired before `acquiredAt`, not failed, latest first. */
  earlier(geometryKey: string, acquiredAt: string, excludeId: string): ProductRecord[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM pipeline_products WHERE geometry_key = ? AND acquired_at < ? AND id != ? AND state != 'failed'
           ORDER BY acquired_at DESC, id`,
        )
        .all(geometryKey, acquiredAt, excludeId) as ProductRow[]
    ).map(product);
  }

  /**
   * Record a publication in one transaction: the product published with its items, the publish step
   * done, and its `published` event in the outbox (unique key: never a second one).
   */
  published(
    productId: string,
    ev: { collection: string; itemIds: string[]; payload: Record<string, unknown> },
    durationMs: number,
  ): { eventAdded: boolean } {
    return this.db.transaction(() => {
      const t = now();
      const r = this.db
        .prepare(
          `INSERT OR IGNORE INTO pipeline_outbox (event_key, type, product_id, collection, item_ids, payload, created_at)
           VALUES (?, 'published', ?, ?, ?, ?, ?)`,
        )
        .run(
          `published:${productId}`,
          productId,
          ev.collection,
          JSON.stringify(ev.itemIds),
          JSON.stringify(ev.payload),
          t,
        );
      this.db
        .prepare(
          `UPDATE pipeline_products SET state = 'published', step = 'publish', error = NULL, published_at = coalesce(published_at, ?),
           item_ids = ? WHERE id = ?`,
        )
        .run(t, JSON.stringify(ev.itemIds), productId);
      this.db
        .prepare(
          `UPDATE pipeline_steps SET state = 'done', finished_at = ?, duration_ms = ?, error = NULL, result = ?
           WHERE product_id = ? AND step = 'publish'`,
        )
        .run(t, durationMs, JSON.stringify({ items: ev.itemIds }), productId);
      return { eventAdded: r.changes === 1 };
    })();
  }

  /** Outbox events after `afterSeq` (oldest first); `undelivered` only those not yet delivered. */
  events(q: { afterSeq?: number; limit?: number; undelivered?: boolean } = {}): OutboxEvent[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM pipeline_outbox WHERE seq > @after AND (@undelivered = 0 OR delivered_at IS NULL)
         ORDER BY seq LIMIT @limit`,
      )
      .all({ after: q.afterSeq ?? 0, limit: q.limit ?? 1000, undelivered: q.undelivered ? 1 : 0 }) as {
      seq: number;
      event_key: string;
      type: 'published';
      product_id: string;
      collection: string;
      item_ids: string;
      payload: string;
      created_at: string;
      delivered_at: string | null;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      eventKey: r.event_key,
      type: r.type,
      productId: r.product_id,
      collection: r.collection,
      itemIds: JSON.parse(r.item_ids),
      payload: JSON.parse(r.payload),
      createdAt: r.created_at,
      deliveredAt: r.delivered_at,
    }));
  }

  /** Mark an event delivered (for the alerts work). */
  markDelivered(seq: number): void {
    this.db
      .prepare('UPDATE pipeline_outbox SET delivered_at = coalesce(delivered_at, ?) WHERE seq = ?')
      .run(now(), seq);
  }
}
