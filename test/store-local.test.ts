import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../src/errors.js';
import type { LocalStore } from '../src/store/local-store.js';
import { openStore, type StoredObject } from '../src/store/store.js';
import { tempDir } from './helpers/gdal.js';

const tmp = tempDir('store-local-');
const root = join(tmp.dir, 'root');
const outside = join(tmp.dir, 'outside');
let store: LocalStore;

const sha256sum = (path: string) =>
  `1220${execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]}`;

async function keys(it: AsyncIterable<StoredObject>): Promise<string[]> {
  const out: string[] = [];
  for await (const o of it) out.push(o.key);
  return out.sort();
}

/** Every file under a folder, recursively (names relative to it). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

beforeAll(async () => {
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.bin'), 'outside the root\n');
  store = (await openStore(root, { createRoot: true })) as LocalStore;
});
afterAll(() => tmp.cleanup());

describe('LocalStore', () => {
  it('putFile copies the file in: cmp-equal bytes, the sha256sum checksum, stat size and the folder made', async () => {
    const src = join(tmp.dir, 'in.bin');
    writeFileSync(src, randomBytes(3 * 1024 * 1024 + 5));
    const o = await store.putFile('scenes/s1/in.bin', src, { contentType: 'application/octet-stream' });
    const dst = join(root, 'scenes', 's1', 'in.bin');
    execFileSync('cmp', [src, dst]); // throws when they differ
    expect(o.checksum).toBe(sha256sum(src));
    expect(o.sizeBytes).toBe(statSync(src).size);
    expect(o.key).toBe('scenes/s1/in.bin');
    expect(o.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await store.head('scenes/s1/in.bin')).toMatchObject({ sizeBytes: o.sizeBytes, etag: o.etag });
  });

  it('putBytes, positioned reads, a ranged stream, list and delete', async () => {
    const bytes = randomBytes(100_000);
    await store.putBytes('b/one.bin', bytes);
    await store.putBytes('b/sub/two.bin', new Uint8Array([1, 2]));
    await store.putBytes('bb.bin', new Uint8Array([3]));
    const r = await store.source('b/one.bin');
    expect(Buffer.from(await r.read(99_990, 10)).equals(bytes.subarray(99_990))).toBe(true);
    await expect(r.read(99_995, 10)).rejects.toThrow(/past the end of the 100000-byte file/);
    const chunks: Buffer[] = [];
    for await (const c of r.stream({ start: 10, end: 19 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes.subarray(10, 20))).toBe(true);
    expect(await keys(store.list('b/'))).toEqual(['b/one.bin', 'b/sub/two.bin']);
    expect(await keys(store.list('b'))).toEqual(['b/one.bin', 'b/sub/two.bin', 'bb.bin']);
    expect(await keys(store.list('b/sub/t'))).toEqual(['b/sub/two.bin']);
    await store.delete('b/one.bin');
    await store.delete('b/one.bin'); // twice: no error
    await store.delete('nothing/here.bin');
    expect(await store.head('b/one.bin')).toBeNull();
    await expect(store.source('b/one.bin')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a put leaves no temporary file, and temporary files are never listed', async () => {
    await store.putBytes('t/a.bin', new Uint8Array(10));
    expect(filesUnder(join(root, 't'))).toEqual(['a.bin']);
    // A crash mid-put leaves '.{name}.{random}.partial' behind; it is not an object.
    writeFileSync(join(root, 't', '.a.bin.0123456789abcdef.partial'), 'half');
    expect(await keys(store.list('t/'))).toEqual(['t/a.bin']);
  });

  it('sweepTemporaries removes the temporary files of killed puts, not one still being written nor any object', async () => {
    // A store of its own: the other tests leave temporary files of their own under the shared root.
    const swRoot = join(tmp.dir, 'sweep-root');
    const store = (await openStore(swRoot, { createRoot: true })) as LocalStore;
    const root = swRoot;
    mkdirSync(join(root, 'sw', 'deep'), { recursive: true });
    await store.putBytes('sw/keep.bin', new Uint8Array(4));
    const stale = [
      join(root, 'sw', '.x.tif.00112233445566aa.partial'),
      join(root, 'sw', 'deep', '.y.json.ffeeddccbbaa9988.partial'),
    ];
    const fresh = join(root, 'sw', '.z.tif.0a0b0c0d0e0f1011.partial');
    // Not a temporary file: a hidden name without the random suffix, and an object named like one.
    const other = [join(root, 'sw', '.hidden.partial'), join(root, 'sw', 'x.partial')];
    for (const f of [...stale, fresh, ...other]) writeFileSync(f, 'half');
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const f of [...stale, ...other]) utimesSync(f, hourAgo, hourAgo);
    expect(await store.sweepTemporaries(600_000)).toBe(2);
    expect(filesUnder(join(root, 'sw'))).toEqual(
      ['.hidden.partial', '.z.tif.0a0b0c0d0e0f1011.partial', 'keep.bin', 'x.partial'].sort(),
    );
    expect(await store.sweepTemporaries(0)).toBe(1);
    await expect(store.sweepTemporaries(-1)).rejects.toThrow(/olderThanMs must be >= 0/);
  });

  it('readers see the old file or the whole new one while it is replaced (checked by sha256sum in another process)', async () => {
    const a = join(tmp.dir, 'a.bin');
    const b = join(tmp.dir, 'b.bin');
    writeFileSync(a, Buffer.alloc(4 * 1024 * 1024, 0xaa));
    writeFileSync(b, Buffer.alloc(4 * 1024 * 1024, 0xbb));
    const want = new Set([sha256sum(a).slice(4), sha256sum(b).slice(4)]);
    await store.putFile('swap/x.bin', a);
    const target = join(root, 'swap', 'x.bin');
    // A shell loop hashes the target over and over while this process replaces it 40 times.
    const reader = spawn('bash', ['-c', `for i in $(seq 1 60); do sha256sum "${target}"; done`]);
    let out = '';
    reader.stdout.on('data', (d) => (out += d));
    const done = new Promise((ok) => reader.on('close', ok));
    for (let i = 0; i < 40; i++) await store.putFile('swap/x.bin', i % 2 ? a : b);
    await done;
    const seen = out
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]);
    expect(seen.length).toBe(60);
    for (const h of seen) expect(want.has(h), h).toBe(true);
  });

  it('a symlink that leaves the root reads as missing, and a write through a symlinked folder is refused', async () => {
    mkdirSync(join(root, 'links'), { recursive: true });
    symlinkSync(join(outside, 'secret.bin'), join(root, 'links', 'secret.bin'));
    symlinkSync(outside, join(root, 'out'));
    expect(await store.head('links/secret.bin')).toBeNull();
    await expect(store.source('links/secret.bin')).rejects.toThrow("asset 'links/secret.bin' not found");
    expect(await keys(store.list('links/'))).toEqual([]);
    await expect(store.putBytes('out/new.bin', new Uint8Array(1))).rejects.toThrow(
      "put 'out/new.bin': its folder leads outside the store (a symlink)",
    );
    expect(readdirSync(outside)).toEqual(['secret.bin']);
    await expect(store.delete('out/secret.bin')).rejects.toThrow(/leads outside the store/);
    expect(readFileSync(join(outside, 'secret.bin'), 'utf8')).toBe('outside the root\n');
  });

  it('keyOf: relative hrefs as they are, legacy absolute paths inside the root as keys, others null', () => {
    expect(store.keyOf('scenes/a.tif')).toBe('scenes/a.tif');
    expect(store.keyOf(join(store.storage.root, 'scenes', 'a.tif'))).toBe('scenes/a.tif');
    expect(store.keyOf(`file://${join(store.storage.root, 'scenes', 'a.tif')}`)).toBe('scenes/a.tif');
    expect(store.keyOf('/etc/shadow')).toBeNull();
    expect(store.keyOf(`${store.storage.root}/../outside/secret.bin`)).toBeNull();
    expect(store.keyOf('s3://sar/a.tif')).toBeNull();
    expect(store.keyOf('https://example.org/a.tif')).toBeNull();
  });

  it.each([
    ['../x', /'..' segment/],
    ['a/../../x', /'..' segment/],
    ['/etc/passwd', /absolute path/],
    ['a//b', /empty segment/],
    ['./a', /'.' segment/],
    ['a%2Fb', /'%'/],
    ['C:/x', /Windows drive/],
    ['file:///etc/passwd', /URL scheme/],
    ['a\\b', /backslash/],
    ['a\nb', /control character U\+000A/],
    ['a/\u202Eb', /control character U\+202E/],
    ['', /empty/],
    [`${'x'.repeat(256)}/a`, /segment longer than 255 bytes/],
  ])('key %j is refused by every operation: %s', async (key, msg) => {
    const src = join(tmp.dir, 'k.bin');
    writeFileSync(src, 'k');
    for (const op of [
      () => store.putBytes(key, new Uint8Array(1)),
      () => store.putFile(key, src),
      () => store.head(key),
      () => store.source(key),
      () => store.delete(key),
    ]) {
      const err = await op().catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(/^key: /);
      expect(err.message).toMatch(msg);
    }
    for (const prefix of [key, `${key}/`].filter((p) => p !== '' && p !== '/')) {
      const err = await keys(store.list(prefix)).catch((e) => e);
      expect(err, prefix).toBeInstanceOf(ValidationError);
    }
  });

  it('bad puts and a missing root are clear errors', async () => {
    await expect(store.putFile('a.bin', join(tmp.dir, 'missing.bin'))).rejects.toThrow(
      /putFile 'a.bin': cannot open '.*missing.bin' \(ENOENT\)/,
    );
    await expect(store.putFile('a.bin', tmp.dir)).rejects.toThrow(
      /putFile 'a.bin': '.*' is not a regular file/,
    );
    await store.putBytes('dir/f.bin', new Uint8Array(1));
    await expect(store.putBytes('dir', new Uint8Array(1))).rejects.toThrow(
      "put 'dir': a folder of that name exists in the store",
    );
    await expect(store.putBytes('dir/f.bin/g', new Uint8Array(1))).rejects.toThrow(
      /put 'dir\/f.bin\/g': cannot make its folder/,
    );
    await expect(openStore(join(tmp.dir, 'no-such-root'))).rejects.toThrow(
      /asset storage root '.*no-such-root' does not exist \(expected a directory\)/,
    );
  });
});
