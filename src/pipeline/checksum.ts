import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { FormatError, NotFoundError, ValidationError } from '../errors.js';

/** The content checksum of an arrived product (a file, or a folder such as an unzipped SAFE). */
export interface ProductChecksum {
  /** SHA-256, hex: of the file's bytes, or of a folder's listing (see productChecksum). */
  sha256: string;
  sizeBytes: number;
  kind: 'file' | 'folder';
  /** Files read (1 for a file). */
  files: number;
}

/** Bytes read so far of the bytes to read, after each chunk. */
export type BytesProgress = (doneBytes: number, totalBytes: number) => void;

async function fileSha256(path: string, onChunk?: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    onChunk?.((chunk as Buffer).length);
  }
  return hash.digest('hex');
}

/** Every regular file under `dir`, as paths relative to it with '/' separators, sorted by code unit. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
      else throw new FormatError(p, 'a product folder may hold only files and folders (no links or devices)');
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * The content checksum of a product: for a file, the SHA-256 of its bytes (what `sha256sum` prints);
 * for a folder, the SHA-256 of its listing, one line `<relative path>\t<size>\t<sha256 of the file>\n`
 * per regular file in code-unit order of the paths ('/' separators), so the same files under another
 * folder name give the same checksum and a changed, added, removed or renamed file another.
 * `onProgress` is told the bytes read after each chunk, of the product's total.
 * @throws NotFoundError when the path does not exist; FormatError for a link, device or empty folder
 */
export async function productChecksum(
  path: string,
  opts: { onProgress?: BytesProgress } = {},
): Promise<ProductChecksum> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch {
    throw new NotFoundError(`${path}: no such product (file or folder)`);
  }
  if (st.isFile()) {
    if (st.size === 0) throw new FormatError(path, 'is empty (0 bytes): not a product');
    let done = 0;
    const sha256 = await fileSha256(path, (n) => {
      done += n;
      opts.onProgress?.(done, st.size);
    });
    return { sha256, sizeBytes: st.size, kind: 'file', files: 1 };
  }
  if (!st.isDirectory()) throw new FormatError(path, 'is neither a regular file nor a folder');
  const files = await filesUnder(path);
  if (files.length === 0) throw new FormatError(path, 'is an empty folder: not a product');
  const listing = createHash('sha256');
  const sizes: number[] = [];
  for (const f of files) sizes.push((await lstat(join(path, ...f.split('/')))).size);
  const sizeBytes = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const onChunk = (n: number) => {
    done += n;
    opts.onProgress?.(done, sizeBytes);
  };
  for (const [k, f] of files.entries()) {
    const p = join(path, ...f.split('/'));
    listing.update(`${f}\t${sizes[k]}\t${await fileSha256(p, onChunk)}\n`);
  }
  return { sha256: listing.digest('hex'), sizeBytes, kind: 'folder', files: files.length };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A SHA-256 given by a provider, checked: 64 hex digits, or a `sha256sum` line ('<hex>  <name>'). */
export function parseSha256(text: string, field: string): string {
  const first = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (!HEX64.test(first))
    throw new ValidationError(
      `${field}: expected a SHA-256 (64 hex digits), got '${text.trim().slice(0, 80)}'`,
    );
  return first;
}

/**
 * The checksum a provider delivered beside a product: `<product>.sha256` (a `sha256sum` line or the
 * bare digest), or null when there is none.
 */
export async function sidecarSha256(path: string): Promise<{ sha256: string; source: string } | null> {
  const side = `${path.replace(/\/+$/, '')}.sha256`;
  let text: string;
  try {
    text = await readFile(side, 'utf8');
  } catch {
    return null;
  }
  return { sha256: parseSha256(text, side), source: side };
}
