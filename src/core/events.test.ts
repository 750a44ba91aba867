import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.js';
import { eventWeight, isPositive } from './events.js';

test('positive feedback is declared once: the config weights, merged over the defaults', () => {
  const c = loadConfig({ flags: { eventWeights: { play: 0, listen: 2 } } });
  assert.equal(isPositive('play', c.eventWeights), false); // overridden to 0: ignored
  assert.equal(isPositive('listen', c.eventWeights), true); // a new declared type
  assert.equal(isPositive('like', c.eventWeights), true); // default kept beside the override
  assert.equal(isPositive('skip', c.eventWeights), false);
  assert.equal(eventWeight('skip', c.eventWeights), -1);
  // Undeclared types are ignored, for training exactly as for the online features.
  assert.equal(eventWeight('teleport', c.eventWeights), 0);
  assert.equal(isPositive('constructor', c.eventWeights), false);
});

test('the trainer config section has defaults and rejects bad values by path', () => {
  const c = loadConfig({});
  assert.equal(c.trainer.minNewEvents > 0, true);
  assert.throws(() => loadConfig({ flags: { trainer: { intervalMinutes: -1 } } }), /trainer\.intervalMinutes/);
  assert.throws(() => loadConfig({ flags: { trainer: { modles: [] } } }), /trainer/);
});
