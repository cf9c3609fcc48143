import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../src/errors.js';
import { AssetStorage } from '../src/io/asset-storage.js';
import { ifRangeMatches, notModified, parseRange } from '../src/server/http-conditional.js';
import { mulberry32 } from '../src/util/random.js';

// tmp/root is the asset storage; tmp/outside holds what must never be served; tmp/root-link -> root.
let tmp: string;
let root: string;
let storage: AssetStorage;
let big: Buffer;
let small: Buffer;

function bytes(n: number, seed: number): Buffer {
  const rand = mulberry32(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function sha256sum(path: string): string {
  return execFileSync('/usr/bin/sha256sum', ['-b', path], { encoding: 'utf8' }).split(' ')[0];
}

beforeAll(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'asset-storage-')));
  root = join(tmp, 'root');
  mkdirSync(join(root, 'scenes'), { recursive: true });
  mkdirSync(join(tmp, 'outside'));
  writeFileSync(join(tmp, 'outside', 'secret.txt'), 'secret\n');
  big = bytes(3 * (1 << 20) + 123, 7); // spans several 1 MiB hashing reads
  small = bytes(100, 8);
  writeFileSync(join(root, 'scenes', 'a.tif'), big);
  writeFileSync(join(root, 'scenes', 'small.bin'), small);
  writeFileSync(join(root, 'scenes', 'a b.tif'), 'spaced');
  writeFileSync(join(root, 'empty.bin'), '');
  symlinkSync('scenes/a.tif', join(root, 'link-in.tif'));
  symlinkSync(join(root, 'scenes', 'small.bin'), join(root, 'link-abs-in.bin'));
  symlinkSync('/etc/passwd', join(root, 'link-passwd'));
  symlinkSync('../outside/secret.txt', join(root, 'link-outside.txt'));
  symlinkSync('/etc', join(root, 'dir-etc'));
  symlinkSync('../outside', join(root, 'dir-outside'));
  symlinkSync('../../outside/secret.txt', join(root, 'scenes', 'up.txt'));
  symlinkSync('dangling-target', join(root, 'dangling'));
  execFileSync('/usr/bin/mkfifo', [join(root, 'fifo')]);
  symlinkSync(root, join(tmp, 'root-link'));
  storage = new AssetStorage(root);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const FIELD = '/assets/data/href';

const badHrefs: { name: string; href: unknown; why: RegExp }[] = [
  { name: "'..'", href: '..', why: /it has a '\.\.' segment/ },
  { name: 'a/../../etc/passwd', href: 'a/../../etc/passwd', why: /it has a '\.\.' segment/ },
  { name: "'..' that would stay inside", href: 'scenes/../scenes/a.tif', why: /it has a '\.\.' segment/ },
  { name: 'absolute path', href: '/etc/shadow', why: /it is an absolute path/ },
  { name: 'network-path reference', href: '//host/share/a.tif', why: /it is an absolute path/ },
  { name: 'file: URL', href: 'file:///etc/shadow', why: /it has a URL scheme 'file:'/ },
  { name: 'http: URL', href: 'http://127.0.0.1/x', why: /it has a URL scheme 'http:'/ },
  { name: 'https: URL', href: 'https://example.org/a.tif', why: /it has a URL scheme 'https:'/ },
  { name: 's3: URL', href: 's3://bucket/a.tif', why: /it has a URL scheme 's3:'/ },
  { name: 'data: URL', href: 'data:text/plain,hi', why: /it has a URL scheme 'data:'/ },
  { name: 'made-up scheme', href: 'x-y.z+w:a', why: /it has a URL scheme 'x-y\.z\+w:'/ },
  { name: "':' in the first segment", href: '1:a/b.tif', why: /first segment holds ':'/ },
  { name: "percent-encoded '..'", href: '%2e%2e/x', why: /it has a '\.\.' segment once percent-decoded/ },
  { name: "upper-case percent-encoded '..'", href: 'a/%2E%2E/x', why: /'\.\.' segment once percent-decoded/ },
  { name: "half-encoded '..'", href: '.%2e/x', why: /'\.\.' segment once percent-decoded/ },
  { name: "percent-encoded '.'", href: 'a/%2e/b', why: /it has a '\.' segment once percent-decoded/ },
  { name: "percent-encoded '/'", href: '..%2Fetc%2Fpasswd', why: /percent-encoded '\/' \(%2F\)/ },
  { name: 'percent-encoded twice', href: '%252e%252e/x', why: /percent-encoded twice/ },
  {
    name: "'%' not starting a byte",
    href: 'a%zz.tif',
    why: /'%' that does not start a percent-encoded byte/,
  },
  { name: 'percent-encoded bytes not UTF-8', href: 'a%ff.tif', why: /not UTF-8/ },
  { name: 'percent-encoded NUL', href: 'a%00.tif', why: /control character U\+0000 once percent-decoded/ },
  { name: 'percent-encoded backslash', href: 'a%5C..%5Cb', why: /backslash once percent-decoded/ },
  { name: "percent-encoded ':' in the first segment", href: 'c%3A/x', why: /':'.*once percent-decoded/ },
  {
    name: 'backslashes',
    href: 'a\\..\\b',
    why: /it holds a backslash \(segments are separated by '\/', not '\\'\)/,
  },
  { name: 'Windows drive and backslash', href: 'C:\\x', why: /it starts with a Windows drive 'C:'/ },
  { name: 'Windows drive and slash', href: 'c:/x', why: /it starts with a Windows drive 'c:'/ },
  { name: 'NUL byte', href: 'scenes/a.tif\0.png', why: /it holds the control character U\+0000/ },
  { name: 'newline', href: 'scenes/a\n.tif', why: /control character U\+000A/ },
  { name: 'DEL', href: 'a\x7f.tif', why: /control character U\+007F/ },
  { name: 'right-to-left override', href: 'a\u202Efit.exe', why: /control character U\+202E/ },
  { name: 'lone surrogate', href: 'a\uD800.tif', why: /lone surrogate/ },
  { name: 'empty', href: '', why: /it is empty/ },
  { name: "'.' segment", href: './a.tif', why: /it has a '\.' segment/ },
  { name: 'empty segment', href: 'scenes//a.tif', why: /empty segment/ },
  { name: 'trailing slash', href: 'scenes/', why: /empty segment/ },
  { name: 'query', href: 'scenes/a.tif?x=1', why: /'\?' or '#'/ },
  { name: 'fragment', href: 'scenes/a.tif#b', why: /'\?' or '#'/ },
  { name: 'too long', href: `scenes/${'a'.repeat(1100)}`, why: /it is 1107 characters long, more than 1024/ },
  {
    name: 'segment over 255 bytes',
    href: `${'ä'.repeat(128)}.tif`,
    why: /it has a segment longer than 255 bytes/,
  },
];

describe('AssetStorage.checkHref', () => {
  it.each(badHrefs.map((row) => [row.name, row] as const))('refuses %s', (_name, { href, why }) => {
    let err: unknown;
    try {
      storage.checkHref(href, FIELD);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const message = (err as Error).message;
    expect(message.startsWith(`${FIELD}: '`)).toBe(true);
    expect(message).toContain('is not a path inside the asset storage: it');
    expect(message).toMatch(why);
    expect(message.endsWith("(expected a relative path such as 'scenes/a.tif')")).toBe(true);
    expect(message).not.toContain('\0');
    expect(message).not.toContain(root);
  });

  it('quotes the href in the message', () => {
    expect(() => storage.checkHref('file:///etc/shadow', FIELD)).toThrow(
      "/assets/data/href: 'file:///etc/shadow' is not a path inside the asset storage: it has a URL scheme " +
        "'file:' (expected a relative path such as 'scenes/a.tif')",
    );
  });

  it.each([
    [42, 'number'],
    [null, 'null'],
    [['a.tif'], 'an array'],
    [undefined, 'undefined'],
  ])('refuses the non-string %j', (href, got) => {
    expect(() => storage.checkHref(href, FIELD)).toThrow(ValidationError);
    expect(() => storage.checkHref(href, FIELD)).toThrow(
      `${FIELD}: expected a string (expected a relative path such as 'scenes/a.tif'), got ${got}`,
    );
  });

  const long = `${'abcd/'.repeat(204)}abcd`;
  it.each([
    ['a plain path', 'scenes/a.tif', 'scenes/a.tif'],
    ['an encoded space', 'scenes/a%20b.tif', 'scenes/a b.tif'],
    ['a raw space', 'scenes/a b.tif', 'scenes/a b.tif'],
    ['encoded UTF-8', '%C3%A4/%E2%82%AC.tif', 'ä/€.tif'],
    ["':' after the first segment", 'größe/S1A_20240101T000000:vv.tif', 'größe/S1A_20240101T000000:vv.tif'],
    ['dot files and a ... name', '.hidden/...', '.hidden/...'],
    ['1024 characters', long, long],
  ])('accepts %s, and its answer again as itself', (_name, href, rel) => {
    expect(storage.checkHref(href, FIELD)).toBe(rel);
    expect(storage.checkHref(rel, FIELD)).toBe(rel);
  });

  it('property: random paths with .., ., / and escapes are refused or stay inside the root', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        '..',
        '.',
        '',
        '/',
        '%2e',
        '%2E%2e',
        '%2f',
        '%25',
        '%',
        ':',
        '\\',
        'C:',
        'file:',
        '\0',
        '~',
      ),
      fc.constantFrom('a', 'scenes', 'a.tif', 'b c', 'ä', '...'),
      fc.string({ maxLength: 6 }),
    );
    const href = fc
      .array(fc.tuple(piece, fc.constantFrom('/', '', '/', '//')), { maxLength: 10 })
      .map((parts) => parts.map(([p, s]) => p + s).join(''));
    fc.assert(
      fc.property(href, (h) => {
        let rel: string;
        try {
          rel = storage.checkHref(h, FIELD);
        } catch (err) {
          return err instanceof ValidationError && err.message.startsWith(`${FIELD}: `);
        }
        return (
          resolve(root, rel).startsWith(`${root}/`) &&
          resolve(root, rel) === `${root}/${rel}` &&
          storage.checkHref(rel, FIELD) === rel
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('AssetStorage.resolve', () => {
  const refused: [string, string][] = [
    ['a symlink inside the root to /etc/passwd', 'link-passwd'],
    ['a symlink to a file outside the root', 'link-outside.txt'],
    ['a symlink in a subdirectory climbing out', 'scenes/up.txt'],
    ['a file under a symlinked directory pointing to /etc', 'dir-etc/passwd'],
    ['a file under a symlinked directory pointing outside', 'dir-outside/secret.txt'],
    ['a symlinked directory itself', 'dir-outside'],
    ['a directory', 'scenes'],
    ['a fifo', 'fifo'],
    ['a dangling symlink', 'dangling'],
    ['a missing file', 'scenes/missing.tif'],
    ['a path under a file', 'scenes/a.tif/x'],
    ['a path with ..', '../outside/secret.txt'],
    ['an absolute path', '/etc/passwd'],
    ['a percent-encoded path (resolve does not decode)', 'scenes/a%20b.tif'],
    ['an empty path', ''],
  ];
  it.each(refused)('refuses %s like a missing file', async (_name, rel) => {
    const err = await storage.resolve(rel).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toBe(`asset '${rel}' not found`);
    expect((err as Error).message).not.toContain(tmp);
    expect((err as { cause?: unknown }).cause).toBeUndefined();
  });

  it('refuses a non-string like a missing file', async () => {
    await expect(storage.resolve(7 as unknown as string)).rejects.toThrow(NotFoundError);
  });

  it('serves a regular file as its real path', async () => {
    expect(await storage.resolve('scenes/a.tif')).toBe(join(root, 'scenes', 'a.tif'));
    expect(await storage.resolve('scenes/a b.tif')).toBe(join(root, 'scenes', 'a b.tif'));
  });

  it('follows a symlink inside the root to a file inside the root (relative or absolute target)', async () => {
    expect(await storage.resolve('link-in.tif')).toBe(join(root, 'scenes', 'a.tif'));
    expect(await storage.resolve('link-abs-in.bin')).toBe(join(root, 'scenes', 'small.bin'));
  });

  it('takes the root through a symlink as its real path', async () => {
    const viaLink = new AssetStorage(join(tmp, 'root-link'));
    expect(viaLink.root).toBe(root);
    expect(await viaLink.resolve('scenes/small.bin')).toBe(join(root, 'scenes', 'small.bin'));
    await expect(viaLink.resolve('link-passwd')).rejects.toThrow(NotFoundError);
  });

  it('refuses a root that does not exist or is a file', () => {
    expect(() => new AssetStorage(join(tmp, 'nope'))).toThrow(ValidationError);
    expect(() => new AssetStorage(join(root, 'empty.bin'))).toThrow(/is not a directory/);
  });

  it('reads the checked file even if the path is swapped for a symlink to /etc/passwd after open', async () => {
    const rel = 'scenes/swap.bin';
    writeFileSync(join(root, rel), 'checked bytes');
    const asset = await storage.open(rel);
    rmSync(join(root, rel));
    symlinkSync('/etc/passwd', join(root, rel));
    const got = await buffer(asset.stream(null));
    expect(got.toString()).toBe('checked bytes');
    await expect(storage.resolve(rel)).rejects.toThrow(NotFoundError);
    rmSync(join(root, rel));
  });

  it('property: random paths resolve to a regular file inside the root or not at all', async () => {
    const piece = fc.constantFrom(
      '..',
      '.',
      '',
      'scenes',
      'a.tif',
      'small.bin',
      'link-in.tif',
      'link-passwd',
      'dir-etc',
      'dir-outside',
      'secret.txt',
      'passwd',
      'up.txt',
      'fifo',
      '%2e%2e',
    );
    const passwd = realpathSync('/etc/passwd');
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 4 }), async (parts) => {
        const rel = parts.join('/');
        try {
          const p = await storage.resolve(rel);
          return p.startsWith(`${root}/`) && p !== passwd && !p.startsWith(join(tmp, 'outside'));
        } catch (err) {
          return err instanceof NotFoundError && err.message === `asset '${rel}' not found`;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('AssetStorage.info', () => {
  it('gives the SHA-256 multihash that sha256sum computes', async () => {
    for (const rel of ['scenes/a.tif', 'scenes/small.bin', 'empty.bin', 'link-in.tif']) {
      const real = await storage.resolve(rel);
      const info = await storage.info(rel);
      expect(info.checksum).toBe(`1220${sha256sum(real)}`);
      expect(info.path).toBe(real);
    }
    const a = await storage.info('scenes/a.tif');
    expect(a.size).toBe(big.length);
    expect(a.etag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('answers concurrent first requests with one checksum and stable ETags', async () => {
    writeFileSync(join(root, 'scenes', 'c.bin'), bytes(1 << 21, 9));
    const all = await Promise.all([1, 2, 3, 4].map(() => storage.info('scenes/c.bin')));
    expect(new Set(all.map((i) => i.checksum)).size).toBe(1);
    expect(new Set(all.map((i) => i.etag)).size).toBe(1);
    expect(all[0].checksum).toBe(`1220${sha256sum(join(root, 'scenes', 'c.bin'))}`);
  });

  it('sees a rewrite of the same size and the same mtime (the cache key holds ctime too)', async () => {
    const file = join(root, 'scenes', 'rewrite.bin');
    const mtime = new Date('2020-01-01T00:00:00Z');
    writeFileSync(file, bytes(4096, 1));
    utimesSync(file, mtime, mtime);
    const before = await storage.info('scenes/rewrite.bin');
    writeFileSync(file, bytes(4096, 2));
    utimesSync(file, mtime, mtime);
    const after = await storage.info('scenes/rewrite.bin');
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.size).toBe(before.size);
    expect(after.checksum).not.toBe(before.checksum);
    expect(after.checksum).toBe(`1220${sha256sum(file)}`);
    expect(after.etag).not.toBe(before.etag);
  });

  it('refuses what resolve refuses', async () => {
    await expect(storage.info('link-passwd')).rejects.toThrow("asset 'link-passwd' not found");
  });
});

describe('AssetStorage.relativeOf', () => {
  it.each([
    ['a path under the root', () => join(root, 'scenes', 'a.tif'), 'scenes/a.tif'],
    ['a file: URL under the root', () => `file://${root}/scenes/a%20b.tif`, 'scenes/a b.tif'],
    [
      'a path under the root as configured (through a symlink)',
      () => join(tmp, 'root-link', 'x.tif'),
      'x.tif',
    ],
    ['the root itself', () => root, null],
    ['the root with a trailing slash', () => `${root}/`, null],
    ['a sibling with the root as prefix', () => `${root}x/a.tif`, null],
    ['a path leaving by ..', () => `${root}/../outside/secret.txt`, null],
    ['a path with a . segment', () => `${root}/./a.tif`, null],
    ['a path with an empty segment', () => `${root}//a.tif`, null],
    ['a path outside', () => '/etc/passwd', null],
    ['a relative path', () => 'scenes/a.tif', null],
    ["a file name with '%'", () => `${root}/a%20b.tif`, null],
    ['a file: URL with a host', () => 'file://server/share/a.tif', null],
  ])('%s', (_name, abs, rel) => {
    const viaLink = new AssetStorage(join(tmp, 'root-link'));
    expect(viaLink.relativeOf(abs())).toBe(rel);
    if (rel !== null) expect(storage.checkHref(rel, FIELD)).toBe(rel);
  });
});

describe('AssetStorage.openRangeStream', () => {
  it.each([[{ start: 0, end: 0 }], [{ start: 10, end: 99 }], [{ start: 99, end: 99 }], [null]])(
    'streams exactly the bytes of %j',
    async (range) => {
      const r = await storage.openRangeStream('scenes/small.bin', range);
      const got = await buffer(r.stream);
      const start = range?.start ?? 0;
      const end = range?.end ?? 99;
      expect(got.equals(small.subarray(start, end + 1))).toBe(true);
      expect([r.start, r.end, r.length, r.size]).toEqual([start, end, end - start + 1, 100]);
      expect(r.etag).toBe((await storage.info('scenes/small.bin')).etag);
      expect(r.lastModified).toBe(new Date(Math.floor(r.mtimeMs / 1000) * 1000).toUTCString());
    },
  );

  it('streams a range across the 3 MiB file', async () => {
    const r = await storage.openRangeStream('scenes/a.tif', { start: 1_000_000, end: 2_500_000 });
    expect((await buffer(r.stream)).equals(big.subarray(1_000_000, 2_500_001))).toBe(true);
    const whole = await storage.openRangeStream('link-in.tif', null);
    expect((await buffer(whole.stream)).equals(readFileSync(join(root, 'scenes', 'a.tif')))).toBe(true);
  });

  it('streams an empty file as no bytes', async () => {
    const r = await storage.openRangeStream('empty.bin', null);
    expect((await buffer(r.stream)).length).toBe(0);
    expect([r.start, r.end, r.length, r.size]).toEqual([0, -1, 0, 0]);
  });

  it.each([
    [{ start: 0, end: 100 }],
    [{ start: 5, end: 4 }],
    [{ start: -1, end: 4 }],
    [{ start: 0.5, end: 4 }],
  ])('refuses the range %j that does not lie in the 100-byte file', async (range) => {
    await expect(storage.openRangeStream('scenes/small.bin', range)).rejects.toThrow(
      /does not lie within the 100-byte asset/,
    );
  });

  it('refuses what resolve refuses', async () => {
    await expect(storage.openRangeStream('dir-etc/passwd', null)).rejects.toThrow(
      "asset 'dir-etc/passwd' not found",
    );
  });
});

describe('parseRange', () => {
  const huge = '99999999999999999999999';
  const rows: [string | undefined, number, ReturnType<typeof parseRange>][] = [
    [undefined, 100, null],
    ['bytes=0-0', 100, { start: 0, end: 0 }],
    ['bytes=0-99', 100, { start: 0, end: 99 }],
    ['bytes=10-', 100, { start: 10, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-100', 100, { start: 0, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=50-1000', 100, { start: 50, end: 99 }],
    ['bytes=99-99', 100, { start: 99, end: 99 }],
    ['bytes=500-', 100, 'unsatisfiable'],
    ['bytes=100-100', 100, 'unsatisfiable'],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=5-1', 100, null],
    ['bytes=a-b', 100, null],
    ['bytes=1.5-2', 100, null],
    ['bytes=+1-2', 100, null],
    ['bytes=0x10-', 100, null],
    ['bytes=-1-2', 100, null],
    ['bytes=1-2-3', 100, null],
    ['bytes=-', 100, null],
    ['bytes=', 100, null],
    ['bytes', 100, null],
    ['', 100, null],
    ['items=0-1', 100, null],
    ['bytes 0-1', 100, null],
    ['bytes=0 - 1', 100, null],
    [' BYTES = 0-1 ', 100, { start: 0, end: 1 }],
    ['Bytes=\t2-3', 100, { start: 2, end: 3 }],
    ['bytes=0-1,', 100, { start: 0, end: 1 }],
    ['bytes= , 0-1 ,', 100, { start: 0, end: 1 }],
    ['bytes=0-1,5-6', 100, null],
    ['bytes=0-1, 200-300', 100, null],
    [`bytes=0-${huge}`, 100, { start: 0, end: 99 }],
    [`bytes=${huge}-`, 100, 'unsatisfiable'],
    [`bytes=${huge}-${huge}`, 100, 'unsatisfiable'],
    [`bytes=-${huge}`, 100, { start: 0, end: 99 }],
    ['bytes=9007199254740993-9007199254740992', 100, null], // equal as doubles, b < a exactly
    ['bytes=0-9007199254740993', 2 ** 53 - 1, { start: 0, end: 2 ** 53 - 2 }],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=-5', 0, 'unsatisfiable'],
    [undefined, 0, null],
    ['bytes=-5', 1, { start: 0, end: 0 }],
  ];
  it.each(rows)('%j of %i bytes -> %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it('refuses a size that is not a byte count', () => {
    expect(() => parseRange('bytes=0-1', -1)).toThrow(ValidationError);
    expect(() => parseRange('bytes=0-1', 1.5)).toThrow(/size 1.5 is not a byte count/);
  });

  it('property: a satisfiable range lies in the file and matches a-b clamped', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(20_000), fc.nat(20_000), (size, a, b) => {
        const r = parseRange(`bytes=${a}-${b}`, size);
        if (b < a) return r === null;
        if (a >= size) return r === 'unsatisfiable';
        return r !== null && r !== 'unsatisfiable' && r.start === a && r.end === Math.min(b, size - 1);
      }),
    );
  });
});

describe('ifRangeMatches', () => {
  const etag = '"abc"';
  const modified = Date.UTC(2024, 0, 1, 12, 0, 0, 500);
  const later = modified + 86_400_000;
  it.each([
    ['absent', undefined, later, true],
    ['the same strong tag', '"abc"', later, true],
    ['the same tag, weak', 'W/"abc"', later, false],
    ['another tag', '"abd"', later, false],
    ['the Last-Modified date', 'Mon, 01 Jan 2024 12:00:00 GMT', later, true],
    ['a second later', 'Mon, 01 Jan 2024 12:00:01 GMT', later, false],
    [
      'the date, but modified less than a second ago (weak)',
      'Mon, 01 Jan 2024 12:00:00 GMT',
      modified + 400,
      false,
    ],
    ['not a date', 'yesterday-ish', later, false],
  ])('%s', (_name, ifRange, now, expected) => {
    expect(ifRangeMatches(ifRange, etag, modified, now)).toBe(expected);
  });
});

describe('notModified', () => {
  const etag = '"abc"';
  const modified = Date.UTC(2024, 0, 1, 12, 0, 0, 500);
  it.each([
    ['no conditional headers', {}, false],
    ['the same tag', { 'if-none-match': '"abc"' }, true],
    ['the same tag, weak (weak comparison)', { 'if-none-match': 'W/"abc"' }, true],
    ['a list holding the tag', { 'if-none-match': '"x", W/"y" ,"abc"' }, true],
    ['a list without the tag', { 'if-none-match': '"x","y"' }, false],
    ['a tag with a comma inside', { 'if-none-match': '"a,b", "abc"' }, true],
    ['only the comma tag', { 'if-none-match': '"a,abc"' }, false],
    ['*', { 'if-none-match': '*' }, true],
    ['repeated headers', { 'if-none-match': ['"x"', '"abc"'] }, true],
    ['an unquoted tag', { 'if-none-match': 'abc' }, false],
    ['an unterminated tag', { 'if-none-match': '"abc' }, false],
    ['garbage after a tag', { 'if-none-match': '"abc" x' }, false],
    [
      'If-Modified-Since the modification second',
      { 'if-modified-since': 'Mon, 01 Jan 2024 12:00:00 GMT' },
      true,
    ],
    ['If-Modified-Since later', { 'if-modified-since': 'Tue, 02 Jan 2024 00:00:00 GMT' }, true],
    ['If-Modified-Since earlier', { 'if-modified-since': 'Mon, 01 Jan 2024 11:59:59 GMT' }, false],
    ['If-Modified-Since not a date', { 'if-modified-since': 'soon' }, false],
    [
      'If-None-Match not matching wins over a matching If-Modified-Since',
      { 'if-none-match': '"x"', 'if-modified-since': 'Tue, 02 Jan 2024 00:00:00 GMT' },
      false,
    ],
  ])('%s', (_name, headers, expected) => {
    expect(notModified(headers, etag, modified)).toBe(expected);
  });

  it('ignores If-Modified-Since without a Last-Modified', () => {
    expect(notModified({ 'if-modified-since': 'Tue, 02 Jan 2024 00:00:00 GMT' }, etag)).toBe(false);
  });
});
