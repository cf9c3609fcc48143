import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseSearch } from '../../catalog/search-params.js';
import type { StacItem } from '../../catalog/types.js';
import {
  matrixSize,
  scaleDenominator,
  TILE_MATRIX_SETS,
  type TileLimits,
  type TileMatrixSetDef,
  tileLimits,
  zoomForResolution,
} from '../../geo/tms.js';
import type { Tiler } from '../../tiler/tiler.js';
import { audit, privateResponse, type RouteContext, scopedCollection, scopedItem } from '../context.js';
import { collectionMapLevels, lonLatBox, type MapLevels } from './ogc-tiles.js';
import { rasterAsset, rasterAssetKeys } from './tiles.js';

// OGC WMTS 1.0.0 (OGC 07-057r7) capabilities in the RESTful encoding (its 10.2): the layers' tiles
// are the tile endpoints of sarbridge, named by ResourceURL templates.

/** Most item layers in a collection's capabilities (the most recent items first). */
export const MAX_WMTS_LAYERS = 100;

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const seg = encodeURIComponent;

/** The WMTS 1.0 name of a set's CRS (CRS84 keeps longitude first, as the TMS's own crs). */
const supportedCrs = (t: TileMatrixSetDef) =>
  t.epsg === 4326 ? 'urn:ogc:def:crs:OGC:1.3:CRS84' : `urn:ogc:def:crs:EPSG::${t.epsg}`;

/** One layer of a capabilities document. */
export interface WmtsLayer {
  identifier: string;
  title: string;
  abstract?: string;
  /** [west, south, east, north] in degrees. */
  bbox: [number, number, number, number];
  /** The layer's levels per set (its TileMatrixSetLimits), inclusive; the deepest has data at full resolution. */
  levels: (t: TileMatrixSetDef) => MapLevels;
  /** The tile URL template with {TileMatrixSet}, {TileMatrix}, {TileRow} and {TileCol}. */
  template: string;
}

/** A set's definition, levels 0 to `maxZoom` (the deepest any layer has: clients read no deeper). */
function tileMatrixSetXml(t: TileMatrixSetDef, maxZoom: number): string {
  const levels: string[] = [];
  for (let z = 0; z <= maxZoom; z++) {
    const [w, h] = matrixSize(t, z);
    levels.push(
      `<TileMatrix><ows:Identifier>${z}</ows:Identifier><ScaleDenominator>${scaleDenominator(t, z)}</ScaleDenominator>` +
        `<TopLeftCorner>${t.origin[0]} ${t.origin[1]}</TopLeftCorner><TileWidth>${t.tileSize}</TileWidth>` +
        `<TileHeight>${t.tileSize}</TileHeight><MatrixWidth>${w}</MatrixWidth><MatrixHeight>${h}</MatrixHeight></TileMatrix>`,
    );
  }
  return [
    '<TileMatrixSet>',
    `<ows:Title>${esc(t.title)}</ows:Title>`,
    `<ows:Identifier>${t.id}</ows:Identifier>`,
    `<ows:SupportedCRS>${supportedCrs(t)}</ows:SupportedCRS>`,
    `<WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:${t.wellKnownScaleSet}</WellKnownScaleSet>`,
    ...levels,
    '</TileMatrixSet>',
  ].join('\n');
}

function limitsXml(l: TileLimits): string {
  return (
    `<TileMatrixLimits><TileMatrix>${l.tileMatrix}</TileMatrix><MinTileRow>${l.minTileRow}</MinTileRow>` +
    `<MaxTileRow>${l.maxTileRow}</MaxTileRow><MinTileCol>${l.minTileCol}</MinTileCol><MaxTileCol>${l.maxTileCol}</MaxTileCol></TileMatrixLimits>`
  );
}

function layerXml(l: WmtsLayer, sets: TileMatrixSetDef[]): string {
  const links = sets.map((t) => {
    const limits: string[] = [];
    const { minZoom, maxZoom } = l.levels(t);
    for (let z = minZoom; z <= maxZoom; z++) limits.push(limitsXml(tileLimits(t, z, l.bbox)));
    return `<TileMatrixSetLink><TileMatrixSet>${t.id}</TileMatrixSet><TileMatrixSetLimits>\n${limits.join('\n')}\n</TileMatrixSetLimits></TileMatrixSetLink>`;
  });
  return [
    '<Layer>',
    `<ows:Title>${esc(l.title)}</ows:Title>`,
    ...(l.abstract ? [`<ows:Abstract>${esc(l.abstract)}</ows:Abstract>`] : []),
    `<ows:WGS84BoundingBox><ows:LowerCorner>${l.bbox[0]} ${l.bbox[1]}</ows:LowerCorner><ows:UpperCorner>${l.bbox[2]} ${l.bbox[3]}</ows:UpperCorner></ows:WGS84BoundingBox>`,
    `<ows:Identifier>${esc(l.identifier)}</ows:Identifier>`,
    '<Style isDefault="true"><ows:Title>Default</ows:Title><ows:Identifier>default</ows:Identifier></Style>',
    '<Format>image/png</Format>',
    ...links,
    `<ResourceURL format="image/png" resourceType="tile" template="${esc(l.template)}"/>`,
    '</Layer>',
  ].join('\n');
}

/**
 * A WMTS 1.0.0 capabilities document (RESTful): the layers, then the definitions of the tile
 * matrix sets they link, and the document's own URL. A set is defined from level 0 to the deepest
 * level of its layers (the native resolution of the finest one): GDAL's WMTS driver, like other
 * clients, reads at the set's deepest level and does not stop at a layer's TileMatrixSetLimits.
 */
export function wmtsCapabilities(o: { title: string; self: string; layers: WmtsLayer[] }): string {
  const sets = Object.values(TILE_MATRIX_SETS);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1"' +
      ' xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
      ' xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd"' +
      ' version="1.0.0">',
    '<ows:ServiceIdentification>',
    `<ows:Title>${esc(o.title)}</ows:Title>`,
    '<ows:ServiceType>OGC WMTS</ows:ServiceType>',
    '<ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>',
    '</ows:ServiceIdentification>',
    '<Contents>',
    ...o.layers.map((l) => layerXml(l, sets)),
    ...sets.map((t) => tileMatrixSetXml(t, Math.max(0, ...o.layers.map((l) => l.levels(t).maxZoom)))),
    '</Contents>',
    `<ServiceMetadataURL xlink:href="${esc(o.self)}"/>`,
    '</Capabilities>',
    '',
  ].join('\n');
}

/** WMTS capabilities per item (a layer per raster asset) and per collection (a layer per item, and the mosaic). */
export function wmtsRoutes(app: FastifyInstance, ctx: RouteContext, tiler: Tiler): void {
  const b = ctx.publicUrl;

  const itemTemplate = (it: StacItem, key: string) =>
    `${b}/tiles/${seg(String(it.collection))}/${seg(it.id)}/${seg(key)}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png`;

  /** The item's asset layer; its deepest zoom is the asset's native resolution. */
  const assetLayer = async (it: StacItem, key: string, identifier: string): Promise<WmtsLayer> => {
    const { resolutionM } = await tiler.extent(await rasterAsset(ctx, tiler, it, key, undefined));
    const a = it.assets[key];
    const when = it.properties.datetime ?? `${it.properties.start_datetime}/${it.properties.end_datetime}`;
    return {
      identifier,
      title: `${it.id}: ${a.title ?? key}`,
      abstract: `${it.collection}/${it.id} asset ${key}, ${when}`,
      bbox: lonLatBox(it.bbox),
      levels: (t) => ({ minZoom: 0, maxZoom: zoomForResolution(t, resolutionM) }),
      template: itemTemplate(it, key),
    };
  };

  const send = (reply: FastifyReply, xml: string) => {
    privateResponse(reply);
    reply.type('application/xml; charset=utf-8');
    return reply.send(xml);
  };

  app.get<{ Params: { c: string; i: string } }>(
    '/collections/:c/items/:i/WMTSCapabilities.xml',
    async (req, reply) => {
      const it = await scopedItem(ctx, req, req.params.c, req.params.i);
      audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
      const layers = await Promise.all(rasterAssetKeys(it).map((k) => assetLayer(it, k, k)));
      return send(
        reply,
        wmtsCapabilities({
          title: `sarbridge ${it.collection}/${it.id}`,
          self: `${b}/collections/${seg(req.params.c)}/items/${seg(it.id)}/WMTSCapabilities.xml`,
          layers,
        }),
      );
    },
  );

  app.get<{ Params: { c: string } }>('/collections/:c/WMTSCapabilities.xml', async (req, reply) => {
    const c = await scopedCollection(ctx, req, req.params.c);
    audit(ctx, req, { action: 'read', resource: req.url.split('?')[0], result: 'allow' });
    // The caller's items only: the scope is part of the store's query.
    const page = await ctx.store.search(
      parseSearch({ collections: c.id, sortby: '-datetime,id', limit: MAX_WMTS_LAYERS }),
      req.scope,
    );
    const layers: WmtsLayer[] = [];
    const mosaicLevels = await collectionMapLevels(ctx, tiler, req as FastifyRequest, c);
    layers.push({
      identifier: c.id,
      title: `${c.title ?? c.id} (mosaic, most recent on top)`,
      abstract: String(c.description ?? ''),
      bbox: lonLatBox(c.extent?.spatial?.bbox?.[0]),
      levels: mosaicLevels,
      template: `${b}/collections/${seg(c.id)}/map/tiles/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}`,
    });
    const withRaster = page.items.filter((it) => rasterAssetKeys(it).length > 0);
    layers.push(
      // Item layers by item id; one named like the collection (the mosaic's name) gets its collection's prefix.
      ...(await Promise.all(
        withRaster.map((it) =>
          assetLayer(it, rasterAssetKeys(it)[0], it.id === c.id ? `${c.id}/${it.id}` : it.id),
        ),
      )),
    );
    return send(
      reply,
      wmtsCapabilities({
        title: `sarbridge ${c.id}`,
        self: `${b}/collections/${seg(c.id)}/WMTSCapabilities.xml`,
        layers,
      }),
    );
  });
}
