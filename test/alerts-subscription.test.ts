/**
 * Subscription input checks as a table (each bad input is a ValidationError naming its field), and
 * the SQLite store's per-organisation isolation: organisation B cannot read, list, update, pause,
 * rotate or delete organisation A's subscription; a provider (orgId null) sees all.
 */
import { describe, expect, it } from 'vitest';
import { newWebhookSecret } from '../src/alerts/sign.js';
import {
  checkArea,
  MAX_AREA_VERTICES,
  ringAreaKm2,
  type SubscriptionInput,
  validateSubscriptionInput,
} from '../src/alerts/subscription.js';
import { liveSecrets, SqliteSubscriptionStore } from '../src/alerts/subscription-store.js';
import { ValidationError } from '../src/errors.js';

const square = (lon: number, lat: number, d: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + d, lat],
      [lon + d, lat + d],
      [lon, lat + d],
      [lon, lat],
    ],
  ],
});
const good = { area: square(2, 50, 1), eventTypes: ['item.published'] };

describe('validateSubscriptionInput', () => {
  it('accepts a minimal and a full body', () => {
    expect(validateSubscriptionInput(good)).toMatchObject({
      eventTypes: ['item.published'],
      filter: null,
      webhookUrl: null,
    });
    const full = validateSubscriptionInput({
      ...good,
      name: 'Channel',
      area: {
        type: 'MultiPolygon',
        coordinates: [square(2, 50, 1).coordinates, square(10, 50, 1).coordinates],
      },
      eventTypes: ['vessel.detected', 'change.detected'],
      options: { darkOnly: true, minAreaM2: 500, minAbsDb: 3 },
      filter: "platform = 'sentinel-1a' AND sat:relative_orbit = 37",
      webhookUrl: 'https://hooks.example.org/sar',
    });
    expect(full.filterLang).toBe('cql2-text');
    const json = validateSubscriptionInput({
      ...good,
      filter: { op: '=', args: [{ property: 'platform' }, 'sentinel-1a'] },
    });
    expect(json.filterLang).toBe('cql2-json');
  });

  const many = Array.from({ length: MAX_AREA_VERTICES + 1 }, (_, i) => {
    const a = (2 * Math.PI * i) / MAX_AREA_VERTICES;
    return [Math.cos(a), Math.sin(a)];
  });
  it.each([
    ['not an object', [], /^body:/],
    ['an unknown field', { ...good, colour: 'red' }, /^colour: unknown field/],
    ['no area', { eventTypes: ['item.published'] }, /^area: expected a GeoJSON Polygon/],
    ['a point area', { ...good, area: { type: 'Point', coordinates: [1, 2] } }, /^area: .*got type "Point"/],
    [
      'a ring of 3',
      {
        ...good,
        area: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [0, 0],
            ],
          ],
        },
      },
      /^area.coordinates\[0\]: a linear ring needs at least 4/,
    ],
    [
      'an open ring',
      {
        ...good,
        area: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 1],
            ],
          ],
        },
      },
      /not closed/,
    ],
    [
      'a flat ring',
      {
        ...good,
        area: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [2, 0],
              [0, 0],
            ],
          ],
        },
      },
      /no area/,
    ],
    ['a latitude of 95', { ...good, area: square(0, 89, 6) }, /outside lon -180..180, lat -90..90/],
    [
      'a string position',
      {
        ...good,
        area: {
          type: 'Polygon',
          coordinates: [
            [
              ['0', 0],
              [1, 0],
              [1, 1],
              [0, 0],
            ],
          ],
        },
      },
      /\[0\]\[0\]: expected \[lon, lat\]/,
    ],
    [
      'too many vertices',
      { ...good, area: { type: 'Polygon', coordinates: [many] } },
      /^area: more than 10000 positions/,
    ],
    ['too large an area', { ...good, area: square(-100, -40, 80) }, /^area: \d+ km², more than/],
    ['no event types', { ...good, eventTypes: [] }, /^eventTypes: expected a non-empty array/],
    [
      'an unknown event type',
      { ...good, eventTypes: ['item.deleted'] },
      /^eventTypes: unknown event type "item.deleted"/,
    ],
    ['a bad option', { ...good, options: { darkOnly: 'yes' } }, /^options.darkOnly:/],
    ['a negative minAreaM2', { ...good, options: { minAreaM2: -1 } }, /^options.minAreaM2:/],
    ['an unknown option', { ...good, options: { minDb: 3 } }, /^options.minDb: unknown option/],
    ['a filter that does not parse', { ...good, filter: 'platform = = 3' }, /^filter:/],
    [
      'a filter on a property that is no queryable',
      { ...good, filter: "colour = 'red'" },
      /^filter: property "colour" is not a queryable/,
    ],
    ['a filter literal of the wrong type', { ...good, filter: "sat:relative_orbit = 'abc'" }, /^filter:/],
    ['a bad filter-lang', { ...good, filter: "platform = 'x'", filterLang: 'sql' }, /^filterLang:/],
    [
      'filterLang without filter',
      { ...good, filterLang: 'cql2-text' },
      /^filterLang: given without a filter/,
    ],
    ['a number as webhookUrl', { ...good, webhookUrl: 42 }, /^webhookUrl:/],
  ])('refuses %s', (_name, body, message) => {
    expect(() => validateSubscriptionInput(body)).toThrow(ValidationError);
    expect(() => validateSubscriptionInput(body)).toThrow(message);
  });

  it('the area of a lon/lat cell equals the spherical zone formula R² Δλ (sin φ2 - sin φ1)', () => {
    const R = 6378.137;
    const rad = Math.PI / 180;
    for (const [lat, d] of [
      [0, 1],
      [50, 2],
      [-70, 5],
    ] as const) {
      const zone = R * R * d * rad * (Math.sin((lat + d) * rad) - Math.sin(lat * rad));
      const got = Math.abs(ringAreaKm2(square(10, lat, d).coordinates[0] as number[][]));
      expect(Math.abs(got - zone) / zone).toBeLessThan(1e-9);
    }
    expect(() => checkArea(square(0, 0, 20))).not.toThrow();
  });
});

describe('SqliteSubscriptionStore', () => {
  const input = validateSubscriptionInput({
    ...good,
    webhookUrl: 'https://hooks.example.org/a',
  }) as SubscriptionInput;
  it('keeps organisations apart', async () => {
    const store = new SqliteSubscriptionStore(':memory:');
    const a = await store.create({
      ...input,
      orgId: 'org-a',
      principalId: 'user:alice',
      secret: newWebhookSecret(),
    });
    const b = await store.create({
      ...input,
      orgId: 'org-b',
      principalId: 'client:bob',
      secret: newWebhookSecret(),
    });
    expect(await store.get(a.id, 'org-b')).toBeNull();
    expect((await store.list('org-b')).map((s) => s.id)).toEqual([b.id]);
    expect(await store.update(a.id, 'org-b', { name: 'stolen' })).toBeNull();
    expect(await store.setState(a.id, 'org-b', 'paused')).toBeNull();
    expect(await store.rotateSecret(a.id, 'org-b', newWebhookSecret(), 1000)).toBeNull();
    expect(await store.delete(a.id, 'org-b')).toBe(false);
    expect(await store.get(a.id, 'org-a')).toMatchObject({
      id: a.id,
      name: null,
      state: 'active',
      principalId: 'user:alice',
    });
    expect((await store.list(null)).map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
    expect(await store.setState(a.id, 'org-a', 'paused')).toMatchObject({ state: 'paused' });
    expect((await store.listActive()).map((s) => s.id)).toEqual([b.id]);
    expect(await store.delete(a.id, 'org-a')).toBe(true);
    expect(await store.get(a.id, null)).toBeNull();
    await store.close();
  });

  it('a rotation keeps the old secret signing for the grace period', async () => {
    let nowMs = Date.parse('2026-12-02T12:00:00Z');
    const store = new SqliteSubscriptionStore(':memory:', () => nowMs);
    const first = newWebhookSecret();
    const s = await store.create({ ...input, orgId: 'org-a', principalId: 'user:alice', secret: first });
    const second = newWebhookSecret();
    const r = await store.rotateSecret(s.id, 'org-a', second, 24 * 3600_000);
    expect(r && liveSecrets(r, nowMs)).toEqual([second, first]);
    nowMs += 24 * 3600_000 + 1;
    expect(r && liveSecrets(r, nowMs)).toEqual([second]);
  });
});
