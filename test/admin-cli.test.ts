import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccess } from '../src/access/index.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { buildServer } from '../src/server/app.js';
import { tempDir } from './helpers/gdal.js';
import { runBuiltCli } from './helpers/spawn-cli.js';

const tmp = tempDir('admin-cli-');
const dir = tmp.dir;
const admin = (...args: string[]) => runBuiltCli(['admin', ...args, '--access-dir', dir]);
/** A successful admin command's JSON answer. */
const ok = async (...args: string[]) => {
  const r = await admin(...args);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
};

/** A server on the same access folder, as `sarbridge serve --access-dir` would run it. */
async function withServer<T>(
  fn: (
    get: (url: string, auth?: string) => Promise<number>,
    app: Awaited<ReturnType<typeof buildServer>>,
  ) => Promise<T>,
): Promise<T> {
  const access = openAccess({ dir, publicUrl: 'http://localhost' });
  const store = new SqliteCatalog(join(dir, 'catalog.db'));
  const app = await buildServer({ store, access });
  try {
    return await fn(
      async (url, auth) =>
        (await app.inject({ url, headers: auth ? { authorization: auth } : {} })).statusCode,
      app,
    );
  } finally {
    await app.close();
    await store.close();
    access.close();
  }
}

let bootKey: string;
let clientSecret: string;
let aliceKey: string;
let alicePrefix: string;

beforeAll(async () => {
  const boot = await ok('bootstrap');
  bootKey = boot.key;
});
afterAll(() => tmp.cleanup());

describe('sarbridge admin', () => {
  it('bootstrap prints a provider-admin key once, and refuses a store that has organisations', async () => {
    expect(bootKey).toMatch(/^sb_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/);
    const again = await admin('bootstrap');
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/^sarbridge: bootstrap: .*organisations already/);
    // The key is the provider-admin's: it may list organisations over the API.
    await withServer(async (get) => {
      expect(await get('/admin/organisations', `Bearer ${bootKey}`)).toBe(200);
      expect(await get('/admin/organisations')).toBe(401);
    });
  });

  it('org create and org list', async () => {
    const o = await ok(
      'org',
      'create',
      '--id',
      'gbr-dgi',
      '--kind',
      'partner',
      '--name',
      'UK DGI',
      '--codes',
      'GBR,NATO',
      '--clearance',
      'NATO:SECRET',
      '--caveats',
      'A,B',
    );
    expect(o).toMatchObject({
      id: 'gbr-dgi',
      name: 'UK DGI',
      kind: 'partner',
      codes: ['GBR', 'NATO'],
      clearance: [{ policy: 'NATO', classification: 'SECRET' }],
      caveats: ['A', 'B'],
    });
    const list = await ok('org', 'list');
    expect(list.organisations.map((x: { id: string }) => x.id).sort()).toEqual(['gbr-dgi', 'provider']);
  });

  it('user create, key create: the key authenticates as the user with the lesser clearance', async () => {
    const u = await ok(
      'user',
      'create',
      '--org',
      'gbr-dgi',
      '--id',
      'alice',
      '--roles',
      'partner-analyst',
      '--clearance',
      'NATO:RESTRICTED',
      '--caveats',
      'A',
    );
    expect(u).toMatchObject({
      id: 'user:alice',
      orgId: 'gbr-dgi',
      roles: ['partner-analyst'],
      clearance: [{ policy: 'NATO', classification: 'RESTRICTED' }],
      caveats: ['A'],
    });
    const k = await ok('key', 'create', '--principal', 'user:alice', '--name', 'laptop', '--days', '30');
    expect(k.key).toMatch(/^sb_[a-z2-7]{10}_/);
    expect(k).toMatchObject({ principalId: 'user:alice', orgId: 'gbr-dgi', name: 'laptop', revokedAt: null });
    const days = (Date.parse(k.expiresAt) - Date.parse(k.createdAt)) / 86_400_000;
    expect(days).toBe(30);
    aliceKey = k.key;
    alicePrefix = k.prefix;
    await withServer(async (get) => {
      expect(await get('/collections', `Bearer ${aliceKey}`)).toBe(200);
      // A partner-analyst is no admin.
      expect(await get('/admin/organisations', `Bearer ${aliceKey}`)).toBe(403);
    });
  });

  it('client create prints client_id and client_secret once; they get an access token', async () => {
    const c = await ok('client', 'create', '--org', 'gbr-dgi', '--id', 'sys1', '--roles', 'partner-analyst');
    expect(c.client_id).toBe('sys1');
    expect(c.client_secret).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    clientSecret = c.client_secret;
    // The secret is not stored in clear anywhere the list shows.
    expect(JSON.stringify(await ok('org', 'list'))).not.toContain(clientSecret);
    await withServer(async (get, app) => {
      const r = await app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=client_credentials&client_id=sys1&client_secret=${clientSecret}`,
      });
      expect(r.statusCode, r.body).toBe(200);
      expect(await get('/collections', `Bearer ${r.json().access_token}`)).toBe(200);
    });
  });

  it('key list shows prefixes, never keys; --org narrows it; key revoke ends the key', async () => {
    const all = await ok('key', 'list');
    expect(all.keys.map((k: { principalId: string }) => k.principalId).sort()).toEqual([
      'user:admin',
      'user:alice',
    ]);
    expect(JSON.stringify(all)).not.toContain(aliceKey);
    expect(JSON.stringify(all)).not.toContain(bootKey);
    const gbr = await ok('key', 'list', '--org', 'gbr-dgi');
    expect(gbr.keys.map((k: { prefix: string }) => k.prefix)).toEqual([alicePrefix]);
    const r = await ok('key', 'revoke', alicePrefix);
    expect(r.prefix).toBe(alicePrefix);
    expect(r.revokedAt).not.toBeNull();
    expect((await ok('key', 'list', '--org', 'gbr-dgi')).keys[0].revokedAt).toBe(r.revokedAt);
    await withServer(async (get) => {
      expect(await get('/collections', `Bearer ${aliceKey}`)).toBe(401);
      expect(await get('/collections', `Bearer ${bootKey}`)).toBe(200);
    });
    const twice = await admin('key', 'revoke', alicePrefix);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/<prefix>: .*revoked already/);
  });

  // One row per bad input: the command, then what the single stderr line must name.
  it.each([
    [
      ['org', 'create', '--id', 'x1', '--clearance', 'NATO:BOGUS'],
      /clearance\/0\/classification: unknown classification 'BOGUS'/,
    ],
    [
      ['org', 'create', '--id', 'x2', '--clearance', 'XYZ:SECRET'],
      /clearance\/0\/policy: unknown policy 'XYZ'/,
    ],
    [
      ['org', 'create', '--id', 'x3', '--clearance', 'SECRET'],
      /--clearance: entry 0 must be POLICY:CLASSIFICATION/,
    ],
    [['org', 'create', '--id', 'x4', '--codes', 'GBR,gb'], /codes\/1: must be organisation codes/],
    [['org', 'create', '--id', 'x5', '--kind', 'alien'], /kind: must be provider or partner/],
    [['org', 'create', '--id', 'Bad Id'], /id: must be an id of lower-case letters/],
    [['org', 'create', '--id', 'gbr-dgi'], /organisation 'gbr-dgi' exists already/],
    [['org', 'create', '--id', 'x6', '--caveats', 'ok,<script>'], /caveats\/\d: must be caveat values/],
    [
      ['user', 'create', '--org', 'nope', '--id', 'bob', '--roles', 'partner-analyst'],
      /organisation 'nope' does not exist/,
    ],
    [
      ['user', 'create', '--org', 'gbr-dgi', '--id', 'bob', '--roles', 'provider-admin'],
      /roles\/0: role 'provider-admin' is not one of a partner/,
    ],
    [
      ['user', 'create', '--org', 'gbr-dgi', '--id', 'bob', '--roles', 'superuser'],
      /roles\/0: unknown role 'superuser'/,
    ],
    [
      [
        'user',
        'create',
        '--org',
        'gbr-dgi',
        '--id',
        'bob',
        '--roles',
        'partner-analyst',
        '--clearance',
        'NATO:TOP SECRET',
      ],
      /clearance\/0: NATO TOP SECRET is above the organisation's clearance/,
    ],
    [
      ['user', 'create', '--org', 'gbr-dgi', '--id', 'bob', '--roles', 'partner-analyst', '--caveats', 'Z'],
      /caveats: 'Z' is not held by organisation 'gbr-dgi'/,
    ],
    [
      ['user', 'create', '--org', 'gbr-dgi', '--id', 'alice', '--roles', 'partner-analyst'],
      /user 'alice' exists already/,
    ],
    [['key', 'create', '--principal', 'alice'], /--principal: must be user:<id> or client:<id>/],
    [['key', 'create', '--principal', 'user:nobody'], /principal 'user:nobody' does not exist/],
    [
      ['key', 'create', '--principal', 'user:alice', '--days', '0'],
      /--days: must be a whole number of days from 1 to 3650, got '0'/,
    ],
    [['key', 'create', '--principal', 'user:alice', '--days', '3651'], /--days: .*got '3651'/],
    [['key', 'list', '--org', 'nope'], /--org: organisation 'nope' does not exist/],
    [['key', 'revoke', 'nope'], /<prefix>: key 'nope' does not exist/],
  ] as [string[], RegExp][])('admin %j: exit 1 naming the field', async (args, message) => {
    const r = await admin(...args);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^sarbridge: /);
    expect(lines[0]).toMatch(message);
  });

  it('nothing is written by a refused command', async () => {
    const list = await ok('org', 'list');
    expect(list.organisations.map((x: { id: string }) => x.id).sort()).toEqual(['gbr-dgi', 'provider']);
    const keys = await ok('key', 'list');
    expect(keys.keys).toHaveLength(2);
  });

  it('a missing mandatory option is a usage error (exit 2); a missing access folder is bad input (exit 1)', async () => {
    const r = await runBuiltCli(['admin', 'org', 'create', '--access-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--id');
    const m = await runBuiltCli(['admin', 'org', 'list', '--access-dir', join(dir, 'missing')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/--access-dir: .* is not a folder/);
  });
});
