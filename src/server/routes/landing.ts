import type { FastifyInstance } from 'fastify';
import { GEOJSON, type RouteContext } from '../context.js';
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
];

/** The landing page, the conformance classes and the API description. */
export function landingRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const b = ctx.publicUrl;

  app.get('/', async (req) => {
    const collections = await store.listCollections(req.scope);
    return {
      type: 'Catalog',
      id: 'sarbridge',
      title: 'sarbridge',
      description: 'Radar imagery of the provider for its partners: search by place, time and properties.',
      stac_version: STAC_VERSION,
      conformsTo: CONFORMANCE,
      links: [
        { rel: 'self', href: `${b}/`, type: 'application/json' },
        { rel: 'root', href: `${b}/`, type: 'application/json' },
        { rel: 'conformance', href: `${b}/conformance`, type: 'application/json' },
        { rel: 'data', href: `${b}/collections`, type: 'application/json' },
        { rel: 'search', href: `${b}/search`, type: GEOJSON, method: 'GET' },
        { rel: 'search', href: `${b}/search`, type: GEOJSON, method: 'POST' },
        { rel: 'service-desc', href: `${b}/api`, type: 'application/vnd.oai.openapi+json;version=3.0' },
        {
          rel: 'http://www.opengis.net/def/rel/ogc/1.0/queryables',
          href: `${b}/queryables`,
          type: 'application/schema+json',
        },
        {
          rel: 'http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes',
          href: `${b}/tileMatrixSets`,
          type: 'application/json',
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

  app.get('/api', async (_req, reply) => {
    reply.type('application/vnd.oai.openapi+json;version=3.0');
    return openApiDocument(b);
  });
}
