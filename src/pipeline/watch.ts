import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipelineContext } from './context.js';
import { type IngestOptions, type IngestResult, ingest } from './ingest.js';

export interface WatchOptions extends IngestOptions {
  /** How often the folder is looked at, ms (default 1000). */
  intervalMs?: number;
  /** A product is taken once its size and modification time have not changed for this long, ms (default 2000). */
  stableMs?: number;
  signal?: AbortSignal;
  /** Called with each product taken. */
  onIngest?: (r: IngestResult) => void;
}

/** Names in a drop folder that are not products: hidden files, partial uploads, checksum and metadata sidecars. */
export function isProductName(name: string): boolean {
  return !(
    name.startsWith('.') ||
    /\.(part|partial|tmp|crdownload|sha256|json)$/i.test(name) ||
    name.includes('.tmp-')
  );
}

/** Size, newest modification and entry count of a file or folder (recursively). */
async function fingerprint(path: string): Promise<string> {
  const st = await stat(path);
  if (!st.isDirectory()) return `${st.size}:${st.mtimeMs}`;
  let size = 0;
  let mtime = st.mtimeMs;
  let n = 0;
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const s = await stat(join(d, e.name));
      n++;
      mtime = Math.max(mtime, s.mtimeMs);
      if (e.isDirectory()) await walk(join(d, e.name));
      else size += s.size;
    }
  };
  await walk(path);
  return `${size}:${mtime}:${n}`;
}

/**
 * Watch a drop folder: every entry (a file or a SAFE folder) is ingested once it has stopped growing
 * (same size, modification time and file count for `stableMs`), with the folder's label. Polls (works
 * on network file systems, where change notifications do not); resolves when `signal` aborts.
 * Products left in the folder are looked at again after a restart and add nothing (same content).
 */
export async function watchDropFolder(
  ctx: PipelineContext,
  dir: string,
  opts: WatchOptions = {},
): Promise<void> {
  const intervalMs = opts.intervalMs ?? 1000;
  const stableMs = opts.stableMs ?? 2000;
  const seen = new Map<string, { print: string; since: number }>();
  const taken = new Map<string, string>();
  const labelSource = opts.labelSource ?? 'drop-folder';
  while (!opts.signal?.aborted) {
    let names: string[] = [];
    try {
      names = (await readdir(dir)).filter(isProductName);
    } catch (err) {
      ctx.log?.(`drop folder ${dir}: ${(err as Error).message}`);
    }
    const now = Date.now();
    for (const name of names) {
      const path = join(dir, name);
      let print: string;
      try {
        print = await fingerprint(path);
      } catch {
        continue; // removed or renamed meanwhile
      }
      if (taken.get(path) === print) continue;
      const s = seen.get(path);
      if (!s || s.print !== print) {
        seen.set(path, { print, since: now });
        continue;
      }
      if (now - s.since < stableMs) continue;
      const [r] = await ingest(ctx, [path], { ...opts, labelSource });
      taken.set(path, print);
      seen.delete(path);
      opts.onIngest?.(r);
    }
    await new Promise<void>((done) => {
      const t = setTimeout(done, intervalMs);
      opts.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          done();
        },
        { once: true },
      );
    });
  }
}
