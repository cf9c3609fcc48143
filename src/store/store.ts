import { isAbsolute, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { ValidationError } from '../errors.js';
import { type ByteRange, checkStoredPath } from '../io/asset-storage.js';
import type { ByteSource } from '../io/source.js';

/**
 * The asset store: where products' files (COGs, thumbnails, detections) are kept, on the local file
 * system or in S3-compatible object storage, under keys that are relative POSIX paths such as
 * 'scenes/S1A_0001/vv.tif' (the decoded asset hrefs of the catalog's items).
 */

/** What the store knows about one stored object. */
export interface StoredObject {
  /** The object's key (a relative path). */
  key: string;
  sizeBytes: number;
  /** Strong HTTP entity tag, quotes included; changes whenever the object's bytes may have changed. */
  etag: string;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  /** SHA-256 multihash ('1220' + 64 hex digits) when known: always after a put, on S3 from the object's metadata. */
  checksum?: string;
  contentType?: string;
}

/**
 * One version of a stored object opened for reading: positioned reads (a {@link ByteSource}, for the
 * COG reader) or one stream of a byte range (for downloads); size, ETag and bytes all come from that
 * version. Whoever holds it either calls `stream` once (the stream then owns it) or `close`.
 */
export interface ObjectReader extends ByteSource {
  readonly object: StoredObject;
  /** `Last-Modified` value (IMF-fixdate, whole seconds). */
  readonly lastModified: string;
  /**
   * The bytes of `range` (inclusive ends; null: all), as one stream. On S3 a replaced object makes the
   * stream fail rather than mix two versions.
   * @throws ValidationError when `range` does not lie in the object
   */
  stream(range: ByteRange | null): Readable;
}

export interface PutOptions {
  contentType?: string;
}

/** Where assets are stored. Every key is checked by {@link checkKey}; a bad key is a ValidationError. */
export interface AssetStore {
  readonly kind: 'local' | 's3';
  /** The location as given to {@link openStore}, for messages (no credentials). */
  readonly location: string;
  /**
   * Copy a local file in under `key`, atomically: readers see the old object or the whole new one,
   * never a part. The returned object carries the SHA-256 checksum of what was stored.
   */
  putFile(key: string, path: string, opts?: PutOptions): Promise<StoredObject>;
  /** Store bytes under `key`, atomically as {@link putFile}. */
  putBytes(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<StoredObject>;
  /** The object under `key`, or null when there is none (or it cannot be read: hidden looks like missing). */
  head(key: string): Promise<StoredObject | null>;
  /**
   * Open the object under `key` for reading (ranged GetObject requests on S3, with a block cache).
   * @throws NotFoundError when there is no readable object under `key`
   */
  source(key: string): Promise<ObjectReader>;
  /** Remove the object under `key`; no error when there is none. */
  delete(key: string): Promise<void>;
  /**
   * The objects whose keys start with `prefix` ('' for all; 'scenes/' for a folder), in no set order.
   * Files being written (temporary files) are not listed.
   */
  list(prefix: string): AsyncIterable<StoredObject>;
  /**
   * The key an item's href names in this store, or null when it names nothing here: a relative href is
   * returned as it is (checked when read); a legacy absolute path or file:// URL inside a local store's
   * root, or an s3://bucket/prefix/... URL of an S3 store, is turned into its key.
   */
  keyOf(href: string): string | null;
  /**
   * Remove what killed puts left behind (a local store's temporary files, an S3 store's unfinished
   * multipart uploads under its prefix) that have not been written to for `olderThanMs`; a put still
   * running keeps its file fresh and is left alone. Returns how many were removed.
   */
  sweepTemporaries(olderThanMs: number): Promise<number>;
  /** Release connections and caches. */
  close(): Promise<void>;
}

/**
 * Check a key: a relative POSIX path of plain segments, by the rules of asset hrefs
 * (AssetStorage.checkHref): no '..', '.' or empty segments, no absolute paths, schemes, backslashes,
 * control characters or '%'; at most 1024 characters.
 * @param field what the key is, for the message (default 'key')
 * @example checkKey('scenes/a.tif') // 'scenes/a.tif'
 * @throws ValidationError naming the field, the key and why
 */
export function checkKey(key: unknown, field = 'key'): string {
  return checkStoredPath(key, field);
}

/** A list prefix: '' or a key, optionally with a trailing '/'. */
export function checkPrefix(prefix: unknown): string {
  if (prefix === '') return '';
  if (typeof prefix === 'string' && prefix.endsWith('/')) {
    checkKey(prefix.slice(0, -1), 'prefix');
    return prefix;
  }
  return checkKey(prefix, 'prefix');
}

/** A store location, parsed. */
export type StoreLocation =
  | { kind: 'local'; root: string }
  | { kind: 's3'; bucket: string; prefix: string; url: string };

/** S3 bucket names: 3-63 characters of lower-case letters, digits, '.' and '-' (AWS's rules, relaxed for dots). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parse a store location: 's3://bucket' or 's3://bucket/prefix' (the prefix checked like a key), or a
 * directory path (made absolute).
 * @param field the setting it came from, for the message (e.g. '--store')
 * @example parseStoreLocation('s3://sar/prod') // { kind: 's3', bucket: 'sar', prefix: 'prod', url: 's3://sar/prod' }
 * @throws ValidationError naming `field`, the location and what was expected
 */
export function parseStoreLocation(location: unknown, field = 'store'): StoreLocation {
  const expected = "(expected 's3://bucket[/prefix]' or a directory)";
  if (typeof location !== 'string' || location.trim() === '')
    throw new ValidationError(`${field}: empty ${expected}`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(location);
  if (!scheme) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location) && !isAbsolute(location))
      throw new ValidationError(`${field}: '${location}' has an unknown scheme ${expected}`);
    return { kind: 'local', root: resolve(location) };
  }
  if (scheme[1].toLowerCase() === 'file')
    throw new ValidationError(
      `${field}: '${location}': give a directory path, not a file:// URL ${expected}`,
    );
  if (scheme[1] !== 's3')
    throw new ValidationError(`${field}: '${location}' has the scheme '${scheme[1]}://' ${expected}`);
  const rest = location.slice('s3://'.length).replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw new ValidationError(`${field}: '${location}' names no bucket ${expected}`);
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    throw new ValidationError(
      `${field}: '${location}': '${bucket}' is not a bucket name (3-63 lower-case letters, digits, '.' and '-') ${expected}`,
    );
  if (prefix !== '') {
    try {
      checkKey(prefix, `${field} prefix`);
    } catch (err) {
      throw new ValidationError(`${field}: '${location}': ${(err as Error).message.replace(/^[^:]*: /, '')}`);
    }
  }
  return { kind: 's3', bucket, prefix, url: prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}` };
}

/** How to reach an S3-compatible service; built by the caller from configuration (nothing is read from the environment). */
export interface S3Settings {
  /** e.g. 'http://127.0.0.1:9000'; none: AWS's endpoint for the region. */
  endpoint?: string;
  /** default 'us-east-1' */
  region?: string;
  /** Path-style URLs (http://host/bucket/key), as MinIO, Garage and Ceph want; default true with an endpoint. */
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Parts of a multipart upload, bytes (default 16 MiB; at least 5 MiB). Files larger than one part are uploaded in parts. */
  partSizeBytes?: number;
  /** Block of the read cache, bytes (default 256 KiB): small reads fetch the whole aligned block. */
  blockBytes?: number;
  /** Blocks kept per store (default 256, so 64 MiB with the default block). */
  cacheBlocks?: number;
  /** Per-request time limit, ms (default 30,000). */
  requestTimeoutMs?: number;
}

export interface OpenStoreOptions {
  s3?: S3Settings;
  /** Create a local root directory that does not exist (default false: it must exist). */
  createRoot?: boolean;
  /** Check at once that an S3 bucket exists and may be used (default true). */
  check?: boolean;
}

/**
 * Open the store a location names: 's3://bucket[/prefix]' (an {@link S3Store}, with `opts.s3`) or a
 * directory (a LocalStore). An S3 store's bucket is checked at once (one HeadBucket), so a wrong bucket
 * or credentials fail at start-up, not at the first download.
 * @example const store = await openStore('s3://sar/prod', { s3: { endpoint: 'http://127.0.0.1:9000', credentials } })
 * @throws ValidationError for a bad location or settings
 */
export async function openStore(location: string, opts: OpenStoreOptions = {}): Promise<AssetStore> {
  const loc = parseStoreLocation(location);
  if (loc.kind === 'local') {
    const { LocalStore } = await import('./local-store.js');
    return LocalStore.open(loc.root, { create: opts.createRoot });
  }
  const { S3Store } = await import('./s3-store.js');
  const store = new S3Store(loc, opts.s3 ?? {});
  if (opts.check ?? true) {
    try {
      await store.check();
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}
