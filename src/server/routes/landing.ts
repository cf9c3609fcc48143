import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GEOJSON, type RouteContext } from '../context.js';
import { HTML_CSP, landingHtml, openApiHtml } from '../html.js';
import { mergeVary } from '../http-conditional.js';
import { formatParam, negotiate } from '../negotiate.js';
import { openApiDocument } from '../openapi.js';
import { STAC_VERSION } from '../stac-docs.js';

/** What this catalog implements, class by class (no class is declared that is only partly there). */
export const CONFORMANCE = [
  'https://api.stacspec.org/v1.0.0/core',
  'https://api.stacspec.org/v1.0.0/collections',
  'https://api.stacspec.org/v1.0.0/ogcapi-features',
  'https://api.stacspec.org/v1.0.0/item-search',
  'https://api.stacspec.org/v1.0.0/item-search#fields',
  'https://api.stacspec.org/v1.0.0/item-search#sort',
  'https://api.stacspec.org/v1.0.0/item-search#query',
  'https://api.stacspec.org/v1.0.0/item-search#filter',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#fields',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#sort',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#query',
  'https://api.stacspec.org/v1.0.0/ogcapi-features#filter',
  'https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction',
  'https://api.stacspec.org/v1.0.0/collections/extensions/transaction',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter',
  'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter',
  'http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2',
  'http://www.opengis.net/spec/cql2/1.0/conf/cql2-text',
  'http://www.opengis.net/spec/cql2/1.0/conf/cql2-json',
  'http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators',
  'http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison',
  'http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison',
  'http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions',
  'http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions',
  'http://www.opengis.net/spec/cql2/1.0/conf/property-property',
  'http://www.opengis.net/spec/cql2/1.0/conf/arithmetic',
  // OGC API - Tiles - Part 1 (20-057): the collections' map tiles (routes/ogc-tiles.ts).
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png',
];

/** The OpenAPI media type GDAL's OGC API drivers ask for and compare token by token: unquoted version. */
export const OPENAPI_JSON = 'application/vnd.oai.openapi+json;version=3.0';

/** The representation a request asks for: `f` first (OGC API Common), then the Accept header. */
function representation<T extends string>(
  req: FastifyRequest,
  offers: readonly T[],
  byF: Record<string, T>,
): T {
  const f = formatParam((req.query as Record<string, unknown> | undefined)?.f);
  return f !== undefined ? byF[f] : negotiate(req.headers.accept, offers);
}

/** An HTML page with the CSP that lets its inline style sheet apply. */
function sendHtml(reply: FastifyReply, html: string): FastifyReply {
  return reply.header('content-security-policy', HTML_CSP).type('text/html; charset=utf-8').send(html);
}

/**
 * The landing page, the conformance classes and the API description. `/` and `/api` are negotiated:
 * JSON by default (no Accept, `*\/*`, application/json), HTML for a browser (Accept preferring
 * text/html) or `?f=html`.
 */
export function landingRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const b = ctx.publicUrl;
  const title = 'sarbridge';
  const description = 'Radar imagery of the provider for its partners: search by place, time and properties.';

  app.get('/', async (req, reply) => {
    const as = representation(req, ['application/json', 'text/html'], {
      json: 'application/json',
      html: 'text/html',
    });
    reply.header('vary', mergeVary(reply.getHeader('vary'), 'Accept'));
    const collections = await store.listCollections(req.scope);
    if (as === 'text/html')
      return sendHtml(
        reply,
        landingHtml({
          title,
          description,
          base: b,
          conformsTo: CONFORMANCE,
          collections: collections.map((c) => ({ id: c.id, title: c.title as string | undefined })),
        }),
      );
    return {
      type: 'Catalog',
      id: 'sarbridge',
      title,
      description,
      stac_version: STAC_VERSION,
      conformsTo: CONFORMANCE,
      links: [
        { rel: 'self', href: `${b}/`, type: 'application/json', title: 'This landing page' },
        { rel: 'root', href: `${b}/`, type: 'application/json', title: 'The root catalog' },
        { rel: 'alternate', href: `${b}/?f=html`, type: 'text/html', title: 'This landing page as HTML' },
        {
          rel: 'conformance',
          href: `${b}/conformance`,
          type: 'application/json',
          title: 'Conformance classes',
        },
        { rel: 'data', href: `${b}/collections`, type: 'application/json', title: 'Collections' },
        { rel: 'search', href: `${b}/search`, type: GEOJSON, method: 'GET', title: 'Item search' },
        { rel: 'search', href: `${b}/search`, type: GEOJSON, method: 'POST', title: 'Item search' },
        { rel: 'service-desc', href: `${b}/api`, type: OPENAPI_JSON, title: 'OpenAPI 3.0 description' },
        { rel: 'service-doc', href: `${b}/api?f=html`, type: 'text/html', title: 'API documentation' },
        {
          rel: 'http://www.opengis.net/def/rel/ogc/1.0/queryables',
          href: `${b}/queryables`,
          type: 'application/schema+json',
          title: 'Queryables',
        },
        {
          rel: 'http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes',
          href: `${b}/tileMatrixSets`,
          type: 'application/json',
          title: 'Tile matrix sets',
        },
        ...collections.map((c) => ({
          rel: 'child',
          href: `${b}/collections/${c.id}`,
          type: 'application/json',
          title: c.title as string | undefined,
        })),
      ],
    };
  });

  app.get('/conformance', async () => ({ conformsTo: CONFORMANCE }));

  // GDAL 3.6 (OAPIF, opened by the OGCAPI driver) asks for `OPENAPI_JSON, application/openapi+json;
  // version=3.0, application/json` and refuses a reply whose parameters differ token by token from
  // what it asked for (Fastify would write version="3.0"), so the header is written as asked.
  const api = openApiDocument(b);
  const apiJson = JSON.stringify(api);
  app.get('/api', async (req, reply) => {
    const as = representation(req, [OPENAPI_JSON, 'application/json', 'text/html'], {
      json: OPENAPI_JSON,
      html: 'text/html',
    });
    reply.header('vary', mergeVary(reply.getHeader('vary'), 'Accept'));
    if (as === 'text/html') return sendHtml(reply, openApiHtml(api, b));
    reply.header('content-type', `${as}; charset=utf-8`);
    return reply.send(apiJson);
  });
}
