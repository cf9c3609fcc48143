/**
 * /subscriptions through the real server: a real HTTP receiver on 127.0.0.1 (allowed by the test's
 * egress policy) verifies the test event's signature with the standardwebhooks package and answers
 * 2xx or not; bad bodies are 400 naming the field; an endpoint that fails verification or is not
 * allowed is 400 with the reason; organisation B cannot see, update, pause or delete organisation A's
 * subscription (404, as a missing one); create, update and delete leave audit records.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteSubscriptionStore } from '../src/alerts/subscription-store.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { testServer } from './helpers/server.js';

const area = {
  type: 'Polygon',
  coordinates: [
    [
      [2, 50],
      [3, 50],
      [3, 51],
      [2, 51],
      [2, 50],
    ],
  ],
};

describe('/subscriptions', () => {
  let server: Awaited<ReturnType<typeof testServer>>;
  let receiver: http.Server;
  let base = '';
  const got: { headers: http.IncomingHttpHeaders; body: string; path: string }[] = [];
  /** Path -> secret the receiver checks with (set after creation), or the status to answer. */
  const answer = 200;
  const headersA: Record<string, string> = {};
  const headersB: Record<string, string> = {};
  const headersProvider: Record<string, string> = {};

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        got.push({ headers: req.headers, body, path: req.url ?? '' });
        if (req.url === '/redirect') {
          res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
          return;
        }
        res.writeHead(req.url === '/broken' ? 500 : answer).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const store = new SqliteCatalog(':memory:');
    const subs = new SqliteSubscriptionStore(':memory:');
    server = await testServer(store, {
      subscriptions: {
        subscriptions: subs,
        egress: { allowHosts: [], allowPrivate: true, allowHttp: true },
        verifyTimeoutMs: 2000,
      },
    });
    const id = server.access.services.identity;
    for (const [org, code] of [
      ['gbr', 'GBR'],
      ['fra', 'FRA'],
    ]) {
      id.createOrganisation({
        id: org,
        kind: 'partner',
        codes: [code],
        clearance: [{ policy: 'NATO', classification: 'SECRET' }],
        caveats: [],
      });
      id.createPrincipal(org as string, 'user', { id: `${org}-analyst`, roles: ['partner-analyst'] });
    }
    headersA.authorization = `Bearer ${id.createKey('user:gbr-analyst').key}`;
    headersB.authorization = `Bearer ${id.createKey('user:fra-analyst').key}`;
    headersProvider.authorization = server.admin.authorization as string;
  });
  afterAll(async () => {
    await server.close();
    await new Promise((r) => receiver.close(r));
  });

  const call = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    body?: unknown,
  ) =>
    server.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });

  it('creates with a verified webhook: the test event is a signed CloudEvent the receiver verifies', async () => {
    got.length = 0;
    const r = await call('POST', '/subscriptions', headersA, {
      area,
      eventTypes: ['item.published', 'vessel.detected'],
      options: { darkOnly: true },
      webhookUrl: `${base}/hook`,
    });
    expect(r.statusCode, r.body).toBe(201);
    const s = r.json();
    expect(s.secret).toMatch(/^whsec_/);
    expect(s.orgId).toBe('gbr');
    expect(s.principalId).toBe('user:gbr-analyst');
    expect(got).toHaveLength(1);
    const msg = got[0] as (typeof got)[number];
    const ev = new Webhook(s.secret).verify(msg.body, msg.headers as Record<string, string>) as Record<
      string,
      unknown
    >;
    expect(ev).toMatchObject({ specversion: '1.0', type: 'sarbridge.test' });
    expect(msg.headers['content-type']).toMatch(/cloudevents\+json|json/);
    const one = await call('GET', `/subscriptions/${s.id}`, headersA);
    expect(one.statusCode).toBe(200);
    expect(one.body).not.toContain('whsec_');
  });

  it.each([
    [
      'an invalid area',
      { area: { type: 'Point', coordinates: [1, 2] }, eventTypes: ['item.published'] },
      /area/,
    ],
    ['an unknown event type', { area, eventTypes: ['x.y'] }, /eventTypes/],
    ['a bad filter', { area, eventTypes: ['item.published'], filter: 'platform = =' }, /filter/],
    [
      'an endpoint answering 500',
      { area, eventTypes: ['item.published'], webhookUrl: 'BASE/broken' },
      /HTTP 500/,
    ],
    [
      'an endpoint redirecting',
      { area, eventTypes: ['item.published'], webhookUrl: `${base}/redirect` },
      /HTTP 302|redirect/,
    ],
    [
      'an endpoint not listening',
      { area, eventTypes: ['item.published'], webhookUrl: 'http://127.0.0.1:1/h' },
      /no answer|ECONNREFUSED/,
    ],
    [
      'a URL with credentials',
      { area, eventTypes: ['item.published'], webhookUrl: `http://u:p@127.0.0.1:1/` },
      /credentials/,
    ],
  ])('400 for %s', async (_name, body, reason) => {
    const b = body as Record<string, unknown>;
    const fixed =
      typeof b.webhookUrl === 'string' ? { ...b, webhookUrl: b.webhookUrl.replace('BASE', base) } : b;
    const r = await call('POST', '/subscriptions', headersA, fixed);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.body).toMatch(reason);
  });

  it('organisation B sees nothing of organisation A (404 like a missing one); the provider lists all', async () => {
    const a = (
      await call('POST', '/subscriptions', headersA, { area, eventTypes: ['change.detected'] })
    ).json();
    const b = (
      await call('POST', '/subscriptions', headersB, { area, eventTypes: ['item.published'] })
    ).json();
    const missing = await call('GET', '/subscriptions/sub_missing', headersB);
    expect(missing.statusCode).toBe(404);
    for (const [m, url, body] of [
      ['GET', `/subscriptions/${a.id}`, undefined],
      ['PATCH', `/subscriptions/${a.id}`, { name: 'x' }],
      ['POST', `/subscriptions/${a.id}/pause`, undefined],
      ['POST', `/subscriptions/${a.id}/rotate-secret`, undefined],
      ['DELETE', `/subscriptions/${a.id}`, undefined],
    ] as const) {
      const r = await call(m, url, headersB, body);
      expect(r.statusCode, `${m} ${url}`).toBe(404);
      expect(r.body.replace(a.id, 'ID')).toBe(missing.body.replace('sub_missing', 'ID'));
    }
    const listB = (await call('GET', '/subscriptions', headersB))
      .json()
      .subscriptions.map((s: { id: string }) => s.id);
    expect(listB).toEqual([b.id]);
    const all = (await call('GET', '/subscriptions', headersProvider))
      .json()
      .subscriptions.map((s: { id: string }) => s.id);
    expect(all).toEqual(expect.arrayContaining([a.id, b.id]));
    expect((await call('GET', `/subscriptions/${a.id}`, headersA)).json().name).toBeNull();
    // A pauses, resumes, renames and deletes its own
    expect((await call('POST', `/subscriptions/${a.id}/pause`, headersA)).json().state).toBe('paused');
    expect((await call('POST', `/subscriptions/${a.id}/resume`, headersA)).json().state).toBe('active');
    expect((await call('PATCH', `/subscriptions/${a.id}`, headersA, { name: 'Dover' })).json().name).toBe(
      'Dover',
    );
    expect((await call('DELETE', `/subscriptions/${a.id}`, headersA)).statusCode).toBe(204);
    expect((await call('GET', `/subscriptions/${a.id}`, headersA)).statusCode).toBe(404);
    const ops = server.access.services.audit
      .query({ limit: 1000 })
      .filter((r) => r.action === 'subscription' && r.resource === `/subscriptions/${a.id}`)
      .map((r) => [r.actor, r.org, r.detail.op]);
    expect(ops).toEqual(
      ['create', 'pause', 'resume', 'update', 'delete'].map((op) => ['user:gbr-analyst', 'gbr', op]),
    );
  });
});
