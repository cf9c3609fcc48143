import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { ConfidentialityLabel } from '../access/labels.js';
import { SarbridgeError, ValidationError } from '../errors.js';
import { contentKind } from '../products/recognise.js';
import { parseSha256, productChecksum, sidecarSha256 } from './checksum.js';
import { atomicDir, DEFAULT_COLLECTION, exists, inboxDir, type PipelineContext } from './context.js';
import { storeInbox } from './inbox.js';
import { geotiffSidecars } from './read.js';
import type { LabelSource, ProductRecord } from './registry.js';
import { enqueueStep, resume } from './worker.js';

export interface IngestOptions {
  /** The release label the provider gives the products (checked); without one, the collection's. */
  label?: unknown;
  /** Where the label came from (default 'arrival' with a label; 'drop-folder' for a watched folder's). */
  labelSource?: LabelSource;
  /** Collection to publish into (default the context's, else 'sar'). */
  collection?: string;
  /** The provider's SHA-256 of the content (one product); default: a `<product>.sha256` beside it. */
  sha256?: string;
  /** Told the bytes done of a product's checksum, then of its copy into the inbox, after each chunk. */
  onProgress?: (e: IngestProgress) => void;
}

/** Where the arrival of one product is. */
export interface IngestProgress {
  path: string;
  phase: 'checksum' | 'copy';
  doneBytes: number;
  totalBytes: number;
}

export interface IngestResult {
  path: string;
  /** Null when the path could not be taken (it does not exist, is empty ...): see `error`. */
  id: string | null;
  /** False when the product was there already (same content): nothing was added. */
  added: boolean;
  state: ProductRecord['state'] | null;
  error?: string;
}

const COLLECTION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Copy a file by streams (to a path that must not exist), telling `onChunk` each chunk's bytes. */
async function copyCounted(src: string, dst: string, onChunk: (bytes: number) => void): Promise<void> {
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onChunk(chunk.length);
      done(null, chunk);
    },
  });
  await streamPipeline(createReadStream(src), count, createWriteStream(dst, { flags: 'wx' }));
}

/** Copy a folder's files and folders into `dst` (made here). */
async function copyTree(src: string, dst: string, onChunk: (bytes: number) => void): Promise<void> {
  await mkdir(dst);
  for (const e of await readdir(src, { withFileTypes: true })) {
    const from = join(src, e.name);
    if (e.isDirectory()) await copyTree(from, join(dst, e.name), onChunk);
    else await copyCounted(from, join(dst, e.name), onChunk);
  }
}

/** Copy a product (file or folder, with a GeoTIFF's sidecars) into `dir`. */
async function keep(src: string, dir: string, onChunk: (bytes: number) => void): Promise<void> {
  const st = await stat(src);
  const name = basename(src);
  if (st.isDirectory()) {
    await copyTree(src, join(dir, name), onChunk);
    return;
  }
  await copyCounted(src, join(dir, name), onChunk);
  // A GeoTIFF is known by its bytes, not its name: 'scene.dat' with 'scene.dat.json' keeps its sidecar.
  const kind = await contentKind(src);
  if (kind === 'tiff' || kind === 'bigtiff')
    for (const side of geotiffSidecars(src))
      if (await exists(side)) await copyFile(side, join(dir, basename(side)));
}

/** The product's id: 'p' and the first 24 hex digits of its content's SHA-256. */
export const productId = (sha256: string) => `p${sha256.slice(0, 24)}`;

/**
 * Take products in: each is checksummed (its id comes from its content), copied into the data
 * directory's inbox (kept for inspection whatever happens to it) and into the asset store under
 * `inbox/<id>/` (so workers on any machine can read it: see inbox.ts), registered with its label and
 * collection, and its first step (verify) queued. A product that arrived before (same content) adds
 * nothing. A path that cannot be a product at all (missing, empty) is reported in its result; a
 * product that is corrupt, of an unknown format or with a wrong checksum is taken and fails visibly
 * in its step.
 * @throws ValidationError for a bad label, collection or checksum option
 */
export async function ingest(
  ctx: PipelineContext,
  paths: string[],
  opts: IngestOptions = {},
): Promise<IngestResult[]> {
  const label: ConfidentialityLabel | null =
    opts.label === undefined || opts.label === null ? null : ctx.rules.parse(opts.label, '--label');
  const collection = opts.collection ?? ctx.defaultCollection ?? DEFAULT_COLLECTION;
  if (!COLLECTION_ID.test(collection))
    throw new ValidationError(
      `--collection: '${collection}' is not a collection id (letters, digits, _ . -)`,
    );
  if (opts.sha256 !== undefined && paths.length !== 1)
    throw new ValidationError(`--sha256 names the checksum of one product, but ${paths.length} were given`);
  const given = opts.sha256 === undefined ? null : parseSha256(opts.sha256, '--sha256');
  const out: IngestResult[] = [];
  for (const raw of paths) {
    const path = resolve(raw.replace(/\/+$/, '') || raw);
    try {
      const sum = await productChecksum(path, {
        onProgress: opts.onProgress
          ? (doneBytes, totalBytes) => opts.onProgress?.({ path, phase: 'checksum', doneBytes, totalBytes })
          : undefined,
      });
      const id = productId(sum.sha256);
      const had = await ctx.registry.get(id);
      if (had) {
        await resume(ctx, had);
        out.push({ path, id, added: false, state: had.state });
        continue;
      }
      const expected = given ? { sha256: given, source: '--sha256' } : await sidecarSha256(path);
      const dir = inboxDir(ctx, id);
      await mkdir(join(ctx.dataDir, 'inbox'), { recursive: true });
      let copied = 0;
      await atomicDir(dir, (tmp) =>
        keep(path, tmp, (n) => {
          copied += n;
          opts.onProgress?.({ path, phase: 'copy', doneBytes: copied, totalBytes: sum.sizeBytes });
        }),
      );
      const names = await readdir(dir);
      const name = names.includes(basename(path)) ? basename(path) : names[0];
      const kept = join(dir, name);
      // The arrival copy into the store too, for workers on other machines (idempotent).
      await storeInbox(ctx, id, name);
      const { added, product } = await ctx.registry.register({
        id,
        checksum: sum.sha256,
        expectedChecksum: expected?.sha256 ?? null,
        expectedChecksumSource: expected?.source ?? null,
        sourcePath: path,
        storedPath: kept,
        sizeBytes: sum.sizeBytes,
        collection,
        label,
        labelSource: label ? (opts.labelSource ?? 'arrival') : 'collection',
        arrivedAt: new Date().toISOString(),
      });
      if (added) await enqueueStep(ctx, id, 'verify');
      else await resume(ctx, product);
      ctx.log?.(`${id} ${added ? 'arrived' : 'was there already'}: ${path}`);
      out.push({ path, id, added, state: product.state });
    } catch (err) {
      if (!(err instanceof SarbridgeError)) throw err;
      out.push({ path, id: null, added: false, state: null, error: err.message });
    }
  }
  return out;
}
