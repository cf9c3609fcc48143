import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** The built CLI (`npm run build` first). */
export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

/** Run the built CLI in a child process; resolves with its exit code and output. */
export function runBuiltCli(
  args: string[],
  o: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: o.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/**
 * Start a long-running CLI command (e.g. `serve`) and wait until its stdout holds a whole JSON
 * document (the command's first answer). The caller stops it with `stop()` (SIGTERM, then waits).
 */
export async function startBuiltCli(
  args: string[],
  o: { cwd?: string; timeoutMs?: number } = {},
): Promise<{
  child: ChildProcess;
  first: Record<string, unknown>;
  stderr: () => string;
  stop: () => Promise<number | null>;
}> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const first = await new Promise<Record<string, unknown>>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`no JSON on stdout within the time limit; stderr: ${stderr}`));
    }, o.timeoutMs ?? 60_000);
    child.stdout?.on('data', (d) => {
      stdout += d;
      try {
        const doc = JSON.parse(stdout);
        clearTimeout(timer);
        done(doc);
      } catch {
        // not complete yet
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`exited with ${code} before answering; stderr: ${stderr}`));
    });
  });
  return {
    child,
    first,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
