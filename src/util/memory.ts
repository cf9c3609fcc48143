import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gcFn: GcFunction | null | undefined;

/**
 * Run a young-generation garbage collection, to release the backing stores of short-lived
 * typed arrays (tiles, strips) promptly. Streaming raster work allocates large buffers but very few
 * JavaScript objects, so V8 would otherwise let tens of megabytes of dead buffers pile up before it
 * collects; a scavenge of the tiny young generation costs well under a millisecond. Measured on the
 * COG benchmark: peak RSS 128-136 MB with it, 136-151 MB without, the same time.
 */
export function releaseShortLivedBuffers(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as GcFunction;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.({ type: 'minor' });
}
