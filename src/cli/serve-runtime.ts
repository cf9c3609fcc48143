import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type AccessServices, openAccess } from '../access/index.js';
import { LabelRules } from '../access/labels.js';
import { cloudEventBody } from '../alerts/cloudevents.js';
import { startWebhookDelivery } from '../alerts/dispatch-wiring.js';
import { alertEventsOf } from '../alerts/fanout.js';
import { SqliteSubscriptionStore } from '../alerts/subscription-store.js';
import { PostgresCatalog } from '../catalog/postgres/store.js';
import { SqliteCatalog } from '../catalog/sqlite/store.js';
import type { CatalogStore } from '../catalog/store.js';
import type { SarbridgeConfig } from '../config/schema.js';
import { ValidationError } from '../errors.js';
import { AssetStorage } from '../io/asset-storage.js';
import { openQueue } from '../jobs/index.js';
import type { JobQueue } from '../jobs/queue.js';
import type { PipelineContext } from '../pipeline/context.js';
import { openRegistry } from '../pipeline/open-registry.js';
import { type PipelineWorkers, startWorkers } from '../pipeline/worker.js';
import { buildServer } from '../server/app.js';
import { s3SettingsFrom } from '../store/s3-settings.js';
import { type AssetStore, openStore } from '../store/store.js';

/** The catalog a `--db` names: a postgres:// URL or an SQLite file. */
export function openCatalog(db: string): CatalogStore {
  if (/^postgres(ql)?:\/\//.test(db)) return new PostgresCatalog(db);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db))
    throw new ValidationError(`--db: expected an SQLite file or a postgres:// URL, got '${db}'`);
  return new SqliteCatalog(db);
}

/**
 * Everything a running sarbridge holds open, from the validated configuration: the catalog, the
 * pipeline (its registry `<data dir>/pipeline.db`, the job queue, the asset store), and the access
 * services (identity store and audit log in the access folder). One catalog connection serves both
 * the HTTP server and the in-process workers.
 */
export interface Runtime {
  config: SarbridgeConfig;
  catalog: CatalogStore;
  pipeline: PipelineContext;
  access: AccessServices;
  /** The local asset storage the server reads through (null for an S3 store). */
  assets: AssetStorage | null;
  store: AssetStore;
  close(): Promise<void>;
}

/**
 * The S3 settings of `--store s3://...`: the configuration's (flags, SARBRIDGE_* variables, file)
 * first, then the AWS SDK's own variables (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID ...).
 */
function s3Settings(config: SarbridgeConfig, env: Record<string, string | undefined>) {
  const given = (k: keyof SarbridgeConfig['sources']) => config.sources[k].source !== 'default';
  const aws = s3SettingsFrom(env, {
    endpoint: config.s3.endpoint ?? undefined,
    region: given('s3Region') ? config.s3.region : undefined,
    pathStyle: given('s3ForcePathStyle') ? config.s3.forcePathStyle : undefined,
  });
  const credentials =
    config.s3.accessKeyId && config.s3.secretAccessKey
      ? { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey }
      : aws.credentials;
  if (!credentials && config.store.kind === 's3')
    throw new ValidationError(
      `--store ${config.store.url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or SARBRIDGE_S3_ACCESS_KEY_ID and SARBRIDGE_S3_SECRET_ACCESS_KEY) to the S3 credentials`,
    );
  return { ...aws, ...(credentials ? { credentials } : {}) };
}

/**
 * Open the runtime a configuration describes. `env` is only read for the AWS SDK's S3 variables
 * (the CLI passes process.env once). Whatever was opened is closed again when a later part fails.
 */
export async function openRuntime(
  config: SarbridgeConfig,
  o: {
    env?: Record<string, string | undefined>;
    landMask?: string;
    leaseMs?: number;
    log?: (line: string) => void;
  } = {},
): Promise<Runtime> {
  const opened: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const c of opened.reverse()) await c();
  };
  try {
    const store =
      config.store.kind === 's3'
        ? await openStore(config.store.url, { s3: s3Settings(config, o.env ?? {}) })
        : await openStore(config.store.root, { createRoot: true });
    opened.push(() => store.close());
    mkdirSync(config.dataDir, { recursive: true });
    mkdirSync(config.accessDir, { recursive: true });
    const catalog = openCatalog(config.db.kind === 'postgres' ? config.db.url : config.db.path);
    opened.push(() => catalog.close());
    const queue: JobQueue = await openQueue(
      config.queue.kind === 'redis' ? config.queue.url : config.queue.path,
      { leaseMs: o.leaseMs },
    );
    opened.push(() => queue.close());
    const registry = await openRegistry({
      dataDir: config.dataDir,
      db: config.db.kind === 'postgres' ? config.db.url : config.db.path,
    });
    opened.push(() => registry.close());
    const rules = new LabelRules();
    const access = openAccess({
      dir: config.accessDir,
      publicUrl: config.publicUrl,
      rules,
      auth: { ratePerS: config.rateLimitPerS, burst: config.rateLimitPerS * 4 },
    });
    opened.push(() => access.close());
    const pipeline: PipelineContext = {
      dataDir: config.dataDir,
      registry,
      catalog,
      store,
      queue,
      rules,
      landMask: o.landMask,
      log: o.log,
    };
    return {
      config,
      catalog,
      pipeline,
      access,
      assets: config.store.kind === 'local' ? new AssetStorage(config.store.root) : null,
      store,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** A listening server, with or without the pipeline's workers in the same process. */
export interface RunningServer {
  app: FastifyInstance;
  /** Where it listens (the address Fastify reports). */
  url: string;
  workers: PipelineWorkers | null;
  /** Stop taking requests and jobs, wait for the running ones, close the runtime. */
  stop(): Promise<void>;
}

/**
 * Serve the runtime's catalog over HTTP on the configured host and port, and (unless `workers` is
 * false) run the pipeline's steps in this process, `config.workerConcurrency` at once.
 */
export async function serveRuntime(
  rt: Runtime,
  o: {
    workers?: boolean;
    concurrency?: number;
    staticDir?: string;
    trustProxy?: string[];
    logger?: false | 'error' | 'warn' | 'info';
  } = {},
): Promise<RunningServer> {
  const c = rt.config;
  const workers =
    o.workers === false
      ? null
      : await startWorkers(rt.pipeline.queue, rt.pipeline, {
          concurrency: o.concurrency ?? c.workerConcurrency,
        });
  // Subscriptions (and webhook delivery records) in <data dir>/alerts.db. Webhook deliveries run with
  // the workers (the audit log is this process's). Endpoints: public https hosts only.
  const egress = { allowHosts: [], allowPrivate: false, allowHttp: false };
  const subscriptions = new SqliteSubscriptionStore(join(c.dataDir, 'alerts.db'));
  const alerts = workers
    ? startWebhookDelivery({
        catalog: rt.catalog,
        assets: rt.store,
        subscriptions,
        queue: rt.pipeline.queue,
        identity: rt.access.identity,
        rules: rt.access.rules,
        audit: (r) => rt.access.audit.append(r),
        apiBaseUrl: c.publicUrl,
        egress,
      })
    : null;
  const closeAlerts = async () => {
    if (alerts) await alerts.stop();
    else await subscriptions.close();
  };
  let app: FastifyInstance;
  try {
    app = await buildServer({
      store: rt.catalog,
      access: rt.access,
      publicUrl: c.publicUrl,
      assets: rt.assets,
      assetStore: rt.store,
      staticDir: o.staticDir,
      trustProxy: o.trustProxy,
      corsOrigins: c.corsOrigins,
      pipeline: rt.pipeline,
      // Resumable uploads of products (tus), provider roles only, up to the configured size.
      uploads: { maxSizeBytes: c.maxUploadMiB * 1024 * 1024 },
      logger: o.logger ?? 'warn',
      deliveries: alerts && {
        deliveries: alerts.deliveries,
        dispatcher: alerts.dispatcher,
        subscriptionOrg: async (id) => (await alerts.subscriptions.get(id, null))?.orgId ?? null,
      },
      subscriptions: { subscriptions, egress },
      // The live event stream: the outbox in the catalog, fanned out, CloudEvents JSON per event.
      events: {
        readOutbox: (afterSeq, limit) => rt.catalog.events({ afterSeq, limit }),
        eventsOf: (row) => alertEventsOf(row, { catalog: rt.catalog, assets: rt.store }),
        serialise: (ev) => cloudEventBody(ev, c.publicUrl),
      },
    });
  } catch (err) {
    await closeAlerts();
    await workers?.close({ abort: true });
    throw err;
  }
  const url = await app.listen({ host: c.host, port: c.port });
  return {
    app,
    url,
    workers,
    async stop() {
      await app.close();
      await closeAlerts();
      await workers?.close({ abort: true });
    },
  };
}
