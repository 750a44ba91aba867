/**
 * Strict query-string parsing. fastify's default parser keeps a value whose percent-encoding is broken
 * (`?exclude=%E0%A4` arrived as the literal text `%E0%A4`), so a malformed request was answered 200.
 * Here every key and value must decode as UTF-8 (`+` is a space, as in HTML forms); the first one that
 * does not is a 400 naming the parameter. A repeated key becomes an array, which the route's zod schema
 * then rejects with the key named (`n: expected string`), as before.
 */
import { ValidationError } from '../core/errors.js';

function decode(s: string): string | undefined {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return undefined;
  }
}

/** The query of `url` (everything after the first `?`) as an object; throws ValidationError on bad encoding. */
export function parseQueryStrict(url: string): Record<string, string | string[]> {
  const q = url.indexOf('?');
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (q === -1) return out;
  for (const part of url.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    const key = decode(rawKey);
    if (key === undefined) {
      const shown = rawKey.length > 40 ? `${rawKey.slice(0, 40)}…` : rawKey;
      throw new ValidationError(`invalid query string: parameter name ${JSON.stringify(shown)} has invalid percent-encoding`, [
        { path: shown, message: 'invalid percent-encoding' },
      ]);
    }
    const value = decode(rawValue);
    if (value === undefined) {
      throw new ValidationError(`invalid query string: ${key}: invalid percent-encoding`, [{ path: key, message: 'invalid percent-encoding' }]);
    }
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}
