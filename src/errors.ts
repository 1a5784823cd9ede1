/**
 * The error family. Every failure that a user can cause (a bad file, a bad option, data that
 * does not fit the model) is one of these, so the CLI can print one line and pick the exit
 * status, and library callers can branch on `code` or the class instead of parsing messages.
 */

export type ErrorCode = "FORMAT" | "SHAPE" | "DATA" | "USAGE" | "IO";

/** Where an error happened, for messages and for callers that want to point at the culprit. */
export interface ErrorContext {
  /** The file the bytes came from, when known. */
  file?: string | undefined;
  /** The archive member, array key or JSON key at fault. */
  key?: string | undefined;
  /** The command-line option at fault. */
  option?: string | undefined;
}

/** What an error takes besides its message: where, and what caused it. */
export interface ErrorOptions extends ErrorContext {
  cause?: unknown;
}

/** Base class: `code` says which kind, the context fields say where. */
export class FednTfjsError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly key: string | undefined;
  readonly option: string | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.file = options.file;
    this.key = options.key;
    this.option = options.option;
  }
}

/** Bytes that are not what their format (npy, npz, zip, JSON, IDX, fedn.yaml) requires. */
export class FormatError extends FednTfjsError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("FORMAT", message, options);
  }
}

/** A well-formed array whose count, shape or dtype does not fit where it is used. */
export class ShapeError extends FednTfjsError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("SHAPE", message, options);
  }
}

/** A data set that cannot be trained or validated on: missing keys, bad labels, NaN weights. */
export class DataError extends FednTfjsError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("DATA", message, options);
  }
}

/** A command line or option value that cannot be used; the CLI exits 2 for these. */
export class UsageError extends FednTfjsError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("USAGE", message, options);
  }
}

/** A file that cannot be read or written (missing, a directory, permissions). */
export class IoError extends FednTfjsError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("IO", message, options);
  }
}

export function isFednTfjsError(error: unknown): error is FednTfjsError {
  return error instanceof FednTfjsError;
}
