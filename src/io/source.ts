import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import { FormatError, NotFoundError } from '../errors.js';

/**
 * Random-access bytes: a local file now, HTTP range requests or S3 objects later.
 * Readers ask for exact ranges; a source never reads past its end.
 */
export interface ByteSource {
  /** Name used in error messages (a path or URL). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset`; throws FormatError if the range passes the end. */
  read(offset: number, length: number, what?: string): Promise<Uint8Array>;
  /** Read `length` bytes from `offset` into the start of `target` (which must be large enough). */
  readInto(offset: number, length: number, target: Uint8Array, what?: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

function checkRange(name: string, size: number, offset: number, length: number, what: string): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new FormatError(
      name,
      `${what} at byte ${offset} (+${length} bytes) lies past the end of the ${size}-byte file`,
    );
  }
}

/** A local file, read with positioned reads through one handle. */
export class FileSource implements ByteSource {
  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new FormatError(path, 'is not a regular file');
      size = st.size;
    } catch (err) {
      if (err instanceof FormatError) throw err;
      throw new NotFoundError(
        `${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { cause: err },
      );
    }
    const handle = await open(path, 'r');
    return new FileSource(path, size, handle);
  }

  async read(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    return this.readInto(offset, length, new Uint8Array(length), what);
  }

  async readInto(offset: number, length: number, target: Uint8Array, what = 'data'): Promise<Uint8Array> {
    checkRange(this.name, this.size, offset, length, what);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(target, done, length - done, offset + done);
      if (bytesRead === 0)
        throw new FormatError(this.name, `file ended at byte ${offset + done} while reading ${what}`);
      done += bytesRead;
    }
    return target.subarray(0, length);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Bytes already in memory (tests, fuzzing, small downloads). */
export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.size = bytes.length;
  }

  async read(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    checkRange(this.name, this.size, offset, length, what);
    return this.bytes.subarray(offset, offset + length);
  }

  async readInto(offset: number, length: number, target: Uint8Array, what = 'data'): Promise<Uint8Array> {
    checkRange(this.name, this.size, offset, length, what);
    target.set(this.bytes.subarray(offset, offset + length));
    return target.subarray(0, length);
  }

  async close(): Promise<void> {}
}
