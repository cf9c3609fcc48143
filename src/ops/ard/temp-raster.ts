import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../../errors.js';
import type { Window } from '../../geo/window.js';

/** Bytes of whole rows read at once for a window narrower than the raster. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** The file name prefix of an ard run's intermediate rasters in its output folder. */
export function intermediatePrefix(id: string): string {
  return `.${id}.ard-`;
}

/**
 * Remove the intermediate rasters a killed ard run for `id` left in `dir` (complete or partial);
 * returns their names. A finished or failed run removes its own.
 */
export async function removeStaleIntermediates(dir: string, id: string): Promise<string[]> {
  const prefix = intermediatePrefix(id);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => n.startsWith(prefix));
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  return stale;
}

/**
 * A single-band float32 raster on disk, row-major in the machine's byte order, written once in row
 * order and then read back by windows: the intermediate images of ard (multilooked, despeckled),
 * which do not fit in memory for a full scene. Written to `<path>.<random>.partial` and renamed to
 * `path` when complete, so a file under `path` is always whole; `remove()` deletes either.
 */
export class TempRaster {
  private rowsWritten = 0;
  private finished = false;
  /** Whole rows read for a narrower window (see read). */
  private chunk = new Float32Array(0);

  private constructor(
    readonly path: string,
    private readonly partial: string,
    private fh: FileHandle,
    readonly width: number,
    readonly height: number,
  ) {}

  /** A new raster `width` x `height` at `join(dir, name)` (written as a partial file until finish()). */
  static async create(dir: string, name: string, width: number, height: number): Promise<TempRaster> {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
      throw new ValidationError(
        `intermediate raster ${name}: size must be positive, got ${width} x ${height}`,
      );
    const path = join(dir, name);
    const partial = `${path}.${randomBytes(4).toString('hex')}.partial`;
    const fh = await open(partial, 'wx');
    return new TempRaster(path, partial, fh, width, height);
  }

  /** Append the next `rows` full-width rows (`data` holds at least rows x width values). */
  async appendRows(data: Float32Array, rows: number): Promise<void> {
    if (this.finished) throw new Error(`${this.path}: already finished`);
    if (this.rowsWritten + rows > this.height)
      throw new Error(`${this.path}: ${this.rowsWritten + rows} rows written, the raster has ${this.height}`);
    const n = rows * this.width;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, n * 4);
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    }
    this.rowsWritten += rows;
  }

  /** Rename the complete raster into place; it is then read-only. */
  async finish(): Promise<void> {
    if (this.rowsWritten !== this.height)
      throw new Error(`${this.path}: ${this.rowsWritten} of ${this.height} rows written`);
    await this.fh.close();
    await rename(this.partial, this.path);
    this.fh = await open(this.path, 'r');
    this.finished = true;
  }

  /**
   * The pixels of `win` (inside the raster), row-major `win.width` wide, into `into` when given (at
   * least win.width x win.height values) or a new array.
   */
  async read(win: Window, into?: Float32Array): Promise<Float32Array> {
    if (!this.finished) throw new Error(`${this.path}: read before finish`);
    const { colOff, rowOff, width, height } = win;
    if (
      colOff < 0 ||
      rowOff < 0 ||
      width < 0 ||
      height < 0 ||
      colOff + width > this.width ||
      rowOff + height > this.height
    )
      throw new Error(
        `${this.path}: window ${JSON.stringify(win)} outside the ${this.width} x ${this.height} raster`,
      );
    const out = into ?? new Float32Array(width * height);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, width * height * 4);
    if (width === this.width) {
      await this.readFully(bytes, 0, bytes.length, rowOff * this.width * 4);
      return out;
    }
    // Whole rows, a few at a time (one read each, at most READ_CHUNK_BYTES or one row), then the
    // window's columns copied out: one system call per chunk rather than one per row.
    const rowBytes = this.width * 4;
    const chunkRows = Math.max(1, Math.min(height, Math.floor(READ_CHUNK_BYTES / rowBytes)));
    if (this.chunk.length < chunkRows * this.width) this.chunk = new Float32Array(chunkRows * this.width);
    const chunk = this.chunk;
    const chunkBytes = new Uint8Array(chunk.buffer, 0, chunkRows * rowBytes);
    for (let r0 = 0; r0 < height; r0 += chunkRows) {
      const rows = Math.min(chunkRows, height - r0);
      await this.readFully(chunkBytes, 0, rows * rowBytes, (rowOff + r0) * rowBytes);
      for (let r = 0; r < rows; r++) {
        const s = r * this.width + colOff;
        out.set(chunk.subarray(s, s + width), (r0 + r) * width);
      }
    }
    return out;
  }

  private async readFully(buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, offset + done, length - done, position + done);
      if (bytesRead === 0) throw new Error(`${this.path}: unexpected end of file at byte ${position + done}`);
      done += bytesRead;
    }
  }

  /** Close and delete the raster (complete or partial). */
  async remove(): Promise<void> {
    await this.fh.close().catch(() => {});
    await rm(this.partial, { force: true });
    await rm(this.path, { force: true });
  }
}
