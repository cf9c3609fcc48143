import { InvalidArgumentError } from 'commander';
import { ValidationError } from '../errors.js';

/** Argument parsers and output helpers shared by the CLI's commands. */

export function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function positiveArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

export function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}`);
    return v as T;
  };
}

/** A number >= 0. */
export function nonNegativeArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number >= 0`);
    return n;
  };
}

/** How `write` prints a command's result: indented JSON (default), one JSON line (--json) or nothing (--quiet). */
export type ResultMode = 'pretty' | 'json' | 'quiet';
let resultMode: ResultMode = 'pretty';

/** Set by the program before a command runs, from its --json / --quiet. */
export function setResultMode(mode: ResultMode): void {
  resultMode = mode;
}

/** Print a command's result, a JSON document, on stdout (non-finite numbers as strings). */
export function write(obj: unknown): void {
  if (resultMode === 'quiet') return;
  const finite = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
  if (resultMode === 'pretty') {
    process.stdout.write(`${JSON.stringify(obj, finite, 2)}\n`);
    return;
  }
  // As Output.result: the result's fields beside type 'result' (under `result` when it is no plain
  // object or has a `type` of its own).
  const plain = obj !== null && typeof obj === 'object' && !Array.isArray(obj) && !('type' in obj);
  process.stdout.write(
    `${JSON.stringify(plain ? { type: 'result', ...obj } : { type: 'result', result: obj }, finite)}\n`,
  );
}

export function distinct(input: string, output: string): void {
  if (input === output) throw new ValidationError('<out> must differ from <in>');
}
