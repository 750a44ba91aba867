import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runStoreConformance } from '../conformance.js';
import { openStore, parseStoreUrl, SqliteStore } from '../index.js';
import { MIGRATIONS } from './migrations.js';
import { UnavailableError, ValidationError } from '../../core/errors.js';

const root = mkdtempSync(join(tmpdir(), 'tm-sqlite-'));
let n = 0;

runStoreConformance('sqlite file', async () => {
  const path = join(root, `db-${n++}`, 'store.db');
  return {
    store: await openStore(`sqlite:${path}`),
    reopen: () => openStore(path),
    dispose: async () => rmSync(join(path, '..'), { recursive: true, force: true }),
  };
});

runStoreConformance('sqlite :memory:', async () => ({ store: await openStore(':memory:') }));

test('file store runs in WAL mode with synchronous=NORMAL and records migrations', async () => {
  const path = join(root, 'pragma.db');
  const s = (await openStore(path)) as SqliteStore;
  assert.deepEqual(s.appliedMigrations(), MIGRATIONS.map((m) => m.version));
  await s.close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

test('a later migration is applied once, on top of existing data', async () => {
  const s = (await openStore(join(root, 'mig.db'))) as SqliteStore;
  await s.setMeta('k', 'v');
  const next = [...MIGRATIONS, { version: 99, name: 'extra', sql: 'CREATE TABLE extra (x INTEGER)' }];
  await s.migrate(next);
  await s.migrate(next);
  assert.deepEqual(s.appliedMigrations().at(-1), 99);
  assert.equal(await s.getMeta('k'), 'v');
  await s.close();
});

test('store urls: sqlite:, plain path, :memory:, postgres unavailable, empty invalid', async () => {
  assert.deepEqual(parseStoreUrl('sqlite:/tmp/x.db'), { kind: 'sqlite', path: '/tmp/x.db' });
  assert.deepEqual(parseStoreUrl('sqlite:///tmp/x.db'), { kind: 'sqlite', path: '/tmp/x.db' });
  assert.deepEqual(parseStoreUrl('data/x.db'), { kind: 'sqlite', path: 'data/x.db' });
  assert.deepEqual(parseStoreUrl(':memory:'), { kind: 'sqlite', path: ':memory:' });
  await assert.rejects(openStore('postgres://h/db'), (e: unknown) => e instanceof UnavailableError && /postgres adapter not built yet/.test(e.message));
  assert.throws(() => parseStoreUrl(''), ValidationError);
  assert.throws(() => parseStoreUrl('sqlite:'), ValidationError);
});

test('scan limits are bounded', async () => {
  const s = await openStore(':memory:');
  await assert.rejects(s.scanItems({ limit: 1_000_000 }), ValidationError);
  await assert.rejects(s.userEvents('u', 0), ValidationError);
  await s.close();
});
