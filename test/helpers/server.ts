import type { FastifyInstance } from 'fastify';
import { testAccess } from '../../src/access/testing.js';
import type { CatalogStore } from '../../src/catalog/store.js';
import { AssetStorage } from '../../src/io/asset-storage.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';

/** A real server on a catalog store, with fresh access services and the provider-admin's key. */
export async function testServer(
  store: CatalogStore,
  o: Partial<Omit<ServerOptions, 'store' | 'access' | 'assets'>> & {
    assetRoot?: string;
    rateLimit?: { ratePerS: number; burst: number };
  } = {},
): Promise<{
  app: FastifyInstance;
  access: ReturnType<typeof testAccess>;
  /** Headers of the provider-admin. */
  admin: Record<string, string>;
  close(): Promise<void>;
}> {
  const access = testAccess({ auth: o.rateLimit ?? { ratePerS: 1e6, burst: 1e6 } });
  const app = await buildServer({
    ...o,
    store,
    access: access.services,
    assets: o.assetRoot ? new AssetStorage(o.assetRoot) : null,
  });
  return {
    app,
    access,
    admin: { authorization: `Bearer ${access.adminKey}` },
    async close() {
      await app.close();
      access.close();
    },
  };
}
