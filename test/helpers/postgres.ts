import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresCatalog } from '../../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../../src/catalog/store.js';

export interface Backend {
  name: string;
  open(dir: string): Promise<CatalogStore>;
  cleanup?: () => Promise<void>;
}

/** The admin connection URL set by test/global-setup.ts. */
export function adminUrl(): string {
  const url = process.env.SARBRIDGE_TEST_PG;
  if (!url) throw new Error('SARBRIDGE_TEST_PG is not set: the vitest global setup starts PostgreSQL');
  return url;
}

/** A fresh database on the test cluster, dropped by the returned cleanup. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = adminUrl();
  const name = `sarbridge_t_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

/** The catalog backends the API suite runs against: embedded SQLite and PostgreSQL/PostGIS. */
export function catalogBackends(): Backend[] {
  let drop: (() => Promise<void>) | null = null;
  return [
    { name: 'SQLite', open: async (dir) => new SqliteCatalog(join(dir, 'catalog.db')) },
    {
      name: 'PostgreSQL/PostGIS',
      open: async () => {
        const db = await freshDatabase();
        drop = db.drop;
        return new PostgresCatalog(db.url);
      },
      cleanup: async () => {
        await drop?.();
      },
    },
  ];
}
