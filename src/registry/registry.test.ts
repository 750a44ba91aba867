import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { ModelRegistry, type ModelArtifacts } from './registry.js';

function artifacts(ndcg: number): ModelArtifacts {
  return {
    config: { dim: 2 },
    metrics: { 'valid.NDCG@10': ndcg, 'HR@10': ndcg * 2 },
    weights: { E: Float32Array.of(1, 2, 3, ndcg), ids: Int32Array.of(7, -1) },
    files: { 'items.json': '["a","b"]' },
  };
}

function withRegistry(fn: (r: ModelRegistry, dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    try {
      await fn(new ModelRegistry(dir), dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('register writes immutable numbered versions; load round-trips tensors, config and files', withRegistry((r) => {
  assert.equal(r.register('twotower', artifacts(0.1)), 'v1');
  assert.equal(r.register('twotower', artifacts(0.2)), 'v2');
  const a = r.load('twotower', 'v2');
  assert.deepEqual(a.weights.E, Float32Array.of(1, 2, 3, 0.2));
  assert.deepEqual(a.weights.ids, Int32Array.of(7, -1));
  assert.deepEqual(a.config, { dim: 2 });
  assert.equal(a.files?.['items.json'], '["a","b"]');
  assert.equal(a.metrics['valid.NDCG@10'], 0.2);
  assert.throws(() => r.load('twotower'), NotFoundError); // nothing active yet
  assert.throws(() => r.load('twotower', 'v9'), NotFoundError);
}));

test('activation is atomic, refuses a worse version unless forced, and list shows the active one', withRegistry((r) => {
  r.register('twotower', artifacts(0.2));
  r.register('twotower', artifacts(0.1));
  r.register('twotower', artifacts(0.3));
  assert.equal(r.activate('twotower', 'v1').version, 'v1');
  assert.throws(() => r.activate('twotower', 'v2'), (e: unknown) => e instanceof ConflictError && /worse/.test(e.message));
  assert.equal(r.active('twotower')?.version, 'v1');
  assert.equal(r.activate('twotower', 'v3').value, 0.3);
  assert.equal(r.activate('twotower', 'v2', { force: true }).version, 'v2');
  assert.equal(r.load('twotower').version, 'v2');
  const list = r.list();
  assert.deepEqual(list.map((v) => [v.version, v.active]), [['v1', false], ['v2', true], ['v3', false]]);
  assert.equal(list[2].metrics['HR@10'], 0.6);
  assert.ok(list.every((v) => v.createdAt > 0));
  // No temp files are left next to active.json.
  assert.deepEqual(readdirSync(join(r.root, 'twotower')).sort(), ['active.json', 'v1', 'v2', 'v3']);
}));

test('a failed registration leaves no version and keeps the active model', withRegistry((r) => {
  r.register('twotower', artifacts(0.2));
  r.activate('twotower', 'v1');
  const bad = artifacts(0.9);
  bad.weights.E = Float32Array.of(1, NaN); // e.g. a diverged run
  assert.throws(() => r.register('twotower', bad), ValidationError);
  assert.deepEqual(r.versions('twotower'), ['v1']);
  assert.deepEqual(readdirSync(join(r.root, 'twotower')).sort(), ['active.json', 'v1']);
  assert.equal(r.active('twotower')?.version, 'v1');
}));

test('invalid names and versions are rejected with the field named', withRegistry((r) => {
  assert.throws(() => r.register('../evil', artifacts(0.1)), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'name');
  assert.throws(() => r.activate('twotower', '../../x'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'version');
  assert.equal(existsSync(join(r.root, '..', 'evil')), false);
}));

test('onActiveChange reports a newly activated version', withRegistry(async (r) => {
  r.register('twotower', artifacts(0.1));
  r.register('twotower', artifacts(0.2));
  r.activate('twotower', 'v1');
  const seen: string[] = [];
  const stop = r.onActiveChange('twotower', (rec) => seen.push(rec.version), { intervalMs: 10 });
  r.activate('twotower', 'v2');
  for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
  stop();
  assert.deepEqual(seen, ['v2']);
}));
