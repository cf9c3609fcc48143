import Database from 'better-sqlite3';
import {
  type AcquisitionSummary,
  type FailOptions,
  type NewProduct,
  newProductValues,
  type ProductQuery,
  type ProductRecord,
  type ProductRegistry,
  type ProductState,
  STEPS,
  type StepName,
  type StepRecord,
} from './registry.js';
import {
  type ProductRow,
  productFromRow as product,
  type StepRow,
  stepFromRow as step,
} from './registry-rows.js';

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
`;

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
      .run(...newProductValues(p));
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
    o: FailOptions,
  ): Promise<{ permanent: boolean; failures: number }> {
    return this.db.transaction(() => {
      const had = this.db
        .prepare('SELECT failures FROM pipeline_steps WHERE product_id = ? AND step = ?')
        .get(productId, name) as { failures: number } | undefined;
      const failures = (had?.failures ?? 0) + (o.counted ? 1 : 0);
      const permanent = o.permanent || failures >= o.maxFailures;
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
      return { permanent, failures };
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

  async published(productId: string, itemIds: string[], durationMs: number): Promise<void> {
    this.db.transaction(() => {
      const t = now();
      this.db
        .prepare(
          `UPDATE pipeline_products SET state = 'published', step = 'publish', error = NULL, published_at = coalesce(published_at, ?),
           item_ids = ? WHERE id = ?`,
        )
        .run(t, JSON.stringify(itemIds), productId);
      this.db
        .prepare(
          `UPDATE pipeline_steps SET state = 'done', finished_at = ?, duration_ms = ?, error = NULL, result = ?
           WHERE product_id = ? AND step = 'publish'`,
        )
        .run(t, durationMs, JSON.stringify({ items: itemIds }), productId);
    })();
  }
}
