import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
} from 'node:crypto';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthenticationError } from '../src/access/errors.js';
import { BASIC_CHALLENGE, OAuthError, parseFormBody, parseTokenRequest } from '../src/access/oauth.js';
import { CLOCK_TOLERANCE_S, TokenService, type TokenServiceOptions } from '../src/access/tokens.js';
import { ValidationError } from '../src/errors.js';

const ISS = 'https://sarbridge.test/oauth';
const AUD = 'sarbridge-api';
const TTL_S = 900;
const T0_MS = 1_800_000_000_000;

const dbs: Database.Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

/** A service on a fresh identity database, with a clock the test moves. */
function setup(opts: Partial<TokenServiceOptions> = {}) {
  const db = new Database(':memory:');
  dbs.push(db);
  const clock = { ms: T0_MS };
  const nowS = () => Math.floor(clock.ms / 1000);
  const svc = new TokenService(db, { issuer: ISS, audience: AUD, now: () => clock.ms, ...opts });
  return { db, clock, nowS, svc };
}

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const json = (v: unknown) => b64url(JSON.stringify(v));

/** A compact JWS put together by hand with node:crypto (not with the code under test, nor jose). */
function es256(header: object, payload: object | string, key: KeyObject): string {
  const input = `${json(header)}.${typeof payload === 'string' ? b64url(payload) : json(payload)}`;
  const sig = nodeSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

/** Our current signing key, read from the signing_keys table as the test's own KeyObject. */
function ourKey(db: Database.Database): { kid: string; key: KeyObject } {
  const row = db.prepare('SELECT kid, private_jwk FROM signing_keys WHERE retired_at_s IS NULL').get() as {
    kid: string;
    private_jwk: string;
  };
  return { kid: row.kid, key: createPrivateKey({ key: JSON.parse(row.private_jwk), format: 'jwk' }) };
}

async function refusal(p: Promise<unknown>): Promise<AuthenticationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthenticationError);
  return err as AuthenticationError;
}

const claims = { sub: 'client-7', org: 'coastguard', roles: ['reader', 'tasker'] };

describe('TokenService issue and verify', () => {
  it('an issued token verifies, by the service and by jose with createLocalJWKSet(jwks())', async () => {
    const { svc, nowS } = setup();
    const issued = await svc.issue({ ...claims, scope: 'catalog:read tiles:read' });
    expect(issued).toMatchObject({
      token_type: 'Bearer',
      expires_in: TTL_S,
      scope: 'catalog:read tiles:read',
    });

    const v = await svc.verify(issued.access_token);
    expect(v).toMatchObject({ ...claims, exp: nowS() + TTL_S, scope: 'catalog:read tiles:read' });
    expect(v.jti).toMatch(/^[0-9a-f-]{36}$/);

    const ref = await jwtVerify(issued.access_token, createLocalJWKSet(svc.jwks()), {
      algorithms: ['ES256'],
      issuer: ISS,
      audience: AUD,
      typ: 'at+jwt',
      currentDate: new Date(T0_MS),
    });
    expect(ref.protectedHeader.alg).toBe('ES256');
    expect(ref.payload).toMatchObject({
      sub: 'client-7',
      org: 'coastguard',
      roles: claims.roles,
      iat: nowS(),
    });
  });

  it('jwks() holds public EC keys only, each kid its RFC 7638 thumbprint', async () => {
    const { svc, db } = setup();
    await svc.issue(claims);
    const { keys } = svc.jwks();
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0].kid).toBe(await calculateJwkThumbprint(keys[0]));
    const { key } = ourKey(db);
    expect(createPublicKey(key).export({ format: 'jwk' })).toMatchObject({ x: keys[0].x, y: keys[0].y });
  });

  it('returned claims are copies: changing them does not change the next verification', async () => {
    const { svc } = setup();
    const { access_token } = await svc.issue(claims);
    (await svc.verify(access_token)).roles.push('admin');
    expect((await svc.verify(access_token)).roles).toEqual(claims.roles);
  });

  it.each([
    ['sub empty', { ...claims, sub: '' }, "sub: expected a non-empty string, got ''"],
    ['org missing', { sub: 'c', roles: [] }, 'org: expected a non-empty string, got undefined'],
    ['roles not strings', { ...claims, roles: [1] }, 'roles: expected an array of non-empty strings'],
  ])('issue refuses bad claims: %s', async (_name, bad, message) => {
    const { svc } = setup();
    const err = await svc.issue(bad as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe(message);
  });
});

/** Builds a token to refuse, given the service, its database (to sign with our own key) and the clock. */
type Forge = (c: ReturnType<typeof setup>) => Promise<string> | string;

/** A payload our key may sign, valid except for what a row changes. */
const payloadAt = (nowS: number, patch: Record<string, unknown> = {}) => {
  const p: Record<string, unknown> = {
    iss: ISS,
    aud: AUD,
    sub: 'client-7',
    org: 'coastguard',
    roles: ['reader'],
    jti: 'b5b8c1a0-0000-4000-8000-000000000001',
    iat: nowS,
    nbf: nowS,
    exp: nowS + TTL_S,
    ...patch,
  };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete p[k];
  return p;
};
const ourHeader = (kid: string) => ({ alg: 'ES256', kid, typ: 'at+jwt' });
const signedByUs =
  (patch: Record<string, unknown>, header: Record<string, unknown> = {}): Forge =>
  async ({ svc, db, nowS }) => {
    await svc.issue(claims);
    const { kid, key } = ourKey(db);
    return es256({ ...ourHeader(kid), ...header }, payloadAt(nowS(), patch), key);
  };
const withPublicKeyAsHmacSecret =
  (secretOf: (jwk: { x: string; y: string }) => Buffer | string): Forge =>
  async ({ svc, nowS }) => {
    await svc.issue(claims);
    const jwk = svc.jwks().keys[0];
    const input = `${json({ alg: 'HS256', kid: jwk.kid, typ: 'at+jwt' })}.${json(payloadAt(nowS()))}`;
    return `${input}.${b64url(createHmac('sha256', secretOf(jwk)).update(input).digest())}`;
  };
const rawPoint = (j: { x: string; y: string }) =>
  Buffer.concat([Buffer.from([4]), Buffer.from(j.x, 'base64url'), Buffer.from(j.y, 'base64url')]);
const spkiPem = (j: { x: string; y: string }) =>
  createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y }, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();

const refused: [string, Forge, string, AuthenticationError['reason']][] = [
  [
    'expired (clock moved past exp and the tolerance)',
    async (c) => {
      const { access_token } = await c.svc.issue(claims);
      c.clock.ms += (TTL_S + CLOCK_TOLERANCE_S) * 1000;
      return access_token;
    },
    'token expired',
    'expired',
  ],
  [
    'not yet valid (nbf a minute ahead)',
    signedByUs({ nbf: Math.floor(T0_MS / 1000) + 60 }),
    'token not yet valid',
    'not_yet_valid',
  ],
  [
    'issued in the future (iat a minute ahead)',
    signedByUs({ iat: Math.floor(T0_MS / 1000) + 60 }),
    'token issued in the future',
    'issued_in_future',
  ],
  [
    'issued longer ago than the token lifetime, though exp is later',
    signedByUs({ iat: Math.floor(T0_MS / 1000) - TTL_S - 60, exp: Math.floor(T0_MS / 1000) + 3600 }),
    'token expired',
    'expired',
  ],
  [
    'alg none, empty signature',
    async ({ svc, nowS }) => {
      await svc.issue(claims);
      return `${json({ alg: 'none', kid: svc.jwks().keys[0].kid, typ: 'at+jwt' })}.${json(payloadAt(nowS()))}.`;
    },
    'token algorithm not allowed (expected ES256)',
    'algorithm',
  ],
  [
    'HS256 with the JWK JSON of our public key as secret',
    withPublicKeyAsHmacSecret((j) => JSON.stringify(j)),
    'token algorithm not allowed (expected ES256)',
    'algorithm',
  ],
  [
    'HS256 with the raw public point as secret',
    withPublicKeyAsHmacSecret(rawPoint),
    'token algorithm not allowed (expected ES256)',
    'algorithm',
  ],
  [
    'HS256 with the SPKI PEM of our public key as secret',
    withPublicKeyAsHmacSecret(spkiPem),
    'token algorithm not allowed (expected ES256)',
    'algorithm',
  ],
  [
    'RS256 signed by another key, with our kid',
    async ({ svc, nowS }) => {
      await svc.issue(claims);
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const input = `${json({ alg: 'RS256', kid: svc.jwks().keys[0].kid, typ: 'at+jwt' })}.${json(payloadAt(nowS()))}`;
      return `${input}.${b64url(nodeSign('sha256', Buffer.from(input), privateKey))}`;
    },
    'token algorithm not allowed (expected ES256)',
    'algorithm',
  ],
  [
    'ES256 signed by another key, with our kid',
    async ({ svc, nowS }) => {
      await svc.issue(claims);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return es256(ourHeader(svc.jwks().keys[0].kid), payloadAt(nowS()), privateKey);
    },
    'token signature invalid',
    'signature',
  ],
  [
    'tampered payload (org changed, signature kept)',
    async ({ svc }) => {
      const [h, p, s] = (await svc.issue(claims)).access_token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      return `${h}.${json({ ...payload, org: 'navy' })}.${s}`;
    },
    'token signature invalid',
    'signature',
  ],
  [
    'unknown kid (another key, its own thumbprint)',
    async ({ svc, nowS }) => {
      await svc.issue(claims);
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as never);
      return es256(ourHeader(kid), payloadAt(nowS()), privateKey);
    },
    'token signing key unknown',
    'unknown_key',
  ],
  ['no kid', signedByUs({}, { kid: undefined }), 'token header has no kid', 'unknown_key'],
  ['typ JWT, not at+jwt', signedByUs({}, { typ: 'JWT' }), 'token type mismatch (expected at+jwt)', 'type'],
  ['no typ', signedByUs({}, { typ: undefined }), 'token type mismatch (expected at+jwt)', 'type'],
  ['wrong aud', signedByUs({ aud: 'other-api' }), 'token audience mismatch', 'audience'],
  ['wrong iss', signedByUs({ iss: 'https://evil.test' }), 'token issuer mismatch', 'issuer'],
  ['iss not a string', signedByUs({ iss: [ISS] }), 'token issuer mismatch', 'issuer'],
  ...(['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'] as const).map(
    (c): [string, Forge, string, AuthenticationError['reason']] => [
      `missing ${c}`,
      signedByUs({ [c]: undefined }),
      `token claim '${c}' missing`,
      'claims',
    ],
  ),
  ...(['org', 'roles'] as const).map((c): [string, Forge, string, AuthenticationError['reason']] => [
    `missing ${c}`,
    signedByUs({ [c]: undefined }),
    `token claim '${c}' missing or invalid`,
    'claims',
  ]),
  ['roles a string', signedByUs({ roles: 'admin' }), "token claim 'roles' missing or invalid", 'claims'],
  ['roles holding a number', signedByUs({ roles: [1] }), "token claim 'roles' missing or invalid", 'claims'],
  ['org a number', signedByUs({ org: 7 }), "token claim 'org' missing or invalid", 'claims'],
  ['exp a string', signedByUs({ exp: 'tomorrow' }), "token claim 'exp' missing or invalid", 'claims'],
  ['scope a list', signedByUs({ scope: ['a'] }), "token claim 'scope' missing or invalid", 'claims'],
  [
    'payload not JSON, validly signed',
    async ({ svc, db }) => {
      await svc.issue(claims);
      const { kid, key } = ourKey(db);
      return es256(ourHeader(kid), 'not json', key);
    },
    'token malformed',
    'malformed',
  ],
  [
    'payload a JSON array, validly signed',
    async ({ svc, db }) => {
      await svc.issue(claims);
      const { kid, key } = ourKey(db);
      return es256(ourHeader(kid), '[1,2]', key);
    },
    'token malformed',
    'malformed',
  ],
  [
    'signature not base64url, our kid',
    async ({ svc, nowS }) => {
      await svc.issue(claims);
      return `${json(ourHeader(svc.jwks().keys[0].kid))}.${json(payloadAt(nowS()))}.***`;
    },
    'token malformed',
    'malformed',
  ],
  [
    'crit header that is not understood',
    signedByUs({}, { crit: ['exp-x'], 'exp-x': 1 }),
    'token malformed',
    'malformed',
  ],
  [
    'b64 false (unencoded payload)',
    signedByUs({}, { crit: ['b64'], b64: false }),
    'token malformed',
    'malformed',
  ],
  ...(
    [
      ['empty string', ''],
      ['one word', 'garbage'],
      ['three dots', 'a.b.c'],
      ['only dots', '..'],
      ['two segments', 'eyJhbGciOiJFUzI1NiJ9.e30'],
      ['five segments (a JWE)', 'a.b.c.d.e'],
      ['header not JSON', `${b64url('{alg')}.${json({})}.AAAA`],
      ['header a JSON array', `${b64url('[1]')}.${json({})}.AAAA`],
      ['spaces and unicode', ' \u00e9t\u00e9 . \u{1F600} . '],
      ['longer than 4096 characters', `${json({ alg: 'ES256' })}.${'A'.repeat(5000)}.AAAA`],
      ['not a string (number)', 42],
      ['not a string (null)', null],
    ] as [string, unknown][]
  ).map(([name, token]): [string, Forge, string, AuthenticationError['reason']] => [
    `garbage: ${name}`,
    () => token as string,
    'token malformed',
    'malformed',
  ]),
];

describe('TokenService refuses', () => {
  it.each(refused)('%s', async (_name, forge, message, reason) => {
    const c = setup();
    const token = await forge(c);
    const err = await refusal(c.svc.verify(token));
    expect(err.message).toBe(message);
    expect(err.reason).toBe(reason);
    expect(err.code).toBe('Unauthorized');
  });

  it('a kid that is not ours is refused before any signature check', async () => {
    const { svc, nowS } = setup();
    await svc.issue(claims);
    const tok = `${json({ alg: 'ES256', kid: 'not-ours', typ: 'at+jwt' })}.${json(payloadAt(nowS()))}.AAAA`;
    expect((await refusal(svc.verify(tok))).message).toBe('token signing key unknown');
  });

  it('any string at all is refused with an AuthenticationError (property)', async () => {
    const { svc } = setup();
    await svc.issue(claims);
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.tuple(segment, segment, segment).map((s) => s.join('.')),
        ),
        async (s) => {
          await refusal(svc.verify(s));
        },
      ),
      { numRuns: 300, seed: 20260 },
    );
  });
});

describe('TokenService key rotation', () => {
  it('after rotateAfterS a new kid signs; old tokens verify until exp; the old key then leaves the JWKS', async () => {
    const { svc, db, clock } = setup({ rotateAfterS: 3600 });
    const kidOf = (t: string) =>
      JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString()).kid as string;
    const first = await svc.issue(claims);
    const kidA = kidOf(first.access_token);

    clock.ms += 3500_000; // late in key A's life
    const old = await svc.issue(claims);
    expect(kidOf(old.access_token)).toBe(kidA);
    const oldExpS = Math.floor(clock.ms / 1000) + TTL_S;

    clock.ms += 100_000; // key A is 3600 s old
    const fresh = await svc.issue(claims);
    const kidB = kidOf(fresh.access_token);
    expect(kidB).not.toBe(kidA);
    expect(svc.jwks().keys.map((k) => k.kid)).toEqual([kidB, kidA]);
    await expect(svc.verify(old.access_token)).resolves.toMatchObject({ exp: oldExpS });

    // One second before the old token (with the tolerance) expires: still valid, A still published.
    clock.ms = (oldExpS + CLOCK_TOLERANCE_S - 1) * 1000;
    await expect(svc.verify(old.access_token)).resolves.toMatchObject({ org: 'coastguard' });
    expect(svc.jwks().keys.map((k) => k.kid)).toEqual([kidB, kidA]);

    clock.ms += 1000;
    expect(svc.jwks().keys.map((k) => k.kid)).toEqual([kidB]);
    expect(db.prepare('SELECT kid FROM signing_keys').all()).toEqual([{ kid: kidB }]);
    expect((await refusal(svc.verify(old.access_token))).reason).toBe('expired');
    // The token the old key signed first (exp long past) is refused too, now by its unknown kid.
    expect((await refusal(svc.verify(first.access_token))).message).toBe('token signing key unknown');
    await expect(svc.verify(fresh.access_token)).resolves.toMatchObject({ sub: 'client-7' });
  });

  it('instances sharing the identity database sign with one current key and verify each other', async () => {
    const { svc, db, clock } = setup({ rotateAfterS: 3600 });
    const other = new TokenService(db, {
      issuer: ISS,
      audience: AUD,
      rotateAfterS: 3600,
      now: () => clock.ms,
    });
    const a = await svc.issue(claims);
    const b = await other.issue(claims);
    expect(a.access_token.split('.')[0]).toBe(b.access_token.split('.')[0]);
    await expect(other.verify(a.access_token)).resolves.toMatchObject({ org: 'coastguard' });

    clock.ms += 3600_000;
    const rotated = await other.issue(claims); // the other instance rotates
    await expect(svc.verify(rotated.access_token)).resolves.toMatchObject({ org: 'coastguard' });
    expect(svc.jwks()).toEqual(other.jwks());
  });

  it('concurrent first issues create a single key', async () => {
    const { svc } = setup();
    await Promise.all(Array.from({ length: 8 }, () => svc.issue(claims)));
    expect(svc.jwks().keys).toHaveLength(1);
  });

  it('a service of another issuer on the same database keeps its own keys', async () => {
    const { svc, db, clock } = setup();
    const other = new TokenService(db, { issuer: 'https://other.test', audience: AUD, now: () => clock.ms });
    const t = await other.issue(claims);
    await svc.issue(claims);
    expect(svc.jwks().keys[0].kid).not.toBe(other.jwks().keys[0].kid);
    expect((await refusal(svc.verify(t.access_token))).message).toBe('token signing key unknown');
  });
});

describe('TokenService verified-token cache', () => {
  it('a token cached as valid is still refused after its exp', async () => {
    const { svc, clock, nowS } = setup();
    const { access_token } = await svc.issue(claims);
    const expS = nowS() + TTL_S;
    await svc.verify(access_token); // verified and cached
    clock.ms = (expS + CLOCK_TOLERANCE_S - 1) * 1000;
    await expect(svc.verify(access_token)).resolves.toMatchObject({ exp: expS });
    clock.ms += 1000;
    expect((await refusal(svc.verify(access_token))).message).toBe('token expired');
    expect((await refusal(svc.verify(access_token))).message).toBe('token expired');
  });

  it('a cached token does not vouch for a variant of it', async () => {
    const { svc } = setup();
    const { access_token } = await svc.issue(claims);
    await svc.verify(access_token);
    const [h, p, s] = access_token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const err = await refusal(svc.verify(`${h}.${json({ ...payload, roles: ['admin'] })}.${s}`));
    expect(err.message).toBe('token signature invalid');
  });

  it('works the same with the cache off', async () => {
    const { svc, clock } = setup({ cacheSize: 0 });
    const { access_token } = await svc.issue(claims);
    await svc.verify(access_token);
    await expect(svc.verify(access_token)).resolves.toMatchObject({ sub: 'client-7' });
    clock.ms += (TTL_S + CLOCK_TOLERANCE_S) * 1000;
    expect((await refusal(svc.verify(access_token))).message).toBe('token expired');
  });
});

/** Basic credentials as RFC 6749 2.3.1 asks: each part form-urlencoded (URLSearchParams encodes), then base64. */
const formEncode = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;
const rawBasic = (s: string | Buffer) => `Basic ${Buffer.from(s).toString('base64')}`;
const CC = { grant_type: 'client_credentials' };

describe('parseTokenRequest', () => {
  it.each([
    [
      'Basic',
      { authorization: basic('client-7', 's3cr3t') },
      CC,
      { clientId: 'client-7', clientSecret: 's3cr3t' },
    ],
    [
      'Basic with :, +, % and space form-urlencoded',
      { Authorization: basic('partner:7 a', 'p:a%s+s w') },
      { ...CC, scope: 'catalog:read tiles:read' },
      { clientId: 'partner:7 a', clientSecret: 'p:a%s+s w', scope: 'catalog:read tiles:read' },
    ],
    [
      'Basic, scheme in lower case',
      { authorization: basic('c', 's').replace('Basic', 'basic') },
      CC,
      { clientId: 'c', clientSecret: 's' },
    ],
    [
      'Basic and the same client_id in the body',
      { authorization: basic('c', 's') },
      { ...CC, client_id: 'c' },
      { clientId: 'c', clientSecret: 's' },
    ],
    [
      'body',
      {},
      { ...CC, client_id: 'client-7', client_secret: 's3cr3t', scope: 'read' },
      { clientId: 'client-7', clientSecret: 's3cr3t', scope: 'read' },
    ],
    [
      'body parsed from a form, empty scope ignored',
      { 'content-type': 'application/x-www-form-urlencoded' },
      parseFormBody('grant_type=client_credentials&client_id=c%207&client_secret=a+b&scope=', 1024),
      { clientId: 'c 7', clientSecret: 'a b' },
    ],
  ])('accepts %s', (_name, headers, body, expected) => {
    expect(parseTokenRequest(headers, body)).toEqual(expected);
  });

  const bodyCreds = { ...CC, client_id: 'c', client_secret: 's' };
  it.each([
    [
      'both Basic and body credentials',
      { authorization: basic('c', 's') },
      bodyCreds,
      'invalid_request',
      400,
      'client credentials both in the Authorization header and in the body (use one method)',
    ],
    [
      'Basic and a different client_id in the body',
      { authorization: basic('c', 's') },
      { ...CC, client_id: 'd' },
      'invalid_request',
      400,
      'client_id in the body differs from the Authorization header',
    ],
    [
      'missing grant_type',
      {},
      { client_id: 'c', client_secret: 's' },
      'invalid_request',
      400,
      'grant_type missing (expected client_credentials)',
    ],
    [
      'empty grant_type',
      {},
      { ...bodyCreds, grant_type: '' },
      'invalid_request',
      400,
      'grant_type missing (expected client_credentials)',
    ],
    [
      'no body',
      { authorization: basic('c', 's') },
      undefined,
      'invalid_request',
      400,
      'grant_type missing (expected client_credentials)',
    ],
    [
      'grant_type=password',
      {},
      { ...bodyCreds, grant_type: 'password' },
      'unsupported_grant_type',
      400,
      "grant_type 'password' is not supported (expected client_credentials)",
    ],
    [
      'grant_type with odd characters',
      {},
      { ...bodyCreds, grant_type: 'x"\\y' },
      'unsupported_grant_type',
      400,
      'grant_type (a value not shown) is not supported (expected client_credentials)',
    ],
    [
      'no client authentication',
      {},
      CC,
      'invalid_client',
      401,
      'no client authentication (expected HTTP Basic, or client_id and client_secret in the body)',
    ],
    [
      'body client_id without client_secret',
      {},
      { ...CC, client_id: 'c' },
      'invalid_client',
      400,
      'client_secret missing (client_credentials needs a confidential client)',
    ],
    [
      'body client_secret without client_id',
      {},
      { ...CC, client_secret: 's' },
      'invalid_request',
      400,
      'client_secret given without client_id',
    ],
    [
      'body client_id with a control character',
      {},
      { ...bodyCreds, client_id: 'c\n' },
      'invalid_client',
      400,
      'client_id must be 1 to 256 printable ASCII characters',
    ],
    [
      'Basic without credentials',
      { authorization: 'Basic' },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: expected Basic and base64 credentials',
    ],
    [
      'Basic with non-base64',
      { authorization: 'Basic !!!!' },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: credentials are not base64',
    ],
    [
      'Basic with base64 missing its padding',
      { authorization: 'Basic YTpi' + 'Yw' },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: credentials are not base64',
    ],
    [
      'Basic without a colon',
      { authorization: rawBasic('client-7') },
      CC,
      'invalid_client',
      401,
      "Authorization header malformed: no ':' between client_id and client_secret",
    ],
    [
      'Basic with an empty client_id',
      { authorization: rawBasic(':s') },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: client_id empty',
    ],
    [
      'Basic with an empty client_secret',
      { authorization: rawBasic('c:') },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: client_secret empty',
    ],
    [
      'Basic with a broken %-escape',
      { authorization: rawBasic('c:s%zz') },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: client_id or client_secret is not form-urlencoded',
    ],
    [
      'Basic that is not UTF-8',
      { authorization: rawBasic(Buffer.from([0x63, 0x3a, 0xff])) },
      CC,
      'invalid_client',
      401,
      'Authorization header malformed: credentials are not UTF-8',
    ],
    [
      'Bearer instead of Basic',
      { authorization: 'Bearer abc' },
      CC,
      'invalid_client',
      401,
      "client authentication by 'Bearer' is not supported (expected Basic, or client_secret in the body)",
    ],
    [
      'two Authorization headers',
      { authorization: [basic('c', 's'), basic('d', 't')] },
      CC,
      'invalid_request',
      400,
      'more than one authorization header',
    ],
    [
      'Authorization in two cases',
      { authorization: basic('c', 's'), Authorization: basic('c', 's') },
      CC,
      'invalid_request',
      400,
      'more than one authorization header',
    ],
    [
      'repeated grant_type (array)',
      {},
      { ...bodyCreds, grant_type: ['client_credentials', 'client_credentials'] },
      'invalid_request',
      400,
      "parameter 'grant_type' repeated",
    ],
    [
      'repeated client_secret (array)',
      {},
      { ...bodyCreds, client_secret: ['s', 't'] },
      'invalid_request',
      400,
      "parameter 'client_secret' repeated",
    ],
    [
      'a number as client_id (JSON)',
      {},
      { ...bodyCreds, client_id: 7 },
      'invalid_request',
      400,
      "parameter 'client_id': expected a string, got number",
    ],
    [
      'a body that is a string',
      {},
      'grant_type=client_credentials',
      'invalid_request',
      400,
      'request body must hold the parameters as form fields',
    ],
    [
      'scope with two spaces',
      {},
      { ...bodyCreds, scope: 'a  b' },
      'invalid_scope',
      400,
      'scope malformed (expected scope tokens separated by single spaces)',
    ],
    [
      'scope with a quote',
      {},
      { ...bodyCreds, scope: 'a"b' },
      'invalid_scope',
      400,
      'scope malformed (expected scope tokens separated by single spaces)',
    ],
  ] as [string, Record<string, string | string[]>, unknown, string, number, string][])(
    'refuses %s',
    (_name, headers, body, error, status, message) => {
      let err: unknown;
      try {
        parseTokenRequest(headers, body);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OAuthError);
      const e = err as OAuthError;
      expect({ error: e.error, status: e.status, message: e.message }).toEqual({ error, status, message });
      expect(e.wwwAuthenticate).toBe(status === 401 ? BASIC_CHALLENGE : undefined);
      expect(e.toBody()).toEqual({ error, error_description: message });
    },
  );

  it('toBody() keeps error_description to the characters RFC 6749 5.2 allows', () => {
    const e = new OAuthError('invalid_request', 'bad "x" \\ \u00e9\n');
    expect(e.toBody()).toEqual({ error: 'invalid_request', error_description: 'bad ?x? ? ??' });
  });
});

describe('parseFormBody', () => {
  it('decodes + and %-escapes, and holds __proto__ as a plain key', () => {
    const p = parseFormBody('grant_type=client_credentials&scope=a+b%3Ac&__proto__=x&flag', 1024);
    expect(Object.entries(p)).toEqual([
      ['grant_type', 'client_credentials'],
      ['scope', 'a b:c'],
      ['__proto__', 'x'],
      ['flag', ''],
    ]);
    expect(Object.getPrototypeOf(p)).toBe(null);
  });

  it.each([
    [
      'a repeated parameter',
      'grant_type=client_credentials&grant_type=client_credentials',
      1024,
      "parameter 'grant_type' repeated",
    ],
    [
      'a repeated parameter with another value',
      'scope=a&client_id=c&scope=b',
      1024,
      "parameter 'scope' repeated",
    ],
    [
      'a body over maxBytes (counted in UTF-8)',
      `scope=${'\u00e9'.repeat(10)}`,
      20,
      'request body is 26 bytes, more than the 20 allowed',
    ],
  ] as [string, string, number, string][])('refuses %s', (_name, text, maxBytes, message) => {
    let err: unknown;
    try {
      parseFormBody(text, maxBytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OAuthError);
    expect({ error: (err as OAuthError).error, message: (err as Error).message }).toEqual({
      error: 'invalid_request',
      message,
    });
  });
});
