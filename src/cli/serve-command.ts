import type { Command } from 'commander';
import { Option } from 'commander';
import { SqliteCatalog } from '../catalog/sqlite/store.js';
import { buildServer } from '../server/app.js';
import { loadDemo } from '../server/demo.js';
import { intArg, write } from './args.js';

/** `sarbridge serve` and `sarbridge demo`. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the STAC API and map tiles over HTTP')
    .addOption(
      new Option('--catalog <file>', 'SQLite catalog file (created when missing)').default('catalog.db'),
    )
    .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'port').default(8080).argParser(intArg('--port', 0, 65535)))
    .addOption(new Option('--asset-root <dir>', 'directory that relative asset hrefs are resolved against'))
    .addOption(new Option('--static <dir>', 'a folder served as-is under /static/{name}'))
    .action(async (o: Record<string, unknown>) => {
      const store = new SqliteCatalog(String(o.catalog));
      const app = await buildServer({
        store,
        assetRoot: o.assetRoot as string | undefined,
        staticDir: o.static as string | undefined,
        logger: false,
      });
      const url = await app.listen({ host: String(o.host), port: o.port as number });
      write({ listening: url, catalog: o.catalog, landing: `${url}/`, search: `${url}/search` });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await store.close();
    });

  program
    .command('demo')
    .description(
      'build a demonstration catalog: simulated scenes, vessel detections and change, ready to serve',
    )
    .argument('<outdir>', 'folder for the scenes')
    .addOption(new Option('--catalog <file>', 'SQLite catalog file').default('catalog.db'))
    .action(async (outDir: string, o: Record<string, unknown>) => {
      const store = new SqliteCatalog(String(o.catalog));
      try {
        const items = await loadDemo(store, outDir);
        write({ catalog: o.catalog, collection: 'demo', items: items.map((i) => i.id) });
      } finally {
        await store.close();
      }
    });
}
