import { Worker } from 'node:worker_threads';

/**
 * The URL of a worker module beside the calling module: `name.js` when running compiled code,
 * `name.ts` when running from sources (the tests).
 */
export function siblingWorkerUrl(callerUrl: string, name: string): URL {
  return new URL(`./${name}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

/**
 * Start a worker thread on a module URL from `siblingWorkerUrl`. A `.ts` module (tests running from
 * sources) is loaded through tsx's ESM hooks, registered inside the worker before the import.
 */
export function startWorker(url: URL, workerData?: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
