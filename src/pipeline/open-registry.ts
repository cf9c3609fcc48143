import { join } from 'node:path';
import type { ProductRegistry } from './registry.js';
import { PostgresProductRegistry } from './registry-postgres.js';
import { SqliteProductRegistry } from './registry-sqlite.js';

/**
 * The registry that goes with the catalog at `db` (a file path or a postgres:// URL, as the
 * catalog's `--db`): with a PostgreSQL catalog, the registry's tables are in the same database, so
 * workers on any machine share it; else `<data dir>/pipeline.db`.
 */
export async function openRegistry(o: { dataDir: string; db: string }): Promise<ProductRegistry> {
  if (/^postgres(ql)?:\/\//.test(o.db)) return PostgresProductRegistry.open(o.db);
  return new SqliteProductRegistry(join(o.dataDir, 'pipeline.db'));
}
