import { createHash, randomBytes } from 'node:crypto';
import { type Dirent, mkdirSync } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, realpath, rename, unlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { NotFoundError, SarbridgeError, ValidationError } from '../errors.js';
import { AssetStorage, type ByteRange, type OpenAsset } from '../io/asset-storage.js';
import {
  type AssetStore,
  checkKey,
  checkPrefix,
  type ObjectReader,
  type PutOptions,
  type StoredObject,
} from './store.js';

const CHUNK_BYTES = 1 << 20;
/** Temporary files of a put: '.{name}.{random}.partial' beside the target; never listed. */
const PARTIAL = /^\..*\.[0-9a-f]{16}\.partial$/;

/**
 * Assets in a directory. Writes go to a temporary file beside the target, are fsynced, renamed over
 * the target and the directory fsynced, so a reader (or a crash) sees the old file or the whole new
 * one. Reads go through {@link AssetStorage}'s checks (realpath inside the root, O_NOFOLLOW, the open
 * descriptor verified), so a key cannot leave the root and a symlink out looks like a missing file.
 */
export class LocalStore implements AssetStore {
  readonly kind = 'local' as const;
  readonly location: string;

  private constructor(readonly storage: AssetStorage) {
    this.location = storage.root;
  }

  /** A store over an existing directory (or one created with `create`). */
  static open(root: string, opts: { create?: boolean } = {}): LocalStore {
    if (opts.create) mkdirSync(root, { recursive: true });
    return new LocalStore(new AssetStorage(root));
  }

  /** A store over an AssetStorage the server already holds. */
  static of(storage: AssetStorage): LocalStore {
    return new LocalStore(storage);
  }

  async putFile(key: string, path: string, opts?: PutOptions): Promise<StoredObject> {
    checkKey(key);
    let src: FileHandle;
    try {
      src = await open(path, 'r');
    } catch (err) {
      throw new NotFoundError(
        `putFile '${key}': cannot open '${path}' (${(err as NodeJS.ErrnoException).code})`,
      );
    }
    try {
      const st = await src.stat();
      if (!st.isFile()) throw new ValidationError(`putFile '${key}': '${path}' is not a regular file`);
      return await this.write(key, opts, async (dst, hash) => {
        const buf = Buffer.allocUnsafe(CHUNK_BYTES);
        for (;;) {
          const { bytesRead } = await src.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          hash.update(buf.subarray(0, bytesRead));
          await writeAll(dst, buf.subarray(0, bytesRead));
        }
      });
    } finally {
      await src.close();
    }
  }

  async putBytes(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<StoredObject> {
    checkKey(key);
    return this.write(key, opts, async (dst, hash) => {
      hash.update(bytes);
      await writeAll(dst, bytes);
    });
  }

  async head(key: string): Promise<StoredObject | null> {
    checkKey(key);
    let asset: OpenAsset;
    try {
      asset = await this.storage.open(key);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
    await asset.close();
    return { key, sizeBytes: asset.size, etag: asset.etag, mtimeMs: asset.mtimeMs };
  }

  async source(key: string): Promise<ObjectReader> {
    checkKey(key);
    const asset = await this.storage.open(key);
    return new LocalReader(key, asset);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const dir = await this.parentInside(key, false);
    if (dir === null) return;
    try {
      await unlink(`${dir}/${key.slice(key.lastIndexOf('/') + 1)}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      if (code === 'EISDIR' || code === 'EPERM')
        throw new ValidationError(`delete '${key}': it is a directory in the store, not an object`);
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkPrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut + 1);
    yield* this.walk(base, prefix);
  }

  keyOf(href: string): string | null {
    if (href.startsWith('file:') || isAbsolute(href)) return this.storage.relativeOf(href);
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(href)) return null;
    return href;
  }

  async sweepTemporaries(olderThanMs: number): Promise<number> {
    if (!(olderThanMs >= 0))
      throw new ValidationError(`sweepTemporaries: olderThanMs must be >= 0, got ${olderThanMs}`);
    const before = Date.now() - olderThanMs;
    let removed = 0;
    const sweep = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return; // removed meanwhile
      }
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) await sweep(path);
        else if (e.isFile() && PARTIAL.test(e.name)) {
          const st = await lstat(path).catch(() => null);
          if (
            st &&
            st.mtimeMs < before &&
            (await unlink(path).then(
              () => true,
              () => false,
            ))
          )
            removed++;
        }
      }
    };
    await sweep(this.storage.root);
    return removed;
  }

  async close(): Promise<void> {}

  /** Files under the folder `dir` (a key prefix ending in '/', or '') whose keys start with `prefix`. */
  private async *walk(dir: string, prefix: string): AsyncIterable<StoredObject> {
    let entries: Dirent[];
    try {
      const real = await realpath(`${this.storage.root}/${dir}`);
      if (real !== this.storage.root && !real.startsWith(`${this.storage.root}/`)) return;
      entries = await readdir(real, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const key = `${dir}${e.name}`;
      if (PARTIAL.test(e.name)) continue;
      if (e.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(`${key}/`, prefix);
      } else if (key.startsWith(prefix) && (e.isFile() || e.isSymbolicLink())) {
        try {
          checkKey(key);
        } catch {
          continue; // a file no key can name (e.g. with '%' in its name)
        }
        const o = await this.head(key);
        if (o) yield o;
      }
    }
  }

  /**
   * The real directory that holds `key`, created when `create`, checked to lie inside the root (so a
   * symlinked folder cannot take a write outside); null when it does not exist and `create` is false.
   */
  private async parentInside(key: string, create: boolean): Promise<string | null> {
    const cut = key.lastIndexOf('/');
    const want = cut < 0 ? this.storage.root : `${this.storage.root}/${key.slice(0, cut)}`;
    if (create) {
      try {
        await mkdir(want, { recursive: true });
      } catch (err) {
        throw new ValidationError(
          `put '${key}': cannot make its folder (${(err as NodeJS.ErrnoException).code}; a file may stand where a folder is needed)`,
        );
      }
    }
    let real: string;
    try {
      real = await realpath(want);
    } catch {
      return null;
    }
    const root = this.storage.root;
    if (real !== root && !real.startsWith(`${root}/`))
      throw new ValidationError(`put '${key}': its folder leads outside the store (a symlink)`);
    return real;
  }

  /** Write a temporary file with `fill`, fsync, rename over the key's file, fsync the folder. */
  private async write(
    key: string,
    opts: PutOptions | undefined,
    fill: (dst: FileHandle, hash: ReturnType<typeof createHash>) => Promise<void>,
  ): Promise<StoredObject> {
    const dir = (await this.parentInside(key, true)) as string;
    const name = key.slice(key.lastIndexOf('/') + 1);
    const existing = await lstat(`${dir}/${name}`).catch(() => null);
    if (existing?.isDirectory())
      throw new ValidationError(`put '${key}': a folder of that name exists in the store`);
    const tmp = `${dir}/.${name.slice(0, 200)}.${randomBytes(8).toString('hex')}.partial`;
    const hash = createHash('sha256');
    const dst = await open(tmp, 'wx', 0o644);
    try {
      try {
        await fill(dst, hash);
        await dst.sync();
      } finally {
        await dst.close();
      }
      await rename(tmp, `${dir}/${name}`);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    const o = await this.head(key);
    if (!o) throw new SarbridgeError(`put '${key}': the file vanished right after it was written`);
    return { ...o, checksum: `1220${hash.digest('hex')}`, contentType: opts?.contentType };
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

/** A stored file opened through AssetStorage: its checked descriptor serves both reads and the stream. */
class LocalReader implements ObjectReader {
  readonly object: StoredObject;
  constructor(
    key: string,
    private readonly asset: OpenAsset,
  ) {
    this.object = { key, sizeBytes: asset.size, etag: asset.etag, mtimeMs: asset.mtimeMs };
  }
  get name(): string {
    return this.asset.path;
  }
  get size(): number {
    return this.asset.size;
  }
  get lastModified(): string {
    return this.asset.lastModified;
  }
  read(offset: number, length: number, what?: string): Promise<Uint8Array> {
    return this.asset.read(offset, length, what);
  }
  readInto(offset: number, length: number, target: Uint8Array, what?: string): Promise<Uint8Array> {
    return this.asset.readInto(offset, length, target, what);
  }
  stream(range: ByteRange | null): Readable {
    return this.asset.stream(range) as Readable;
  }
  close(): Promise<void> {
    return this.asset.close();
  }
}
