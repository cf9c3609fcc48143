import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { atomicDir, download, exists, inboxDir, type PipelineContext } from './context.js';
import type { ProductRecord } from './registry.js';

/**
 * The arrival copy of a product in the asset store, so that a worker on any machine can read it:
 * every file of `<data dir>/inbox/<id>/` under `inbox/<id>/<relative path>` (a file and a GeoTIFF's
 * sidecars: `inbox/<id>/<name>`; a SAFE folder: `inbox/<id>/<SAFE name>/<path in it>`), then the
 * manifest `inbox/<id>/manifest.json` listing them, written last: a manifest means every file is in.
 */

/** One file of a stored arrival copy. */
export interface InboxFile {
  /** Path relative to the product's inbox folder, '/' separators. */
  path: string;
  sizeBytes: number;
  /** SHA-256, hex. */
  sha256: string;
}

export interface InboxManifest {
  productId: string;
  /** The name of the product (file or folder) in its inbox folder: what the steps open. */
  product: string;
  files: InboxFile[];
}

/** The store key prefix of a product's arrival copy (derived from its id; the registry has no field for it). */
export const inboxPrefix = (productId: string) => `inbox/${productId}/`;
/** The store key of a product's manifest. */
export const manifestKey = (productId: string) => `${inboxPrefix(productId)}manifest.json`;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The manifest of a product's stored arrival copy, or null when it is not (completely) stored. */
export async function readManifest(ctx: PipelineContext, productId: string): Promise<InboxManifest | null> {
  if (!(await ctx.store.head(manifestKey(productId)))) return null;
  const chunks: Buffer[] = [];
  for await (const c of (await ctx.store.source(manifestKey(productId))).stream(null))
    chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as InboxManifest;
}

/** The object under `key` has this size and SHA-256 (read and hashed when the store does not know its checksum). */
async function storedAlready(
  ctx: PipelineContext,
  key: string,
  sizeBytes: number,
  sha256: string,
): Promise<boolean> {
  const had = await ctx.store.head(key);
  if (!had || had.sizeBytes !== sizeBytes) return false;
  if (had.checksum !== undefined) return had.checksum === `1220${sha256}`;
  const h = createHash('sha256');
  for await (const c of (await ctx.store.source(key)).stream(null)) h.update(c as Buffer);
  return h.digest('hex') === sha256;
}

/**
 * Put the local inbox folder of a product into the store (see the module's comment). Idempotent: with
 * the manifest stored nothing is done (0 files put); a file stored already with the same size and
 * SHA-256 (an earlier, killed attempt's) is not put again. Returns the files put.
 * @param product the product's name in its inbox folder
 */
export async function storeInbox(ctx: PipelineContext, productId: string, product: string): Promise<number> {
  if (await ctx.store.head(manifestKey(productId))) return 0;
  const dir = inboxDir(ctx, productId);
  const files: InboxFile[] = [];
  let put = 0;
  for (const rel of await filesUnder(dir)) {
    const path = join(dir, ...rel.split('/'));
    const key = `${inboxPrefix(productId)}${rel}`;
    const sizeBytes = (await stat(path)).size;
    const sha256 = await sha256Of(path);
    if (!(await storedAlready(ctx, key, sizeBytes, sha256))) {
      const o = await ctx.store.putFile(key, path);
      put++;
      if (o.checksum !== undefined && o.checksum !== `1220${sha256}`)
        throw new Error(`${key}: the store's checksum ${o.checksum} is not that of ${path} (1220${sha256})`);
    }
    files.push({ path: rel, sizeBytes, sha256 });
  }
  const manifest: InboxManifest = { productId, product, files };
  await ctx.store.putBytes(manifestKey(productId), Buffer.from(JSON.stringify(manifest, null, 1)), {
    contentType: 'application/json',
  });
  return put;
}

/** The name of a product in its inbox folder (the last segment of its kept path). */
const productName = (p: ProductRecord) => p.storedPath.split(/[\\/]/).filter(Boolean).pop() ?? '';

/**
 * A local path of a product's arrival copy: this machine's inbox copy when there is one, else the
 * stored copy downloaded (atomically) into `<this data dir>/inbox/<id>/`. On the machine that has the
 * copy, a stored copy a killed ingest left unfinished is completed first.
 * @throws Error when neither this machine nor the store holds the product
 */
export async function localProduct(ctx: PipelineContext, p: ProductRecord): Promise<string> {
  const dir = inboxDir(ctx, p.id);
  const own = join(dir, productName(p));
  if (await exists(own)) {
    await storeInbox(ctx, p.id, productName(p));
    return own;
  }
  const m = await readManifest(ctx, p.id);
  if (!m)
    // Not the product's fault (a plain Error, retried): the machine that has it may be unreachable.
    throw new Error(
      `${p.id}: its arrival copy is neither in this machine's inbox (${own}) nor in the store (${manifestKey(p.id)})`,
    );
  await atomicDir(dir, async (tmp) => {
    for (const f of m.files)
      await download(ctx.store, `${inboxPrefix(p.id)}${f.path}`, join(tmp, ...f.path.split('/')));
  });
  ctx.log?.(`${p.id} arrival copy downloaded from the store: ${m.files.length} files`);
  return join(dir, m.product);
}
