/**
 * Child process of the change memory test: `tsx change-memory-child.ts baseline` loads the modules
 * and starts the kernel pool's workers (changeFiles' fixed cost) on a 64 x 64 pair; `... run <before> <after> <prefix> <maxMemoryMiB>` runs changeFiles. Prints one JSON line
 * with the peak resident set (VmHWM of /proc/self/status, KiB) and the result's summary.
 */
import { readFileSync } from 'node:fs';
import { changeFiles, detectChanges } from '../../src/exploit/change.js';
import type { GeoTransform } from '../../src/geo/transform.js';

const peakKiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
const [mode, before, after, prefix, mib] = process.argv.slice(2);
if (mode === 'run') {
  const t0 = Date.now();
  const r = await changeFiles(before, after, prefix, { maxMemoryBytes: Number(mib) * 1024 * 1024 });
  console.log(
    JSON.stringify({
      peakKiB: peakKiB(),
      ms: Date.now() - t0,
      areas: r.areas.length,
      grid: r.grid,
      thresholds: r.thresholds,
    }),
  );
} else {
  // The same modules and worker threads, on a tiny pair: the process's cost outside the budget.
  const grid = {
    epsg: 32631,
    geoTransform: [600000, 10, 0, 5000000, 0, -10] as GeoTransform,
    width: 64,
    height: 64,
  };
  const img = () => Float32Array.from({ length: 64 * 64 }, (_, i) => 0.05 + (i % 7) * 0.01);
  await detectChanges(img(), img(), grid);
  console.log(JSON.stringify({ peakKiB: peakKiB() }));
}
