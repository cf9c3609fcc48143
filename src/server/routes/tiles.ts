import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StacItem } from '../../catalog/types.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import {
  matrixSize,
  TILE_MATRIX_SETS,
  tileExists,
  tileMatrixSetDocument,
  zoomForResolution,
} from '../../geo/tms.js';
import type { ColormapName } from '../../tiler/colormap.js';
import { COLORMAPS } from '../../tiler/colormap.js';
import type { RasterAsset, RenderOptions, Tiler } from '../../tiler/tiler.js';
import { audit, privateResponse, type RouteContext, scopedItem } from '../context.js';
import { ifRangeMatches, parseRange } from '../http-conditional.js';
import { openStored, storedAssetPath, storedKey } from './assets.js';

/** A decimal number as written in a URL (no hex, no 'Infinity', no blanks); NaN otherwise. */
const decimal = (s: string): number =>
  /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?$/.test(s.trim()) ? Number(s) : Number.NaN;

/**
 * Send a generated body (its ETag already set) whole or, for one satisfiable `Range`, as 206 with
 * Content-Range (RFC 9110 14.2-14.4); 416 with `Content-Range: bytes *\/size` when the range starts
 * past the end. An `If-Range` that does not name the current ETag (or is a date: generated bodies
 * have no Last-Modified) gets the whole body (13.1.5).
 */
function sendRanged(req: FastifyRequest, reply: FastifyReply, body: Buffer): FastifyReply {
  reply.header('accept-ranges', 'bytes');
  const etag = String(reply.getHeader('etag') ?? '');
  const ifRange = req.headers['if-range'] as string | undefined;
  const range = ifRangeMatches(ifRange, etag, Number.NaN) ? parseRange(req.headers.range, body.length) : null;
  if (range === 'unsatisfiable') {
    reply.status(416).header('content-range', `bytes */${body.length}`).type('application/json');
    return reply.send({
      code: 'RangeNotSatisfiable',
      description: `range '${req.headers.range}' starts at or past the end of the ${body.length}-byte preview`,
    });
  }
  if (range === null) return reply.send(body);
  reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${body.length}`);
  return reply.send(body.subarray(range.start, range.end + 1));
}

/** Rendering options from a tile request's query (rescale, colormap, resampling). */
export function renderOptions(q: Record<string, unknown>, format: string): RenderOptions {
  const o: RenderOptions = { format: format as 'png' | 'webp' };
  if (q.rescale !== undefined) {
    const parts = String(q.rescale).split(',').map(decimal);
    if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0] < parts[1]))
      throw new ValidationError(`rescale must be two numbers min,max with min < max, got '${q.rescale}'`);
    o.rescale = [parts[0], parts[1]];
  }
  if (q.colormap !== undefined) {
    if (!(COLORMAPS as readonly string[]).includes(String(q.colormap)))
      throw new ValidationError(`colormap must be one of ${COLORMAPS.join(', ')}, got '${q.colormap}'`);
    o.colormap = q.colormap as ColormapName;
  }
  if (q.resampling !== undefined) {
    if (q.resampling !== 'bilinear' && q.resampling !== 'nearest')
      throw new ValidationError(`resampling must be bilinear or nearest, got '${q.resampling}'`);
    o.resampling = q.resampling;
  }
  return o;
}

/** The GeoTIFF assets of an item (the ones the tiler renders), 'data' first. */
export function rasterAssetKeys(it: StacItem): string[] {
  const keys = Object.keys(it.assets ?? {}).filter((k) =>
    /image\/tiff/.test(String(it.assets[k].type ?? '')),
  );
  return keys.sort((a, b) => (a === 'data' ? -1 : b === 'data' ? 1 : 0));
}

/**
 * An item's asset as the tiler reads it: its stored file (checked by the asset storage), the band
 * (`bidx` from 1), its unit and statistics. 404 when the item has no such asset, 400 for a bad bidx.
 */
export async function rasterAsset(
  ctx: RouteContext,
  tiler: Tiler,
  it: StacItem,
  key: string,
  bidx: unknown,
): Promise<RasterAsset> {
  const a = it.assets?.[key];
  if (!a)
    throw new NotFoundError(
      `item '${it.id}' has no asset '${key}' (assets: ${Object.keys(it.assets ?? {}).join(', ')})`,
    );
  // An S3 store is read through its ranged reader; a local one as the checked file path it always was.
  let path: string;
  let source: RasterAsset['source'];
  if (ctx.objects?.kind === 's3') {
    const rel = storedKey(ctx, it, key);
    path = `${ctx.objects.location}/${rel}`;
    source = () => openStored(ctx, rel);
  } else {
    path = await storedAssetPath(ctx, it, key);
  }
  const band = bidx === undefined ? 0 : /^\d{1,3}$/.test(String(bidx)) ? Number(bidx) - 1 : -1;
  // Raster extension v2.0.0 keeps the bands in `bands` (STAC 1.1's), v1.x in `raster:bands`.
  const bands = ((a.bands ?? a['raster:bands']) as Record<string, unknown>[] | undefined) ?? [];
  if (!Number.isInteger(band) || band < 0)
    throw new ValidationError(`bidx must be a band number from 1, got '${bidx}'`);
  const meta = bands[band] ?? {};
  const unitText = String(meta.unit ?? (await tiler.fileUnit(path, source)) ?? 'linear');
  return {
    path,
    source,
    band,
    unit: unitText.toLowerCase() === 'db' ? 'dB' : 'linear',
    stats: meta.statistics as RasterAsset['stats'],
  };
}

/** Map tiles, previews, point values and TileJSON of item assets, read on demand from their COGs. */
export function tileRoutes(app: FastifyInstance, ctx: RouteContext, tiler: Tiler): void {
  const b = ctx.publicUrl;

  /** The item within the caller's scope; hidden and missing answer the same 404. */
  const itemOf = async (req: FastifyRequest, collection: string, id: string): Promise<StacItem> => {
    const it = await scopedItem(ctx, req, collection, id);
    audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
    return it;
  };

  const assetOf = (it: StacItem, key: string, bidx: unknown) => rasterAsset(ctx, tiler, it, key, bidx);

  const etagged = (req: FastifyRequest, reply: FastifyReply, it: StacItem): boolean => {
    const tag = `"${createHash('sha1').update(JSON.stringify(it)).update(req.url).digest('base64url')}"`;
    reply.header('etag', tag);
    privateResponse(reply, 3600);
    if (req.headers['if-none-match'] === tag) {
      reply.status(304).send();
      return true;
    }
    return false;
  };

  app.get('/tileMatrixSets', async () => {
    return {
      tileMatrixSets: Object.values(TILE_MATRIX_SETS).map((t) => ({
        id: t.id,
        title: t.title,
        links: [{ rel: 'self', href: `${b}/tileMatrixSets/${t.id}`, type: 'application/json' }],
      })),
    };
  });

  app.get<{ Params: { id: string } }>('/tileMatrixSets/:id', async (req) => {
    const t = TILE_MATRIX_SETS[req.params.id];
    if (!t)
      throw new NotFoundError(
        `tile matrix set '${req.params.id}' is not one of ${Object.keys(TILE_MATRIX_SETS).join(', ')}`,
      );
    return tileMatrixSetDocument(t);
  });

  app.get<{
    Params: {
      collection: string;
      item: string;
      asset: string;
      tms: string;
      z: string;
      x: string;
      file: string;
    };
    Querystring: Record<string, unknown>;
  }>('/tiles/:collection/:item/:asset/:tms/:z/:x/:file', async (req, reply) => {
    const p = req.params;
    const t = TILE_MATRIX_SETS[p.tms];
    if (!t)
      throw new NotFoundError(
        `tile matrix set '${p.tms}' is not one of ${Object.keys(TILE_MATRIX_SETS).join(', ')}`,
      );
    const m = /^(\d+)\.(png|webp)$/.exec(p.file);
    if (!m) throw new ValidationError(`tile '${p.file}' must be {y}.png or {y}.webp`);
    const [z, x, y] = [p.z, p.x, m[1]].map((v) => (/^\d+$/.test(v) ? Number(v) : Number.NaN));
    if (!tileExists(t, z, x, y)) {
      const [w, h] = Number.isInteger(z) && z >= 0 && z <= t.maxZoom ? matrixSize(t, z) : [0, 0];
      throw new NotFoundError(
        `tile ${p.z}/${p.x}/${m[1]} is outside ${t.id} (zoom 0-${t.maxZoom}${w ? `; at zoom ${z}, x 0-${w - 1} and y 0-${h - 1}` : ''})`,
      );
    }
    const opts = renderOptions(req.query, m[2]);
    const it = await itemOf(req, p.collection, p.item);
    const asset = await assetOf(it, p.asset, req.query.bidx);
    if (etagged(req, reply, it)) return reply;
    const img = await tiler.tile(asset, t, z, x, y, opts);
    if (img === null) {
      reply.status(204);
      return reply.send();
    }
    reply.type(m[2] === 'png' ? 'image/png' : 'image/webp');
    return reply.send(img);
  });

  app.get<{ Params: { c: string; i: string }; Querystring: Record<string, unknown> }>(
    '/collections/:c/items/:i/tilejson.json',
    async (req) => {
      const it = await itemOf(req, req.params.c, req.params.i);
      const key = String(req.query.assets ?? 'data');
      const asset = await assetOf(it, key, req.query.bidx);
      const tmsId = String(req.query.tileMatrixSetId ?? 'WebMercatorQuad');
      const t = TILE_MATRIX_SETS[tmsId];
      if (!t) throw new NotFoundError(`tile matrix set '${tmsId}' does not exist`);
      const { resolutionM, levels } = await tiler.extent(asset);
      // Zoom whose pixels are about the asset's native resolution (at the equator), and the levels above.
      const maxzoom = zoomForResolution(t, resolutionM);
      const minzoom = Math.max(0, maxzoom - levels - 2);
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query))
        if (!['assets', 'tileMatrixSetId'].includes(k)) q.set(k, String(v));
      const qs = q.toString() ? `?${q}` : '';
      const bb = it.bbox ?? [-180, -90, 180, 90];
      return {
        tilejson: '3.0.0',
        name: `${it.collection}/${it.id}/${key}`,
        tiles: [`${b}/tiles/${req.params.c}/${it.id}/${key}/${t.id}/{z}/{x}/{y}.png${qs}`],
        minzoom,
        maxzoom,
        bounds: [bb[0], bb[1], bb.length === 6 ? bb[3] : bb[2], bb.length === 6 ? bb[4] : bb[3]],
        center: [
          (bb[0] + (bb.length === 6 ? bb[3] : bb[2])) / 2,
          (bb[1] + (bb.length === 6 ? bb[4] : bb[3])) / 2,
          maxzoom - 2,
        ],
      };
    },
  );

  app.get<{ Params: { c: string; i: string }; Querystring: Record<string, unknown> }>(
    '/collections/:c/items/:i/preview.png',
    async (req, reply) => {
      const it = await itemOf(req, req.params.c, req.params.i);
      const asset = await assetOf(it, String(req.query.assets ?? 'data'), req.query.bidx);
      const raw = req.query.max_size;
      const max = raw === undefined ? 1024 : /^\d{1,4}$/.test(String(raw)) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(max) || max < 16 || max > 4096)
        throw new ValidationError('max_size must be an integer from 16 to 4096');
      const opts = renderOptions(req.query, 'png');
      if (etagged(req, reply, it)) return reply;
      const png = await tiler.preview(asset, max, opts);
      reply.type('image/png');
      return sendRanged(req, reply, png);
    },
  );

  app.get<{ Params: { c: string; i: string; lonlat: string }; Querystring: Record<string, unknown> }>(
    '/collections/:c/items/:i/point/:lonlat',
    async (req) => {
      const parts = req.params.lonlat.split(',').map(decimal);
      if (
        parts.length !== 2 ||
        !parts.every(Number.isFinite) ||
        Math.abs(parts[0]) > 180 ||
        Math.abs(parts[1]) > 90
      )
        throw new ValidationError(`point must be lon,lat in degrees, got '${req.params.lonlat}'`);
      const it = await itemOf(req, req.params.c, req.params.i);
      const keys =
        req.query.assets === undefined
          ? Object.keys(it.assets).filter((k) => /tiff/.test(String(it.assets[k].type ?? '')))
          : String(req.query.assets).split(',');
      const values: Record<string, number | null> = {};
      for (const k of keys) {
        const a = await assetOf(it, k, req.query.bidx);
        values[k] = await tiler.point(a, parts[0], parts[1]);
      }
      return { coordinates: parts, values };
    },
  );
}
