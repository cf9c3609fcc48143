// `npm start`: the main job. Until the server lands (catalog and tiles), it shows the CLI and runs
// a sample conversion of the real geocoded Sentinel-1 product in ../shared (when present) to a COG.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/cli/main.js');
const run = (args) => execFileSync(process.execPath, [cli, ...args], { stdio: 'inherit' });

run(['--help']);
const sample = join(root, '..', 'shared', 'data', 'real', 'pyrosar_db.tif');
if (existsSync(sample)) {
  const outDir = join(root, 'out');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'pyrosar_db.cog.tif');
  console.log(`\n$ sarbridge cog ${sample} ${out}`);
  run(['cog', sample, out]);
  console.log(`\n$ sarbridge info ${out}`);
  run(['info', out]);
} else {
  console.log(`\n(no sample product at ${sample}; try: npx sarbridge info <file.tif>)`);
}
