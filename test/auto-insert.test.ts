/**
 * Issue 14 item 4: events for items the catalog does not hold. With autoInsertItems (the default) such
 * an event creates a minimal item, over HTTP and in file imports, so an events-only import yields a
 * servable catalog: every user gets a non-empty home feed. Off, the events are rejected naming itemId.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/core/config.js';
import { generateSynthetic } from '../src/core/synth.js';
import { createEngine } from '../src/engine/index.js';
import { importFile } from '../src/ingest/import.js';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildApp } from '../src/serve/app.js';
import { openStore } from '../src/store/index.js';
import { runCaptured } from '../src/cli/run-captured.js';
import { ADMIN, ADMIN_KEY, CLIENT, CLIENT_KEY, JSON_ADMIN, startStack, type TestStack } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-autoinsert-'));
let s: TestStack;
before(async () => {
  s = await startStack({ users: 30, items: 40, eventsPerUser: 8 });
});
after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Batch {
  accepted: number;
  itemsCreated?: number;
  rejected: { index: number; issues: { path: string; message: string }[] }[];
}

test('POST /v1/events: an unknown item is created (id only, createdAt = event time); known items are untouched', async () => {
  const known = s.data.items[0];
  const t = Date.now() - 60_000;
  const r = await s.app.inject({
    method: 'POST', url: '/v1/events', headers: JSON_ADMIN,
    payload: JSON.stringify([
      { id: 'ai-1', userId: 'ai-user', itemId: 'ai-new-item', type: 'play', timestamp: t },
      { id: 'ai-2', userId: 'ai-user', itemId: 'ai-new-item', type: 'like', timestamp: t - 5_000 },
      { id: 'ai-3', userId: 'ai-user', itemId: known.id, type: 'play', timestamp: t },
    ]),
  });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as Batch;
  assert.deepEqual([body.accepted, body.itemsCreated, body.rejected], [3, 1, []]);
  const item = (await s.app.inject({ url: '/v1/items/ai-new-item', headers: CLIENT })).json() as { id: string; title: string; createdAt: number; available: boolean };
  assert.deepEqual([item.id, item.title, item.createdAt, item.available], ['ai-new-item', '', t - 5_000, true]);
  assert.deepEqual(await s.store.getItem(known.id), known, 'the known item is not rewritten');
  // The engine serves it at once: it is a known item for similar, and it is in the catalog count.
  assert.equal((await s.app.inject({ url: '/v1/similar/ai-new-item?n=5', headers: CLIENT })).statusCode, 200);
  // A deleted item is not re-created by a later event: the event is refused by the item's tombstone.
  assert.equal((await s.app.inject({ method: 'DELETE', url: '/v1/items/ai-new-item', headers: ADMIN })).statusCode, 200);
  const late = (await s.app.inject({ method: 'POST', url: '/v1/events', headers: JSON_ADMIN, payload: JSON.stringify([{ userId: 'ai-user', itemId: 'ai-new-item', type: 'play' }]) })).json() as Batch;
  assert.deepEqual([late.accepted, late.itemsCreated, late.rejected.map((x) => x.issues[0].path)], [0, undefined, ['events[0].itemId']]);
  assert.equal(await s.store.getItem('ai-new-item'), undefined);
  await s.app.inject({ method: 'POST', url: '/v1/items', headers: JSON_ADMIN, payload: JSON.stringify([{ id: 'ai-new-item' }]) });
  // A batch of known items reports no itemsCreated (the response shape is unchanged for them).
  const again = await s.app.inject({ method: 'POST', url: '/v1/events', headers: JSON_ADMIN, payload: JSON.stringify([{ userId: 'ai-user', itemId: 'ai-new-item', type: 'play', timestamp: t + 1 }]) });
  assert.equal('itemsCreated' in (again.json() as object), false);
});

test('autoInsertItems: false rejects events for unknown items with a reason naming itemId', async () => {
  const config = loadConfig({ flags: { dataDir: dir, adminKeys: [ADMIN_KEY], clientKeys: [CLIENT_KEY], autoInsertItems: false } });
  assert.equal(config.autoInsertItems, false);
  const store = await openStore(':memory:');
  await store.upsertItems([{ id: 'a', title: 'A', text: '', tags: [], attributes: {}, createdAt: 1, available: true }]);
  const engine = await createEngine(store);
  const app = buildApp({ engine, ingestor: new Ingestor(store, engine, { autoInsertItems: config.autoInsertItems }), config });
  try {
    const r = await app.inject({
      method: 'POST', url: '/v1/events', headers: JSON_ADMIN,
      payload: JSON.stringify([{ userId: 'u', itemId: 'a', type: 'play' }, { userId: 'u', itemId: 'ghost', type: 'play' }, { userId: '', itemId: 'a', type: 'play' }]),
    });
    const body = r.json() as Batch;
    assert.equal(body.accepted, 1);
    assert.deepEqual(body.rejected.map((x) => x.issues[0].path), ['events[1].itemId', 'events[2].userId']);
    assert.match(body.rejected[0].issues[0].message, /unknown item "ghost".*autoInsertItems/);
    assert.equal(await store.getItem('ghost'), undefined);
    assert.equal(await store.countEvents(), 1);
  } finally {
    await app.close();
    await engine.close();
    await store.close();
  }
});

/** A small events-only file in SASRec format (`user item`, chronological per user) from the synthetic generator. */
function writeSasrecFile(): { file: string; users: Set<string>; items: Set<string> } {
  const data = generateSynthetic({ seed: 11, users: 40, items: 80, creators: 10, days: 10, eventsPerUser: 12, startMs: Date.UTC(2024, 0, 1) });
  const byUser = new Map<string, { t: number; item: string }[]>();
  for (const e of data.events) {
    if (e.type === 'skip' || e.type === 'impression') continue;
    let l = byUser.get(e.userId);
    if (!l) byUser.set(e.userId, (l = []));
    l.push({ t: e.timestamp, item: e.itemId });
  }
  const lines: string[] = [];
  const items = new Set<string>();
  for (const [u, l] of byUser) {
    l.sort((a, b) => a.t - b.t);
    for (const x of l) {
      lines.push(`${u} ${x.item}`);
      items.add(x.item);
    }
  }
  const file = join(dir, 'events-only.sasrec.txt');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, users: new Set(byUser.keys()), items };
}

test('an events-only sasrec import creates the items, and every user then gets a non-empty home feed', async () => {
  const { file, users, items } = writeSasrecFile();
  const store = await openStore(join(dir, 'sasrec.db'));
  const summary = await importFile(store, file, 'sasrec', { batchSize: 100 });
  assert.equal(summary.itemsCreated, items.size);
  assert.equal(summary.items, 0, 'no catalog file');
  assert.equal(summary.rejected, 0);
  assert.equal(await store.countItems(), items.size);
  const config = loadConfig({ flags: { dataDir: dir, adminKeys: [ADMIN_KEY], clientKeys: [CLIENT_KEY] } });
  const engine = await createEngine(store, { config: { ...config.engine, eventWeights: config.eventWeights } });
  const app = buildApp({ engine, ingestor: new Ingestor(store, engine), config });
  try {
    for (const u of users) {
      const r = await app.inject({ url: `/v1/recommend/${encodeURIComponent(u)}?n=10`, headers: CLIENT });
      assert.equal(r.statusCode, 200, r.body);
      const rec = r.json() as { items: { itemId: string; score: number }[] };
      assert.ok(rec.items.length > 0, `home for ${u} is empty`);
      for (const it of rec.items) assert.ok(Number.isFinite(it.score), `${u}: score ${it.score}`);
    }
    for (const surface of ['home', 'trending']) {
      const r = await app.inject({ url: `/v1/recommend/brand-new-user?surface=${surface}&n=10`, headers: CLIENT });
      assert.ok((r.json() as { items: unknown[] }).items.length > 0, `${surface} for a new user is empty`);
    }
  } finally {
    await app.close();
    await engine.close();
    await store.close();
  }
});

test('CLI import --no-auto-insert-items: events without a catalog are all rejected naming itemId, exit 2', async () => {
  const { file } = writeSasrecFile();
  const db = join(dir, 'strict.db');
  const strict = await runCaptured(['import', file, '--db', db, '--format', 'sasrec', '--no-auto-insert-items']);
  assert.equal(strict.code, 2);
  const summary = JSON.parse(strict.out.at(-1)!) as { events: number; rejected: number; itemsCreated: number; issues: Batch['rejected'] };
  assert.equal(summary.events, 0);
  assert.equal(summary.itemsCreated, 0);
  assert.ok(summary.rejected > 0);
  assert.match(summary.issues[0].issues[0].path, /^events\[\d+\]\.itemId$/);
  assert.ok(strict.err.some((l) => /every row was rejected/.test(l)), strict.err.join('\n'));
  // With the default the same file imports, and the output says the items were created from events.
  const auto = await runCaptured(['import', file, '--db', db, '--format', 'sasrec']);
  assert.equal(auto.code, 0, auto.err.join('\n'));
  assert.ok(auto.out.some((l) => /items created from events/.test(l) && /no catalog was imported/.test(l)), auto.out.join('\n'));
});
