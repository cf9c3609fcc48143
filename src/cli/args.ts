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

/** Print a JSON document on stdout (non-finite numbers as strings). */
export function write(obj: unknown): void {
  process.stdout.write(
    `${JSON.stringify(obj, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`,
  );
}

export function distinct(input: string, output: string): void {
  if (input === output) throw new ValidationError('<out> must differ from <in>');
}
