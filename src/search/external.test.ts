import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExternalEncoder } from './external.js';
import { SearchIndex } from './search-index.js';
import { tokenize } from './text.js';

/** Concept axes of the toy model: a word maps to the concept it belongs to (synonyms share one). */
const CONCEPTS: Record<string, number> = { car: 0, automobile: 0, vehicle: 0, dog: 1, puppy: 1, canine: 1, ocean: 2, sea: 2, waves: 2, piano: 3, keys: 3 };
const DIMS = 6;

/** A tiny server speaking the OpenAI embeddings protocol, recording what it was sent. */
async function startServer(opts: { status?: number; dims?: number } = {}) {
  const seen: { auth?: string; body: { model: string; input: string[] } }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(raw) as { model: string; input: string[] };
      seen.push({ auth: req.headers.authorization, body });
      if (opts.status) {
        res.writeHead(opts.status, { 'content-type': 'application/json' }).end('{"error":"boom"}');
        return;
      }
      const data = body.input.map((text, index) => {
        const v = new Array(opts.dims ?? DIMS).fill(0);
        v[DIMS - 1] = 0.05; // every text has a little mass, so no vector is zero
        for (const t of tokenize(text)) if (CONCEPTS[t] !== undefined) v[CONCEPTS[t]] += 1;
        return { object: 'embedding', index, embedding: v };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model: body.model }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('external encoder: protocol, batching, auth and normalisation', async () => {
  const srv = await startServer();
  try {
    const enc = new ExternalEncoder({ url: srv.url, model: 'toy-embed', apiKey: 'sk-test', batchSize: 2 });
    const v = await enc.embedBatch(['car', 'dog', 'sea']);
    assert.equal(enc.dims, DIMS);
    assert.equal(v.length, 3 * DIMS);
    assert.equal(srv.seen.length, 2); // batches of 2 and 1
    assert.deepEqual(srv.seen[0].body, { model: 'toy-embed', input: ['car', 'dog'] });
    assert.equal(srv.seen[0].auth, 'Bearer sk-test');
    let norm = 0;
    for (let j = 0; j < DIMS; j++) norm += v[j] * v[j];
    assert.ok(Math.abs(norm - 1) < 1e-5);
  } finally {
    await srv.close();
  }
});

test('search with an external encoder finds synonyms the lexical side cannot', async () => {
  const srv = await startServer();
  try {
    const idx = new SearchIndex();
    idx.upsert([
      { id: 'a', title: 'Automobile repair basics' },
      { id: 'b', title: 'Puppy training' },
      { id: 'c', title: 'Sea shanties' },
      { id: 'd', title: 'Piano sonatas' },
    ]);
    await idx.attachExternalEncoder(new ExternalEncoder({ url: srv.url, model: 'toy-embed' }));
    assert.equal(idx.semanticEncoder, 'external:toy-embed');
    assert.throws(() => idx.search({ q: 'car' }), /searchAsync/);
    const lex = await idx.searchAsync({ q: 'canine', mode: 'lexical' });
    assert.deepEqual(lex.itemIds, []);
    const sem = await idx.searchAsync({ q: 'canine', n: 1, mode: 'semantic' });
    assert.deepEqual(sem.itemIds, ['b']);
    // Items added later are embedded by the external model too.
    await idx.upsertAsync([{ id: 'e', title: 'Ocean waves at night' }]);
    const hyb = await idx.searchAsync({ q: 'sea', n: 2, mode: 'rrf' });
    assert.deepEqual(new Set(hyb.itemIds), new Set(['c', 'e']));
    assert.throws(() => idx.trainContent([]), /external encoder/);
  } finally {
    await srv.close();
  }
});

test('external encoder failures are typed: HTTP errors, bad config, unreachable', async () => {
  const srv = await startServer({ status: 500 });
  try {
    const enc = new ExternalEncoder({ url: srv.url, model: 'm' });
    await assert.rejects(enc.embedBatch(['x']), (e: Error & { status: number }) => e.status === 503 && /500/.test(e.message));
  } finally {
    await srv.close();
  }
  assert.throws(() => new ExternalEncoder({ url: 'not a url', model: 'm' }), (e: Error & { issues: { path: string }[] }) => e.issues[0].path === 'search.externalEncoder.url');
  const dead = new ExternalEncoder({ url: 'http://127.0.0.1:9/v1', model: 'm', timeoutMs: 500 });
  await assert.rejects(dead.embedBatch(['x']), (e: Error & { status: number }) => e.status === 503);
});
