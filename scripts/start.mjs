// `npm start`: the main job. Builds a demonstration catalog (two simulated passes over a coast with
// ships: vessel detections and the change between them, labelled for release to partners) into out/,
// then serves the STAC API, map tiles and assets on http://127.0.0.1:${PORT:-8080}/ until Ctrl-C. The
// first start creates the provider-admin and prints its API key once (out/identity.db keeps it).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/cli/main.js');
const outDir = join(root, 'out');
const catalog = join(outDir, 'catalog.db');
const port = process.env.PORT ?? '8080';
mkdirSync(outDir, { recursive: true });

if (!existsSync(catalog)) {
  console.log('$ sarbridge demo out/demo --catalog out/catalog.db');
  execFileSync(process.execPath, [cli, 'demo', join(outDir, 'demo'), '--catalog', catalog], {
    stdio: 'inherit',
  });
}
const base = `http://127.0.0.1:${port}`;
console.log(`\nserving ${catalog} (every request but the landing page needs "Authorization: Bearer <key>";
the first start prints the provider-admin's key; \`sarbridge admin\` adds partners and keys):
  ${base}/                       landing page (STAC API)
  ${base}/search?collections=demo
  ${base}/collections/demo/items/demo-2026-06-01/tilejson.json?colormap=gray
  ${base}/collections/demo/items/demo-2026-06-01/preview.png
  ${base}/api                    OpenAPI document
Ctrl-C stops it.\n`);
const server = spawn(
  process.execPath,
  [
    cli,
    'serve',
    '--catalog',
    catalog,
    '--port',
    port,
    '--asset-root',
    join(outDir, 'demo'),
    '--access-dir',
    outDir,
  ],
  {
    stdio: 'inherit',
  },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.kill(sig));
server.on('exit', (code) => process.exit(code ?? 0));
