/**
 * Issue 13, input hygiene over HTTP: text must be well-formed Unicode (a lone surrogate made ids that
 * could never be read or deleted), query strings are decoded strictly (bad percent-encoding and
 * non-canonical numbers are 400s naming the parameter), a stalled body is answered 408 at
 * limits.requestTimeoutMs, and every error, including the ones node writes itself, has the documented
 * shape `{error, message, issues?}`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { loadConfig } from '../src/core/config.js';
import { createEngine } from '../src/engine/index.js';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildApp } from '../src/serve/app.js';
import { openStore } from '../src/store/index.js';
import { ADMIN, ADMIN_KEY, CLIENT, JSON_ADMIN, startStack, type TestStack } from './helpers.js';

let s: TestStack;
before(async () => {
  s = await startStack({ users: 30, items: 40, eventsPerUser: 8 });
});
after(async () => {
  await s?.close();
});

interface ErrorShape {
  error: string;
  message: string;
  issues?: { path: string; message: string }[];
}

function assertErrorShape(body: unknown): asserts body is ErrorShape {
  const b = body as ErrorShape;
  assert.equal(typeof b.error, 'string');
  assert.equal(typeof b.message, 'string');
  const keys = Object.keys(b).filter((k) => k !== 'error' && k !== 'message' && k !== 'issues');
  assert.deepEqual(keys, [], `no other fields in an error: ${JSON.stringify(b)}`);
}

test('a lone surrogate in an id or any text field is rejected with the field named', async () => {
  // JSON escapes let a client send a lone UTF-16 surrogate; as UTF-8 it could only be stored as bad bytes.
  const items = '[{"id":"lone\\ud800"},{"id":"ok-1","title":"a\\udc00b"},{"id":"ok-2","tags":["x\\ud83d"]},' +
    '{"id":"ok-3","attributes":{"k\\ud800":1}},{"id":"ok-4","creatorId":"\\udfff"},{"id":"astral-\\ud83c\\udfb5","title":"\\ud83c\\udfb5 fine"}]';
  const r = await s.app.inject({ method: 'POST', url: '/v1/items', headers: JSON_ADMIN, payload: items });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as { accepted: number; rejected: { index: number; issues: { path: string; message: string }[] }[] };
  assert.equal(body.accepted, 1, 'only the well-formed astral id is stored');
  const paths = body.rejected.flatMap((x) => x.issues.map((i) => i.path)).sort();
  assert.deepEqual(paths, ['items[0].id', 'items[1].title', 'items[2].tags[0]', 'items[3].attributes.k\ud800', 'items[4].creatorId'].sort());
  assert.ok(body.rejected.every((x) => x.issues.every((i) => /well-formed Unicode/.test(i.message))), r.body);

  const ev = await s.app.inject({
    method: 'POST', url: '/v1/events', headers: JSON_ADMIN,
    payload: '[{"userId":"u\\ud800","itemId":"i1","type":"play"},{"userId":"u1","itemId":"i1","type":"play","sessionId":"s\\udc00"},{"userId":"u1","itemId":"i1","type":"play","context":{"q":"\\ud800"}}]',
  });
  const evBody = ev.json() as { accepted: number; rejected: { issues: { path: string }[] }[] };
  assert.equal(evBody.accepted, 0);
  assert.deepEqual(evBody.rejected.map((x) => x.issues[0].path), ['events[0].userId', 'events[1].sessionId', 'events[2].context.q']);

  const users = await s.app.inject({ method: 'POST', url: '/v1/users', headers: JSON_ADMIN, payload: '[{"id":"\\ud800"},{"id":"v","attributes":{"city":"\\udbff"}}]' });
  assert.deepEqual((users.json() as { rejected: { issues: { path: string }[] }[] }).rejected.map((x) => x.issues[0].path), ['users[0].id', 'users[1].attributes.city']);

  // The well-formed astral id round-trips through the URL: read and delete.
  const url = `/v1/items/${encodeURIComponent('astral-\u{1F3B5}')}`;
  const got = await s.app.inject({ url, headers: CLIENT });
  assert.equal(got.statusCode, 200, got.body);
  assert.equal((got.json() as { title: string }).title, '\u{1F3B5} fine');
  assert.equal((await s.app.inject({ method: 'DELETE', url, headers: ADMIN })).statusCode, 200);
});

test('bad percent-encoding in a query is a 400 naming the parameter', async () => {
  const user = s.data.users[0].id;
  for (const q of ['exclude=%E0%A4', 'exclude=a%ZZ', 'sessionId=%FF', 'excludeTags=%', 'exclude=%ED%A0%80']) {
    const r = await s.app.inject({ url: `/v1/recommend/${user}?${q}`, headers: CLIENT });
    assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
    const body = r.json();
    assertErrorShape(body);
    assert.equal(body.issues?.[0].path, q.split('=')[0], r.body);
  }
  const badKey = await s.app.inject({ url: `/v1/similar/${s.data.items[0].id}?n%FF=3`, headers: CLIENT });
  assert.equal(badKey.statusCode, 400);
  // Well-formed encodings still work: a space as + or %20, a comma as %2C.
  const ok = await s.app.inject({ url: `/v1/recommend/${user}?n=5&exclude=${s.data.items[0].id}%2C${s.data.items[1].id}&surface=home`, headers: CLIENT });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('query numbers are strict decimal integers: hex, exponent, sign, padding and leading zeros are 400s', async () => {
  const user = s.data.users[0].id;
  for (const n of ['0x10', '1e2', '%2010', '10%20', '+10', '010', '-1', '1.0', '', '0b1', 'Infinity', '٣']) {
    const r = await s.app.inject({ url: `/v1/recommend/${user}?n=${n}`, headers: CLIENT });
    assert.equal(r.statusCode, 400, `n=${n}: ${r.body}`);
    const body = r.json();
    assertErrorShape(body);
    assert.deepEqual(body.issues?.map((i) => i.path), ['n'], r.body);
  }
  for (const n of ['0', '501']) assert.equal((await s.app.inject({ url: `/v1/recommend/${user}?n=${n}`, headers: CLIENT })).statusCode, 400);
  for (const [n, len] of [['1', 1], ['10', 10], ['500', -1]] as const) {
    const r = await s.app.inject({ url: `/v1/recommend/${user}?n=${n}`, headers: CLIENT });
    assert.equal(r.statusCode, 200, r.body);
    if (len > 0) assert.equal((r.json() as { items: unknown[] }).items.length, len);
  }
  for (const d of ['1e-1', '.5', '+0.5', ' 0.5', '0x1']) {
    const r = await s.app.inject({ url: `/v1/recommend/${user}?diversity=${encodeURIComponent(d)}`, headers: CLIENT });
    assert.equal(r.statusCode, 400, `diversity=${d}`);
    assert.equal((r.json() as ErrorShape).issues?.[0].path, 'diversity');
  }
  assert.equal((await s.app.inject({ url: `/v1/recommend/${user}?diversity=0.25`, headers: CLIENT })).statusCode, 200);
  assert.equal((await s.app.inject({ url: `/v1/similar/${s.data.items[0].id}?n=07`, headers: CLIENT })).statusCode, 400);
});

/** Sends `raw` on a fresh connection and resolves with what comes back (until the server closes it). */
function rawExchange(port: number, raw: string, limitMs: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${limitMs} ms (got ${JSON.stringify(text)})`));
    }, limitMs);
    sock.on('data', (d) => (text += d.toString('utf8')));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: performance.now() - t0 });
    });
    sock.write(raw);
  });
}

function parseRaw(text: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, body: JSON.parse(body) };
}

test('a stalled body is answered 408 at limits.requestTimeoutMs, in the documented error shape', async () => {
  const requestTimeoutMs = 500;
  const config = loadConfig({ flags: { dataDir: s.dir, adminKeys: [ADMIN_KEY], limits: { requestTimeoutMs } } });
  const store = await openStore(':memory:');
  const engine = await createEngine(store);
  const app = buildApp({ engine, ingestor: new Ingestor(store, engine), config });
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const port = (app.server.address() as { port: number }).port;
    // Content-Length promises 100 bytes, 10 arrive, then nothing.
    const stalled = await rawExchange(
      port,
      `POST /v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{"id":"a"`,
      requestTimeoutMs * 8,
    );
    const { status, body } = parseRaw(stalled.text);
    assert.equal(status, 408, stalled.text);
    assertErrorShape(body);
    assert.equal(body.error, 'timeout');
    assert.match(body.message, /requestTimeoutMs/);
    assert.ok(stalled.ms >= requestTimeoutMs * 0.9, `answered after ${stalled.ms} ms, before the limit`);
    // Before: node's connection check ran every 30 s, so the answer came after 30–60 s.
    assert.ok(stalled.ms < requestTimeoutMs + 1_000, `answered after ${stalled.ms} ms, limit ${requestTimeoutMs} ms`);
    // Bytes that are not HTTP get the same shape from node's parser.
    const garbage = await rawExchange(port, 'HELLO\r\n\r\n', 2_000);
    const g = parseRaw(garbage.text);
    assert.equal(g.status, 400);
    assertErrorShape(g.body);
    // A request arriving on an open connection while the server closes gets 503 in the same shape
    // (fastify's own 503 had another): A holds the connection open, B follows it after close() began.
    const sock = connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => (text += d.toString('utf8')));
    const closed = new Promise((r) => sock.on('close', r));
    sock.write('POST /v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + ADMIN_KEY + '\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[');
    await new Promise((r) => setTimeout(r, 50));
    const closing = app.close();
    await new Promise((r) => setTimeout(r, 20));
    sock.write(']GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await closed;
    await closing;
    const second = text.slice(text.indexOf('HTTP/1.1', 10));
    assert.equal(parseRaw(second).status, 503, text);
    assertErrorShape(parseRaw(second.slice(0, second.lastIndexOf('}') + 1)).body);
  } finally {
    await app.close();
    await engine.close();
    await store.close();
  }
});
