import type { Command } from 'commander';
import { Option } from 'commander';
import { write } from './args.js';
import { addServeOptions, serveConfig, stopSignal } from './serve-options.js';
import { openRuntime, serveRuntime } from './serve-runtime.js';
import { registerStartCommands } from './start-command.js';

export { openCatalog } from './serve-runtime.js';

/** `sarbridge serve`, `sarbridge start` and `sarbridge demo`. */
export function registerServeCommands(program: Command): void {
  addServeOptions(
    program
      .command('serve')
      .description(
        "serve the STAC API, map tiles and assets over HTTP to authenticated partners, and run the pipeline's workers",
      ),
  )
    .addOption(
      new Option(
        '--no-workers',
        'run no pipeline workers here (`sarbridge worker` processes run the jobs elsewhere)',
      ),
    )
    .addOption(new Option('--static <dir>', 'a folder served as-is under /static/{name}'))
    .addOption(
      new Option(
        '--trust-proxy <addresses>',
        'comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed',
      ),
    )
    .action(async (o: Record<string, unknown>) => {
      const config = serveConfig(o, process.env);
      const rt = await openRuntime(config, {
        env: process.env,
        landMask: o.landMask as string | undefined,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      try {
        const boot = rt.access.identity.bootstrap();
        if (boot)
          process.stderr.write(
            `first start: provider-admin ${boot.principalId} created; its API key (shown once, keep it safe):\n${boot.key}\n`,
          );
        const srv = await serveRuntime(rt, {
          workers: o.workers !== false,
          staticDir: o.static as string | undefined,
          trustProxy: o.trustProxy
            ? String(o.trustProxy)
                .split(',')
                .map((a) => a.trim())
            : undefined,
        });
        write({
          listening: srv.url,
          publicUrl: config.publicUrl,
          catalog:
            config.db.kind === 'postgres' ? config.db.url.replace(/\/\/[^@/]*@/, '//***@') : config.db.path,
          access: config.accessDir,
          store: rt.store.location,
          queue:
            config.queue.kind === 'redis'
              ? config.queue.url.replace(/\/\/[^@/]*@/, '//***@')
              : config.queue.path,
          workers: srv.workers ? config.workerConcurrency : 0,
        });
        await stopSignal();
        await srv.stop();
      } finally {
        await rt.close();
      }
    });
  registerStartCommands(program);
}
