import Database from 'better-sqlite3';
import {
  type AcquisitionSummary,
  type LabelSource,
  type NewProduct,
  type OutboxEvent,
  type ProductQuery,
  type ProductRecord,
  type ProductRegistry,
  type ProductState,
  type PublishedEvent,
  STEPS,
  type StepName,
  type StepRecord,
  type StepState,
} from './registry.js';

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

/**
 * The product registry in one SQLite file (WAL, shared by the worker processes of one machine; a
 * busy database is waited for up to `busyTimeoutMs`). better-sqlite3 is synchronous: each method's
 * work is done when its promise is made.
 */
export class SqliteProductRegistry implements ProductRegistry {
  readonly backend = 'sqlite';
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

  async close(): Promise<void> {
    this.db.close();
  }

  /** Add a product; when one with its id exists, nothing changes and `added` is false. */
  async register(p: NewProduct): Promise<{ added: boolean; product: ProductRecord }> {
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
    return { added: r.changes === 1, product: (await this.get(p.id)) as ProductRecord };
  }

  async get(id: string): Promise<ProductRecord | null> {
    const r = this.db.prepare('SELECT * FROM pipeline_products WHERE id = ?').get(id) as
      | ProductRow
      | undefined;
    return r ? product(r) : null;
  }

  /** Products, newest arrival first. */
  async list(q: ProductQuery = {}): Promise<ProductRecord[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM pipeline_products WHERE (@state IS NULL OR state = @state)
         ORDER BY arrived_at DESC, id LIMIT @limit OFFSET @offset`,
      )
      .all({ state: q.state ?? null, limit: q.limit ?? 100, offset: q.offset ?? 0 }) as ProductRow[];
    return rows.map(product);
  }

  async counts(): Promise<Record<ProductState, number>> {
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

  async steps(productId: string): Promise<StepRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM pipeline_steps WHERE product_id = ?')
      .all(productId) as StepRow[];
    return rows.map(step).sort((a, b) => STEPS.indexOf(a.step) - STEPS.indexOf(b.step));
  }

  async step(productId: string, name: StepName): Promise<StepRecord | null> {
    const r = this.db
      .prepare('SELECT * FROM pipeline_steps WHERE product_id = ? AND step = ?')
      .get(productId, name) as StepRow | undefined;
    return r ? step(r) : null;
  }

  /** True when some product's `name` step is running, in an attempt started at `sinceIso` or later. */
  async running(name: StepName, sinceIso = ''): Promise<boolean> {
    return (
      this.db
        .prepare(
          "SELECT 1 FROM pipeline_steps WHERE step = ? AND state = 'running' AND started_at >= ? LIMIT 1",
        )
        .get(name, sinceIso) !== undefined
    );
  }

  /** Products whose step jobs may be missing (still processing), for the start-up sweep. */
  async unfinished(): Promise<ProductRecord[]> {
    return (
      this.db.prepare("SELECT * FROM pipeline_products WHERE state = 'processing'").all() as ProductRow[]
    ).map(product);
  }

  /** The job that runs a step (pending until it starts). */
  async setJob(productId: string, name: StepName, jobId: string): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO pipeline_steps (product_id, step, state, job_id) VALUES (?, ?, 'pending', ?)
         ON CONFLICT (product_id, step) DO UPDATE SET job_id = excluded.job_id`,
      )
      .run(productId, name, jobId);
  }

  /** An attempt of a step starts: the product is processing again (an operator's retry clears its error). */
  async startStep(productId: string, name: StepName, attempt: number, jobId: string): Promise<void> {
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

  async finishStep(productId: string, name: StepName, result: unknown, durationMs: number): Promise<void> {
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
  async failStep(
    productId: string,
    name: StepName,
    error: string,
    durationMs: number,
    o: { permanent: boolean; counted: boolean },
  ): Promise<void> {
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
  async reopen(productId: string, name: StepName): Promise<void> {
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
  async setAcquisition(
    productId: string,
    a: { acquisition: AcquisitionSummary; geometryKey: string; bbox: [number, number, number, number] },
  ): Promise<void> {
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
  async earlier(geometryKey: string, acquiredAt: string, excludeId: string): Promise<ProductRecord[]> {
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
  async published(
    productId: string,
    ev: PublishedEvent,
    durationMs: number,
  ): Promise<{ eventAdded: boolean }> {
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
  async events(q: { afterSeq?: number; limit?: number; undelivered?: boolean } = {}): Promise<OutboxEvent[]> {
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
  async markDelivered(seq: number): Promise<void> {
    this.db
      .prepare('UPDATE pipeline_outbox SET delivered_at = coalesce(delivered_at, ?) WHERE seq = ?')
      .run(now(), seq);
  }
}
