import { mapLayerPaths } from './routes/map-layer-paths.js';

/** The OpenAPI 3.0 description of the server, served at /api. */
export function openApiDocument(base: string): Record<string, unknown> {
  const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: ref } } } });
  const geo = { content: { 'application/geo+json': { schema: { type: 'object' } } } };
  const err = { description: 'error', ...json('#/components/schemas/Error') };
  const q = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) => ({
    name,
    in: 'query',
    required: false,
    description,
    schema,
  });
  const searchParams = [
    q('bbox', 'west,south,east,north (WGS84)'),
    q('datetime', 'RFC 3339 instant or interval start/end, .. for open'),
    q('limit', 'items per page (1 to 10000, default 10)', { type: 'integer', minimum: 1, maximum: 10000 }),
    q('ids', 'comma-separated item ids'),
    q('collections', 'comma-separated collection ids'),
    q('filter', 'CQL2 filter'),
    q('filter-lang', 'cql2-text (default for GET) or cql2-json', {
      type: 'string',
      enum: ['cql2-text', 'cql2-json'],
    }),
    q('sortby', 'fields, - for descending (e.g. -datetime,id)'),
    q('fields', 'fields to include, - to exclude'),
    q('query', 'STAC query extension (JSON)'),
    q('token', 'paging token from a next link'),
  ];
  const path = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
  const formatParameter = q('f', 'representation: json or html (default: by the Accept header, else JSON)', {
    type: 'string',
    enum: ['json', 'html'],
  });
  const ok = (description: string, body: Record<string, unknown> = {}) => ({ description, ...body });
  const object = { schema: { $ref: '#/components/schemas/Object' } };
  const mergePatch = { content: { 'application/merge-patch+json': object, 'application/json': object } };
  return {
    openapi: '3.0.3',
    info: { title: 'sarbridge', version: '0.1.0', description: 'STAC API and map tiles for SAR imagery' },
    servers: [{ url: base }],
    // Every operation but the landing page, conformance, this document and the token endpoint.
    security: [{ apiKey: [] }, { oauth2: [] }],
    paths: {
      '/': {
        get: {
          summary: 'Landing page',
          description:
            'JSON by default (no Accept, */*, application/json); HTML when Accept prefers text/html (a browser) or with f=html.',
          parameters: [formatParameter],
          responses: {
            200: ok('landing page', {
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/Object' } },
                'text/html': { schema: { type: 'string' } },
              },
            }),
            400: err,
          },
        },
      },
      '/conformance': {
        get: {
          summary: 'Conformance classes',
          responses: { 200: ok('conformance', json('#/components/schemas/Object')) },
        },
      },
      '/api': {
        get: {
          summary: 'This document',
          description:
            'OpenAPI 3.0 JSON by default; application/json when asked for; HTML documentation for a browser or with f=html.',
          parameters: [formatParameter],
          responses: {
            200: ok('OpenAPI document', {
              content: {
                'application/vnd.oai.openapi+json;version=3.0': { schema: { type: 'object' } },
                'application/json': { schema: { type: 'object' } },
                'text/html': { schema: { type: 'string' } },
              },
            }),
            400: err,
          },
        },
      },
      '/queryables': {
        get: { summary: 'Queryables of all collections', responses: { 200: ok('JSON Schema') } },
      },
      '/collections': {
        get: {
          summary: 'Collections',
          responses: { 200: ok('collections', json('#/components/schemas/Object')) },
        },
        post: {
          summary: 'Create a collection',
          requestBody: json('#/components/schemas/Object'),
          responses: { 201: ok('created'), 400: err, 409: err },
        },
      },
      '/collections/{collectionId}': {
        parameters: [path('collectionId')],
        get: { summary: 'A collection', responses: { 200: ok('collection'), 404: err } },
        put: {
          summary: 'Replace a collection',
          requestBody: json('#/components/schemas/Object'),
          responses: { 200: ok('replaced'), 400: err, 404: err },
        },
        patch: {
          summary: 'Merge-patch a collection (RFC 7396)',
          requestBody: mergePatch,
          responses: { 200: ok('patched'), 400: err, 404: err, 412: err, 415: err },
        },
        delete: { summary: 'Delete a collection and its items', responses: { 204: ok('deleted'), 404: err } },
      },
      '/collections/{collectionId}/queryables': {
        parameters: [path('collectionId')],
        get: { summary: 'Queryables of a collection', responses: { 200: ok('JSON Schema'), 404: err } },
      },
      '/collections/{collectionId}/items': {
        parameters: [path('collectionId')],
        get: {
          summary: 'Items of a collection',
          parameters: searchParams.filter((p) => p.name !== 'collections'),
          responses: { 200: ok('items', geo), 400: err, 404: err },
        },
        post: {
          summary: 'Add an item or a FeatureCollection of items',
          requestBody: json('#/components/schemas/Object'),
          responses: { 201: ok('created'), 400: err, 404: err, 409: err },
        },
      },
      '/collections/{collectionId}/bulk_items': {
        parameters: [path('collectionId')],
        post: {
          summary: 'Add the items of a FeatureCollection (all or none)',
          requestBody: json('#/components/schemas/Object'),
          responses: { 201: ok('created'), 400: err, 404: err, 409: err },
        },
      },
      '/collections/{collectionId}/items/{itemId}': {
        parameters: [path('collectionId'), path('itemId')],
        get: { summary: 'An item', responses: { 200: ok('item', geo), 404: err } },
        put: {
          summary: 'Replace an item',
          requestBody: json('#/components/schemas/Object'),
          responses: { 200: ok('replaced'), 400: err, 404: err },
        },
        patch: {
          summary: 'Merge-patch an item (RFC 7396)',
          requestBody: mergePatch,
          responses: { 200: ok('patched'), 400: err, 404: err, 412: err, 415: err },
        },
        delete: { summary: 'Delete an item', responses: { 204: ok('deleted'), 404: err } },
      },
      '/collections/{collectionId}/items/{itemId}/assets/{assetKey}': {
        parameters: [path('collectionId'), path('itemId'), path('assetKey')],
        get: {
          summary: 'The file of an item asset (one byte range per request, RFC 9110 14)',
          parameters: ['Range', 'If-Range', 'If-None-Match', 'If-Modified-Since'].map((name) => ({
            name,
            in: 'header',
            required: false,
            schema: { type: 'string' },
          })),
          responses: {
            200: ok('the whole file (Accept-Ranges: bytes, ETag, Last-Modified)'),
            206: ok('the byte range asked for (Content-Range)'),
            304: ok('not modified'),
            404: err,
            416: err,
          },
        },
      },
      '/search': {
        get: {
          summary: 'Search items',
          parameters: searchParams,
          responses: { 200: ok('items', geo), 400: err },
        },
        post: {
          summary: 'Search items (JSON body)',
          requestBody: json('#/components/schemas/Object'),
          responses: { 200: ok('items', geo), 400: err },
        },
      },
      '/tileMatrixSets': { get: { summary: 'Tile matrix sets', responses: { 200: ok('list') } } },
      '/tileMatrixSets/{tileMatrixSetId}': {
        parameters: [path('tileMatrixSetId')],
        get: { summary: 'A tile matrix set', responses: { 200: ok('definition'), 404: err } },
      },
      '/tiles/{collectionId}/{itemId}/{assetKey}/{tileMatrixSetId}/{z}/{x}/{y}.{format}': {
        parameters: ['collectionId', 'itemId', 'assetKey', 'tileMatrixSetId', 'z', 'x', 'y', 'format'].map(
          path,
        ),
        get: {
          summary: 'A map tile of an item asset (png or webp)',
          parameters: [
            q('rescale', 'min,max of the stretch'),
            q('colormap', 'gray, viridis, magma, diverging'),
            q('resampling', 'bilinear or nearest'),
          ],
          responses: { 200: ok('tile'), 204: ok('tile outside the item'), 400: err, 404: err },
        },
      },
      ...mapLayerPaths(base),
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key: Authorization: Bearer sb_...' },
        oauth2: {
          type: 'oauth2',
          description: 'OAuth2 client credentials (RFC 6749 4.4): short-lived ES256 JWTs',
          flows: { clientCredentials: { tokenUrl: `${base}/oauth/token`, scopes: {} } },
        },
      },
      schemas: {
        Object: { type: 'object' },
        Error: {
          type: 'object',
          required: ['code', 'description'],
          properties: { code: { type: 'string' }, description: { type: 'string' } },
        },
      },
    },
  };
}
