import { afterAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

const tmp = tempDir('proxy-');
afterAll(() => tmp.cleanup());

describe('behind a reverse proxy', () => {
  const open = async (trustProxy?: string[]) => {
    const store = new SqliteCatalog(`${tmp.dir}/${trustProxy ? 'trusted' : 'plain'}.db`);
    const s = await testServer(store, { trustProxy });
    const close = async () => {
      await s.close();
      await store.close();
    };
    return { ...s, close };
  };
  const forged = (client: string) => ({
    authorization: `Bearer sb_aaaaaaaaaa_${'A'.repeat(43)}`,
    'x-forwarded-for': client,
  });

  it('a trusted proxy: the audit log, the lock-out and the rate limit see the client address', async () => {
    const s = await open(['127.0.0.1']);
    try {
      for (let i = 0; i < 10; i++)
        expect((await s.app.inject({ url: '/collections', headers: forged('203.0.113.7') })).statusCode).toBe(
          401,
        );
      // The client who failed ten times is locked out, another client behind the same proxy is not.
      expect(
        (
          await s.app.inject({
            url: '/collections',
            headers: { ...s.admin, 'x-forwarded-for': '203.0.113.7' },
          })
        ).statusCode,
      ).toBe(429);
      expect(
        (
          await s.app.inject({
            url: '/collections',
            headers: { ...s.admin, 'x-forwarded-for': '198.51.100.2' },
          })
        ).statusCode,
      ).toBe(200);
      const failures = s.access.services.audit.query({ action: 'auth.failure', limit: 100 });
      expect(failures.map((r) => r.ip)).toEqual(Array(10).fill('203.0.113.7'));
    } finally {
      await s.close();
    }
  });

  it('no trusted proxy: X-Forwarded-For is ignored, the socket address counts', async () => {
    const s = await open();
    try {
      for (let i = 0; i < 10; i++)
        await s.app.inject({ url: '/collections', headers: forged(`203.0.113.${i}`) });
      const failures = s.access.services.audit.query({ action: 'auth.failure', limit: 100 });
      expect(new Set(failures.map((r) => r.ip))).toEqual(new Set(['127.0.0.1']));
      // A spoofed header does not escape the lock-out of the real address.
      const r = await s.app.inject({
        url: '/collections',
        headers: { ...s.admin, 'x-forwarded-for': '198.51.100.2' },
      });
      expect(r.statusCode).toBe(429);
    } finally {
      await s.close();
    }
  });
});
