import { mkdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { LabelRules } from '../access/labels.js';
import { PostgresCatalog } from '../catalog/postgres/store.js';
import { SqliteCatalog } from '../catalog/sqlite/store.js';
import type { SarbridgeConfig } from '../config/schema.js';
import { ValidationError } from '../errors.js';
import { openQueue } from '../jobs/index.js';
import type { JobQueue } from '../jobs/queue.js';
import type { PipelineContext } from '../pipeline/context.js';
import { type IngestProgress, type IngestResult, ingest } from '../pipeline/ingest.js';
import { openRegistry } from '../pipeline/open-registry.js';
import { jobsView, productView, retryFailed } from '../pipeline/view.js';
import { watchDropFolder } from '../pipeline/watch.js';
import { startWorkers } from '../pipeline/worker.js';
import { openStore } from '../store/store.js';
import { intArg, write } from './args.js';
import { addConfigOptions, configFromOptions } from './config-options.js';
import { Output, type ProgressReporter } from './progress.js';

/** An opened pipeline and how to close it. */
export interface OpenedPipeline {
  ctx: PipelineContext;
  close(): Promise<void>;
}

/**
 * Open what the pipeline works with, from the validated configuration: the registry
 * (`<data dir>/pipeline.db`), the catalog (`db`), the job queue (`queue`) and the asset store (`store`).
 */
export async function openPipeline(
  config: SarbridgeConfig,
  o: { leaseMs?: number; landMask?: string; log?: (line: string) => void } = {},
): Promise<OpenedPipeline> {
  mkdirSync(config.dataDir, { recursive: true });
  const db = config.db.kind === 'postgres' ? config.db.url : config.db.path;
  const registry = await openRegistry({ dataDir: config.dataDir, db });
  const catalog =
    config.db.kind === 'postgres' ? new PostgresCatalog(config.db.url) : new SqliteCatalog(config.db.path);
  let queue: JobQueue | null = null;
  try {
    queue = await openQueue(config.queue.kind === 'redis' ? config.queue.url : config.queue.path, {
      leaseMs: o.leaseMs,
    });
    const s3 = config.s3;
    const store = await openStore(config.store.kind === 's3' ? config.store.url : config.store.root, {
      createRoot: true,
      s3: {
        endpoint: s3.endpoint ?? undefined,
        region: s3.region,
        forcePathStyle: s3.forcePathStyle,
        credentials:
          s3.accessKeyId && s3.secretAccessKey
            ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
            : undefined,
      },
    });
    const q = queue;
    const ctx: PipelineContext = {
      dataDir: config.dataDir,
      registry,
      catalog,
      store,
      queue: q,
      rules: new LabelRules(),
      landMask: o.landMask,
      log: o.log,
    };
    return {
      ctx,
      close: async () => {
        await q.close();
        await store.close();
        await catalog.close();
        await registry.close();
      },
    };
  } catch (err) {
    await queue?.close();
    await catalog.close();
    await registry.close();
    throw err;
  }
}

/** `--label`: a label as JSON, or `@file.json`. */
export function parseLabelOption(v: string): unknown {
  const text = v.startsWith('@') ? readFileSync(v.slice(1), 'utf8') : v;
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(
      `--label: expected a label as JSON ({"policy":"NATO","classification":"UNCLASSIFIED","categories":[...]}) or @file.json, got '${v.slice(0, 80)}'`,
    );
  }
}

const STORAGE_SETTINGS = ['dataDir', 'db', 'queue', 'store', 's3Endpoint', 's3Region', 's3ForcePathStyle'];

/** The configuration's flags the pipeline commands take (see src/config/load.ts), and the output flags. */
function withSettings(cmd: Command, concurrency = false): Command {
  return addConfigOptions(cmd, concurrency ? [...STORAGE_SETTINGS, 'workerConcurrency'] : STORAGE_SETTINGS)
    .addOption(
      new Option(
        '--land-mask <geojson|none>',
        'land for vessel detection (default Natural Earth 1:10m land)',
      ),
    )
    .addOption(new Option('--json', 'JSON output'))
    .addOption(new Option('--quiet', 'no progress lines on stderr'));
}

const settings = (o: Record<string, unknown>): SarbridgeConfig => configFromOptions(o);

const logger = (o: Record<string, unknown>) =>
  o.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);

const MIB = 1024 * 1024;

/**
 * The operator's view of ingest's progress: a bar per product and phase (checksum, then copy) in
 * bytes with an ETA on a terminal, plain lines otherwise, JSON lines with --json, nothing with --quiet.
 */
export function ingestProgress(out: Output): { onProgress: (e: IngestProgress) => void; finish: () => void } {
  let key = '';
  let bar: ProgressReporter | null = null;
  const finish = () => {
    bar?.finish();
    bar = null;
  };
  return {
    onProgress: (e) => {
      const k = `${e.phase}\u0000${e.path}`;
      if (k !== key) {
        finish();
        key = k;
        bar = out.progress(`${e.phase} ${basename(e.path)} (bytes)`, e.totalBytes);
      }
      bar?.update(e.doneBytes, `${(e.doneBytes / MIB).toFixed(1)} of ${(e.totalBytes / MIB).toFixed(1)} MiB`);
    },
    finish,
  };
}

/** Resolves on SIGINT or SIGTERM. */
const stopSignal = () =>
  new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });

async function printProducts(ctx: PipelineContext, results: IngestResult[], json: boolean): Promise<boolean> {
  const rows = [];
  for (const r of results) {
    const p = r.id ? await ctx.registry.get(r.id) : null;
    rows.push({
      path: r.path,
      id: r.id,
      added: r.added,
      state: p?.state ?? 'refused',
      items: p?.itemIds ?? [],
      error: r.error ?? p?.error ?? null,
    });
  }
  if (json) write(rows);
  else
    for (const r of rows)
      process.stdout.write(
        `${r.id ?? '-'}  ${r.state}${r.added ? '' : ' (arrived before)'}  ${r.path}${r.error ? `\n  ${r.error}` : ''}${r.items.length ? `\n  items: ${r.items.join(', ')}` : ''}\n`,
      );
  return rows.every((r) => r.state !== 'failed' && r.state !== 'refused');
}

/** `sarbridge ingest`, `sarbridge worker` and `sarbridge jobs`. */
export function registerPipelineCommands(program: Command): void {
  withSettings(
    program
      .command('ingest')
      .description(
        'take products in: checksum, keep, register with their label, and run the pipeline on them',
      )
      .argument(
        '[product...]',
        'Sentinel-1 SAFE (folder or zip), SICD (NITF) or geocoded GeoTIFF with its sidecar',
      )
      .addOption(
        new Option('--label <json|@file>', "release label of the products (default: the collection's)"),
      )
      .addOption(new Option('--collection <id>', 'catalog collection (default sar)'))
      .addOption(
        new Option(
          '--sha256 <hex>',
          "the provider's SHA-256 of the one product (default: <product>.sha256 when there)",
        ),
      )
      .addOption(
        new Option('--watch <dir>', 'then watch this drop folder: a product is taken once it stops growing'),
      )
      .addOption(new Option('--no-wait', 'only register and queue (workers elsewhere run the steps)'))
      .addOption(
        new Option('--concurrency <n>', 'jobs run at once here').argParser(intArg('--concurrency', 1, 64)),
      ),
  ).action(async (products: string[], o: Record<string, unknown>) => {
    if (products.length === 0 && !o.watch)
      throw new ValidationError('ingest: give products, or --watch <dir>');
    const label = o.label === undefined ? undefined : parseLabelOption(String(o.label));
    const config = settings(o);
    const { ctx, close } = await openPipeline(config, {
      landMask: o.landMask as string | undefined,
      log: logger(o),
    });
    try {
      const progress = ingestProgress(new Output({ json: Boolean(o.json), quiet: Boolean(o.quiet) }));
      const results = await ingest(ctx, products, {
        label,
        collection: o.collection as string | undefined,
        sha256: o.sha256 as string | undefined,
        onProgress: progress.onProgress,
      });
      progress.finish();
      if (o.wait === false && !o.watch) {
        if (!(await printProducts(ctx, results, Boolean(o.json)))) process.exitCode = 1;
        return;
      }
      const workers = await startWorkers(ctx.queue, ctx, {
        concurrency: config.workerConcurrency,
      });
      try {
        if (o.watch) {
          const abort = new AbortController();
          const watching = watchDropFolder(ctx, String(o.watch), {
            label,
            collection: o.collection as string | undefined,
            signal: abort.signal,
            onIngest: (r) => void printProducts(ctx, [r], Boolean(o.json)),
          });
          await stopSignal();
          abort.abort();
          await watching;
        } else {
          await ctx.queue.drained();
          if (!(await printProducts(ctx, results, Boolean(o.json)))) process.exitCode = 1;
        }
      } finally {
        await workers.close();
      }
    } finally {
      await close();
    }
  });

  withSettings(
    program
      .command('worker')
      .description(
        "run the pipeline's steps from the job queue (any number of workers, on any machine), and watch the configured drop folders",
      )
      .addOption(
        new Option(
          '--lease-ms <ms>',
          "a killed worker's job runs again after this long (default 30000)",
        ).argParser(intArg('--lease-ms', 100, 3_600_000)),
      ),
    true,
  ).action(async (o: Record<string, unknown>) => {
    const config = settings(o);
    const { ctx, close } = await openPipeline(config, {
      leaseMs: o.leaseMs as number | undefined,
      landMask: o.landMask as string | undefined,
      log: logger(o),
    });
    try {
      const workers = await startWorkers(ctx.queue, ctx, { concurrency: config.workerConcurrency });
      const abort = new AbortController();
      const watching = config.dropFolders.map((d) =>
        watchDropFolder(ctx, d.path, {
          label: d.label,
          collection: d.collection ?? undefined,
          signal: abort.signal,
        }),
      );
      if (o.json)
        write({
          worker: process.pid,
          queue: ctx.queue.kind,
          concurrency: config.workerConcurrency,
          dropFolders: config.dropFolders.map((d) => d.path),
        });
      else
        process.stderr.write(
          `worker ${process.pid} on the ${ctx.queue.kind} queue, ${config.workerConcurrency} at once\n`,
        );
      await stopSignal();
      abort.abort();
      await Promise.all(watching);
      await workers.close();
    } finally {
      await close();
    }
  });

  const jobs = program
    .command('jobs')
    .description('the products in the pipeline: their steps, timings and errors');
  withSettings(
    jobs
      .command('list', { isDefault: true })
      .description('products by arrival, newest first, with the step they are at')
      .addOption(new Option('--state <state>', 'processing, published or failed'))
      .addOption(
        new Option('--limit <n>', 'at most this many').default(50).argParser(intArg('--limit', 1, 10000)),
      ),
  ).action(async (o: Record<string, unknown>) => {
    const state = o.state as string | undefined;
    if (state !== undefined && !['processing', 'published', 'failed'].includes(state))
      throw new ValidationError(`--state must be one of processing, published, failed, got '${state}'`);
    const { ctx, close } = await openPipeline(settings(o));
    try {
      const v = await jobsView(ctx, { state: state as 'failed' | undefined, limit: o.limit as number });
      if (o.json) return write(v);
      const c = v.products;
      process.stdout.write(`${c.processing} processing, ${c.published} published, ${c.failed} failed\n`);
      for (const p of v.list) {
        const ms = p.steps.reduce((a, s) => a + (s.durationMs ?? 0), 0);
        process.stdout.write(
          `${p.id}  ${p.state.padEnd(10)} ${p.step.padEnd(8)} ${(ms / 1000).toFixed(1).padStart(6)} s  ${p.sourcePath}${p.error ? `\n  ${p.error}` : ''}\n`,
        );
      }
    } finally {
      await close();
    }
  });
  withSettings(
    jobs
      .command('show')
      .description('one product: each step with its attempts, time and error')
      .argument('<id>', 'product id'),
  ).action(async (id: string, o: Record<string, unknown>) => {
    const { ctx, close } = await openPipeline(settings(o));
    try {
      const v = await productView(ctx, id);
      if (o.json) return write(v);
      process.stdout.write(`${v.id}  ${v.state}  ${v.sourcePath}\n  kept: ${v.storedPath}\n`);
      if (v.error) process.stdout.write(`  error: ${v.error}\n`);
      for (const s of v.steps)
        process.stdout.write(
          `  ${s.step.padEnd(8)} ${s.state.padEnd(9)} attempt ${s.attempts}  ${s.durationMs === null ? '-' : `${s.durationMs} ms`}${s.error ? `  ${s.error}` : ''}\n`,
        );
      if (v.itemIds.length) process.stdout.write(`  items: ${v.itemIds.join(', ')}\n`);
    } finally {
      await close();
    }
  });
  withSettings(
    jobs
      .command('retry')
      .description("run a failed product's failed step again (or a failed job, by its id)")
      .argument('<id>', 'product or job id'),
  ).action(async (id: string, o: Record<string, unknown>) => {
    const { ctx, close } = await openPipeline(settings(o));
    try {
      const r = await retryFailed(ctx, id);
      if (o.json) write(r);
      else process.stdout.write(`${id}: ${r.step ?? 'job'} queued again (job ${r.jobId})\n`);
    } finally {
      await close();
    }
  });
}
