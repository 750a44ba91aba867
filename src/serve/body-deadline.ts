/**
 * A deadline for receiving a request body. Node's own `requestTimeout` is checked only every
 * `connectionsCheckingInterval` and, once the headers have been handed to fastify, did not answer a
 * stalled body at all in our tests (a client that promised `Content-Length: 100` and sent 10 bytes got
 * its 408 from the keep-alive machinery a minute later, in fastify's error shape). The body stream is
 * therefore passed through this transform (fastify `preParsing`): when it has not ended `timeoutMs` after
 * the request arrived, the stream fails with a 408 error, which the error handler answers in the
 * documented shape, and the connection is closed.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';

export class BodyTimeoutError extends Error {
  readonly statusCode = 408;
  readonly code = 'TM_BODY_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`request body not received in full within ${timeoutMs} ms (limits.requestTimeoutMs)`);
  }
}

/** `source` piped through a pass-through that errors with BodyTimeoutError after `timeoutMs`. */
export function withBodyDeadline(source: Readable, timeoutMs: number): Transform {
  const out = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      done(null, chunk);
    },
  });
  const timer = setTimeout(() => {
    source.unpipe(out);
    out.destroy(new BodyTimeoutError(timeoutMs));
  }, timeoutMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  out.once('end', clear);
  out.once('close', clear);
  source.once('error', (e) => out.destroy(e));
  source.once('aborted', clear);
  source.pipe(out);
  return out;
}
