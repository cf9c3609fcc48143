import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cql2Error, Cql2LimitError } from '../src/catalog/cql2/ast.js';
import { parseCql2Json } from '../src/catalog/cql2/json.js';
import { parseCql2Text } from '../src/catalog/cql2/text.js';

const DIR = join(import.meta.dirname, '..', '..', 'shared', 'conformance', 'cql2');

/** The [sections] of examples.toml with their basic and multi-line strings (all this file uses). */
function examplesToml(): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const text = readFileSync(join(DIR, 'examples.toml'), 'utf8');
  let cur: Record<string, string> | null = null;
  const re = /^\[([^\]]+)\]\s*$|^(\w+)\s*=\s*("""([\s\S]*?)"""|"((?:[^"\\]|\\.)*)")\s*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]) {
      cur = {};
      out.set(m[1], cur);
    } else if (cur) cur[m[2]] = m[4] ?? JSON.parse(`"${m[5]}"`);
  }
  return out;
}

describe('CQL2 conformance examples (OGC cql2 1.0.0)', () => {
  const toml = examplesToml();
  it('examples.toml: every cql2_text parses to its expected_json', () => {
    expect(toml.size).toBeGreaterThan(100);
    const failures: string[] = [];
    for (const [name, ex] of toml) {
      try {
        expect(parseCql2Text(ex.cql2_text)).toEqual(JSON.parse(ex.expected_json));
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    console.log(
      `examples.toml: ${toml.size - failures.length} of ${toml.size} text examples equal their JSON`,
    );
    expect(failures).toEqual([]);
  });

  it('text/: every file parses, and equals its JSON twin in json/ (alternatives -altNN share the twin)', () => {
    const files = readdirSync(join(DIR, 'text')).filter((f) => f.endsWith('.txt'));
    let twins = 0;
    for (const f of files) {
      const ast = parseCql2Text(readFileSync(join(DIR, 'text', f), 'utf8'));
      const twin = join(DIR, 'json', `${f.replace(/(-alt\d+)?\.txt$/, '')}.json`);
      let expected: unknown;
      try {
        expected = JSON.parse(readFileSync(twin, 'utf8'));
      } catch {
        continue;
      }
      twins++;
      expect(ast, f).toEqual(parseCql2Json(expected));
    }
    console.log(`text/: ${files.length} files parsed, ${twins} compared with their JSON twins`);
    expect(twins).toBeGreaterThan(100);
  });

  it('json/: every example is a valid cql2-json expression', () => {
    const files = readdirSync(join(DIR, 'json')).filter((f) => f.endsWith('.json'));
    for (const f of files) {
      const doc = JSON.parse(readFileSync(join(DIR, 'json', f), 'utf8'));
      expect(parseCql2Json(doc), f).toEqual(doc);
    }
    expect(files.length).toBeGreaterThan(100);
  });
});

describe('CQL2 bad input', () => {
  const bad: [string, RegExp][] = [
    ["name = 'unterminated", /unterminated string at position 7/],
    ['a = ', /unexpected end of the filter at position 4/],
    ['a = 1 b', /unexpected 'b' at position 6/],
    ['a BETWEEN 1 OR 2', /expected AND in BETWEEN, found 'OR' at position 12/],
    ['a IS 5', /expected NULL after IS, found number 5 at position 5/],
    ['a IN 1, 2', /expected '\(', found number 1 at position 5/],
    ['BBOX(1, 2, 3)', /BBOX takes 4 or 6 numbers, got 3 at position 0/],
    ['a = @', /unexpected character '@' at position 4/],
    ['NOT 5 TRUE', /unexpected 'TRUE' at position 6/],
    [`${'('.repeat(5000)}a = 1${')'.repeat(5000)}`, /nests deeper than 100 levels/],
    [`a = ${'-'.repeat(5000)}b`, /nests deeper than 100 levels/],
  ];
  it.each(
    bad.map(
      ([src, msg]) =>
        [src.length > 40 ? `${src.slice(0, 20)}... (${src.length} characters)` : src, src, msg] as const,
    ),
  )('%s', (_label, src, msg) => {
    expect(() => parseCql2Text(src)).toThrow(Cql2Error);
    expect(() => parseCql2Text(src)).toThrow(msg);
  });

  const badJson: [unknown, RegExp][] = [
    [{ op: '=', args: 'x' }, /\/args must be an array/],
    [{ op: '=', args: [{ property: '' }, 1] }, /\/args\/0\/property must be a non-empty string/],
    [{ op: 't_before', args: [{ property: 'a' }, { date: '2020-13' }] }, /\/args\/1\/date must be a date/],
    [
      { op: 's_intersects', args: [{ property: 'g' }, { type: 'Point', coordinates: [1] }] },
      /\/args\/1\/coordinates must be a position/,
    ],
    [{ op: 'and', args: [{ foo: 1 }] }, /\/args\/0 is not a CQL2 expression \(members: foo\)/],
  ];
  it.each(badJson)('JSON %j', (doc, msg) => {
    expect(() => parseCql2Json(doc)).toThrow(msg);
  });

  const n = (k: number) => Array.from({ length: k }, (_, i) => i);
  const overLimits: [string, () => unknown, string, RegExp][] = [
    [
      'text longer than 100000',
      () => parseCql2Text(`a = '${'x'.repeat(100_000)}'`),
      'length',
      /^the filter text: at most 100000 characters, got 100006$/,
    ],
    [
      'text IN of 5001 values',
      () => parseCql2Text(`a IN (${n(5001).join(',')})`),
      'in values',
      /^in: at most 5000 values, got 5001$/,
    ],
    [
      'text OR of 257 terms',
      () =>
        parseCql2Text(
          n(257)
            .map((i) => `a = ${i}`)
            .join(' OR '),
        ),
      'logical arguments',
      /^or: at most 256 arguments, got 257$/,
    ],
    [
      'text 101 nested NOT',
      () => parseCql2Text(`${'NOT '.repeat(101)}a = 1`),
      'depth',
      /^the filter nests deeper than 100 levels at position 400$/,
    ],
    [
      'text arithmetic 101 deep',
      () => parseCql2Text(`a = ${n(101).join(' * ')}`),
      'depth',
      /^the filter nests deeper than 100 levels$/,
    ],
    [
      'JSON and of 257',
      () =>
        parseCql2Json({ op: 'and', args: n(257).map((i) => ({ op: '=', args: [{ property: 'a' }, i] })) }),
      'logical arguments',
      /^and: at most 256 arguments, got 257$/,
    ],
    [
      'JSON in of 5001',
      () => parseCql2Json({ op: 'in', args: [{ property: 'a' }, n(5001)] }),
      'in values',
      /^in: at most 5000 values, got 5001$/,
    ],
    [
      'JSON of 10001 nodes',
      () =>
        parseCql2Json({
          op: 'and',
          args: n(2).map(() => ({ op: 'in', args: [{ property: 'a' }, n(4997)] })),
        }),
      'nodes',
      /^at most 10000 nodes, got 10001$/,
    ],
    [
      'JSON geometry of 100001 positions',
      () =>
        parseCql2Json({
          op: 's_intersects',
          args: [
            { property: 'geometry' },
            { type: 'MultiPoint', coordinates: n(100_001).map((i) => [i % 180, 0]) },
          ],
        }),
      'geometry positions',
      /^geometry literals: at most 100000 positions in all, got 100001$/,
    ],
  ];
  it.each(overLimits)('limit: %s', (_name, parse, limit, msg) => {
    let err: unknown;
    try {
      parse();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Cql2LimitError);
    expect((err as Cql2LimitError).limit).toBe(limit);
    expect((err as Error).message).toMatch(msg);
  });

  it('never throws anything but a Cql2Error on random text (fuzz)', () => {
    const alphabet = fc.constantFrom(
      ...'aZ_ :"\'(),=<>-+*/^%.0123456789 ANDORNOTLIKEINISNULLBETWEENPOINT'.split(''),
    );
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 80 }).map((a) => a.join('')),
        (src) => {
          try {
            parseCql2Text(src);
          } catch (err) {
            if (!(err instanceof Cql2Error)) throw err;
          }
        },
      ),
      { numRuns: 20000 },
    );
  });
});
