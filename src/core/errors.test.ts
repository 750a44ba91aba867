import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { NotFoundError, ValidationError, formatPath, issuesFromSchema } from './errors.js';

test('formatPath joins keys and indexes under a prefix', () => {
  assert.equal(formatPath(['tags', 2], 'items[3]'), 'items[3].tags[2]');
  assert.equal(formatPath([]), '(root)');
  assert.equal(formatPath(['n']), 'n');
});

test('issuesFromSchema reports each unknown key at the key itself', () => {
  const schema = z.strictObject({ id: z.string(), n: z.number() });
  const r = schema.safeParse({ id: 5, n: 1, colour: 'red', size: 2 });
  assert.equal(r.success, false);
  if (r.success) return;
  const issues = issuesFromSchema(r.error.issues, 'items[4]');
  const byPath = new Map(issues.map((i) => [i.path, i.message]));
  assert.equal(byPath.get('items[4].colour'), 'unknown field');
  assert.equal(byPath.get('items[4].size'), 'unknown field');
  assert.ok(byPath.has('items[4].id'), 'the wrong type is reported at its field');
  assert.equal(issues.length, 3);
});

test('errors carry status, code and issues in their JSON form', () => {
  const e = new ValidationError('bad', [{ path: 'n', message: 'too big' }]);
  assert.equal(e.status, 400);
  assert.deepEqual(e.toJSON(), { error: 'invalid_input', message: 'bad', issues: [{ path: 'n', message: 'too big' }] });
  const nf = new NotFoundError('no such item');
  assert.equal(nf.status, 404);
  assert.equal('issues' in nf.toJSON(), false);
});
