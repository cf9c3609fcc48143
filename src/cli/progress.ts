import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { CommanderError, Option } from 'commander';
import { ConfigError } from '../config/load.js';
import { FormatError, NotFoundError, SarbridgeError, UnsupportedError, ValidationError } from '../errors.js';

/**
 * How a command talks to its operator: progress bars with an ETA on a terminal, plain lines when
 * stderr is not a terminal (logs, CI), JSON lines with --json (progress, then the result, on stdout),
 * nothing but errors with --quiet; errors are one line with a hint, and the exit codes are
 * 0 ok, 1 the work failed (including a product or file that turns out to be bad), 2 the command was
 * called wrongly (unknown or bad option, bad setting, missing argument).
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The command was called wrongly: exit code 2 (a bad option value, a missing or extra argument). */
export class UsageError extends ValidationError {
  override readonly code: string = 'UsageError';
}

export type OutputMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface OutputStreams {
  /** Results (and, with --json, every line). */
  stdout: (s: string) => void;
  /** Progress and errors. */
  stderr: (s: string) => void;
  /** A terminal's stream for the progress bar (default process.stderr when it is a TTY). */
  tty?: NodeJS.WritableStream | null;
}

const defaultStreams = (): OutputStreams => ({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  tty: process.stderr.isTTY ? process.stderr : null,
});

/** --json: JSON lines on stdout (progress events, then the result). */
export function jsonOption(): Option {
  return new Option('--json', 'JSON lines on stdout: progress events, then the result').conflicts('quiet');
}

/** --quiet: only errors. */
export function quietOption(): Option {
  return new Option('--quiet', 'no progress and no result, only errors (on stderr)');
}

/** --json and --quiet on a command. */
export function addOutputOptions(cmd: Command): Command {
  return cmd.addOption(jsonOption()).addOption(quietOption());
}

export interface ProgressReporter {
  /** `done` of the total, and what was just done. */
  update(done: number, message?: string): void;
  /** Finish the bar or print the last line. */
  finish(message?: string): void;
}

/** Seconds as "42 s", "3 min 5 s". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Plain progress lines: the first, one per 10% or 5 s, and the last. */
const PLAIN_EVERY_MS = 5000;
/** JSON progress events: at most 10 a second (and always the last). */
const JSON_EVERY_MS = 100;

export class Output {
  readonly mode: OutputMode;
  private readonly io: OutputStreams;

  constructor(
    opts: { json?: boolean; quiet?: boolean },
    io: Partial<OutputStreams> = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    const d = defaultStreams();
    this.io = {
      stdout: io.stdout ?? d.stdout,
      stderr: io.stderr ?? d.stderr,
      tty: 'tty' in io ? io.tty : d.tty,
    };
    this.mode = opts.json ? 'json' : opts.quiet ? 'quiet' : this.io.tty ? 'tty' : 'plain';
  }

  /** A progress reporter for `task` over `total` steps. */
  progress(task: string, total: number): ProgressReporter {
    const t0 = this.now();
    let last = -Infinity;
    let lastDecile = -1;
    let done = 0;
    const eta = (d: number) => {
      const elapsed = (this.now() - t0) / 1000;
      return d > 0 ? (elapsed / d) * (total - d) : Number.NaN;
    };
    if (this.mode === 'quiet') return { update: () => {}, finish: () => {} };
    if (this.mode === 'tty') {
      const bar = new cliProgress.SingleBar(
        {
          stream: this.io.tty as NodeJS.WritableStream,
          format: `${task} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {message}`,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { message: '' });
      return {
        update: (d, message = '') => {
          done = d;
          bar.update(d, { message });
        },
        finish: (message = '') => {
          bar.update(done, { message });
          bar.stop();
        },
      };
    }
    if (this.mode === 'json') {
      const emit = (d: number, message: string | undefined, final: boolean) => {
        const t = this.now();
        if (!final && t - last < JSON_EVERY_MS) return;
        last = t;
        const e = eta(d);
        this.io.stdout(
          `${JSON.stringify({
            type: 'progress',
            task,
            done: d,
            total,
            ...(Number.isFinite(e) ? { etaS: Math.round(e * 10) / 10 } : {}),
            ...(message ? { message } : {}),
          })}\n`,
        );
      };
      return {
        update: (d, m) => {
          done = d;
          emit(d, m, d >= total);
        },
        finish: () => {},
      };
    }
    return {
      update: (d, message) => {
        done = d;
        const t = this.now();
        const decile = Math.floor((10 * d) / Math.max(1, total));
        if (d < total && t - last < PLAIN_EVERY_MS && decile === lastDecile) return;
        last = t;
        lastDecile = decile;
        const pct = Math.round((100 * d) / Math.max(1, total));
        const e = d < total ? `, ETA ${formatEta(eta(d))}` : '';
        this.io.stderr(`sarbridge: ${task}: ${d}/${total} (${pct}%)${e}${message ? `: ${message}` : ''}\n`);
      },
      finish: () => {},
    };
  }

  /** The command's result: pretty JSON on stdout, one JSON line with --json, nothing with --quiet. */
  result(obj: Record<string, unknown>): void {
    if (this.mode === 'quiet') return;
    const safe = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
    if (this.mode === 'json') this.io.stdout(`${JSON.stringify({ type: 'result', ...obj }, safe)}\n`);
    else this.io.stdout(`${JSON.stringify(obj, safe, 2)}\n`);
  }
}

/** The exit code of an error: 2 for a wrong call, 1 for work that failed. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError)
    return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)
      ? EXIT_OK
      : EXIT_USAGE;
  if (err instanceof UsageError || err instanceof ConfigError) return EXIT_USAGE;
  return EXIT_FAILED;
}

/** What to try next, per kind of error. */
export function hintFor(err: unknown, command = 'sarbridge'): string | null {
  if (err instanceof ConfigError)
    return `fix the setting named (flags > SARBRIDGE_* variables > --config file); ${command} --help lists them`;
  if (err instanceof UsageError) return `run ${command} --help for usage`;
  if (err instanceof UnsupportedError)
    return 'the format is valid but uses a feature sarbridge does not read';
  if (err instanceof FormatError)
    return 'the file is kept as it is; sarbridge info <file> shows what can be read';
  if (err instanceof NotFoundError) return 'check the path or id';
  if (err instanceof SarbridgeError) return null;
  return 'this is a bug in sarbridge: set SARBRIDGE_DEBUG=1 for the stack trace and report it';
}

/**
 * Write an error as one line on stderr (or, with --json, one JSON line `{"type":"error", ...}`) and
 * return its exit code. Commander's own usage messages are already written; they only get the code.
 * A SarbridgeError prints its message (which names the file, field or parameter), other errors are
 * internal ("internal error: ..."), with their stack only when `debug`.
 */
export function reportError(
  err: unknown,
  stderr: (s: string) => void,
  opts: { json?: boolean; debug?: boolean; command?: string } = {},
): number {
  const code = exitCodeOf(err);
  if (err instanceof CommanderError) return code;
  const known = err instanceof SarbridgeError;
  const message = known
    ? (err as Error).message
    : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  const hint = hintFor(err, opts.command);
  if (opts.json) {
    stderr(
      `${JSON.stringify({ type: 'error', error: known ? (err as SarbridgeError).code : 'InternalError', message, ...(hint ? { hint } : {}), exitCode: code })}\n`,
    );
  } else {
    const oneLine = message.replace(/\s*\n\s*/g, ' ');
    stderr(`sarbridge: ${oneLine}${hint ? ` (hint: ${hint})` : ''}\n`);
  }
  if (opts.debug && err instanceof Error && err.stack) stderr(`${err.stack}\n`);
  return code;
}
