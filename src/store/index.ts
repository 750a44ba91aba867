/**
 * The store stage's public door: `openStore(url)` picks the adapter from the URL and returns a migrated
 * store. `sqlite:<path>`, a plain path or `:memory:` open the embedded SQLite store; `postgres://` is
 * reserved for the scale-out adapter, which does not exist yet and says so instead of failing later.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UnavailableError, ValidationError } from '../core/errors.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export type * from './types.js';
export { SqliteStore } from './sqlite/store.js';

/** Parses a store URL into the adapter and its target; exported for config validation. */
export function parseStoreUrl(url: string): { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string } {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new ValidationError('store url must not be empty', [{ path: 'db', message: 'must not be empty' }]);
  }
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url };
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') : url;
  if (path === '') throw new ValidationError('sqlite store url has no path', [{ path: 'db', message: 'expected sqlite:<path>' }]);
  return { kind: 'sqlite', path };
}

/** Opens the store named by `url` and applies pending migrations. */
export async function openStore(url: string): Promise<Store> {
  const target = parseStoreUrl(url);
  if (target.kind === 'postgres') {
    throw new UnavailableError('postgres adapter not built yet', [
      { path: 'db', message: 'use a SQLite path (sqlite:<path>) until the postgres adapter lands' },
    ]);
  }
  if (target.path !== ':memory:') mkdirSync(dirname(resolve(target.path)), { recursive: true });
  const store = new SqliteStore(target.path);
  try {
    await store.migrate();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
