import { createHash } from 'node:crypto';
import { constants, type ReadStream, realpathSync, type Stats, statSync } from 'node:fs';
import { type FileHandle, open, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatError, NotFoundError, SarbridgeError, ValidationError } from '../errors.js';
import type { ByteSource } from './source.js';

/**
 * The one place where the server reads asset files: every path comes from a checked relative href and
 * every file is opened and then verified to lie inside the root, so an item's href cannot make the
 * server read `/etc/shadow`, and `..`, absolute paths, symlinks or `file://` URLs cannot leave the root.
 *
 * Hrefs and paths. An item's href is a URI reference, so {@link AssetStorage.checkHref} percent-decodes
 * each segment exactly once ('scenes/a%20b.tif' is the file 'scenes/a b.tif') and returns the decoded
 * relative path. A decoded path never holds '%' (a literal '%' in a file name, or double encoding such
 * as '%252e', is refused), so decoding it again changes nothing and `checkHref(checkHref(h)) ===
 * checkHref(h)`. {@link AssetStorage.resolve}, `open`, `info` and `openRangeStream` take such decoded
 * paths (for instance a route's already-decoded wildcard) and do not decode again; any '%' makes them
 * answer "not found".
 *
 * Symlinks inside the root that end at a file inside the root are followed (a product directory may
 * link to a shared file); a link that ends outside, through a file or through a directory on the way,
 * looks exactly like a missing file. Hard links cannot be told apart from the file itself and are the
 * storage operator's responsibility.
 */

const MAX_HREF_LENGTH = 1024;
const MAX_SEGMENT_BYTES = 255;
const EXPECTED = "(expected a relative path such as 'scenes/a.tif')";
const CHUNK_BYTES = 1 << 20;
const MAX_CACHED_CHECKSUMS = 4096;
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
/** Errors of open/realpath/stat that mean "there is no readable file at this path". */
const MISSING_CODES = new Set([
  'ENOENT',
  'ENOTDIR',
  'ELOOP',
  'EACCES',
  'EPERM',
  'ENAMETOOLONG',
  'EISDIR',
  'ENXIO',
]);

// C0 and C1 controls, DEL, line/paragraph separators and bidi overrides (which make names lie on screen).
const CONTROL = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const LONE_SURROGATE = /\p{Cs}/u;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** A byte range, both ends inclusive, as in `Content-Range: bytes start-end/size`. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What {@link AssetStorage.info} tells about a stored file. */
export interface AssetInfo {
  /** Real absolute path of the file (inside the root). */
  path: string;
  /** Size in bytes. */
  size: number;
  mtimeMs: number;
  /** Strong HTTP entity tag, quotes included, derived from the file's identity and times (see `etagOf`). */
  etag: string;
  /** SHA-256 multihash as the STAC file extension's `file:checksum` wants: '1220' + 64 hex digits. */
  checksum: string;
}

/**
 * A stored file opened for reading; whoever holds it either calls `stream` once or `close`. It is also a
 * {@link ByteSource} over the same open file (positioned reads, until `stream` or `close`).
 */
export interface OpenAsset extends ByteSource {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  /** `Last-Modified` value (IMF-fixdate, whole seconds). */
  readonly lastModified: string;
  /** A stream of exactly the bytes of `range` (all bytes when null); the stream owns and closes the file. */
  stream(range: ByteRange | null): ReadStream;
  close(): Promise<void>;
}

/** {@link AssetStorage.openRangeStream}'s answer: the stream and what goes in the response headers. */
export interface RangeStream {
  stream: ReadStream;
  path: string;
  /** Total size of the file in bytes (the number after '/' in Content-Range). */
  size: number;
  /** First and last byte sent (inclusive); `end` is -1 for an empty file. */
  start: number;
  end: number;
  /** Bytes in the stream (Content-Length). */
  length: number;
  mtimeMs: number;
  etag: string;
  lastModified: string;
}

function show(s: string): string {
  const escaped = JSON.stringify(s.length > 120 ? s.slice(0, 120) : s)
    .slice(1, -1)
    .replace(/\\"/g, '"');
  return s.length > 120 ? `${escaped}…` : escaped;
}

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why one segment (raw, or percent-decoded) is not acceptable, or null. */
function segmentProblem(seg: string, first: boolean): string | null {
  if (seg === '') return "it has an empty segment ('//', or a leading or trailing '/')";
  if (seg === '.' || seg === '..') return `it has a '${seg}' segment`;
  if (LONE_SURROGATE.test(seg)) return 'it is not well-formed Unicode (a lone surrogate)';
  const control = CONTROL.exec(seg);
  if (control) return `it holds the control character ${codePoint(control[0])}`;
  if (seg.includes('\\')) return 'it holds a backslash';
  if (seg.includes('?') || seg.includes('#')) return "it holds '?' or '#' (a URL query or fragment)";
  if (first && seg.includes(':')) return "its first segment holds ':', which reads as a URL scheme";
  if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES)
    return `it has a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  return null;
}

/**
 * Check an href or path; returns its segments, or why it is refused. With `decode`, each segment is
 * percent-decoded once and must then hold no '%'; without, '%' is refused outright.
 */
function checkSegments(href: string, decode: boolean): string[] | string {
  if (href === '') return 'it is empty';
  if (href.length > MAX_HREF_LENGTH)
    return `it is ${href.length} characters long, more than ${MAX_HREF_LENGTH}`;
  const control = CONTROL.exec(href);
  if (control) return `it holds the control character ${codePoint(control[0])}`;
  if (/^[A-Za-z]:/.test(href)) return `it starts with a Windows drive '${href.slice(0, 2)}'`;
  const scheme = SCHEME.exec(href);
  if (scheme) return `it has a URL scheme '${scheme[0]}'`;
  if (href.startsWith('/')) return 'it is an absolute path';
  if (href.includes('\\')) return "it holds a backslash (segments are separated by '/', not '\\')";
  const raw = href.split('/');
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const problem = segmentProblem(raw[i], i === 0);
    if (problem) return problem;
    if (!raw[i].includes('%')) {
      out.push(raw[i]);
      continue;
    }
    if (!decode) return "it holds '%' (stored paths are not percent-encoded)";
    if (/%(?![0-9A-Fa-f]{2})/.test(raw[i]))
      return "it holds a '%' that does not start a percent-encoded byte";
    let seg: string;
    try {
      seg = decodeURIComponent(raw[i]);
    } catch {
      return 'its percent-encoded bytes are not UTF-8';
    }
    if (seg.includes('/')) return "it holds a percent-encoded '/' (%2F)";
    if (seg.includes('%')) return "it is percent-encoded twice ('%25')";
    const decodedProblem = segmentProblem(seg, i === 0);
    if (decodedProblem) return `${decodedProblem} once percent-decoded`;
    out.push(seg);
  }
  return out;
}

/**
 * {@link AssetStorage.checkHref}'s rules without a storage (for an object store): the normalised,
 * percent-decoded relative path of an href, or a ValidationError naming `field`.
 */
export function checkAssetHref(href: unknown, field: string): string {
  if (typeof href !== 'string') {
    const got = href === null ? 'null' : Array.isArray(href) ? 'an array' : typeof href;
    throw new ValidationError(`${field}: expected a string ${EXPECTED}, got ${got}`);
  }
  const segments = checkSegments(href, true);
  if (typeof segments === 'string') {
    throw new ValidationError(
      `${field}: '${show(href)}' is not a path inside the asset storage: ${segments} ${EXPECTED}`,
    );
  }
  return segments.join('/');
}

/**
 * Check a stored path (an already-decoded relative path, as {@link AssetStorage.checkHref} returns):
 * the same rules as an href, and '%' is refused instead of decoded. Returns the path unchanged.
 * @param field what the path is, for the message, e.g. 'key'
 * @throws ValidationError naming `field`, the path and why
 */
export function checkStoredPath(path: unknown, field: string): string {
  if (typeof path !== 'string') {
    const got = path === null ? 'null' : Array.isArray(path) ? 'an array' : typeof path;
    throw new ValidationError(`${field}: expected a string ${EXPECTED}, got ${got}`);
  }
  const segments = checkSegments(path, false);
  if (typeof segments === 'string')
    throw new ValidationError(
      `${field}: '${show(path)}' is not a plain relative path: ${segments} ${EXPECTED}`,
    );
  return path;
}

function isMissing(err: unknown): boolean {
  return MISSING_CODES.has((err as NodeJS.ErrnoException)?.code ?? '');
}

function httpDate(mtimeMs: number): string {
  return new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString();
}

/**
 * Strong entity tag of a file's current bytes, from its identity (dev, ino) and size, mtime and ctime,
 * the way nginx and Apache derive theirs; hashed so that inode numbers do not show. Any write or
 * replacement changes mtime or ctime (nanosecond clocks) and so the tag. Not the content checksum:
 * hashing a 2 GB COG before answering GDAL's first Range request would take seconds.
 */
function etagOf(st: Stats): string {
  const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  return `"${createHash('sha256').update(id).digest('hex').slice(0, 32)}"`;
}

/** Asset files under one root directory, checked on the way in (hrefs) and on the way out (opens). */
export class AssetStorage {
  /** The root as an absolute, real (symlink-free) path. */
  readonly root: string;
  /** The root as configured, made absolute but not real, for {@link relativeOf} of legacy paths. */
  private readonly configuredRoot: string;
  private readonly checksums = new Map<string, string>();
  private readonly hashing = new Map<string, Promise<string>>();

  /** `root` is made absolute and real once; it must be an existing directory. */
  constructor(root: string) {
    this.configuredRoot = resolvePath(root);
    let real: string;
    try {
      real = realpathSync(this.configuredRoot);
    } catch {
      throw new ValidationError(`asset storage root '${root}' does not exist (expected a directory)`);
    }
    if (!statSync(real).isDirectory()) {
      throw new ValidationError(`asset storage root '${root}' is not a directory`);
    }
    this.root = real;
  }

  /**
   * Check an href of an item posted to the API; returns the normalised, percent-decoded relative path.
   * Refuses anything that is not a relative POSIX path of plain segments: URL schemes (`file:`,
   * `http:`, `s3:`, ...), absolute paths, Windows drives and backslashes, `..`, `.` and empty segments
   * (even when they would stay inside), control characters, percent-encoded separators or dot segments,
   * and hrefs longer than 1024 characters.
   *
   * @param field where the href sits, for the message, e.g. '/assets/data/href'
   * @example storage.checkHref('scenes/S1A%20vv.tif', '/assets/vv/href') // 'scenes/S1A vv.tif'
   * @throws ValidationError naming `field`, the href and why
   */
  checkHref(href: unknown, field: string): string {
    return checkAssetHref(href, field);
  }

  /**
   * Convert a legacy absolute path (or `file://` URL) inside the root into a relative path, for
   * migrating catalogs whose items hold absolute paths. Purely lexical: the path must already be
   * normal (no `.`, `..` or empty segments) and lie under the root as configured or as real; null
   * otherwise, and for paths that no relative path can name (e.g. with '%' in a file name).
   */
  relativeOf(absPath: string): string | null {
    let p = absPath;
    if (p.startsWith('file:')) {
      try {
        p = fileURLToPath(p);
      } catch {
        return null;
      }
    }
    if (!isAbsolute(p)) return null;
    for (const root of new Set([this.root, this.configuredRoot])) {
      const prefix = root.endsWith(sep) ? root : root + sep;
      if (!p.startsWith(prefix)) continue;
      const segments = checkSegments(p.slice(prefix.length), false);
      if (typeof segments !== 'string') return segments.join('/');
    }
    return null;
  }

  /**
   * The real path of a stored regular file. Throws NotFoundError, with the same message as for a
   * missing file, when the path is not a valid relative path, leaves the root (through a symlink to a
   * file or a directory outside), or is a directory, fifo, socket or device. The path may change after
   * this returns: to read the file use {@link open}, which keeps the checked file open.
   */
  async resolve(rel: string): Promise<string> {
    const asset = await this.open(rel);
    await asset.close();
    return asset.path;
  }

  /**
   * Open a stored regular file for reading. The path is realpath'd and checked first (so nothing
   * outside the root is opened in the ordinary case), opened with O_NOFOLLOW | O_NONBLOCK (a fifo does
   * not block), and then the open descriptor itself is checked: fstat must say regular file and, on
   * Linux, /proc/self/fd must name a path inside the root, which closes the race between check and
   * open. Elsewhere the realpath is taken again and its dev/ino compared with the descriptor's, which
   * narrows the race but cannot close it against an attacker who can swap directories in the root.
   */
  async open(rel: string): Promise<OpenAsset> {
    const notFound = () => new NotFoundError(`asset '${show(rel)}' not found`);
    const segments = typeof rel === 'string' ? checkSegments(rel, false) : 'not a string';
    if (typeof segments === 'string') throw notFound();
    let fh: FileHandle | null = null;
    try {
      const real = await realpath(`${this.root}/${segments.join('/')}`);
      if (!this.inside(real)) throw notFound();
      fh = await open(real, OPEN_FLAGS);
      const st = await fh.stat();
      if (!st.isFile()) throw notFound();
      const opened = await this.pathOf(fh, real, st);
      if (opened === null || !this.inside(opened)) throw notFound();
      return new AssetHandle(fh, opened, st);
    } catch (err) {
      await fh?.close();
      if (err instanceof NotFoundError || isMissing(err)) throw notFound();
      throw err;
    }
  }

  /**
   * Size, times, ETag and SHA-256 multihash of a stored file. The checksum is computed streaming
   * (1 MiB reads from the open descriptor) and cached by (path, dev, ino, size, mtime, ctime); a file
   * that changes while it is hashed is hashed again.
   * @example (await storage.info('scenes/a.tif')).checksum // '1220' + sha256sum's hex digest
   */
  async info(rel: string): Promise<AssetInfo> {
    for (let attempt = 0; ; attempt++) {
      const asset = (await this.open(rel)) as AssetHandle;
      try {
        const st = asset.stats;
        const key = `${asset.path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
        let checksum = this.checksums.get(key);
        if (checksum === undefined) {
          let pending = this.hashing.get(key);
          if (!pending) {
            pending = hashFile(asset.fh, st).finally(() => this.hashing.delete(key));
            this.hashing.set(key, pending);
          }
          const hashed = await pending;
          const after = await asset.fh.stat();
          if (after.size !== st.size || after.mtimeMs !== st.mtimeMs || after.ctimeMs !== st.ctimeMs) {
            if (attempt < 2) continue;
            throw new SarbridgeError(`asset '${show(rel)}' keeps changing while its checksum is computed`);
          }
          checksum = hashed;
          if (this.checksums.size >= MAX_CACHED_CHECKSUMS) {
            this.checksums.delete(this.checksums.keys().next().value!);
          }
          this.checksums.set(key, checksum);
        }
        return { path: asset.path, size: st.size, mtimeMs: st.mtimeMs, etag: asset.etag, checksum };
      } finally {
        await asset.close();
      }
    }
  }

  /**
   * Open a stored file and stream the bytes of `range` (inclusive ends; null: the whole file). Use
   * {@link open} instead when the range still has to be parsed against the file's size, so that size,
   * ETag and bytes all come from the one open file.
   * @throws NotFoundError as {@link resolve}; ValidationError when `range` does not lie in the file
   */
  async openRangeStream(rel: string, range: ByteRange | null): Promise<RangeStream> {
    const asset = await this.open(rel);
    let stream: ReadStream;
    try {
      stream = asset.stream(range);
    } catch (err) {
      await asset.close();
      throw err;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : asset.size - 1;
    const { path, size, mtimeMs, etag, lastModified } = asset;
    return { stream, path, size, start, end, length: end - start + 1, mtimeMs, etag, lastModified };
  }

  private inside(real: string): boolean {
    return real.startsWith(this.root === sep ? sep : this.root + sep);
  }

  /** The path the kernel holds for the open file, or null when it is not the file that was checked. */
  private async pathOf(fh: FileHandle, real: string, st: Stats): Promise<string | null> {
    try {
      const p = await readlink(`/proc/self/fd/${fh.fd}`);
      if (p.startsWith('/')) return p;
    } catch {
      // no /proc (not Linux): compare the descriptor with the path's current target
    }
    const again = await realpath(real);
    const target = await stat(again);
    return target.dev === st.dev && target.ino === st.ino ? again : null;
  }
}

class AssetHandle implements OpenAsset {
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly lastModified: string;
  private owned = true;

  constructor(
    readonly fh: FileHandle,
    readonly path: string,
    readonly stats: Stats,
  ) {
    const st = stats;
    this.size = st.size;
    this.mtimeMs = st.mtimeMs;
    this.etag = etagOf(st);
    this.lastModified = httpDate(st.mtimeMs);
  }

  get name(): string {
    return this.path;
  }

  async read(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    return this.readInto(offset, length, new Uint8Array(length), what);
  }

  async readInto(offset: number, length: number, target: Uint8Array, what = 'data'): Promise<Uint8Array> {
    if (!this.owned) throw new SarbridgeError(`asset '${show(this.path)}': read() after close() or stream()`);
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    )
      throw new FormatError(
        this.path,
        `${what} at byte ${offset} (+${length} bytes) lies past the end of the ${this.size}-byte file`,
      );
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(target, done, length - done, offset + done);
      if (bytesRead === 0)
        throw new FormatError(this.path, `file ended at byte ${offset + done} while reading ${what}`);
      done += bytesRead;
    }
    return target.subarray(0, length);
  }

  stream(range: ByteRange | null): ReadStream {
    if (!this.owned)
      throw new SarbridgeError(`asset '${show(this.path)}': stream() after close() or stream()`);
    if (range) {
      const { start, end } = range;
      if (
        !Number.isSafeInteger(start) ||
        !Number.isSafeInteger(end) ||
        start < 0 ||
        end < start ||
        end >= this.size
      ) {
        throw new ValidationError(
          `range bytes=${start}-${end} does not lie within the ${this.size}-byte asset (expected 0 <= start <= end < size)`,
        );
      }
    }
    this.owned = false;
    if (!range && this.size === 0) return this.fh.createReadStream({ start: 0 });
    return this.fh.createReadStream({
      start: range ? range.start : 0,
      end: range ? range.end : this.size - 1,
    });
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    this.owned = false;
    await this.fh.close();
  }
}

/** SHA-256 of the first `st.size` bytes of the open file as a multihash ('1220' + hex). */
async function hashFile(fh: FileHandle, st: Stats): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(st.size, 1)));
  let pos = 0;
  while (pos < st.size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, st.size - pos), pos);
    if (bytesRead === 0) break; // truncated meanwhile: the caller's second fstat sees the change
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return `1220${hash.digest('hex')}`;
}
