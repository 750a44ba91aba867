/**
 * Every error leaves the server in one JSON shape, `{error, message, issues?}` (TastemakerError.toJSON).
 * Our own errors carry their status; fastify's (body too large, bad media type, bad URL, …) are mapped
 * by their 4xx status; anything else is an internal error whose details go to the log, not the client.
 * Bad input must never produce a 5xx, so the JSON body parser below turns every way a body can be
 * malformed (not UTF-8, not JSON, prototype-polluting keys) into a 400 naming the problem.
 */
import { ZodError } from 'zod';
import { ValidationError, issuesFromSchema, isTastemakerError } from '../core/errors.js';

export interface ErrorResponse {
  status: number;
  body: { error: string; message: string; issues?: { path: string; message: string }[] };
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'unavailable',
};

/** Clearer wording for fastify's own client errors, keyed by their `code`. */
const FASTIFY_MESSAGES: Record<string, (e: { message: string }) => string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => 'request body is larger than the configured limit (limits.bodyLimitBytes)',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => 'unsupported Content-Type: send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => 'Content-Length does not match the body received',
  FST_ERR_CTP_EMPTY_JSON_BODY: () => 'request body is empty: expected JSON',
  FST_ERR_BAD_URL: () => 'malformed URL: a path segment has invalid percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: () => 'a path segment is too long (ids are at most 256 characters)',
  FST_ERR_ASYNC_CONSTRAINT: (e) => e.message,
};

export function toErrorResponse(err: unknown): ErrorResponse {
  if (isTastemakerError(err)) return { status: err.status, body: err.toJSON() };
  if (err instanceof ZodError) {
    const v = new ValidationError(
      'invalid input',
      issuesFromSchema(err.issues),
    );
    return { status: 400, body: v.toJSON() };
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown } | null;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = typeof e?.code === 'string' ? e.code : '';
    const raw = typeof e?.message === 'string' ? e.message : 'bad request';
    const message = FASTIFY_MESSAGES[code]?.({ message: raw }) ?? raw;
    return { status, body: { error: CODE_BY_STATUS[status] ?? 'bad_request', message } };
  }
  if (status === 503) return { status, body: { error: 'unavailable', message: 'service unavailable' } };
  return { status: 500, body: { error: 'internal', message: 'internal error; see the server log' } };
}

/**
 * The answer to an error node raises on the socket before fastify has a request (the `clientError`
 * event): a request not fully received within limits.requestTimeoutMs (408), headers over the size
 * limit (431), or bytes that are not HTTP (400).
 */
export function clientErrorResponse(err: unknown, requestTimeoutMs: number): ErrorResponse {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      body: { error: 'timeout', message: `request not received in full within ${requestTimeoutMs} ms (limits.requestTimeoutMs)` },
    };
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, body: { error: 'headers_too_large', message: 'request headers are larger than the server accepts' } };
  }
  return { status: 400, body: { error: 'invalid_input', message: 'malformed HTTP request' } };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
/** Cheap pre-check (as secure-json-parse does): only bodies naming these keys need the slow scan. */
const SUSPICIOUS_KEYS = /"(?:__proto__|constructor|prototype)"\s*:/;

/**
 * Decodes a request body as strict UTF-8 and parses it as JSON. Rejects `__proto__` keys anywhere, which
 * would otherwise reach objects built from the body (attributes, context) and change their prototype.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new ValidationError('request body is empty: expected JSON', [{ path: '(body)', message: 'empty' }]);
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new ValidationError('request body is not valid UTF-8', [{ path: '(body)', message: 'invalid UTF-8 byte sequence' }]);
  }
  try {
    if (!SUSPICIOUS_KEYS.test(text)) return JSON.parse(text);
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__') throw new ProtoKeyError();
      return value;
    });
  } catch (e) {
    if (e instanceof ProtoKeyError) {
      throw new ValidationError('request body uses the forbidden key "__proto__"', [{ path: '(body)', message: 'forbidden key __proto__' }]);
    }
    const detail = e instanceof Error ? e.message : String(e);
    throw new ValidationError(`request body is not valid JSON: ${detail}`, [{ path: '(body)', message: detail }]);
  }
}

class ProtoKeyError extends Error {}
