/**
 * SASRec serving end to end: train on the store (the train job and the CLI entry point), register and
 * activate, hot-load into the running engine through the registry, and answer `next` over HTTP from the
 * live session — an event posted a moment ago changes the sasrec candidates of the next request. A corrupt
 * or incomplete version is logged and the serving version stays.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { runTrain } from '../src/cli/commands/train.js';
import { trainFromStore } from '../src/train/index.js';
import { attachRegistry, type OnlineEngine } from '../src/engine/index.js';
import { ModelRegistry } from '../src/registry/index.js';
import { CLIENT, JSON_ADMIN, startStack, type TestStack } from './helpers.js';

const TINY = { maxLen: 20, dim: 16, blocks: 1, heads: 1, batchSize: 32, maxEpochs: 2, validUsers: 50, warmupSteps: 2, threads: 1 };

interface RecBody {
  items: { itemId: string; score: number; sources: string[]; explanation?: { scores: Record<string, number> } }[];
  modelVersions: Record<string, string>;
}

let s: TestStack;
let stop: () => void = () => undefined;
const logs: string[] = [];

before(async () => {
  s = await startStack({ users: 150, items: 200, eventsPerUser: 20 });
});
after(async () => {
  stop();
  await s?.close();
});

const post = (url: string, body: unknown) => s.app.inject({ method: 'POST', url, headers: JSON_ADMIN, payload: JSON.stringify(body) });
async function next(user: string, session: string): Promise<RecBody> {
  const r = await s.app.inject({ method: 'GET', url: `/v1/recommend/${user}?surface=next&n=20&explain=true&sessionId=${session}`, headers: CLIENT });
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as RecBody;
}
/** The sasrec source's proposals on the page: [itemId, probability] in page order. */
const sasrecItems = (b: RecBody): [string, number][] => b.items.filter((i) => i.sources.includes('sasrec')).map((i) => [i.itemId, i.explanation!.scores.sasrec]);
const waitFor = async (cond: () => boolean, ms = 3_000): Promise<void> => {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out; logs: ${logs.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('sasrec as the next surface source', () => {
  test('train → activate → the engine serves next from the live session', async () => {
    const reg = new ModelRegistry(s.dir);
    const summary = await trainFromStore(s.store, reg, { model: 'sasrec', seed: 1, params: TINY });
    assert.equal(summary.version, 'v1');
    assert.equal(summary.activated, true);
    assert.ok(summary['valid.NDCG@10'] > 0);
    assert.ok(reg.list('sasrec')[0].metrics['valid.HR@10'] >= summary['valid.NDCG@10']);

    stop = attachRegistry(s.engine as OnlineEngine, s.dir, (m) => logs.push(m), { intervalMs: 20 });
    assert.ok(logs.some((l) => l.startsWith('sasrec v1')), logs.join('\n'));

    // A brand-new listener starts a session: one play, then the next request.
    const [a, b] = [s.data.items[3].id, s.data.items[11].id];
    const t = Date.now();
    assert.equal((await post('/v1/events', [{ userId: 'sq-new', itemId: a, type: 'complete', sessionId: 'sq-s1', timestamp: t }])).statusCode, 200);
    const first = await next('sq-new', 'sq-s1');
    assert.equal(first.modelVersions.sasrec, 'sasrec@v1');
    const p1 = sasrecItems(first);
    assert.ok(p1.length > 0, `sasrec proposes items: ${JSON.stringify(first.items.slice(0, 3))}`);
    for (const [, prob] of p1) assert.ok(prob > 0 && prob <= 1, `probability ${prob}`);
    assert.ok(!first.items.some((i) => i.itemId === a), 'the session item itself is not proposed');

    // The event posted a moment ago is in the next request's sequence.
    await post('/v1/events', [{ userId: 'sq-new', itemId: b, type: 'complete', sessionId: 'sq-s1', timestamp: t + 1_000 }]);
    const second = await next('sq-new', 'sq-s1');
    const p2 = sasrecItems(second);
    assert.ok(p2.length > 0);
    assert.notDeepEqual(p2, p1, 'the new event changes the sasrec candidates');
    assert.ok(!second.items.some((i) => i.itemId === a || i.itemId === b));

    // A new, still empty session falls back to the latest history.
    const fallback = await next(s.data.users[0].id, 'sq-never-used');
    assert.ok(sasrecItems(fallback).length > 0);

    // An item posted after training is unknown to the model: never an input, never proposed. A session
    // holding only such items falls back to the history; a user with nothing else gets no sasrec items.
    assert.equal((await post('/v1/items', [{ id: 'sq-unknown', title: 'Brand new' }])).statusCode, 200);
    const known = s.data.users[1].id;
    await post('/v1/events', [
      { userId: known, itemId: 'sq-unknown', type: 'complete', sessionId: 'sq-s2', timestamp: t + 2_000 },
      { userId: 'sq-only-new', itemId: 'sq-unknown', type: 'complete', sessionId: 'sq-s3', timestamp: t + 2_000 },
    ]);
    const viaHistory = await next(known, 'sq-s2');
    assert.ok(sasrecItems(viaHistory).length > 0);
    assert.ok(!(await next('sq-new', 'sq-s1')).items.some((i) => i.itemId === 'sq-unknown' && i.sources.includes('sasrec')));
    const onlyNew = await next('sq-only-new', 'sq-s3');
    assert.equal(sasrecItems(onlyNew).length, 0);
    assert.equal(onlyNew.modelVersions.sasrec, undefined);
  });

  test('a version trained from the CLI entry point hot-reloads; corrupt or incomplete versions leave it serving', async () => {
    const reg = new ModelRegistry(s.dir);
    const summary = await runTrain({ db: s.config.store, dataDir: s.dir, model: 'sasrec', seed: '2', params: JSON.stringify(TINY), json: true });
    assert.ok('model' in summary);
    assert.equal(summary.model, 'sasrec');
    assert.equal(summary.version, 'v2');
    reg.activate('sasrec', 'v2', { force: true });
    await waitFor(() => logs.some((l) => l.startsWith('sasrec v2')));
    assert.equal((await next('sq-new', 'sq-s1')).modelVersions.sasrec, 'sasrec@v2');

    // v3: truncated weights; v4: no item id list. Both activate in the registry, neither replaces v2.
    const art = reg.load('sasrec', 'v2');
    const v3 = reg.register('sasrec', art);
    truncateSync(join(reg.root, 'sasrec', v3, 'weights', 'params.bin'), 100);
    reg.activate('sasrec', v3, { force: true });
    await waitFor(() => logs.some((l) => l.includes('sasrec not loaded') && l.includes('truncated')));
    const v4 = reg.register('sasrec', art);
    rmSync(join(reg.root, 'sasrec', v4, 'files', 'items.json'));
    reg.activate('sasrec', v4, { force: true });
    await waitFor(() => logs.some((l) => l.includes('sasrec not loaded') && l.includes('items.json')));
    const after = await next('sq-new', 'sq-s1');
    assert.equal(after.modelVersions.sasrec, 'sasrec@v2');
    assert.ok(sasrecItems(after).length > 0);
  });
});
