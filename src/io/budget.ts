import { FormatError, ValidationError } from '../errors.js';

/**
 * Memory budgets: how much a single block decode, a whole command and a metadata file may take.
 * A file that would need more is refused with an error that names it and the budget, before anything
 * that large is allocated.
 */

export const MiB = 1024 * 1024;

/** Bytes one TIFF block (tile or strip) may decode to, and the decodes of one read hold at once (256 MiB). */
export const DEFAULT_DECODE_BUDGET_BYTES = 256 * MiB;

/** Bytes a whole-raster command (`ard`, `calibrate`, ...) may hold in rasters at once (4 GiB: a full IW GRDH fits). */
export const DEFAULT_COMMAND_BUDGET_BYTES = 4 * 1024 * MiB;

/** Bytes of one metadata file (SAFE annotation, calibration, noise, manifest; SICD XML) read into memory (64 MiB). */
export const DEFAULT_METADATA_LIMIT_BYTES = 64 * MiB;

/** A byte count for messages: "1024 MiB", "1.56 MiB", or "4096 bytes" under 1 MiB. */
export function fmtMiB(bytes: number): string {
  if (bytes < MiB) return `${bytes} bytes`;
  const m = bytes / MiB;
  return `${Number.isInteger(m) || m >= 100 ? Math.round(m) : Number(m.toPrecision(3))} MiB`;
}

/** A size for messages: "2861 MiB (3000000000 bytes)", or "4096 bytes". */
export function fmtSize(bytes: number): string {
  return bytes < MiB ? `${bytes} bytes` : `${fmtMiB(bytes)} (${bytes} bytes)`;
}

/** Throws a ValidationError if `budget` is not a positive finite number of bytes. */
export function checkBudget(name: string, budget: number): number {
  if (!(budget > 0) || !Number.isFinite(budget))
    throw new ValidationError(`${name} must be a positive number of bytes, got ${budget}`);
  return budget;
}

/**
 * Refuse a command whose rasters would need more than `budgetBytes` at once.
 * @param file the input named in the message
 * @param what what is being done, e.g. "ard on a 16384 x 16384 float32 raster"
 * @param neededBytes estimate of the bytes held at once
 * @example assertCommandBudget('x.tif', 'ard on 16384 x 16384 pixels', 4 * 2 ** 30, 2 * 2 ** 30)
 * // throws "x.tif: ard on 16384 x 16384 pixels needs about 4096 MiB, over the 2048 MiB memory budget (--max-memory)"
 */
export function assertCommandBudget(
  file: string,
  what: string,
  neededBytes: number,
  budgetBytes: number,
): void {
  checkBudget('maxMemoryBytes', budgetBytes);
  if (neededBytes > budgetBytes)
    throw new ValidationError(
      `${file}: ${what} needs about ${fmtMiB(neededBytes)}, over the ${fmtMiB(budgetBytes)} memory budget (raise it with --max-memory <MiB>, or crop the input)`,
    );
}

/** Refuse a metadata file larger than the limit (`size` from a stat or a zip's central directory). */
export function assertMetadataSize(file: string, size: number, limitBytes: number): void {
  checkBudget('maxMetadataBytes', limitBytes);
  if (size > limitBytes)
    throw new FormatError(
      file,
      `metadata file is ${fmtSize(size)}, over the ${fmtMiB(limitBytes)} limit for metadata files`,
    );
}

/** The memory options of a command (`sarbridge cog`, `ard`, ...). */
export interface CommandBudgetOptions {
  /** Bytes the command may hold in rasters at once (default 2 GiB; the CLI's --max-memory, in MiB). */
  maxMemoryBytes?: number;
  /** Bytes one TIFF block may decode to (default an eighth of maxMemoryBytes: 256 MiB). */
  decodeBudgetBytes?: number;
}

/** The command budget and the block decode budget of a command's options, checked. */
export function commandBudgets(o: CommandBudgetOptions): { memoryBytes: number; decodeBytes: number } {
  const memoryBytes = checkBudget('maxMemoryBytes', o.maxMemoryBytes ?? DEFAULT_COMMAND_BUDGET_BYTES);
  const decodeBytes = checkBudget('decodeBudgetBytes', o.decodeBudgetBytes ?? Math.floor(memoryBytes / 8));
  return { memoryBytes, decodeBytes };
}
