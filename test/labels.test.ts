import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { type ConfidentialityLabel, LabelRules, labelToXml, RELEASABLE_TO } from '../src/access/labels.js';
import { type Principal, scopeOf } from '../src/access/scope.js';
import { ValidationError } from '../src/errors.js';

const rules = new LabelRules();
const F = '/properties/sarbridge:label';
const rel = (...codes: string[]) => ({ tagName: RELEASABLE_TO, type: 'permissive', values: codes });
const cav = (...values: string[]) => ({ tagName: 'Caveat', type: 'restrictive', values });
const label = (classification: string, ...categories: unknown[]) => ({
  policy: 'NATO',
  classification,
  categories,
});

describe('label parsing: one row per bad label, each naming the field', () => {
  const rows: [string, unknown, RegExp][] = [
    ['not an object', 'SECRET', /^\/properties\/sarbridge:label: must be an object/],
    ['an array', [], /^\/properties\/sarbridge:label: must be an object/],
    ['unknown member', { ...label('SECRET'), colour: 'red' }, /sarbridge:label\/colour: unknown member/],
    ['policy missing', { classification: 'SECRET' }, /sarbridge:label\/policy: must be a string/],
    [
      'unknown policy',
      { policy: 'XX', classification: 'SECRET' },
      /\/policy: unknown policy 'XX' \(known: NATO\)/,
    ],
    [
      'unknown classification',
      label('SUPER SECRET'),
      /\/classification: unknown classification 'SUPER SECRET' of policy NATO \(expected one of UNCLASSIFIED, RESTRICTED/,
    ],
    ['classification not a string', label(3 as unknown as string), /\/classification: must be a string/],
    ['categories not an array', { ...label('SECRET'), categories: {} }, /\/categories: must be an array/],
    [
      'unknown category',
      label('SECRET', { tagName: 'Eyes Only', type: 'restrictive', values: ['A'] }),
      /\/categories\/0\/tagName: unknown category 'Eyes Only' of policy NATO/,
    ],
    [
      'wrong category type',
      label('SECRET', { ...rel('GBR'), type: 'restrictive' }),
      /\/categories\/0\/type: category 'Releasable To' is permissive, got 'restrictive'/,
    ],
    [
      'bad organisation code',
      label('SECRET', rel('gbr')),
      /\/categories\/0\/values\/0: 'gbr' is not an organisation code/,
    ],
    [
      'bad caveat value',
      label('SECRET', rel('GBR'), cav('<script>')),
      /\/categories\/1\/values\/0: '<script>' is not a category value/,
    ],
    [
      'values not an array',
      label('SECRET', { ...rel(), values: 'GBR' }),
      /\/categories\/0\/values: must be an array/,
    ],
  ];
  it.each(rows)('%s', (_name, v, message) => {
    let err: unknown;
    try {
      rules.parse(v, F);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(message);
  });

  it('gives the canonical form: categories by tag name, values sorted and unique, empty ones dropped', () => {
    const l = rules.parse(
      label('RESTRICTED', cav('B', 'A'), rel('NATO', 'GBR', 'GBR'), rel('FRA'), {
        ...cav(),
        tagName: 'Caveat',
      }),
      F,
    );
    expect(l).toEqual({
      policy: 'NATO',
      classification: 'RESTRICTED',
      categories: [
        { tagName: 'Caveat', type: 'restrictive', values: ['A', 'B'] },
        { tagName: RELEASABLE_TO, type: 'permissive', values: ['FRA', 'GBR', 'NATO'] },
      ],
    });
  });
});

describe('derived products take the most restrictive label of their inputs', () => {
  const a = rules.parse(label('RESTRICTED', rel('GBR', 'NATO', 'FRA'), cav('A')), F);
  const b = rules.parse(label('SECRET', rel('NATO', 'DEU')), F);
  it('highest classification, the codes both share, every caveat', () => {
    expect(rules.combine([a, b])).toEqual({
      policy: 'NATO',
      classification: 'SECRET',
      categories: [
        { tagName: 'Caveat', type: 'restrictive', values: ['A'] },
        { tagName: RELEASABLE_TO, type: 'permissive', values: ['NATO'] },
      ],
    });
  });
  it('no shared code: releasable to nobody but the provider', () => {
    const c = rules.parse(label('UNCLASSIFIED', rel('USA')), F);
    expect(rules.combine([a, c])?.categories.find((x) => x.tagName === RELEASABLE_TO)).toBeUndefined();
  });
  it('a provider-only input makes the product provider-only', () => {
    expect(rules.combine([a, null])).toBeNull();
  });
  it('labels of two policies are refused', () => {
    const other = new LabelRules([
      ...rules.policies,
      { id: 'EU', classifications: ['EU RESTRICTED', 'EU SECRET'], categories: [] },
    ]);
    const eu = other.parse({ policy: 'EU', classification: 'EU SECRET' }, F);
    expect(() => other.combine([a, eu])).toThrow(/labels of policies NATO and EU cannot be combined/);
  });
});

describe('ADatP-4774 XML', () => {
  it('holds the policy, classification and every category, escaped', () => {
    // Built by hand: parse() refuses these characters in values, the renderer must escape them anyway.
    const l: ConfidentialityLabel = {
      policy: 'NATO',
      classification: 'CONFIDENTIAL',
      categories: [
        { tagName: 'Administrative', type: 'informative', values: ['x<y'] },
        { tagName: 'Caveat', type: 'restrictive', values: ['R&D'] },
        { tagName: RELEASABLE_TO, type: 'permissive', values: ['GBR', 'NATO'] },
      ],
    };
    const xml = labelToXml(l, new Date('2026-12-01T00:00:00Z'));
    const doc = new XMLParser({
      ignoreAttributes: false,
      removeNSPrefix: true,
      isArray: (n) => ['Category', 'GenericValue'].includes(n),
    }).parse(xml);
    const root = doc.ConfidentialityLabel;
    expect(xml).toContain(
      '<slab:ConfidentialityLabel xmlns:slab="urn:nato:stanag:4774:confidentialitymetadatalabel:1:0">',
    );
    const info = root.ConfidentialityInformation;
    expect(info.PolicyIdentifier).toBe('NATO');
    expect(info.Classification).toBe('CONFIDENTIAL');
    const cats = info.Category.map((c: Record<string, unknown>) => [
      c['@_TagName'],
      c['@_Type'],
      c.GenericValue,
    ]);
    expect(cats).toEqual([
      ['Administrative', 'INFORMATIVE', ['x<y']],
      ['Caveat', 'RESTRICTIVE', ['R&D']],
      ['Releasable To', 'PERMISSIVE', ['GBR', 'NATO']],
    ]);
    expect(root.CreationDateTime).toBe('2026-12-01T00:00:00.000Z');
  });
});

describe('scopeOf: default deny', () => {
  const p = (o: Partial<Principal>): Principal => ({
    id: 'user:x',
    kind: 'user',
    orgId: 'o',
    orgKind: 'partner',
    roles: ['partner-analyst'],
    codes: ['GBR'],
    clearance: [{ policy: 'NATO', classification: 'SECRET' }],
    caveats: [],
    credential: 'key:x',
    ...o,
  });
  it.each([
    ['no principal', null, 'none'],
    ['a partner analyst', p({}), 'partner'],
    ['a partner without codes', p({ codes: [] }), 'none'],
    ['a partner without clearance', p({ clearance: [] }), 'none'],
    [
      'a partner with a clearance of an unknown policy',
      p({ clearance: [{ policy: 'XX', classification: 'A' }] }),
      'none',
    ],
    ['a provider role in a partner organisation', p({ roles: ['provider-admin'] }), 'none'],
    ['a provider operator', p({ orgKind: 'provider', roles: ['provider-operator'] }), 'all'],
    [
      'a partner role in the provider organisation',
      p({ orgKind: 'provider', roles: ['partner-analyst'] }),
      'none',
    ],
  ] as const)('%s -> %s', (_name, principal, kind) => {
    expect(scopeOf(principal, rules).kind).toBe(kind);
  });
  it('a partner scope carries the clearance rank, codes, caveats and the time', () => {
    expect(scopeOf(p({ caveats: ['A'] }), rules, 5)).toEqual({
      kind: 'partner',
      clearances: [{ policy: 'NATO', maxRank: 3 }],
      codes: ['GBR'],
      caveats: ['A'],
      nowMs: 5,
    });
  });
});
