/**
 * The `npm start` path, programmatically and over a real socket: a first start on an empty data dir
 * generates the demo data and keys, serves /healthz and 20 recommendations for a demo user; a second
 * start finds the data and keys and reuses them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoBanner, startDemo, type DemoHandle } from '../src/cli/commands/demo.js';
import { defaultStoreUrl } from '../src/core/config.js';
import { openStore } from '../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tastemaker-demo-'));
const handles: DemoHandle[] = [];
after(async () => {
  for (const h of handles) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Keys and address must come from the options, not from the developer's environment. */
const env = {};
const quiet = () => undefined;

async function fetchJson(url: string, key?: string): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  return { status: r.status, body: await r.json() };
}

test('first start generates data and keys, then serves recommendations', async () => {
  const h = await startDemo({ dataDir: dir, port: 0, users: 200, items: 300, eventsPerUser: 20, seed: 1, env, log: quiet, train: false });
  handles.push(h);
  assert.equal(h.generated, true);
  assert.ok(h.port > 0);
  assert.equal(h.dataset.users, 200);
  assert.equal(h.dataset.items, 300);
  assert.ok(h.dataset.events > 1_000);
  // The key file is private to the owner.
  assert.equal(statSync(join(dir, 'keys.json')).mode & 0o777, 0o600);
  assert.match(h.keys.admin, /^tm_admin_/);
  assert.match(h.keys.client, /^tm_client_/);

  const health = await fetchJson(`${h.url}/healthz`);
  assert.equal(health.status, 200);
  const { models, trainer, modelVersions, ...counts } = health.body as { models: Record<string, { version: string | null }>; trainer: { status: string }; modelVersions: Record<string, string> };
  assert.deepEqual(counts, { status: 'ok', items: 300, users: 200, events: h.dataset.events });
  // --no-train: nothing trained yet, and no trainer running.
  assert.equal(models.twotower.version, null);
  assert.equal(trainer.status, 'off');
  assert.deepEqual(modelVersions, { cooc: 'online', trending: 'online', fresh: 'online', creator: 'online' });

  const rec = await fetchJson(`${h.url}/v1/recommend/${h.dataset.exampleUserId}?n=20`, h.keys.client);
  assert.equal(rec.status, 200);
  const body = rec.body as { items: { itemId: string }[]; requestId: string };
  assert.equal(body.items.length, 20);
  assert.ok(body.requestId);
  assert.equal((await fetchJson(`${h.url}/v1/recommend/${h.dataset.exampleUserId}`)).status, 401);

  const banner = demoBanner(h);
  assert.ok(banner.includes(h.url) && banner.includes(h.keys.client) && banner.includes('curl'));
  await h.close();
});

test('second start reuses the data and the keys', async () => {
  const first = handles[0];
  const h = await startDemo({ dataDir: dir, port: 0, users: 999, items: 999, seed: 2, env, log: quiet, train: false });
  handles.push(h);
  assert.equal(h.generated, false);
  assert.deepEqual(h.dataset, first.dataset);
  assert.deepEqual(h.keys, first.keys);
  const health = await fetchJson(`${h.url}/healthz`);
  const { models: _m, trainer: _t, modelVersions: _v, ...counts } = health.body as Record<string, unknown>;
  assert.deepEqual(counts, { status: 'ok', items: 300, users: 200, events: first.dataset.events });
  const rec = await fetchJson(`${h.url}/v1/recommend/${h.dataset.exampleUserId}?n=20`, h.keys.client);
  assert.equal((rec.body as { items: unknown[] }).items.length, 20);
});

test('the restart line reports what the store holds: deletions subtracted, event-only ids not users', async () => {
  const second = handles[1];
  const admin = { authorization: `Bearer ${second.keys.admin}`, 'content-type': 'application/json' };
  const gone = second.dataset.exampleUserId;
  const own = (await fetch(`${second.url}/v1/events?userId=${encodeURIComponent(gone)}&limit=1000`, { headers: admin }).then((r) => r.json())) as { events: unknown[] };
  assert.ok(own.events.length > 0);
  assert.equal((await fetch(`${second.url}/v1/users/${encodeURIComponent(gone)}`, { method: 'DELETE', headers: { authorization: admin.authorization } })).status, 200);
  const ghost = await fetch(`${second.url}/v1/events`, { method: 'POST', headers: admin, body: JSON.stringify([{ userId: 'ghost-only-in-events', itemId: second.dataset.exampleItemId, type: 'play' }]) });
  assert.equal(((await ghost.json()) as { accepted: number }).accepted, 1);
  const events = second.dataset.events - own.events.length + 1;
  await second.close();
  const lines: string[] = [];
  const h = await startDemo({ dataDir: dir, port: 0, env, log: (m) => lines.push(m), train: false });
  handles.push(h);
  assert.ok(lines.some((l) => l.includes(`(300 items, 199 users, ${events} events)`)), lines.join('\n'));
  const health = await fetchJson(`${h.url}/healthz`);
  const { models: _m, trainer: _t, modelVersions: _v, ...counts } = health.body as Record<string, unknown>;
  assert.deepEqual(counts, { status: 'ok', items: 300, users: 199, events });
});

test('a data dir holding imported data is served as is, not mixed with synthetic rows', async () => {
  const own = mkdtempSync(join(tmpdir(), 'tastemaker-demo-own-'));
  try {
    const store = await openStore(defaultStoreUrl(own));
    await store.upsertItems(['a', 'b', 'c'].map((id) => ({ id, title: id, text: '', tags: [], attributes: {}, available: true, createdAt: Date.now() })));
    await store.appendEvents(['a', 'b', 'c'].map((itemId, k) => ({ id: `ev${k}`, userId: 'me', itemId, type: 'play', timestamp: Date.now() + k })));
    await store.close();
    const h = await startDemo({ dataDir: own, port: 0, env, log: quiet, train: false });
    handles.push(h);
    assert.equal(h.generated, false);
    assert.equal(h.dataset.exampleUserId, 'me');
    const health = (await fetchJson(`${h.url}/healthz`)).body as { items: number; events: number };
    assert.equal(health.items, 3);
    assert.equal(health.events, 3);
    await h.close();
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});
