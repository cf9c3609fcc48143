import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectFile } from '../exploit/detect.js';
import { ardProduct } from '../ops/ard-product.js';
import type { StoredObject } from '../store/store.js';
import { productChecksum } from './checksum.js';
import { atomicDir, download, exists, type PipelineContext, workDir } from './context.js';
import { localProduct } from './inbox.js';
import { footprintBbox, geometryKey, readAcquisition } from './read.js';
import type { ProductRecord } from './registry.js';

/** Thrown by a step when the product itself is at fault: the step fails for good, no retry. */
export class ProductFault extends Error {
  override name = 'ProductFault';
}

/** What the ARD step leaves: the item as ard wrote it and where its files are stored. */
export interface ArdStepResult {
  itemId: string;
  ardId: string;
  cogKey: string;
  pngKey: string;
  cogFile: string;
  cog: { sizeBytes: number; checksum: string };
  png: { sizeBytes: number; checksum: string };
  item: Record<string, unknown>;
}

export interface DetectStepResult {
  key: string;
  vessels: number;
  file: { sizeBytes: number; checksum: string };
}

const fileOf = (o: StoredObject) => ({ sizeBytes: o.sizeBytes, checksum: o.checksum ?? '' });

/** verify: the kept copy is the content that arrived, and the provider's checksum (if any) agrees. */
export async function verifyStep(ctx: PipelineContext, p: ProductRecord): Promise<{ sha256: string }> {
  const local = await localProduct(ctx, p);
  const c = await productChecksum(local);
  if (c.sha256 !== p.checksum)
    throw new ProductFault(
      `checksum mismatch: the kept copy ${local} has SHA-256 ${c.sha256} but ${p.checksum} arrived (it changed after arrival)`,
    );
  if (p.expectedChecksum !== null && p.expectedChecksum !== c.sha256)
    throw new ProductFault(
      `checksum mismatch: ${p.sourcePath} has SHA-256 ${c.sha256} but the provider's checksum (${p.expectedChecksumSource}) is ${p.expectedChecksum}`,
    );
  return { sha256: c.sha256 };
}

/** read: the product's format by its content and its acquisition from its metadata, checked. */
export async function readStep(ctx: PipelineContext, p: ProductRecord): Promise<Record<string, unknown>> {
  const acq = await readAcquisition(await localProduct(ctx, p));
  const format = acq.format;
  const key = geometryKey(acq);
  await ctx.registry.setAcquisition(p.id, { acquisition: acq, geometryKey: key, bbox: footprintBbox(acq) });
  return { format, platform: acq.platform, mode: acq.mode, startTime: acq.startTime, geometryKey: key };
}

/** The store key of a published file of an item. */
export function assetKey(collection: string, itemId: string, file: string): string {
  return `${collection}/${itemId}/${file}`;
}

/** Run ard on a product into `dir` (atomically), with `like` a grid to take. */
export async function ardInto(
  ctx: PipelineContext,
  p: ProductRecord,
  dir: string,
  like?: string,
): Promise<{ ardId: string; cogFile: string; pngFile: string; item: Record<string, unknown> }> {
  await atomicDir(dir, async (tmp) => {
    const r = await ardProduct(await localProduct(ctx, p), tmp, {
      ...ctx.ard,
      ...(like ? { like, epsg: undefined } : {}),
    });
    await writeFile(join(tmp, 'result.json'), JSON.stringify({ id: String(r.item.id), item: r.item }));
  });
  const { id, item } = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as {
    id: string;
    item: Record<string, unknown>;
  };
  return { ardId: id, cogFile: join(dir, `${id}.tif`), pngFile: join(dir, `${id}.png`), item };
}

/** ard: the analysis-ready COG, quick-look and item, written to the store under the item's keys. */
export async function ardStep(ctx: PipelineContext, p: ProductRecord): Promise<ArdStepResult> {
  const r = await ardInto(ctx, p, join(workDir(ctx, p.id), 'ard'));
  // One product, one item: the id carries the content checksum, so a re-delivered product of the
  // same name with other bytes does not replace the first.
  const itemId = `${r.ardId}_${p.id.slice(1, 9)}`;
  const cogKey = assetKey(p.collection, itemId, `${itemId}.tif`);
  const pngKey = assetKey(p.collection, itemId, `${itemId}.png`);
  const cog = await ctx.store.putFile(cogKey, r.cogFile, {
    contentType: 'image/tiff; application=geotiff; profile=cloud-optimized',
  });
  const png = await ctx.store.putFile(pngKey, r.pngFile, { contentType: 'image/png' });
  return {
    itemId,
    ardId: r.ardId,
    cogKey,
    pngKey,
    cogFile: `${itemId}.tif`,
    cog: fileOf(cog),
    png: fileOf(png),
    item: r.item,
  };
}

/** A local path of a product's ARD COG: its work folder on this machine, else a copy from the store. */
export async function localArdCog(
  ctx: PipelineContext,
  productId: string,
  ard: ArdStepResult,
): Promise<string> {
  const own = join(workDir(ctx, productId), 'ard', `${ard.ardId}.tif`);
  if (await exists(own)) return own;
  return download(ctx.store, ard.cogKey, join(workDir(ctx, productId), 'ard-copy', ard.cogFile));
}

/** detect: vessels on the ARD COG, as GeoJSON in the store. */
export async function detectStep(
  ctx: PipelineContext,
  p: ProductRecord,
  ard: ArdStepResult,
): Promise<DetectStepResult> {
  const cog = await localArdCog(ctx, p.id, ard);
  const dir = join(workDir(ctx, p.id), 'detect');
  let count = 0;
  await atomicDir(dir, async (tmp) => {
    const r = await detectFile(cog, join(tmp, 'vessels.geojson'), { landMask: ctx.landMask });
    count = r.vessels.length;
  });
  const file = join(dir, 'vessels.geojson');
  if (count === 0)
    count = (JSON.parse(await readFile(file, 'utf8')) as { features: unknown[] }).features.length;
  const key = assetKey(p.collection, ard.itemId, `${ard.itemId}.vessels.geojson`);
  const stored = await ctx.store.putFile(key, file, { contentType: 'application/geo+json' });
  return { key, vessels: count, file: fileOf(stored) };
}
