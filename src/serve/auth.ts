/**
 * API-key authentication with two roles. `admin` may do everything (writes, deletes, admin routes);
 * `client` may read and ask for recommendations. Keys are compared as SHA-256 digests with
 * `timingSafeEqual` against every configured key (no early exit), so response time does not reveal how
 * much of a guessed key was right, nor which key matched.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ForbiddenError, UnauthorizedError } from '../core/errors.js';

export type Role = 'admin' | 'client';
/** What a route requires: `open` routes (health, metrics, OpenAPI) need no key. */
export type Access = Role | 'open';

const MAX_KEY_HEADER_LENGTH = 1_024;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class KeyRing {
  private readonly digests: Buffer[];
  private readonly roles: Role[];

  constructor(adminKeys: readonly string[], clientKeys: readonly string[]) {
    this.digests = [...adminKeys, ...clientKeys].map(digest);
    this.roles = [...adminKeys.map((): Role => 'admin'), ...clientKeys.map((): Role => 'client')];
  }

  get size(): number {
    return this.digests.length;
  }

  /** The role of `key`, or undefined when no configured key matches. Admin wins if a key has both. */
  roleOf(key: string): Role | undefined {
    const d = digest(key);
    let role: Role | undefined;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(d, this.digests[i]) && role !== 'admin') role = this.roles[i];
    }
    return role;
  }
}

/** The key from `Authorization: Bearer <key>` or, failing that, `x-api-key`. */
export function extractKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.length > 0) {
    if (auth.length > MAX_KEY_HEADER_LENGTH) throw new UnauthorizedError('Authorization header is too long');
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth);
    if (!m) {
      throw new UnauthorizedError('Authorization header must be "Bearer <key>"', [
        { path: 'headers.authorization', message: 'expected the Bearer scheme' },
      ]);
    }
    return m[1];
  }
  const x = headers['x-api-key'];
  const key = Array.isArray(x) ? x[0] : x;
  if (typeof key === 'string' && key.length > 0) {
    if (key.length > MAX_KEY_HEADER_LENGTH) throw new UnauthorizedError('x-api-key header is too long');
    return key.trim();
  }
  return undefined;
}

/** Throws 401 for a missing or unknown key and 403 when the key's role is insufficient. */
export function authorize(keys: KeyRing, access: Access, headers: IncomingHttpHeaders): Role | undefined {
  if (access === 'open') return undefined;
  const key = extractKey(headers);
  if (key === undefined) {
    throw new UnauthorizedError('missing API key: send "Authorization: Bearer <key>" or "x-api-key: <key>"');
  }
  const role = keys.roleOf(key);
  if (role === undefined) throw new UnauthorizedError('unknown API key');
  if (access === 'admin' && role !== 'admin') throw new ForbiddenError('this route needs an admin key; the key given has the client role');
  return role;
}

/** A fresh random key (32 bytes, base64url), prefixed with its role so a leaked key is recognisable. */
export function generateApiKey(role: Role): string {
  return `tm_${role}_${randomBytes(32).toString('base64url')}`;
}
