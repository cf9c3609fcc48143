import { Worker } from 'node:worker_threads';

/**
 * The URL of a worker module beside the calling module: `name.js` when running compiled code,
 * `name.ts` when running from sources (the tests), where the worker is loaded through tsx.
 */
export function siblingWorkerUrl(callerUrl: string, name: string): URL {
  return new URL(`./${name}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

/** Start a worker thread on a module URL from `siblingWorkerUrl`. */
export function startWorker(url: URL, workerData?: unknown): Worker {
  const fromSources = url.pathname.endsWith('.ts');
  return new Worker(url, { workerData, execArgv: fromSources ? ['--import', 'tsx'] : [] });
}
