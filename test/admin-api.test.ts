import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

const tmp = tempDir('admin-api-');
let s: Awaited<ReturnType<typeof testServer>>;
let store: SqliteCatalog;

const call = async (method: string, url: string, key: string | null, payload?: unknown) => {
  const r = await s.app.inject({
    method: method as 'GET',
    url,
    headers: key ? { authorization: `Bearer ${key}` } : {},
    payload: payload as string,
  });
  return { status: r.statusCode, body: r.body ? r.json() : null };
};
const admin = () => s.admin.authorization.slice(7);

/** Keys of each organisation's partner-admin, made through the API as the provider-admin. */
const keys: Record<string, string> = {};

beforeAll(async () => {
  store = new SqliteCatalog(`${tmp.dir}/c.db`);
  s = await testServer(store);
  for (const [id, codes] of [
    ['coastguard', ['GBR', 'NATO']],
    ['navy', ['FRA', 'NATO']],
  ] as const) {
    const org = await call('POST', '/admin/organisations', admin(), {
      id,
      kind: 'partner',
      codes,
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    });
    expect(org.status, JSON.stringify(org.body)).toBe(201);
    const u = await call('POST', `/admin/organisations/${id}/users`, admin(), {
      id: `${id}-admin`,
      roles: ['partner-admin'],
    });
    expect(u.status, JSON.stringify(u.body)).toBe(201);
    const k = await call('POST', `/admin/principals/user:${id}-admin/keys`, admin(), { name: 'ops' });
    expect(k.status).toBe(201);
    keys[id] = k.body.key;
  }
});
afterAll(async () => {
  await s.close();
  await store.close();
  tmp.cleanup();
});

describe('a partner-admin manages its own organisation only; others look missing', () => {
  it('sees its own organisation, not the other one, and cannot create organisations', async () => {
    const list = await call('GET', '/admin/organisations', keys.coastguard);
    expect(list.body.organisations.map((o: { id: string }) => o.id)).toEqual(['coastguard']);
    const other = await call('GET', '/admin/organisations/navy', keys.coastguard);
    const missing = await call('GET', '/admin/organisations/nobody', keys.coastguard);
    expect(other.status).toBe(404);
    expect(other.body.description.replace('navy', 'X')).toBe(missing.body.description.replace('nobody', 'X'));
    expect(
      (await call('POST', '/admin/organisations', keys.coastguard, { id: 'mine', kind: 'partner' })).status,
    ).toBe(403);
    expect(
      (await call('PATCH', '/admin/organisations/coastguard', keys.coastguard, { codes: ['USA'] })).status,
    ).toBe(403);
  });

  it("creates users and keys in its organisation, within its organisation's kind", async () => {
    const u = await call('POST', '/admin/organisations/coastguard/users', keys.coastguard, {
      id: 'ana',
      roles: ['partner-analyst'],
    });
    expect(u.status).toBe(201);
    const bad = await call('POST', '/admin/organisations/coastguard/users', keys.coastguard, {
      id: 'eve',
      roles: ['provider-admin'],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.description).toMatch(
      /^roles\/0: role 'provider-admin' is not one of a partner organisation's/,
    );
    expect(
      (
        await call('POST', '/admin/organisations/navy/users', keys.coastguard, {
          id: 'spy',
          roles: ['partner-analyst'],
        })
      ).status,
    ).toBe(404);
    const k = await call('POST', '/admin/principals/user:ana/keys', keys.coastguard, { expiresInDays: 30 });
    expect(k.status).toBe(201);
    expect(k.body.key).toMatch(/^sb_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/);
    expect((await call('GET', '/collections', k.body.key)).status).toBe(200);
    expect((await call('GET', '/admin/keys', k.body.key)).status).toBe(403);
    expect((await call('POST', '/admin/principals/user:navy-admin/keys', keys.coastguard, {})).status).toBe(
      404,
    );
  });

  it("lists and revokes its own organisation's keys, never another's", async () => {
    const mine = (await call('GET', '/admin/keys', keys.coastguard)).body.keys as {
      prefix: string;
      orgId: string;
    }[];
    expect(new Set(mine.map((k) => k.orgId))).toEqual(new Set(['coastguard']));
    expect(JSON.stringify(mine)).not.toContain(keys.coastguard.split('_')[2]);
    const all = (await call('GET', '/admin/keys', admin())).body.keys as { prefix: string; orgId: string }[];
    const navyPrefix = all.find((k) => k.orgId === 'navy')?.prefix as string;
    expect((await call('DELETE', `/admin/keys/${navyPrefix}`, keys.coastguard)).status).toBe(404);
    expect((await call('GET', '/collections', keys.navy)).status).toBe(200);
    const k = await call('POST', '/admin/principals/user:ana/keys', keys.coastguard, {});
    expect((await call('DELETE', `/admin/keys/${k.body.prefix}`, keys.coastguard)).status).toBe(204);
    expect((await call('GET', '/collections', k.body.key)).status).toBe(401);
  });

  it('disables a user of its own: every key of the user stops working', async () => {
    const k = await call('POST', '/admin/principals/user:ana/keys', keys.coastguard, {});
    expect((await call('GET', '/collections', k.body.key)).status).toBe(200);
    expect(
      (await call('PATCH', '/admin/principals/user:ana', keys.coastguard, { disabled: true })).status,
    ).toBe(200);
    expect((await call('GET', '/collections', k.body.key)).status).toBe(401);
    expect(
      (await call('PATCH', '/admin/principals/user:navy-admin', keys.coastguard, { disabled: true })).status,
    ).toBe(404);
  });

  it('creates a machine client whose secret buys an access token', async () => {
    const c = await call('POST', '/admin/organisations/coastguard/clients', keys.coastguard, {
      id: 'ingest',
      roles: ['partner-analyst'],
    });
    expect(c.status).toBe(201);
    const basic = Buffer.from(`${c.body.client_id}:${c.body.client_secret}`).toString('base64');
    const t = await s.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    });
    expect(t.statusCode, t.body).toBe(200);
    expect((await call('GET', '/collections', t.json().access_token)).status).toBe(200);
  });

  it('every administrative action is in the audit log, under the organisation that did it', async () => {
    const own = (await call('GET', '/admin/audit?action=admin&limit=1000', keys.coastguard)).body.records as {
      org: string;
      actor: string;
      detail: { op: string };
    }[];
    expect(own.length).toBeGreaterThanOrEqual(6);
    expect(new Set(own.map((r) => r.org))).toEqual(new Set(['coastguard']));
    expect(own.map((r) => r.detail.op)).toEqual(expect.arrayContaining(['create', 'revoke', 'disable']));
    const everything = (await call('GET', '/admin/audit?action=admin&limit=1000', admin())).body.records as {
      org: string;
    }[];
    expect(new Set(everything.map((r) => r.org))).toEqual(new Set(['provider', 'coastguard']));
  });
});
