/**
 * Run `fn` over `items` with at most `limit` promises pending; resolves when all are done.
 * `fn` gets the index of the worker (0..limit-1) running it, so workers can own scratch buffers.
 * Stops starting new work once one fails or the signal aborts, and rethrows the first error.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, worker: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (_: unknown, workerIndex: number) => {
    while (!failed && next < items.length) {
      signal?.throwIfAborted();
      const i = next++;
      try {
        await fn(items[i], i, workerIndex);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  const results = await Promise.allSettled(workers);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
