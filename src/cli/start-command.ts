import { createServer } from 'node:net';
import type { Command } from 'commander';
import type { SarbridgeConfig } from '../config/schema.js';
import { startWorkers } from '../pipeline/worker.js';
import { type DemoMarker, demoMarker, seedDemo } from '../server/demo.js';
import { type DemoCredential, ensureDemoAccounts } from '../server/demo-identity.js';
import { addOutputOptions, Output, type ProgressReporter } from './progress.js';
import { addServeOptions, serveConfig, stopSignal } from './serve-options.js';
import { openRuntime, type Runtime, serveRuntime } from './serve-runtime.js';

/** `npm start`'s data folder when none is set (flag, SARBRIDGE_DATA_DIR, config file). */
export const START_DATA_DIR = 'sarbridge-data';
/** Workers of `start` when none is set: the simulator and one worker, then two workers, on two cores. */
const START_CONCURRENCY = 2;
const PARTNERS: [string, string] = ['GBR', 'NLD'];

/** A free TCP port on `host` (for `--port 0`: the links must name the port the server gets). */
async function freePort(host: string): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => done(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function startConfig(o: Record<string, unknown>): Promise<SarbridgeConfig> {
  const defaults = { dataDir: START_DATA_DIR, workerConcurrency: START_CONCURRENCY };
  const config = serveConfig(o, process.env, defaults);
  if (config.port !== 0 || config.sources.publicUrl.source !== 'default') return config;
  return serveConfig({ ...o, port: await freePort(config.host) }, process.env, defaults);
}

/**
 * The demonstration: the accounts, then (unless the marker says it was done) the campaign through
 * the pipeline, with the workers already running. Answers the marker and whether this call seeded.
 */
async function seed(
  rt: Runtime,
  out: Output,
): Promise<{ credentials: DemoCredential[]; marker: DemoMarker; seeded: boolean; seconds: number }> {
  const t0 = performance.now();
  const credentials = ensureDemoAccounts(
    rt.access.identity,
    rt.access.rules,
    `${rt.config.dataDir}/demo-credentials.json`,
    PARTNERS,
  );
  const had = await demoMarker(rt.config.dataDir);
  if (had) return { credentials, marker: had, seeded: false, seconds: 0 };
  const bars: Partial<Record<'simulate' | 'publish', ProgressReporter>> = {};
  const marker = await seedDemo(rt.pipeline, {
    partners: PARTNERS,
    onProgress: (p) => {
      const title = p.phase === 'simulate' ? 'simulating the campaign' : 'pipeline: products published';
      bars[p.phase] ??= out.progress(title, p.total);
      bars[p.phase]?.update(p.done, p.message);
      if (p.done === p.total) bars[p.phase]?.finish();
    },
  });
  return { credentials, marker, seeded: true, seconds: (performance.now() - t0) / 1000 };
}

function banner(url: string, config: SarbridgeConfig, r: Awaited<ReturnType<typeof seed>>): string {
  const items = r.marker.products.flatMap((p) => p.items).length;
  const only = r.marker.products.filter((p) => p.releasableTo.length === 1);
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    '',
    `sarbridge is running at ${url}/`,
    `  data: ${config.dataDir} (${r.seeded ? `seeded in ${r.seconds.toFixed(1)} s` : `seeded ${r.marker.seededAt}, reused`}): ${r.marker.products.length} products, ${items} items in collection '${r.marker.collection}'`,
    ...only.map(
      (p) => `  ${p.pass} (${p.items.join(', ')}) is releasable to ${p.releasableTo.join(', ')} only`,
    ),
    '',
    '  demo credentials (send "Authorization: Bearer <key>"; kept in demo-credentials.json in the data folder):',
    ...r.credentials.map(
      (c) =>
        `    ${pad(c.principal, 20)} ${pad(c.org, 13)} ${pad(c.roles.join(','), 18)} ${c.key}${c.codes.length ? `  (sees ${c.codes.join(',')})` : ''}`,
    ),
    '',
    '  try:',
    `    curl -H "Authorization: Bearer ${r.credentials.find((c) => c.orgKind === 'partner')?.key}" '${url}/search?collections=${r.marker.collection}'`,
    `    ${url}/api?f=html               API documentation`,
    `    ${url}/admin/products           the pipeline's products (provider only)`,
    '  Ctrl-C stops it.',
    '',
  ];
  return lines.join('\n');
}

/** `sarbridge start` (what `npm start` runs) and `sarbridge demo`. */
export function registerStartCommands(program: Command): void {
  addOutputOptions(
    addServeOptions(
      program
        .command('start')
        .description(
          'the demonstration: seed a data folder (simulated campaign through the pipeline, partner organisations and keys) once, then serve it with workers',
        ),
    ),
  ).action(async (o: Record<string, unknown>) => {
    const out = new Output(o);
    const config = await startConfig(o);
    const rt = await openRuntime(config, {
      env: process.env,
      landMask: o.landMask as string | undefined,
    });
    try {
      const workers = await startWorkers(rt.pipeline.queue, rt.pipeline, {
        concurrency: config.workerConcurrency,
      });
      try {
        const r = await seed(rt, out);
        const srv = await serveRuntime(rt, { workers: false });
        const url = config.publicUrl;
        if (out.mode === 'json' || out.mode === 'quiet')
          out.result({
            url,
            listening: srv.url,
            dataDir: config.dataDir,
            seeded: r.seeded,
            seedSeconds: Math.round(r.seconds * 10) / 10,
            collection: r.marker.collection,
            products: r.marker.products,
            credentials: r.credentials,
          });
        else process.stdout.write(banner(url, config, r));
        await stopSignal();
        await srv.stop();
      } finally {
        await workers.close({ abort: true });
      }
    } finally {
      await rt.close();
    }
  });

  addOutputOptions(
    addServeOptions(
      program
        .command('demo')
        .description(
          'seed the demonstration data folder (as `sarbridge start` does) and stop; a seeded folder is left as it is',
        ),
    ),
  ).action(async (o: Record<string, unknown>) => {
    const out = new Output(o);
    const config = serveConfig(o, process.env, {
      dataDir: START_DATA_DIR,
      workerConcurrency: START_CONCURRENCY,
    });
    const rt = await openRuntime(config, { env: process.env, landMask: o.landMask as string | undefined });
    try {
      const workers = await startWorkers(rt.pipeline.queue, rt.pipeline, {
        concurrency: config.workerConcurrency,
      });
      try {
        const r = await seed(rt, out);
        out.result({
          dataDir: config.dataDir,
          seeded: r.seeded,
          seedSeconds: Math.round(r.seconds * 10) / 10,
          products: r.marker.products,
          credentials: r.credentials,
        });
      } finally {
        await workers.close({ abort: true });
      }
    } finally {
      await rt.close();
    }
  });
}
