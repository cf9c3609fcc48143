import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LabelRules } from '../../src/access/labels.js';
import { PostgresCatalog } from '../../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../../src/catalog/store.js';
import { openQueue } from '../../src/jobs/index.js';
import type { PipelineContext } from '../../src/pipeline/context.js';
import { openRegistry } from '../../src/pipeline/open-registry.js';
import { LocalStore } from '../../src/store/local-store.js';

/** Which queue the pipeline suites run on: 'sqlite', or 'redis' at SARBRIDGE_TEST_REDIS. */
export type QueueKind = 'sqlite' | 'redis';

/** The queues the pipeline suites run on: both when the test setup started Redis. */
export const QUEUE_KINDS: QueueKind[] = process.env.SARBRIDGE_TEST_REDIS ? ['sqlite', 'redis'] : ['sqlite'];

/**
 * The queue location of a suite: the SQLite file in the data directory, or Redis database `redisDb`
 * of the test server (emptied first, so an earlier run's jobs with the same keys are gone).
 */
export async function testQueueLocation(kind: QueueKind, dataDir: string, redisDb: number): Promise<string> {
  if (kind === 'sqlite') return join(dataDir, 'queue.db');
  const url = process.env.SARBRIDGE_TEST_REDIS;
  if (!url) throw new Error('SARBRIDGE_TEST_REDIS is not set (test/global-setup.ts starts redis-server)');
  const location = `${url}/${redisDb}`;
  const { Redis } = await import('ioredis');
  const r = new Redis(location, { lazyConnect: true });
  await r.connect();
  await r.flushdb();
  r.disconnect();
  return location;
}

/**
 * A pipeline over a data directory as `sarbridge worker` opens it: the registry and the catalog
 * (`db`: a postgres:// URL, both in that database; default SQLite files there, or the given
 * `catalog` with the SQLite registry), a local asset store under `dataDir`, and the job queue at
 * `queue` (default the SQLite file there).
 */
export async function openTestPipeline(
  dataDir: string,
  o: {
    queue?: string;
    db?: string;
    catalog?: CatalogStore;
    leaseMs?: number;
    landMask?: string;
    log?: (s: string) => void;
  } = {},
): Promise<{ ctx: PipelineContext; close: () => Promise<void> }> {
  mkdirSync(dataDir, { recursive: true });
  const registry = await openRegistry({ dataDir, db: o.db ?? join(dataDir, 'catalog.db') });
  const catalog =
    o.catalog ?? (o.db ? new PostgresCatalog(o.db) : new SqliteCatalog(join(dataDir, 'catalog.db')));
  const store = LocalStore.open(join(dataDir, 'assets'), { create: true });
  const queue = await openQueue(o.queue ?? join(dataDir, 'queue.db'), {
    leaseMs: o.leaseMs ?? 30_000,
    sqlite: { pollIntervalMs: 50 },
  });
  const ctx: PipelineContext = {
    dataDir,
    registry,
    catalog,
    store,
    queue,
    rules: new LabelRules(),
    landMask: o.landMask,
    backoff: { delayMs: 200, maxDelayMs: 2000, jitter: 0.2 },
    log: o.log,
  };
  return {
    ctx,
    close: async () => {
      await queue.close();
      await store.close();
      await catalog.close();
      await registry.close();
    },
  };
}
