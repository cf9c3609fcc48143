// `npm start`: the main job. `sarbridge start` in this process (so that a kill of it stops the
// seeding too): on first start it creates ./sarbridge-data (or SARBRIDGE_DATA_DIR), simulates the
// demonstration campaign (six passes over a harbour and an airfield across three days), creates the
// provider and two partner organisations with their API keys, ingests every product through the
// pipeline and, once all are published, marks the folder seeded; every start then serves it with
// the pipeline's workers running and prints the URL and the demo credentials. A start interrupted
// while seeding is finished by the next one. Arguments are passed on (`npm start -- --port 9000`);
// PORT is taken as SARBRIDGE_PORT when that is not set.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.PORT && !process.env.SARBRIDGE_PORT) process.env.SARBRIDGE_PORT = process.env.PORT;
const { runCli } = await import(pathToFileURL(join(root, 'dist/src/cli/main.js')).href);
process.exitCode = await runCli(['start', ...process.argv.slice(2)]);
