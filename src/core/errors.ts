/**
 * One small error hierarchy, mapped to HTTP status codes by `serve` and to exit codes by the CLI.
 * Every error carries a machine-readable `code` and, where it concerns input, the offending field path.
 */
export interface FieldIssue {
  /** JSON path of the offending field, e.g. `items[3].title` or `n`. */
  path: string;
  message: string;
}

export abstract class TastemakerError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly issues: FieldIssue[];
  constructor(message: string, issues: FieldIssue[] = []) {
    super(message);
    this.name = new.target.name;
    this.issues = issues;
  }
  toJSON(): { error: string; message: string; issues?: FieldIssue[] } {
    return { error: this.code, message: this.message, ...(this.issues.length ? { issues: this.issues } : {}) };
  }
}

/** 400: the input is malformed or violates a schema. */
export class ValidationError extends TastemakerError {
  readonly status = 400;
  readonly code = 'invalid_input';
}

/** 401: no or unknown credentials. */
export class UnauthorizedError extends TastemakerError {
  readonly status = 401;
  readonly code = 'unauthorized';
}

/** 403: credentials are valid but lack the role. */
export class ForbiddenError extends TastemakerError {
  readonly status = 403;
  readonly code = 'forbidden';
}

/** 404: the named entity does not exist. */
export class NotFoundError extends TastemakerError {
  readonly status = 404;
  readonly code = 'not_found';
}

/** 409: the request conflicts with current state. */
export class ConflictError extends TastemakerError {
  readonly status = 409;
  readonly code = 'conflict';
}

/** 413: the request or a batch is larger than the configured limit. */
export class PayloadTooLargeError extends TastemakerError {
  readonly status = 413;
  readonly code = 'payload_too_large';
}

/** 429: rate limited. */
export class RateLimitError extends TastemakerError {
  readonly status = 429;
  readonly code = 'rate_limited';
}

/** 503: a dependency (model, store) is not ready. */
export class UnavailableError extends TastemakerError {
  readonly status = 503;
  readonly code = 'unavailable';
}

/** Turns zod issues into field issues with dotted/indexed paths (`items[3].title`). */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** The parts of a schema (zod) issue needed to report it; structural so core holds no zod classes. */
export interface SchemaIssue {
  code?: string;
  path: ReadonlyArray<PropertyKey>;
  message: string;
  keys?: readonly string[];
  /** For a record key that failed its schema (`invalid_key`): the key's own issues. */
  issues?: readonly SchemaIssue[];
}

/**
 * Turns schema issues into field issues under `prefix`. An unknown key is reported at the key itself
 * (`items[4].colour: unknown field`), one issue per key, so a typo names the field the user wrote.
 */
export function issuesFromSchema(issues: readonly SchemaIssue[], prefix = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const i of issues) {
    if (i.code === 'unrecognized_keys' && i.keys && i.keys.length > 0) {
      for (const k of i.keys) out.push({ path: formatPath([...i.path, k], prefix), message: 'unknown field' });
    } else if (i.code === 'invalid_key' && i.issues && i.issues.length > 0) {
      // zod says only "Invalid key in record"; the key's own reason is what the user can act on.
      out.push({ path: formatPath(i.path, prefix), message: `key ${i.issues[0].message}` });
    } else {
      out.push({ path: formatPath(i.path, prefix), message: i.message });
    }
  }
  return out;
}

export function isTastemakerError(e: unknown): e is TastemakerError {
  return e instanceof TastemakerError;
}
