import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseSearch } from '../../catalog/search-params.js';
import type { StacCollection, StacItem, StacLink } from '../../catalog/types.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import {
  matrixSize,
  TILE_MATRIX_SETS,
  type TileMatrixSetDef,
  tileExists,
  tileLonLatBounds,
  zoomForExtent,
  zoomForResolution,
} from '../../geo/tms.js';
import { mosaicTile } from '../../tiler/mosaic.js';
import type { RasterAsset, Tiler } from '../../tiler/tiler.js';
import { audit, privateResponse, type RouteContext, scopedCollection } from '../context.js';
import { rasterAsset, rasterAssetKeys, renderOptions } from './tiles.js';

// OGC API - Tiles - Part 1: Core (OGC 20-057) for collections as maps: the tilesets list
// (/collections/{id}/map/tiles), a tileset's metadata (OGC 17-083r4 TileSetMetadata) and its tiles,
// rendered as a mosaic of the collection's items that the caller may see.

const REL = 'http://www.opengis.net/def/rel/ogc/1.0';

/** Most items laid in one mosaic tile (the most recent ones; older ones under them are not drawn). */
export const MAX_MOSAIC_ITEMS = 20;
/** Deepest zoom of a collection's map when the caller sees none of its items (about 38 m pixels). */
const DEFAULT_MAP_ZOOM = 12;

const seg = encodeURIComponent;

/** A STAC bbox (2D or 3D) as [west, south, east, north]; the whole world when absent. */
export function lonLatBox(bb: readonly number[] | undefined): [number, number, number, number] {
  if (!bb || (bb.length !== 4 && bb.length !== 6)) return [-180, -90, 180, 90];
  return bb.length === 6 ? [bb[0], bb[1], bb[3], bb[4]] : [bb[0], bb[1], bb[2], bb[3]];
}

/**
 * The search of a collection's map: its items with an acquisition time (`datetime`; products over
 * an interval, such as change maps, are not acquisitions and are left out) in a lon/lat box, most
 * recent first. The caller's scope is applied by the store.
 */
function mapSearch(collection: string, bbox: number[] | undefined, limit: number) {
  return parseSearch({
    collections: collection,
    ...(bbox ? { bbox: bbox.join(',') } : {}),
    filter: 'datetime IS NOT NULL',
    sortby: '-datetime,id',
    limit,
  });
}

/** The levels of a collection's map in one tile matrix set, inclusive. */
export interface MapLevels {
  minZoom: number;
  maxZoom: number;
}

/**
 * The levels of a collection's map per tile matrix set: down to the native resolution of the most
 * recent item the caller may see (DEFAULT_MAP_ZOOM when it sees none), up to the level where the
 * collection's extent is a tile wide (coarser levels would show it in a few pixels).
 */
export async function collectionMapLevels(
  ctx: RouteContext,
  tiler: Tiler,
  req: FastifyRequest,
  c: StacCollection,
): Promise<(t: TileMatrixSetDef) => MapLevels> {
  const page = await ctx.store.search(mapSearch(c.id, undefined, 1), req.scope);
  const it = page.items.find((i) => rasterAssetKeys(i).length > 0);
  const resolutionM = it
    ? (await tiler.extent(await rasterAsset(ctx, tiler, it, rasterAssetKeys(it)[0], undefined))).resolutionM
    : null;
  const bbox = lonLatBox(c.extent?.spatial?.bbox?.[0]);
  return (t) => {
    const maxZoom = resolutionM === null ? DEFAULT_MAP_ZOOM : zoomForResolution(t, resolutionM);
    return { minZoom: zoomForExtent(t, bbox, t.tileSize, maxZoom), maxZoom };
  };
}

/** Links of a collection document to its map tilesets (OGC 20-057 /req/geodata-tilesets/desc-links). */
export function collectionTileLinks(b: string, collection: string): StacLink[] {
  const c = seg(collection);
  return [
    {
      rel: `${REL}/tilesets-map`,
      href: `${b}/collections/${c}/map/tiles`,
      type: 'application/json',
      title: 'Map tilesets (a mosaic of the items, most recent on top)',
    },
    {
      // As the STAC web-map-links extension writes a WMTS link: the layer named (the mosaic).
      rel: 'wmts',
      href: `${b}/collections/${c}/WMTSCapabilities.xml`,
      type: 'application/xml',
      title: 'OGC WMTS 1.0 capabilities (for QGIS and ArcGIS)',
      'wmts:layer': collection,
    },
  ];
}

function tmsOf(id: string): TileMatrixSetDef {
  const t = TILE_MATRIX_SETS[id];
  if (!t)
    throw new NotFoundError(
      `tile matrix set '${id}' is not one of ${Object.keys(TILE_MATRIX_SETS).join(', ')}`,
    );
  return t;
}

/** Map tilesets of collections, their metadata and their tiles. */
export function ogcTileRoutes(app: FastifyInstance, ctx: RouteContext, tiler: Tiler): void {
  const b = ctx.publicUrl;
  const base = (c: string) => `${b}/collections/${seg(c)}/map/tiles`;

  const summary = (c: StacCollection, t: TileMatrixSetDef) => ({
    title: `${c.title ?? c.id}, ${t.title}`,
    dataType: 'map',
    crs: t.crsUri,
    tileMatrixSetURI: `http://www.opengis.net/def/tilematrixset/OGC/1.0/${t.id}`,
    links: [
      { rel: 'self', href: `${base(c.id)}/${t.id}`, type: 'application/json', title: `${t.id} tileset` },
      {
        rel: `${REL}/tiling-scheme`,
        href: `${b}/tileMatrixSets/${t.id}`,
        type: 'application/json',
        title: `${t.id} definition`,
      },
    ],
  });

  const list = async (req: FastifyRequest<{ Params: { c: string } }>, self: string) => {
    const c = await scopedCollection(ctx, req, req.params.c);
    audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
    return {
      links: [
        { rel: 'self', href: self, type: 'application/json' },
        { rel: 'collection', href: `${b}/collections/${seg(c.id)}`, type: 'application/json' },
      ],
      tilesets: Object.values(TILE_MATRIX_SETS).map((t) => summary(c, t)),
    };
  };

  app.get<{ Params: { c: string } }>('/collections/:c/map/tiles', (req) => list(req, base(req.params.c)));
  // The collection's data tilesets (vector or coverage tiles, OGC 20-057 geodata-tilesets): sarbridge
  // tiles collections as maps only, so the list is empty and links to the map tilesets (a list here
  // may only hold tilesets at /collections/{id}/tiles/{tileMatrixSetId}, 20-057 tilesets-list D).
  app.get<{ Params: { c: string } }>('/collections/:c/tiles', async (req) => {
    const c = await scopedCollection(ctx, req, req.params.c);
    audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
    return {
      description: 'No vector or coverage tiles: the collection is tiled as a map (rel tilesets-map).',
      links: [
        { rel: 'self', href: `${b}/collections/${seg(c.id)}/tiles`, type: 'application/json' },
        { rel: `${REL}/tilesets-map`, href: base(c.id), type: 'application/json', title: 'Map tilesets' },
      ],
      tilesets: [],
    };
  });

  app.get<{ Params: { c: string; tms: string } }>('/collections/:c/map/tiles/:tms', async (req) => {
    const t = tmsOf(req.params.tms);
    const c = await scopedCollection(ctx, req, req.params.c);
    audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
    const bbox = lonLatBox(c.extent?.spatial?.bbox?.[0]);
    const { minZoom, maxZoom } = (await collectionMapLevels(ctx, tiler, req, c))(t);
    const s = summary(c, t);
    return {
      ...s,
      boundingBox: {
        lowerLeft: [bbox[0], bbox[1]],
        upperRight: [bbox[2], bbox[3]],
        crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84',
      },
      // The map's levels (collectionMapLevels), each level's whole matrix: every tile of it is
      // served (transparent where no item is), and GDAL before 3.7 sizes its rasters wrongly when a
      // limit leaves out rows (it crops the rows but not the raster height).
      tileMatrixSetLimits: Array.from({ length: maxZoom + 1 - minZoom }, (_, k) => {
        const [w, h] = matrixSize(t, minZoom + k);
        return {
          tileMatrix: String(minZoom + k),
          minTileRow: 0,
          maxTileRow: h - 1,
          minTileCol: 0,
          maxTileCol: w - 1,
        };
      }),
      links: [
        ...s.links,
        { rel: 'collection', href: `${b}/collections/${seg(c.id)}`, type: 'application/json' },
        {
          rel: 'item',
          href: `${base(c.id)}/${t.id}/{tileMatrix}/{tileRow}/{tileCol}`,
          templated: true,
          type: 'image/png',
          title: 'Map tile (PNG, RGBA)',
        },
      ],
    };
  });

  app.get<{
    Params: { c: string; tms: string; z: string; row: string; col: string };
    Querystring: Record<string, unknown>;
  }>('/collections/:c/map/tiles/:tms/:z/:row/:col', async (req, reply) => {
    const p = req.params;
    const t = tmsOf(p.tms);
    const [z, row, col] = [p.z, p.row, p.col].map((v) => (/^\d{1,9}$/.test(v) ? Number(v) : Number.NaN));
    if (!tileExists(t, z, col, row)) {
      const [w, h] = Number.isInteger(z) && z >= 0 && z <= t.maxZoom ? matrixSize(t, z) : [0, 0];
      throw new NotFoundError(
        `tile ${p.z}/${p.row}/${p.col} (tileMatrix/tileRow/tileCol) is outside ${t.id} (tileMatrix 0-${t.maxZoom}${w ? `; at ${z}, tileRow 0-${h - 1} and tileCol 0-${w - 1}` : ''})`,
      );
    }
    if (req.query.f !== undefined && req.query.f !== 'png')
      throw new ValidationError(`f must be png (map tiles are PNG), got '${req.query.f}'`);
    const opts = renderOptions(req.query, 'png');
    const c = await scopedCollection(ctx, req, p.c);
    audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
    // Outside the tileset's limits: 404 (OGC 20-057 /req/core/tc-error A).
    const { minZoom, maxZoom } = (await collectionMapLevels(ctx, tiler, req, c))(t);
    if (z < minZoom || z > maxZoom)
      throw new NotFoundError(
        `tileMatrix ${z} is outside the limits of the ${t.id} tileset of collection '${c.id}' (tileMatrix ${minZoom}-${maxZoom})`,
      );
    const page = await ctx.store.search(
      mapSearch(c.id, tileLonLatBounds(t, z, col, row), MAX_MOSAIC_ITEMS),
      req.scope,
    );
    const layers: RasterAsset[] = [];
    for (const it of page.items as StacItem[]) {
      const key = rasterAssetKeys(it)[0];
      if (key !== undefined) layers.push(await rasterAsset(ctx, tiler, it, key, req.query.bidx));
    }
    const png = await mosaicTile(tiler, { layers, tms: t, z, x: col, y: row }, opts);
    privateResponse(reply, 60);
    reply.type('image/png');
    return reply.send(png);
  });
}
