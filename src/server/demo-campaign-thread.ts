/**
 * Worker-thread entry of the demo seeding: runs the campaign simulator off the main thread, so that
 * the pipeline's steps (on the main thread) and the simulator use both cores. Posts
 * `{ type: 'progress', done, total, message }` after each product and `{ type: 'done', result }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CampaignOptions, simulateCampaign } from '../ops/simulate-campaign.js';

const { dir, opts } = workerData as { dir: string; opts: Omit<CampaignOptions, 'onProgress'> };
const result = await simulateCampaign(dir, {
  ...opts,
  onProgress: (done, total, message) => parentPort?.postMessage({ type: 'progress', done, total, message }),
});
parentPort?.postMessage({ type: 'done', result });
