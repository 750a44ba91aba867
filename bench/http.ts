/**
 * The HTTP API under load, as deployed: the demo-sized synthetic world is written to a SQLite store, the
 * real `tastemaker serve` runs in a child process over it, and autocannon (in this process, so client
 * and server do not share an event loop) drives three workloads in turn:
 *
 *   recommend  GET /v1/recommend/<random user>?n=20   (home feed, impression write included)
 *   similar    GET /v1/similar/<random item>?n=10
 *   events     POST /v1/events with one fresh event    (validation, SQLite transaction, online update)
 *
 *   tastemaker bench http --json [--users 2000] [--items 5000] [--events-per-user 100]
 *                                [--duration 10] [--connections 16]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { generateSynthetic } from '../src/core/synth.js';
import { openStore } from '../src/store/index.js';

/** The slice of autocannon's API used here (the package ships no types). */
interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
}
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  requests: { setupRequest: (req: AutocannonRequest) => AutocannonRequest }[];
}) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const CLIENT_KEY = 'bench-client-key-0123456789abcdef';
const WRITE_BATCH = 10_000;
const DAY_MS = 86_400_000;

/** Starts `tastemaker serve` on a free port and resolves with its URL and a stop function. */
async function startServe(dbPath: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(REPO, 'bin/tastemaker.mjs'), 'serve', '--db', dbPath, '--port', '0', '--no-train'], {
    cwd: REPO,
    env: { ...process.env, TASTEMAKER_ADMIN_KEYS: ADMIN_KEY, TASTEMAKER_CLIENT_KEYS: CLIENT_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start in 120 s:\n${stderr}`)), 120_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stderr}`));
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { url, stop };
}

function summarise(r: AutocannonResult): Record<string, number> {
  return {
    reqPerSec: Math.round(r.requests.average),
    requests: r.requests.total,
    latencyP50Ms: r.latency.p50,
    latencyP90Ms: r.latency.p90,
    latencyP99Ms: r.latency.p99,
    latencyMaxMs: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      users: { type: 'string', default: '2000' },
      items: { type: 'string', default: '5000' },
      'events-per-user': { type: 'string', default: '100' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      seed: { type: 'string', default: '42' },
    },
    strict: true,
  });
  const num = (k: keyof typeof values, max: number): number => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v <= 0 || v > max) {
      throw new ValidationError(`--${k} must be an integer in 1..${max}`, [{ path: `--${k}`, message: `expected 1..${max}` }]);
    }
    return v;
  };
  const users = num('users', 1_000_000);
  const items = num('items', 1_000_000);
  const duration = num('duration', 600);
  const connections = num('connections', 1_000);
  const seed = num('seed', 0xffffffff);

  const dir = mkdtempSync(join(tmpdir(), 'tastemaker-bench-http-'));
  const dbPath = join(dir, 'tastemaker.db');
  try {
    const data = generateSynthetic({
      seed,
      users,
      items,
      creators: Math.max(1, Math.round(items / 8)),
      days: 60,
      eventsPerUser: num('events-per-user', 100_000),
      startMs: Date.now() - 60 * DAY_MS,
    });
    const store = await openStore(dbPath);
    await store.upsertItems(data.items);
    await store.upsertUsers(data.users);
    for (let i = 0; i < data.events.length; i += WRITE_BATCH) await store.appendEvents(data.events.slice(i, i + WRITE_BATCH));
    await store.close();

    const t0 = performance.now();
    const server = await startServe(dbPath);
    const startSeconds = (performance.now() - t0) / 1000;
    const rng = new Rng(seed);
    const userIds = data.users.map((u) => u.id);
    const itemIds = data.items.map((i) => i.id);
    const pick = (ids: string[]): string => encodeURIComponent(ids[rng.int(ids.length)]);
    let eventNo = 0;
    const base = { url: server.url, connections, duration };
    try {
      const recommend = await autocannon({
        ...base,
        headers: { authorization: `Bearer ${CLIENT_KEY}` },
        requests: [{ setupRequest: (req) => ({ ...req, path: `/v1/recommend/${pick(userIds)}?n=20` }) }],
      });
      const similar = await autocannon({
        ...base,
        headers: { authorization: `Bearer ${CLIENT_KEY}` },
        requests: [{ setupRequest: (req) => ({ ...req, path: `/v1/similar/${pick(itemIds)}?n=10` }) }],
      });
      const events = await autocannon({
        ...base,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              method: 'POST',
              path: '/v1/events',
              body: JSON.stringify([
                { id: `bench-${eventNo++}`, userId: userIds[rng.int(userIds.length)], itemId: itemIds[rng.int(itemIds.length)], type: 'play' },
              ]),
            }),
          },
        ],
      });
      return {
        bench: 'http',
        users: data.users.length,
        items: data.items.length,
        events: data.events.length,
        connections,
        durationSeconds: duration,
        serveStartSeconds: Math.round(startSeconds * 100) / 100,
        recommend: summarise(recommend),
        similar: summarise(similar),
        ingestOneEvent: summarise(events),
      };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
