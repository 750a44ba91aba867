/**
 * Durability under kill -9: writers POST event batches (each event with its own id) to the real
 * `tastemaker serve` while the server is killed with SIGKILL at random moments and restarted, as a
 * crashing host would. A batch counts as acknowledged when its POST answered 200; a writer whose POST
 * failed (connection reset by the kill) re-sends the same batch, same ids, once the server is back — what
 * a client with retries does. After the last round the store is read directly and checked:
 *
 *   lost       = acknowledged ids the store does not hold (must be 0: an answered write is durable)
 *   duplicated = event rows beyond one per id (must be 0: a retried batch is recognised by its ids)
 *   counted    = /healthz `events` after the final restart equals the rows in the store
 *
 *   tastemaker bench crash --json [--rounds 10] [--writers 4] [--batch 100] [--seed 1]
 *       [--min-ms 300] [--max-ms 2000]   (time from "serving" to the kill, uniform in the range)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { openStore } from '../src/store/index.js';
import { startServe, type ServeChild } from './lib/children.js';

const ADMIN = 'crash-bench-admin-key-0123456789';
const CLIENT = 'crash-bench-client-key-0123456789';
const ITEMS = 200;
const USERS = 100;

interface Counters {
  batchesAcked: number;
  eventsAcked: number;
  retries: number;
  failedPosts: number;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: 'string', default: '10' },
      writers: { type: 'string', default: '4' },
      batch: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      'min-ms': { type: 'string', default: '300' },
      'max-ms': { type: 'string', default: '2000' },
    },
    strict: true,
  });
  const int = (k: keyof typeof values, lo: number, hi: number): number => {
    const v = values[k] as string;
    const x = Number(v);
    if (!/^[0-9]+$/.test(v) || x < lo || x > hi) throw new ValidationError(`--${k} must be a whole number in ${lo}..${hi}`, [{ path: `--${k}`, message: `got ${v}` }]);
    return x;
  };
  const rounds = int('rounds', 1, 1000);
  const writers = int('writers', 1, 64);
  const batch = int('batch', 1, 1000);
  const seed = int('seed', 0, 2 ** 31 - 1);
  const minMs = int('min-ms', 0, 600_000);
  const maxMs = int('max-ms', minMs, 600_000);
  const rng = new Rng(seed);

  const dir = mkdtempSync(join(tmpdir(), 'tastemaker-crash-'));
  const db = join(dir, 'store.db');
  const dataDir = join(dir, 'data');
  try {
    // The catalog, written directly (the writers post events only).
    const t0 = Date.now();
    const store = await openStore(db);
    await store.upsertItems(Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i}`, title: `item ${i}`, text: '', tags: [], createdAt: t0 - 86_400_000, available: true, attributes: {} })));
    await store.close();

    const acked = new Set<string>();
    const c: Counters = { batchesAcked: 0, eventsAcked: 0, retries: 0, failedPosts: 0 };
    // Each writer's pending batch survives a kill: it is re-sent until acknowledged.
    const pending: (unknown[] | undefined)[] = new Array(writers).fill(undefined);
    const seqs = new Int32Array(writers);
    let server: ServeChild | undefined;
    let stopWriters = false;
    const start = (): Promise<ServeChild> =>
      startServe({ db, dataDir, adminKey: ADMIN, clientKey: CLIENT, nodeArgs: ['--max-semi-space-size=4'], serveArgs: ['--no-train', '--no-search'] });

    const writer = async (w: number): Promise<void> => {
      // After stop, a writer still finishes its pending batch (re-sent until acknowledged).
      while (!stopWriters || pending[w]) {
        const url = server?.url;
        if (!url) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        if (!pending[w]) {
          if (stopWriters) break;
          pending[w] = Array.from({ length: batch }, () => ({
            id: `w${w}-${seqs[w]++}`,
            userId: `u${rng.int(USERS)}`,
            itemId: `i${rng.int(ITEMS)}`,
            type: 'play',
            timestamp: Date.now() - 1000,
          }));
        } else c.retries++;
        const body = pending[w]!;
        try {
          const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
          const out = (await res.json()) as { accepted?: number; duplicates?: number };
          if (res.status !== 200) throw new Error(`POST /v1/events answered ${res.status}: ${JSON.stringify(out)}`);
          for (const e of body as { id: string }[]) acked.add(e.id);
          c.batchesAcked++;
          c.eventsAcked += body.length;
          pending[w] = undefined;
        } catch (e) {
          if (e instanceof Error && e.message.startsWith('POST /v1/events answered')) throw e;
          c.failedPosts++; // connection refused or reset: the server is down; retry the same batch
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };

    server = await start();
    const writing = Array.from({ length: writers }, (_, w) => writer(w));
    const killedAfterMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const wait = minMs + rng.next() * (maxMs - minMs);
      await new Promise((res) => setTimeout(res, wait));
      const victim = server;
      server = undefined; // writers wait for the restart
      const exited = new Promise((res) => victim.child.once('exit', res));
      victim.child.kill('SIGKILL');
      await exited;
      killedAfterMs.push(Math.round(wait));
      process.stderr.write(`\rround ${r + 1}/${rounds}: killed after ${Math.round(wait)} ms, ${acked.size} events acknowledged`);
      server = await start();
    }
    // Stop: every writer gets its pending batch acknowledged, then ends.
    stopWriters = true;
    await Promise.all(writing);
    process.stderr.write('\n');
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { events: number };
    await server.stop();

    const check = await openStore(db);
    const seen = new Set<string>();
    let rows = 0;
    try {
      for await (const page of check.scanEvents({ batchSize: 5000 })) {
        for (const e of page) {
          rows++;
          seen.add(e.id);
        }
      }
    } finally {
      await check.close();
    }
    let lost = 0;
    for (const id of acked) if (!seen.has(id)) lost++;
    return {
      bench: 'crash',
      rounds,
      writers,
      batch,
      seed,
      killedAfterMs,
      eventsAcknowledged: acked.size,
      batchesAcknowledged: c.batchesAcked,
      retriedBatches: c.retries,
      failedPosts: c.failedPosts,
      rowsInStore: rows,
      lost,
      duplicated: rows - seen.size,
      healthzEvents: health.events,
      healthzMatchesStore: health.events === rows,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
