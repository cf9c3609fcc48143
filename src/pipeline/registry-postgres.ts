import pg from 'pg';
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
import { type ProductRow, productFromRow, type StepRow, stepFromRow } from './registry-rows.js';

/** The registry's schema, one entry per version (applied in order, each once). */
const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS pipeline_products (
    id text PRIMARY KEY,
    checksum text NOT NULL,
    expected_checksum text,
    expected_checksum_source text,
    source_path text NOT NULL,
    stored_path text NOT NULL,
    size_bytes bigint NOT NULL,
    collection text NOT NULL,
    label jsonb,
    label_source text NOT NULL,
    format text,
    acquired_at text,
    geometry_key text,
    bbox jsonb,
    acquisition jsonb,
    state text NOT NULL,
    step text NOT NULL,
    error text,
    arrived_at text NOT NULL,
    published_at text,
    item_ids jsonb NOT NULL DEFAULT '[]'
  );
  CREATE INDEX IF NOT EXISTS pipeline_products_geometry ON pipeline_products (geometry_key, acquired_at);
  CREATE INDEX IF NOT EXISTS pipeline_products_state ON pipeline_products (state, arrived_at);
  CREATE TABLE IF NOT EXISTS pipeline_steps (
    product_id text NOT NULL REFERENCES pipeline_products(id),
    step text NOT NULL,
    state text NOT NULL,
    job_id text,
    attempts integer NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0,
    started_at text,
    finished_at text,
    duration_ms double precision,
    error text,
    result jsonb,
    PRIMARY KEY (product_id, step)
  );
  CREATE INDEX IF NOT EXISTS pipeline_steps_running ON pipeline_steps (step, started_at) WHERE state = 'running';`,
];

/** Session lock around the migrations (the catalog's is 764251, the outbox's 764252). */
const MIGRATION_LOCK = 764253;

const now = () => new Date().toISOString();

/**
 * The product registry in PostgreSQL, in the catalog's database (tables pipeline_products and
 * pipeline_steps; the outbox is the catalog's pipeline_outbox), so that `sarbridge worker` on any
 * number of machines shares it. Every change is one statement or one transaction; the one
 * read-modify-write (a failure's count deciding a permanent failure) locks the step's row
 * (`SELECT ... FOR UPDATE`); inserts that may race (`register`, `setJob`, `startStep`) are
 * `ON CONFLICT` upserts.
 */
export class PostgresProductRegistry implements ProductRegistry {
  readonly backend = 'postgres';

  private constructor(private readonly pool: pg.Pool) {}

  /** Connect and bring the schema up to date (one process at a time). */
  static async open(connectionString: string, opts: { maxConnections?: number } = {}) {
    const pool = new pg.Pool({ connectionString, max: opts.maxConnections ?? 4 });
    // An idle connection the server ends is taken out of the pool; without a listener its error
    // would end the process.
    pool.on('error', () => {});
    try {
      const c = await pool.connect();
      try {
        await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        await c.query('CREATE TABLE IF NOT EXISTS pipeline_schema (version integer NOT NULL)');
        const v = await c.query<{ version: number }>('SELECT version FROM pipeline_schema');
        const have = v.rows[0]?.version ?? 0;
        for (let i = have; i < MIGRATIONS.length; i++) {
          await c.query('BEGIN');
          await c.query(MIGRATIONS[i]);
          await c.query('DELETE FROM pipeline_schema');
          await c.query('INSERT INTO pipeline_schema (version) VALUES ($1)', [i + 1]);
          await c.query('COMMIT');
        }
        await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      } finally {
        c.release();
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresProductRegistry(pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, params)).rows;
  }

  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  async register(p: NewProduct): Promise<{ added: boolean; product: ProductRecord }> {
    const r = await this.pool.query(
      `INSERT INTO pipeline_products (id, checksum, expected_checksum, expected_checksum_source,
        source_path, stored_path, size_bytes, collection, label, label_source, state, step, arrived_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'processing', 'verify', $11)
       ON CONFLICT (id) DO NOTHING`,
      newProductValues(p),
    );
    return { added: r.rowCount === 1, product: (await this.get(p.id)) as ProductRecord };
  }

  async get(id: string): Promise<ProductRecord | null> {
    const [r] = await this.rows<ProductRow>('SELECT * FROM pipeline_products WHERE id = $1', [id]);
    return r ? productFromRow(r) : null;
  }

  async list(q: ProductQuery = {}): Promise<ProductRecord[]> {
    const rows = await this.rows<ProductRow>(
      `SELECT * FROM pipeline_products WHERE ($1::text IS NULL OR state = $1)
       ORDER BY arrived_at COLLATE "C" DESC, id COLLATE "C" LIMIT $2 OFFSET $3`,
      [q.state ?? null, q.limit ?? 100, q.offset ?? 0],
    );
    return rows.map(productFromRow);
  }

  async counts(): Promise<Record<ProductState, number>> {
    const out: Record<ProductState, number> = { processing: 0, published: 0, failed: 0 };
    for (const r of await this.rows<{ state: ProductState; n: string }>(
      'SELECT state, count(*) AS n FROM pipeline_products GROUP BY state',
    ))
      out[r.state] = Number(r.n);
    return out;
  }

  async steps(productId: string): Promise<StepRecord[]> {
    const rows = await this.rows<StepRow>('SELECT * FROM pipeline_steps WHERE product_id = $1', [productId]);
    return rows.map(stepFromRow).sort((a, b) => STEPS.indexOf(a.step) - STEPS.indexOf(b.step));
  }

  async step(productId: string, name: StepName): Promise<StepRecord | null> {
    const [r] = await this.rows<StepRow>('SELECT * FROM pipeline_steps WHERE product_id = $1 AND step = $2', [
      productId,
      name,
    ]);
    return r ? stepFromRow(r) : null;
  }

  async running(name: StepName, sinceIso = ''): Promise<boolean> {
    const rows = await this.rows(
      `SELECT 1 FROM pipeline_steps WHERE step = $1 AND state = 'running' AND started_at COLLATE "C" >= $2 LIMIT 1`,
      [name, sinceIso],
    );
    return rows.length > 0;
  }

  async unfinished(): Promise<ProductRecord[]> {
    return (await this.rows<ProductRow>("SELECT * FROM pipeline_products WHERE state = 'processing'")).map(
      productFromRow,
    );
  }

  async setJob(productId: string, name: StepName, jobId: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO pipeline_steps (product_id, step, state, job_id) VALUES ($1, $2, 'pending', $3)
       ON CONFLICT (product_id, step) DO UPDATE SET job_id = excluded.job_id`,
      [productId, name, jobId],
    );
  }

  async startStep(productId: string, name: StepName, attempt: number, jobId: string): Promise<void> {
    await this.transaction(async (c) => {
      await c.query(
        `INSERT INTO pipeline_steps (product_id, step, state, job_id, attempts, started_at)
         VALUES ($1, $2, 'running', $3, $4, $5)
         ON CONFLICT (product_id, step) DO UPDATE SET state = 'running', job_id = excluded.job_id,
           attempts = excluded.attempts, started_at = excluded.started_at, finished_at = NULL, error = NULL`,
        [productId, name, jobId, attempt, now()],
      );
      await c.query(
        "UPDATE pipeline_products SET state = 'processing', step = $1, error = NULL WHERE id = $2 AND state != 'published'",
        [name, productId],
      );
    });
  }

  async finishStep(productId: string, name: StepName, result: unknown, durationMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE pipeline_steps SET state = 'done', finished_at = $1, duration_ms = $2, error = NULL, result = $3
       WHERE product_id = $4 AND step = $5`,
      [now(), durationMs, JSON.stringify(result ?? null), productId, name],
    );
  }

  async failStep(
    productId: string,
    name: StepName,
    error: string,
    durationMs: number,
    o: FailOptions,
  ): Promise<{ permanent: boolean; failures: number }> {
    return this.transaction(async (c) => {
      const had = await c.query<{ failures: number }>(
        'SELECT failures FROM pipeline_steps WHERE product_id = $1 AND step = $2 FOR UPDATE',
        [productId, name],
      );
      const failures = (had.rows[0]?.failures ?? 0) + (o.counted ? 1 : 0);
      const permanent = o.permanent || failures >= o.maxFailures;
      await c.query(
        `UPDATE pipeline_steps SET state = $1, finished_at = $2, duration_ms = $3, error = $4, failures = $5
         WHERE product_id = $6 AND step = $7`,
        [permanent ? 'failed' : 'retrying', now(), durationMs, error, failures, productId, name],
      );
      if (permanent)
        await c.query(
          "UPDATE pipeline_products SET state = 'failed', step = $1, error = $2 WHERE id = $3 AND state != 'published'",
          [name, `${name}: ${error}`, productId],
        );
      return { permanent, failures };
    });
  }

  async reopen(productId: string, name: StepName): Promise<void> {
    await this.transaction(async (c) => {
      await c.query(
        "UPDATE pipeline_steps SET state = 'pending', failures = 0 WHERE product_id = $1 AND step = $2",
        [productId, name],
      );
      await c.query(
        "UPDATE pipeline_products SET state = 'processing', error = NULL WHERE id = $1 AND state = 'failed'",
        [productId],
      );
    });
  }

  async setAcquisition(
    productId: string,
    a: { acquisition: AcquisitionSummary; geometryKey: string; bbox: [number, number, number, number] },
  ): Promise<void> {
    await this.pool.query(
      'UPDATE pipeline_products SET format = $1, acquired_at = $2, geometry_key = $3, bbox = $4, acquisition = $5 WHERE id = $6',
      [
        a.acquisition.format,
        a.acquisition.startTime,
        a.geometryKey,
        JSON.stringify(a.bbox),
        JSON.stringify(a.acquisition),
        productId,
      ],
    );
  }

  async earlier(geometryKey: string, acquiredAt: string, excludeId: string): Promise<ProductRecord[]> {
    const rows = await this.rows<ProductRow>(
      `SELECT * FROM pipeline_products WHERE geometry_key = $1 AND acquired_at COLLATE "C" < $2 AND id != $3 AND state != 'failed'
       ORDER BY acquired_at COLLATE "C" DESC, id COLLATE "C"`,
      [geometryKey, acquiredAt, excludeId],
    );
    return rows.map(productFromRow);
  }

  async published(productId: string, itemIds: string[], durationMs: number): Promise<void> {
    await this.transaction(async (c) => {
      const t = now();
      await c.query(
        `UPDATE pipeline_products SET state = 'published', step = 'publish', error = NULL,
           published_at = coalesce(published_at, $1), item_ids = $2 WHERE id = $3`,
        [t, JSON.stringify(itemIds), productId],
      );
      await c.query(
        `UPDATE pipeline_steps SET state = 'done', finished_at = $1, duration_ms = $2, error = NULL, result = $3
         WHERE product_id = $4 AND step = 'publish'`,
        [t, durationMs, JSON.stringify({ items: itemIds }), productId],
      );
    });
  }
}
