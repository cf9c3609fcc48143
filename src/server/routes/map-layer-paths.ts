/**
 * The OpenAPI 3.0 path objects of the map layer routes (wmts.ts, ogc-tiles.ts, the preview of
 * tiles.ts), for the API description to merge into its `paths`.
 */
export function mapLayerPaths(base: string): Record<string, unknown> {
  const path = (name: string, description?: string) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
    ...(description ? { description } : {}),
  });
  const err = {
    description: 'error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  const json = (description: string) => ({
    description,
    content: { 'application/json': { schema: { type: 'object' } } },
  });
  const xml = (description: string) => ({
    description,
    content: { 'application/xml': { schema: { type: 'string' } } },
  });
  const png = (description: string) => ({
    description,
    content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
  });
  const q = (name: string, description: string) => ({
    name,
    in: 'query',
    required: false,
    description,
    schema: { type: 'string' },
  });
  const collection = path('collectionId');
  const tms = path('tileMatrixSetId', 'WebMercatorQuad or WorldCRS84Quad');
  return {
    '/collections/{collectionId}/WMTSCapabilities.xml': {
      parameters: [collection],
      get: {
        summary: 'OGC WMTS 1.0 capabilities of a collection (RESTful)',
        description: `Layers: the collection's mosaic, then one per item the caller may see (at most 100, most recent first). In QGIS: Layer > Add WMS/WMTS Layer, URL ${base}/collections/{collectionId}/WMTSCapabilities.xml, with an HTTP header Authorization: Bearer <key>.`,
        responses: { 200: xml('WMTS 1.0.0 Capabilities'), 404: err },
      },
    },
    '/collections/{collectionId}/items/{itemId}/WMTSCapabilities.xml': {
      parameters: [collection, path('itemId')],
      get: {
        summary: "OGC WMTS 1.0 capabilities of an item (a layer per GeoTIFF asset, named by the asset's key)",
        responses: { 200: xml('WMTS 1.0.0 Capabilities'), 404: err },
      },
    },
    '/collections/{collectionId}/map/tiles': {
      parameters: [collection],
      get: {
        summary: 'Map tilesets of a collection (OGC API - Tiles)',
        responses: { 200: json('tilesets list'), 404: err },
      },
    },
    '/collections/{collectionId}/tiles': {
      parameters: [collection],
      get: {
        summary:
          'Vector and coverage tilesets of a collection: none (an empty list linking to the map tilesets)',
        responses: { 200: json('tilesets list'), 404: err },
      },
    },
    '/collections/{collectionId}/map/tiles/{tileMatrixSetId}': {
      parameters: [collection, tms],
      get: {
        summary: 'Map tileset metadata (OGC 17-083r4 TileSetMetadata)',
        responses: { 200: json('tileset'), 404: err },
      },
    },
    '/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}': {
      parameters: [collection, tms, path('tileMatrix'), path('tileRow'), path('tileCol')],
      get: {
        summary:
          'A map tile of a collection: its acquisitions the caller may see in the tile, most recent on top (at most 20), transparent where none',
        parameters: [
          q('f', 'png (the only format)'),
          q('rescale', 'min,max of the stretch'),
          q('colormap', 'gray, viridis, magma, diverging'),
          q('resampling', 'bilinear or nearest'),
        ],
        responses: { 200: png('256 x 256 RGBA tile'), 400: err, 404: err },
      },
    },
    '/collections/{collectionId}/items/{itemId}/preview.png': {
      parameters: [collection, path('itemId')],
      get: {
        summary: 'A preview of an item asset; Range requests of one range are answered (RFC 9110 14)',
        parameters: [
          q('assets', 'asset key (default data)'),
          q('max_size', 'longer side in pixels, 16 to 4096 (default 1024)'),
          { name: 'Range', in: 'header', required: false, schema: { type: 'string' } },
          { name: 'If-Range', in: 'header', required: false, schema: { type: 'string' } },
        ],
        responses: {
          200: png('the preview'),
          206: png('the requested bytes of the preview (Content-Range)'),
          304: { description: 'not modified (If-None-Match)' },
          400: err,
          404: err,
          416: err,
        },
      },
    },
  };
}
