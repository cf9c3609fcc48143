import { runCli } from '../../src/cli/main.js';

/** Run the CLI in-process, capturing what it writes to stdout and stderr. */
export async function runCapture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stderr = '';
  let stdout = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await runCli(args, { stderr: (s) => (stderr += s) });
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = orig;
  }
}
