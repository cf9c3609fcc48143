import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NotFoundError, SarbridgeError, ValidationError } from '../errors.js';
import type { ByteRange } from '../io/asset-storage.js';
import { S3BlockReader, StaleObjectError } from './s3-reader.js';
import {
  type AssetStore,
  checkKey,
  checkPrefix,
  type ObjectReader,
  type PutOptions,
  type S3Settings,
  type StoredObject,
  type StoreLocation,
} from './store.js';

const MIB = 1024 * 1024;
/** S3's smallest part (all but the last) and most parts of one multipart upload. */
const MIN_PART_BYTES = 5 * MIB;
const MAX_PARTS = 10_000;
/** Parts uploaded at once. */
const PART_CONCURRENCY = 2;
/** Metadata key of the SHA-256 multihash (sent as x-amz-meta-sha256). */
const CHECKSUM_META = 'sha256';

type S3Location = Extract<StoreLocation, { kind: 's3' }>;

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return name === 'NotFound' || name === 'NoSuchKey' || statusOf(err) === 404;
}

function positive(v: number | undefined, dflt: number, min: number, field: string): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < min)
    throw new ValidationError(`s3.${field}: expected a whole number >= ${min}, got ${v}`);
  return n;
}

/**
 * Assets in an S3-compatible bucket under a key prefix ('s3://bucket/prefix/' + key). A put is one
 * PutObject, or a multipart upload for files larger than one part (S3 makes either visible at once,
 * whole, at completion); the SHA-256 of the bytes goes into the object's metadata. Reads are ranged
 * GetObject requests through a block cache, each checked against the ETag of the version opened
 * (If-Match, and the answer's ETag compared), so a reader never mixes two versions. Settings come from
 * the caller: nothing here reads the environment, and credentials are required (the SDK's default
 * chain would read the environment and ask the instance metadata service).
 */
export class S3Store implements AssetStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly endpoint: string | undefined;
  private readonly partSizeBytes: number;
  private readonly blocks: S3BlockReader;

  constructor(loc: S3Location, s: S3Settings) {
    if (!s.credentials?.accessKeyId || !s.credentials.secretAccessKey)
      throw new ValidationError(
        `store ${loc.url}: S3 credentials are required (an access key id and a secret access key)`,
      );
    if (s.endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(s.endpoint))
      throw new ValidationError(`s3.endpoint: expected http(s)://host[:port], got '${s.endpoint}'`);
    this.location = loc.url;
    this.endpoint = s.endpoint;
    this.bucket = loc.bucket;
    this.prefix = loc.prefix ? `${loc.prefix}/` : '';
    this.partSizeBytes = positive(s.partSizeBytes, 16 * MIB, MIN_PART_BYTES, 'partSizeBytes');
    const timeoutMs = positive(s.requestTimeoutMs, 30_000, 1, 'requestTimeoutMs');
    this.client = new S3Client({
      endpoint: s.endpoint,
      region: s.region ?? 'us-east-1',
      forcePathStyle: s.forcePathStyle ?? s.endpoint !== undefined,
      credentials: s.credentials,
      maxAttempts: 3,
      requestHandler: { requestTimeout: timeoutMs, connectionTimeout: Math.min(timeoutMs, 5_000) },
      // Many S3-compatible servers refuse the SDK's default CRC32 trailers; SHA-256 goes in metadata.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.blocks = new S3BlockReader(
      this.client,
      this.bucket,
      positive(s.blockBytes, 256 * 1024, 4096, 'blockBytes'),
      positive(s.cacheBlocks, 256, 1, 'cacheBlocks'),
    );
  }

  /**
   * Check that the bucket exists and the credentials may use it (one HeadBucket).
   * @throws ValidationError naming the bucket when it does not exist or access is refused
   */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const st = statusOf(err);
      if (st === 404)
        throw new ValidationError(`store ${this.location}: the bucket '${this.bucket}' does not exist`);
      if (st === 403)
        throw new ValidationError(
          `store ${this.location}: access to the bucket '${this.bucket}' is refused (check the credentials)`,
        );
      if (st === undefined)
        throw new SarbridgeError(
          `store ${this.location}: cannot reach the S3 service${this.endpoint ? ` at ${this.endpoint}` : ''} (${(err as Error).message})`,
          { cause: err },
        );
      throw this.failed('HeadBucket', '', err);
    }
  }

  async putFile(key: string, path: string, opts?: PutOptions): Promise<StoredObject> {
    checkKey(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new NotFoundError(
        `putFile '${key}': cannot open '${path}' (${(err as NodeJS.ErrnoException).code})`,
      );
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ValidationError(`putFile '${key}': '${path}' is not a regular file`);
      const checksum = await hashHandle(fh, st.size);
      const meta = { ContentType: opts?.contentType, Metadata: { [CHECKSUM_META]: checksum } };
      const Key = this.prefix + key;
      if (st.size <= this.partSizeBytes) {
        const body = await readAll(fh, st.size);
        await this.send('PutObject', key, () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key,
              Body: body,
              ContentLength: st.size,
              ...meta,
            }),
          ),
        );
      } else {
        await this.multipart(Key, key, fh, st.size, meta);
      }
      return await this.stored(key, checksum);
    } finally {
      await fh.close();
    }
  }

  async putBytes(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<StoredObject> {
    checkKey(key);
    const checksum = `1220${createHash('sha256').update(bytes).digest('hex')}`;
    await this.send('PutObject', key, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: bytes,
          ContentLength: bytes.length,
          ContentType: opts?.contentType,
          Metadata: { [CHECKSUM_META]: checksum },
        }),
      ),
    );
    return this.stored(key, checksum);
  }

  async head(key: string): Promise<StoredObject | null> {
    checkKey(key);
    let out: HeadObjectCommandOutput;
    try {
      out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.failed('HeadObject', key, err);
    }
    return objectOf(key, out);
  }

  async source(key: string): Promise<ObjectReader> {
    const o = await this.head(key);
    if (!o) throw new NotFoundError(`asset '${key}' not found`);
    return new S3Reader(this, this.prefix + key, o);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.send('DeleteObject', key, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key })),
    );
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkPrefix(prefix);
    let token: string | undefined;
    do {
      const page = await this.send('ListObjectsV2', prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
        ),
      );
      for (const c of page.Contents ?? []) {
        const key = (c.Key ?? '').slice(this.prefix.length);
        try {
          checkKey(key);
        } catch {
          continue; // an object no key can name (written by another tool)
        }
        yield {
          key,
          sizeBytes: c.Size ?? 0,
          etag: c.ETag ?? '""',
          mtimeMs: c.LastModified?.getTime() ?? 0,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  keyOf(href: string): string | null {
    const own = `s3://${this.bucket}/${this.prefix}`;
    if (href.startsWith(own)) {
      try {
        return checkKey(href.slice(own.length));
      } catch {
        return null;
      }
    }
    if (href.startsWith('/') || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(href)) return null;
    return href;
  }

  async close(): Promise<void> {
    this.blocks.clear();
    this.client.destroy();
  }

  /** One ranged GetObject of the version `etag` (the stream of a download). */
  async getRange(fullKey: string, etag: string, range: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const out: GetObjectCommandOutput = await this.blocks.get(fullKey, etag, range.start, range.end, signal);
    return out.Body as Readable;
  }

  async sweepTemporaries(olderThanMs: number): Promise<number> {
    if (!(olderThanMs >= 0))
      throw new ValidationError(`sweepTemporaries: olderThanMs must be >= 0, got ${olderThanMs}`);
    const before = Date.now() - olderThanMs;
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.send('ListMultipartUploads', this.prefix, () =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix,
            KeyMarker,
            UploadIdMarker,
          }),
        ),
      );
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated.getTime() >= before) continue;
        // An upload started long ago may still be sending parts: its newest part decides.
        const parts = await this.send('ListParts', u.Key, () =>
          this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })),
        );
        if ((parts.Parts ?? []).some((q) => (q.LastModified?.getTime() ?? 0) >= before)) continue;
        await this.send('AbortMultipartUpload', u.Key, () =>
          this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
          ),
        );
        removed++;
      }
      if (!page.IsTruncated) return removed;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** The reader's cached, coalesced block reads. */
  get reader(): S3BlockReader {
    return this.blocks;
  }

  private async stored(key: string, checksum: string): Promise<StoredObject> {
    const o = await this.head(key);
    if (!o) throw new Error(`store ${this.location}: '${key}' is missing right after it was stored`);
    return { ...o, checksum };
  }

  private async multipart(
    Key: string,
    key: string,
    fh: FileHandle,
    sizeBytes: number,
    meta: { ContentType?: string; Metadata: Record<string, string> },
  ): Promise<void> {
    const partBytes = Math.max(this.partSizeBytes, Math.ceil(sizeBytes / MAX_PARTS));
    const count = Math.ceil(sizeBytes / partBytes);
    const started = await this.send('CreateMultipartUpload', key, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ...meta })),
    );
    const UploadId = started.UploadId as string;
    const etags: string[] = new Array(count);
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        const buf = Buffer.allocUnsafe(partBytes);
        while (next < count) {
          const i = next++;
          const start = i * partBytes;
          const length = Math.min(partBytes, sizeBytes - start);
          let done = 0;
          while (done < length) {
            const { bytesRead } = await fh.read(buf, done, length - done, start + done);
            if (bytesRead === 0) throw new Error(`putFile '${key}': the file shrank while it was uploaded`);
            done += bytesRead;
          }
          const part = await this.send('UploadPart', key, () =>
            this.client.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key,
                UploadId,
                PartNumber: i + 1,
                Body: buf.subarray(0, length),
                ContentLength: length,
              }),
            ),
          );
          etags[i] = part.ETag as string;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, count) }, worker));
      await this.send('CompleteMultipartUpload', key, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          }),
        ),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }))
        .catch(() => {});
      throw err;
    }
  }

  /** Run one request; a failure becomes an Error naming the store, the operation and the key. */
  private async send<T>(op: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.failed(op, key, err);
    }
  }

  private failed(op: string, key: string, err: unknown): Error {
    const e = err as { name?: string; message?: string };
    const status = statusOf(err);
    if (e.name === 'NoSuchBucket')
      return new ValidationError(`store ${this.location}: the bucket '${this.bucket}' does not exist`);
    return new Error(
      `store ${this.location}: ${op} '${key}' failed: ${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`,
      { cause: err },
    );
  }
}

function objectOf(key: string, out: HeadObjectCommandOutput): StoredObject {
  const checksum = out.Metadata?.[CHECKSUM_META];
  return {
    key,
    sizeBytes: out.ContentLength ?? 0,
    etag: out.ETag ?? '""',
    mtimeMs: out.LastModified?.getTime() ?? 0,
    ...(checksum && /^1220[0-9a-f]{64}$/.test(checksum) ? { checksum } : {}),
    ...(out.ContentType ? { contentType: out.ContentType } : {}),
  };
}

async function hashHandle(fh: FileHandle, sizeBytes: number): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(MIB, Math.max(sizeBytes, 1)));
  let pos = 0;
  while (pos < sizeBytes) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, sizeBytes - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return `1220${hash.digest('hex')}`;
}

/** A small file's bytes (one PutObject: a Buffer body can be sent again when the SDK retries). */
async function readAll(fh: FileHandle, sizeBytes: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(sizeBytes);
  let done = 0;
  while (done < sizeBytes) {
    const { bytesRead } = await fh.read(buf, done, sizeBytes - done, done);
    if (bytesRead === 0) throw new Error(`the file shrank to ${done} bytes while it was read`);
    done += bytesRead;
  }
  return buf;
}

function httpDate(mtimeMs: number): string {
  return new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString();
}

/** One version of an S3 object: block-cached positioned reads and ranged streams, all If-Match its ETag. */
class S3Reader implements ObjectReader {
  readonly name: string;
  readonly size: number;
  readonly lastModified: string;
  private streamed = false;

  constructor(
    private readonly store: S3Store,
    private readonly fullKey: string,
    readonly object: StoredObject,
  ) {
    this.name = `s3://${store.bucket}/${fullKey}`;
    this.size = object.sizeBytes;
    this.lastModified = httpDate(object.mtimeMs);
  }

  read(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    return this.readInto(offset, length, new Uint8Array(length), what);
  }

  readInto(offset: number, length: number, target: Uint8Array, what = 'data'): Promise<Uint8Array> {
    return this.store.reader.readInto(this.name, this.fullKey, this.object, offset, length, target, what);
  }

  stream(range: ByteRange | null): Readable {
    if (this.streamed) throw new Error(`${this.name}: stream() called twice`);
    if (range) {
      const { start, end } = range;
      if (
        !Number.isSafeInteger(start) ||
        !Number.isSafeInteger(end) ||
        start < 0 ||
        end < start ||
        end >= this.size
      )
        throw new ValidationError(
          `range bytes=${start}-${end} does not lie within the ${this.size}-byte asset (expected 0 <= start <= end < size)`,
        );
    }
    this.streamed = true;
    const out = new PassThrough();
    if (this.size === 0) {
      out.end();
      return out;
    }
    const ac = new AbortController();
    out.once('close', () => ac.abort());
    this.store
      .getRange(this.fullKey, this.object.etag, range ?? { start: 0, end: this.size - 1 }, ac.signal)
      .then((body) => {
        body.once('error', (err) => out.destroy(err));
        body.pipe(out);
      })
      .catch((err) =>
        out.destroy(err instanceof StaleObjectError ? err : new Error(`${this.name}: ${err.message}`)),
      );
    return out;
  }

  async close(): Promise<void> {}
}
