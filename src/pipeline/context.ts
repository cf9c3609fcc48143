import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { ConfidentialityLabel, LabelRules } from '../access/labels.js';
import type { CatalogStore } from '../catalog/store.js';
import type { Backoff, JobQueue } from '../jobs/queue.js';
import type { ArdOptions } from '../ops/ard.js';
import type { SpeckleFilter } from '../raster/speckle.js';
import type { AssetStore } from '../store/store.js';
import type { ProductRegistry } from './registry.js';

/** Everything the pipeline's steps work with, built once by the caller (CLI, server, tests). */
export interface PipelineContext {
  /** Holds inbox/ (the arrived products, kept) and work/ (each product's intermediate files). */
  dataDir: string;
  registry: ProductRegistry;
  catalog: CatalogStore;
  /** Where published assets go (and the ARD outputs, so any machine's later steps can read them). */
  store: AssetStore;
  queue: JobQueue;
  rules: LabelRules;
  /** Collection of products ingested without one (default 'sar'). */
  defaultCollection?: string;
  /** Label of a collection the pipeline creates (null or absent: provider-only). */
  collectionLabel?: ConfidentialityLabel | null;
  ard?: Pick<ArdOptions, 'pol' | 'spacingM' | 'removeNoise' | 'maxMemoryBytes' | 'epsg'> & {
    filter?: SpeckleFilter | 'none';
  };
  /** Land mask for vessel detection: a GeoJSON file, 'none', or (default) Natural Earth 10 m land. */
  landMask?: string;
  /** Smallest footprint overlap (intersection / smaller bbox area) of a previous acquisition (default 0.3). */
  minOverlap?: number;
  /** Largest incidence angle difference of a previous acquisition, degrees (default 3). */
  maxIncidenceDiffDeg?: number;
  /** Failed attempts of a step (errors, not kills) before it fails for good (default 5), and their back-off. */
  maxFailures?: number;
  backoff?: Partial<Backoff>;
  /** Progress lines for the operator (default: none). */
  log?: (line: string) => void;
}

export const DEFAULT_COLLECTION = 'sar';

/** A product's folder of intermediate files. */
export function workDir(ctx: PipelineContext, productId: string): string {
  return join(ctx.dataDir, 'work', productId);
}

/** Where an arrived product is kept. */
export function inboxDir(ctx: PipelineContext, productId: string): string {
  return join(ctx.dataDir, 'inbox', productId);
}

/** A fresh temporary sibling of `path` ('<path>.tmp-<pid>-<random>'). */
export function tmpSibling(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Remove the temporary siblings that killed attempts left beside `path`. */
export async function removeStaleTemporaries(path: string): Promise<void> {
  const dir = join(path, '..');
  const base = path.slice(dir.length + 1);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names)
    if (n.startsWith(`${base}.tmp-`)) await rm(join(dir, n), { recursive: true, force: true });
}

/**
 * Make the folder `dir` atomically: `fill` writes into a temporary sibling, which is then renamed
 * to `dir`. When `dir` exists already (an earlier attempt finished it), nothing is run.
 */
export async function atomicDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (await exists(dir)) return;
  await mkdir(join(dir, '..'), { recursive: true });
  await removeStaleTemporaries(dir);
  const tmp = tmpSibling(dir);
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Another attempt renamed its own folder first: theirs is as good.
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(dir))) return;
    throw err;
  }
}

/** A local copy of a stored object at `path` (downloaded to a temporary file, then renamed). */
export async function download(store: AssetStore, key: string, path: string): Promise<string> {
  if (await exists(path)) return path;
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = tmpSibling(path);
  const reader = await store.source(key);
  try {
    await streamPipeline(reader.stream(null), createWriteStream(tmp));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return path;
}
