import { join } from 'node:path';
import { SqliteCatalog } from '../../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../../src/catalog/store.js';

export interface Backend {
  name: string;
  open(dir: string): Promise<CatalogStore>;
  cleanup?: () => Promise<void>;
}

/** The catalog backends the API suite runs against. */
export function catalogBackends(): Backend[] {
  return [{ name: 'SQLite', open: async (dir) => new SqliteCatalog(join(dir, 'catalog.db')) }];
}
