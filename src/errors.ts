/**
 * The one error hierarchy of sarbridge. Library code always throws one of these;
 * the CLI maps them to exit codes and the server (later) to HTTP statuses in one table.
 */
export class SarbridgeError extends Error {
  /** Stable machine-readable code, e.g. for an API's JSON error body. */
  readonly code: string = 'Error';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A parameter or value given by the caller is not acceptable. */
export class ValidationError extends SarbridgeError {
  override readonly code: string = 'ValidationError';
}

/** A file or byte stream does not follow the format it claims to be. */
export class FormatError extends SarbridgeError {
  override readonly code: string = 'FormatError';
  /** The file (or source name) that is malformed. */
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
  }
}

/** A file, item or resource that was asked for does not exist. */
export class NotFoundError extends SarbridgeError {
  override readonly code: string = 'NotFound';
}

/** The format is valid but uses a feature sarbridge does not implement. */
export class UnsupportedError extends FormatError {
  override readonly code: string = 'Unsupported';
}

/** The caller may not see or do this. */
export class ForbiddenError extends SarbridgeError {
  override readonly code: string = 'Forbidden';
}

/** The thing to create exists already (HTTP 409). */
export class ConflictError extends SarbridgeError {
  override readonly code: string = 'Conflict';
}
