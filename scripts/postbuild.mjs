// Make the CLI entry executable after tsc, so `npx sarbridge` can run it through its bin link.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
