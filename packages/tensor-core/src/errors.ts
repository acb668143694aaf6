// One base error class for all of meld. The Symbol.for marker makes `MeldError.isInstance`
// work even when two copies of @meld/tensor-core are installed side by side.
const marker = Symbol.for('meld.error');

export class MeldError extends Error {
  readonly [marker] = true;
  /** Stable machine-readable code, e.g. 'format', 'shape-mismatch'. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeldError';
    this.code = code;
  }

  static isInstance(error: unknown): error is MeldError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

/** A file could not be parsed: names the file and the field (or byte offset) that is wrong. */
export class FormatError extends MeldError {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, message: string, options?: { cause?: unknown }) {
    super('format', `${file}: ${field}: ${message}`, options);
    this.name = 'FormatError';
    this.file = file;
    this.field = field;
  }
}

export class ShapeMismatchError extends MeldError {
  readonly expected: readonly number[];
  readonly actual: readonly number[];
  constructor(what: string, expected: readonly number[], actual: readonly number[]) {
    super('shape-mismatch', `${what}: expected shape [${expected.join(', ')}], got [${actual.join(', ')}]`);
    this.name = 'ShapeMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

export class DTypeError extends MeldError {
  readonly dtype: string;
  constructor(dtype: string, message: string) {
    super('dtype', `${dtype}: ${message}`);
    this.name = 'DTypeError';
    this.dtype = dtype;
  }
}

/** An options object, config or parameter failed validation; `path` names the offending field. */
export class ValidationError extends MeldError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('validation', `${path}: ${message}`, options);
    this.name = 'ValidationError';
    this.path = path;
  }
}
