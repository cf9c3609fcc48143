import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { ConflictError, FormatError } from '../errors.js';
import { LruCache } from '../util/lru.js';
import type { StoredObject } from './store.js';

/** Reads larger than this many blocks go straight to S3 (one request, not cached). */
const DIRECT_BLOCKS = 4;

/** The object was replaced after it was opened: a reader never mixes two versions (HTTP 409; open it again). */
export class StaleObjectError extends ConflictError {
  override readonly code: string = 'StaleObject';
}

/**
 * Ranged GetObject requests with a block cache: a read is widened to whole aligned blocks, missing
 * neighbouring blocks are fetched in one request, blocks being fetched are shared by concurrent
 * readers, and blocks are kept (least recently used first out) by key, ETag and index. So the COG
 * reader's many small reads (header, IFDs, tile offsets, tiles) cost a few requests, not one each.
 */
export class S3BlockReader {
  private readonly cache: LruCache<string, Uint8Array>;
  private readonly pending = new Map<string, Promise<Uint8Array>>();
  /** Requests sent, for tests and measurements. */
  requests = 0;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    readonly blockBytes: number,
    cacheBlocks: number,
  ) {
    this.cache = new LruCache(blockBytes * cacheBlocks, (v) => v.byteLength);
  }

  clear(): void {
    this.cache.clear();
  }

  /**
   * One GetObject of bytes `start`..`end` (inclusive) of the version `etag`.
   * @throws StaleObjectError when the object is no longer that version
   */
  async get(
    fullKey: string,
    etag: string,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<GetObjectCommandOutput> {
    this.requests++;
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Range: `bytes=${start}-${end}`,
          IfMatch: etag,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 404) throw stale(this.bucket, fullKey);
      throw err;
    }
    if (out.ETag !== undefined && out.ETag !== etag) {
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw stale(this.bucket, fullKey);
    }
    return out;
  }

  /** Exactly `length` bytes from `offset` of the version `object` into `target`. */
  async readInto(
    name: string,
    fullKey: string,
    object: StoredObject,
    offset: number,
    length: number,
    target: Uint8Array,
    what: string,
  ): Promise<Uint8Array> {
    const size = object.sizeBytes;
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > size
    )
      throw new FormatError(
        name,
        `${what} at byte ${offset} (+${length} bytes) lies past the end of the ${size}-byte file`,
      );
    if (length === 0) return target.subarray(0, 0);
    const B = this.blockBytes;
    if (length >= DIRECT_BLOCKS * B) {
      target.set(await this.fetch(name, fullKey, object.etag, offset, offset + length - 1));
      return target.subarray(0, length);
    }
    const first = Math.floor(offset / B);
    const last = Math.floor((offset + length - 1) / B);
    const blocks: Promise<Uint8Array>[] = [];
    let run = -1;
    for (let b = first; b <= last + 1; b++) {
      const k = `${fullKey}\0${object.etag}\0${b}`;
      const have = b <= last ? (this.cache.get(k) ?? this.pending.get(k)) : undefined;
      if (have === undefined && b <= last) {
        if (run < 0) run = b;
        continue;
      }
      if (run >= 0) blocks.push(...this.fetchRun(name, fullKey, object, run, b - 1));
      run = -1;
      if (b <= last) blocks.push(Promise.resolve(have as Uint8Array));
    }
    const got = await Promise.all(blocks);
    let done = 0;
    for (let i = 0; i < got.length; i++) {
      const blockStart = (first + i) * B;
      const from = Math.max(offset, blockStart) - blockStart;
      const to = Math.min(offset + length, blockStart + got[i].length) - blockStart;
      target.set(got[i].subarray(from, to), done);
      done += to - from;
    }
    return target.subarray(0, length);
  }

  /** Fetch blocks `b0`..`b1` in one request; one promise per block, shared while pending, then cached. */
  private fetchRun(
    name: string,
    fullKey: string,
    object: StoredObject,
    b0: number,
    b1: number,
  ): Promise<Uint8Array>[] {
    const B = this.blockBytes;
    const start = b0 * B;
    const end = Math.min(object.sizeBytes, (b1 + 1) * B) - 1;
    const whole = this.fetch(name, fullKey, object.etag, start, end);
    const out: Promise<Uint8Array>[] = [];
    for (let b = b0; b <= b1; b++) {
      const k = `${fullKey}\0${object.etag}\0${b}`;
      const p = whole.then((bytes) => bytes.slice((b - b0) * B, Math.min(bytes.length, (b - b0 + 1) * B)));
      this.pending.set(k, p);
      p.then(
        (v) => {
          this.pending.delete(k);
          this.cache.set(k, v);
        },
        () => this.pending.delete(k),
      );
      out.push(p);
    }
    return out;
  }

  private async fetch(
    name: string,
    fullKey: string,
    etag: string,
    start: number,
    end: number,
  ): Promise<Uint8Array> {
    const out = await this.get(fullKey, etag, start, end);
    const bytes = await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    if (bytes.length !== end - start + 1)
      throw new FormatError(name, `asked for bytes ${start}-${end} and got ${bytes.length} bytes`);
    return bytes;
  }
}

function stale(bucket: string, fullKey: string): StaleObjectError {
  return new StaleObjectError(`s3://${bucket}/${fullKey} was replaced while it was read; open it again`);
}
