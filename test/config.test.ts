// Configuration precedence, validation errors naming the field, and masking of secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, printConfig } from '../src/core/config.js';
import { ValidationError } from '../src/core/errors.js';

test('defaults, then file < env < flags', () => {
  const d = loadConfig();
  assert.equal(d.port, 8080);
  assert.equal(d.host, '127.0.0.1');
  assert.equal(d.dataDir, './.tastemaker');
  assert.match(d.store, /^sqlite:.*\.tastemaker\/tastemaker\.db$/);
  assert.equal(d.eventWeights.skip, -1);

  const dir = mkdtempSync(join(tmpdir(), 'tm-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ port: 1000, host: '0.0.0.0', limits: { batchSize: 50 } }));
  const c = loadConfig({
    file,
    env: { PORT: '2000', TASTEMAKER_ADMIN_KEYS: 'admin-key-0123456789, admin-key-abcdefghij', TASTEMAKER_DATA_DIR: dir },
    flags: { port: 3000, host: undefined },
  });
  assert.equal(c.port, 3000);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.limits.batchSize, 50);
  assert.equal(c.limits.maxN, 500);
  assert.deepEqual(c.adminKeys, ['admin-key-0123456789', 'admin-key-abcdefghij']);
  assert.equal(c.store, `sqlite:${join(dir, 'tastemaker.db')}`);
});

test('errors name the field', () => {
  assert.throws(
    () => loadConfig({ env: { PORT: '99999' } }),
    (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.path === 'port'),
  );
  assert.throws(
    () => loadConfig({ env: { PORT: 'eighty' } }),
    (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'port',
  );
  assert.throws(
    () => loadConfig({ flags: { limits: { batchSize: 0 } } }),
    (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'limits.batchSize',
  );
  assert.throws(
    () => loadConfig({ env: { TASTEMAKER_CLIENT_KEYS: 'short' } }),
    (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'clientKeys[0]',
  );
  assert.throws(
    () => loadConfig({ flags: { prot: 1 } as never }),
    (e: unknown) => e instanceof ValidationError && /prot/.test(e.message),
  );
});

test('printConfig masks keys', () => {
  const c = loadConfig({ env: { TASTEMAKER_ADMIN_KEYS: 'supersecretadminkey123' } });
  const s = printConfig(c);
  assert.ok(!s.includes('supersecretadminkey123'));
  assert.match(s, /supe…\(22 chars\)/);
});
