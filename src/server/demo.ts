import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ConfidentialityLabel, LABEL_FIELD, RELEASABLE_TO } from '../access/labels.js';
import { ALL } from '../access/scope.js';
import type { StacCollection } from '../catalog/types.js';
import { ConflictError, SarbridgeError } from '../errors.js';
import { campaignPasses } from '../ops/campaign-plan.js';
import { type CampaignManifest, type CampaignOptions, simulateCampaign } from '../ops/simulate-campaign.js';
import type { PipelineContext } from '../pipeline/context.js';
import { ingest } from '../pipeline/ingest.js';
import { retryFailed } from '../pipeline/view.js';

/** The collection the demonstration campaign is published into. */
export const DEMO_COLLECTION = 'demo';
const MARKER = 'demo-seeded.json';
const MARKER_VERSION = 1;
/** Day 0 of the campaign (the simulator's default). */
const START_DATE = '2026-06-01';

/** Written last, only when every product of the campaign was published: a later start serves it as it is. */
export interface DemoMarker {
  version: number;
  seededAt: string;
  collection: string;
  manifest: string;
  partners: [string, string];
  products: { pass: string; id: string; releasableTo: string[]; items: string[] }[];
}

export interface SeedProgress {
  /** 'simulate': products written by the simulator; 'publish': products through the pipeline. */
  phase: 'simulate' | 'publish';
  done: number;
  total: number;
  message: string;
}

export interface SeedOptions {
  /** Where the campaign's products are simulated (default `<data dir>/campaign`). */
  campaignDir?: string;
  /** The two partners' releasability codes (default GBR and NLD). */
  partners?: [string, string];
  onProgress?: (p: SeedProgress) => void;
  /** How often the registry is looked at while the products go through the pipeline (default 250 ms). */
  pollMs?: number;
}

type Simulated = Awaited<ReturnType<typeof simulateCampaign>>;

/**
 * simulateCampaign on a worker thread (demo-campaign-thread.js), progress posted back to this one;
 * in this thread when that entry is not there (run from the TypeScript sources).
 */
async function simulateOffThread(dir: string, opts: CampaignOptions): Promise<Simulated> {
  const { onProgress, ...rest } = opts;
  const entry = new URL('./demo-campaign-thread.js', import.meta.url);
  if (!existsSync(fileURLToPath(entry))) return simulateCampaign(dir, opts);
  return new Promise<Simulated>((done, fail) => {
    let result: Simulated | null = null;
    const w = new Worker(entry, { workerData: { dir, opts: rest } });
    w.on(
      'message',
      (m: { type: string; done: number; total: number; message: string; result: Simulated }) => {
        if (m.type === 'progress') {
          try {
            onProgress?.(m.done, m.total, m.message);
          } catch (err) {
            void w.terminate();
            fail(err);
          }
        } else if (m.type === 'done') result = m.result;
      },
    );
    w.on('error', (err) => fail(new SarbridgeError(`demo campaign: ${err.message}`)));
    w.on('exit', (code) =>
      result ? done(result) : fail(new SarbridgeError(`demo campaign: the simulator stopped (exit ${code})`)),
    );
  });
}

/** NATO UNCLASSIFIED, releasable to these codes: the label the campaign suggests for a product. */
export function releasableLabel(codes: string[]): ConfidentialityLabel {
  return {
    policy: 'NATO',
    classification: 'UNCLASSIFIED',
    categories: [{ tagName: RELEASABLE_TO, type: 'permissive', values: [...codes].sort() }],
  };
}

export const markerPath = (dataDir: string) => join(dataDir, MARKER);

/** The marker of a finished seeding of `dataDir`, or null (never seeded, interrupted, older version). */
export async function demoMarker(dataDir: string): Promise<DemoMarker | null> {
  try {
    const m = JSON.parse(await readFile(markerPath(dataDir), 'utf8')) as DemoMarker;
    return m.version === MARKER_VERSION && Array.isArray(m.products) ? m : null;
  } catch {
    return null;
  }
}

/** The demo collection, releasable to both partners (each item narrows it with its own label). */
async function ensureCollection(ctx: PipelineContext, partners: [string, string]): Promise<void> {
  if (await ctx.catalog.getCollection(DEMO_COLLECTION, ALL)) return;
  const c: StacCollection = {
    type: 'Collection',
    stac_version: '1.0.0',
    id: DEMO_COLLECTION,
    title: 'Demonstration campaign: Golfe de Fos and Nimes-Garons',
    description:
      'Six simulated passes over three days (Sentinel-1-like GRDs and X-band SICDs) over a harbour and an airfield: analysis-ready imagery, vessel detections and change, published by the pipeline.',
    license: 'proprietary',
    extent: { spatial: { bbox: [[4.2, 43.2, 5.1, 43.9]] }, temporal: { interval: [[null, null]] } },
    links: [],
    [LABEL_FIELD]: releasableLabel(partners),
  };
  try {
    await ctx.catalog.putCollection(c, 'create');
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
}

/**
 * Seed the demonstration catalog of `npm start` through the real pipeline: simulate the campaign
 * (src/ops/simulate-campaign.ts; a finished one is reused), ingest each product with the release label
 * the campaign suggests (as soon as the simulator has written it, so the pipeline works while the
 * next one is simulated), wait until every product is published, and write the marker last. The
 * pipeline's workers must be running on `ctx.queue` (in this process or elsewhere).
 *
 * Every part may run again after a kill at any moment: the simulation is deterministic (same
 * content, same product ids), ingest adds nothing for a product that arrived before, the steps are
 * idempotent, and a product that failed is retried once per call. Without the marker, a later start
 * calls this again and it finishes what is missing.
 * @throws SarbridgeError naming the product and its error when one fails for good
 */
export async function seedDemo(ctx: PipelineContext, o: SeedOptions = {}): Promise<DemoMarker> {
  const partners = o.partners ?? ['GBR', 'NLD'];
  const campaignDir = o.campaignDir ?? join(ctx.dataDir, 'campaign');
  const productsDir = join(campaignDir, 'products');
  await ensureCollection(ctx, partners);
  const passes = campaignPasses(START_DATE, partners);
  const ids = new Map<string, string>();
  const ingested = new Set<string>();
  // Ingests run one after the other, beside the simulation; the first error is thrown after it.
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  const take = (pass: string, path: string, codes: string[]) => {
    ingested.add(pass);
    chain = chain
      .then(async () => {
        if (failure) return;
        const [r] = await ingest(ctx, [path], {
          label: releasableLabel(codes),
          labelSource: 'arrival',
          collection: DEMO_COLLECTION,
        });
        if (!r.id) throw new SarbridgeError(`demo: ${path} was not taken by the pipeline: ${r.error}`);
        ids.set(pass, r.id);
      })
      .catch((err) => {
        failure ??= err;
      });
  };
  const settle = async () => {
    await chain;
    if (failure) throw failure;
  };
  // A simulation that is not reused starts from an empty products folder: each progress call adds one.
  const seen = new Set<string>();
  o.onProgress?.({ phase: 'simulate', done: 0, total: passes.length, message: campaignDir });
  const sim = await simulateOffThread(campaignDir, {
    startDate: START_DATE,
    partners,
    onProgress: (done, total, message) => {
      o.onProgress?.({ phase: 'simulate', done, total, message });
      const pass = passes[done - 1];
      const fresh = readdirSync(productsDir).filter((n) => !seen.has(n));
      for (const n of fresh) seen.add(n);
      if (pass && fresh.length === 1) take(pass.id, join(productsDir, fresh[0]), pass.releasableTo);
    },
  });
  await settle();
  const m: CampaignManifest = sim.manifest;
  for (const p of m.products) {
    const planned = passes.find((x) => x.id === p.id);
    if (JSON.stringify(releasableLabel(planned?.releasableTo ?? [])) !== JSON.stringify(p.label))
      throw new SarbridgeError(`demo: the campaign's label of ${p.id} is not the planned one`);
    if (!ingested.has(p.id)) take(p.id, join(campaignDir, p.path), p.releasableTo);
  }
  await settle();
  for (const id of ids.values())
    if ((await ctx.registry.get(id))?.state === 'failed') await retryFailed(ctx, id);

  const total = m.products.length;
  let last = -1;
  for (;;) {
    const records = await Promise.all(m.products.map((p) => ctx.registry.get(ids.get(p.id) as string)));
    const failed = records.find((r) => r?.state === 'failed');
    if (failed)
      throw new SarbridgeError(
        `demo: product ${failed.id} (${failed.sourcePath}) failed: ${failed.error} (sarbridge jobs show ${failed.id} --data-dir ${ctx.dataDir})`,
      );
    const published = records.filter((r) => r?.state === 'published').length;
    if (published !== last) {
      last = published;
      o.onProgress?.({
        phase: 'publish',
        done: published,
        total,
        message: `${published} of ${total} published`,
      });
    }
    if (published === total) break;
    await new Promise((done) => setTimeout(done, o.pollMs ?? 250));
  }
  const marker: DemoMarker = {
    version: MARKER_VERSION,
    seededAt: new Date().toISOString(),
    collection: DEMO_COLLECTION,
    manifest: sim.manifestPath,
    partners,
    products: await Promise.all(
      m.products.map(async (p) => {
        const id = ids.get(p.id) as string;
        return {
          pass: p.id,
          id,
          releasableTo: p.releasableTo,
          items: (await ctx.registry.get(id))?.itemIds ?? [],
        };
      }),
    ),
  };
  const tmp = `${markerPath(ctx.dataDir)}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(marker, null, 2)}\n`);
  await rename(tmp, markerPath(ctx.dataDir));
  return marker;
}
