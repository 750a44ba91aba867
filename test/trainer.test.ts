/**
 * The trainer role end to end, on a small synthetic SQLite store: rounds register and activate every model
 * kind and warm-start the next; the schedule fires on start, on new events and on the interval (manual
 * clock, no sleeping); a trainer process killed with -9 mid-round leaves the active versions serving and
 * the next round succeeds; `train --all`; `--no-train` and GET /v1/models; the demo's trainer child
 * activates a learned model with nothing typed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.js';
import { loadConfig, type TrainerConfig } from '../src/core/config.js';
import { generateSynthetic } from '../src/core/synth.js';
import { runTrain } from '../src/cli/commands/train.js';
import { startDemo } from '../src/cli/commands/demo.js';
import { ModelRegistry } from '../src/registry/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { Trainer, lockPath, modelsStatus, readLock, readState, scheduleDecision, trainJobNames } from '../src/train/index.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tastemaker.mjs');
const TWO_TOWER = { dim: 8, hidden: 16, historyLen: 8, batchSize: 32, sampledNegatives: 16, maxEpochs: 2, warmupSteps: 2, hashBuckets: 256, validUsers: 100 };
const SASREC = { maxLen: 12, dim: 16, blocks: 1, heads: 1, batchSize: 32, maxEpochs: 2, validUsers: 60, warmupSteps: 2, threads: 1 };
const RANKER = { poolSize: 50, negatives: 10, epochs: 2 };
const TINY: TrainerConfig = loadConfig({
  flags: { trainer: { maxMinutesPerRun: 0.5, firstRunDelaySeconds: 2, checkIntervalSeconds: 0.1, minNewEvents: 50, intervalMinutes: 10, params: { twotower: TWO_TOWER, sasrec: SASREC, ranker: RANKER } } },
}).trainer;

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A data dir with a SQLite store of a small synthetic world (the last `holdBack` events not yet written). */
async function world(seed: number, holdBack = 0): Promise<{ dir: string; dbPath: string; store: Store; rest: ReturnType<typeof generateSynthetic>['events'] }> {
  const dir = mkdtempSync(join(tmpdir(), 'trainer-'));
  dirs.push(dir);
  const dbPath = join(dir, 'tastemaker.db');
  const store = await openStore(dbPath);
  const w = generateSynthetic({ seed, users: 150, items: 200, creators: 25, days: 20, eventsPerUser: 30, startMs: 1_700_000_000_000 });
  await store.upsertItems(w.items);
  await store.upsertUsers(w.users);
  const cut = w.events.length - holdBack;
  await store.appendEvents(w.events.slice(0, cut));
  return { dir, dbPath, store, rest: w.events.slice(cut) };
}

function trainer(store: Store, dir: string, clock?: ManualClock, config: TrainerConfig = TINY): Trainer {
  return new Trainer({ store, dataDir: dir, config, eventWeights: loadConfig({}).eventWeights, clock, threads: 1 });
}

test('schedule: first round soon after start when models are missing, then on new events or the interval', () => {
  const cfg = { intervalMinutes: 10, minNewEvents: 100, firstRunDelaySeconds: 5 };
  const base = { startedAt: 0, rounds: 0, lastRoundSeq: 1_000, currentSeq: 1_000, missing: ['twotower'] };
  assert.equal(scheduleDecision({ ...base, nowMs: 4_000 }, cfg).due, false);
  assert.equal(scheduleDecision({ ...base, nowMs: 4_000 }, cfg).nextRunAt, 5_000);
  assert.match(scheduleDecision({ ...base, nowMs: 5_000 }, cfg).trigger ?? '', /no active twotower/);
  const after1 = { ...base, rounds: 1, lastRoundEndMs: 60_000 };
  assert.equal(scheduleDecision({ ...after1, nowMs: 10 * 3_600_000 }, cfg).due, false, 'nothing new: never retrain');
  assert.equal(scheduleDecision({ ...after1, currentSeq: 1_099, nowMs: 61_000 }, cfg).due, false);
  assert.equal(scheduleDecision({ ...after1, currentSeq: 1_099, nowMs: 61_000 }, cfg).nextRunAt, 60_000 + 600_000);
  assert.equal(scheduleDecision({ ...after1, currentSeq: 1_100, nowMs: 61_000 }, cfg).due, true, 'enough new events');
  assert.equal(scheduleDecision({ ...after1, currentSeq: 1_001, nowMs: 660_000 }, cfg).due, true, 'interval with something new');
});

test('a round registers and activates every model kind; the next round warm-starts; the clock drives the schedule', async () => {
  const { dir, store, rest } = await world(1, 200);
  try {
    const clock = new ManualClock(1_000_000);
    const t = trainer(store, dir, clock);
    assert.equal(await t.tick(), undefined, 'first round waits firstRunDelaySeconds');
    assert.ok(t.state().nextRunAt === 1_000_000 + 2_000);
    clock.advance(2_000);
    const r1 = await t.tick();
    assert.ok(r1, 'first round ran');
    assert.equal(r1.outcome, 'ok', JSON.stringify(r1.jobs));
    assert.deepEqual(r1.jobs.map((j) => j.model), trainJobNames());
    assert.deepEqual(trainJobNames(), ['twotower', 'sasrec', 'blend', 'ranker']);
    const reg = new ModelRegistry(dir);
    for (const j of r1.jobs) {
      assert.equal(j.version, 'v1', `${j.model} registered`);
      // The served blend and the ranker have their own guard (never worse than the heuristic order they
      // replace); the fitted models, with nothing active yet, always activate.
      if (j.model === 'blend' || j.model === 'ranker') assert.ok(j.outcome === 'activated' || /below/.test(j.reason ?? ''), `${j.model}: ${j.reason}`);
      else assert.equal(j.outcome, 'activated', `${j.model}: ${j.reason}`);
      if (j.outcome === 'activated') assert.equal(reg.active(j.model)?.version, 'v1');
    }
    const s1 = readState(dir);
    assert.equal(s1?.status, 'idle');
    assert.equal(s1?.lastRun?.outcome, 'ok');
    assert.equal(existsSync(lockPath(dir)), false, 'lock released');

    assert.equal(await t.tick(), undefined, 'no new events: no round');
    await store.appendEvents(rest.slice(0, 20));
    assert.equal(await t.tick(), undefined, '20 new events < minNewEvents, interval not over');
    clock.advance(10 * 60_000);
    const r2 = await t.tick();
    assert.ok(r2, 'interval passed with new events');
    for (const j of r2.jobs.filter((x) => x.model === 'twotower' || x.model === 'sasrec')) assert.equal(j.warmStart, 'warm', `${j.model} warm-starts from v1`);
    assert.equal(r2.jobs.find((x) => x.model === 'ranker')?.warmStart, undefined, 'the ranker starts cold (documented)');
    for (const j of r2.jobs) assert.ok(j.outcome === 'activated' || j.outcome === 'kept', `${j.model}: ${j.reason}`);
    await store.appendEvents(rest.slice(20));
    const r3 = await t.tick();
    assert.ok(r3, '180 new events ≥ minNewEvents start a round at once');
  } finally {
    await store.close();
  }
});

test('a trainer process killed with -9 mid-round leaves the active versions serving; the next round succeeds', async () => {
  const { dir, dbPath, store } = await world(2);
  try {
    const t = trainer(store, dir);
    const first = await t.runOnce('setup');
    assert.equal(first.outcome, 'ok');
    const reg = new ModelRegistry(dir);
    const before = Object.fromEntries(trainJobNames().map((n) => [n, reg.active(n)?.version]));

    // A slow two-tower (many small epochs, no early stop) so the kill lands inside its fit.
    const cfgPath = join(dir, 'slow.json');
    writeFileSync(cfgPath, JSON.stringify({ trainer: { maxMinutesPerRun: 1, models: ['twotower', 'sasrec', 'blend', 'ranker'], params: { twotower: { ...TWO_TOWER, maxEpochs: 10_000, patience: 1_000, examplesPerEpoch: 64 }, sasrec: SASREC, ranker: RANKER } } }));
    const child = spawn(process.execPath, [BIN, 'trainer', '--db', dbPath, '--data-dir', dir, '--config', cfgPath, '--once'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    const deadline = Date.now() + 15_000;
    while (!(readState(dir)?.status === 'running' && readState(dir)?.model === 'twotower')) {
      assert.ok(Date.now() < deadline, `trainer child never started training: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500)); // inside the fit
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    assert.equal(readState(dir)?.status, 'crashed', 'the state file tells serving the round died');
    assert.equal(readLock(lockPath(dir))?.pid, child.pid, 'the dead run left its lock behind');
    for (const n of trainJobNames()) assert.equal(reg.active(n)?.version, before[n], `${n} still active`);
    assert.ok(reg.load('twotower').weights.itemVectors.length > 0, 'the active two-tower still loads');
    assert.match(JSON.stringify(modelsStatus(dir).trainer), /crashed/);

    const logs: string[] = [];
    const next = new Trainer({ store, dataDir: dir, config: TINY, eventWeights: loadConfig({}).eventWeights, threads: 1, log: (m) => logs.push(m) });
    const r = await next.runOnce('after the kill');
    assert.equal(r.outcome, 'ok', JSON.stringify(r.jobs));
    assert.ok(logs.some((l) => /stale round lock \(owner pid \d+ is gone\)/.test(l)), logs.join('\n'));
    assert.equal(existsSync(lockPath(dir)), false);
    assert.equal(readState(dir)?.status, 'idle');
  } finally {
    await store.close();
  }
});

test('train --all runs one round by hand (budget split); --model still trains one', async () => {
  const { dir, dbPath, store } = await world(3);
  await store.close();
  const cfgPath = join(dir, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ trainer: { params: { twotower: TWO_TOWER, sasrec: SASREC, ranker: RANKER } } }));
  const all = await runTrain({ db: dbPath, dataDir: dir, config: cfgPath, all: true, maxMinutes: '0.5', json: true });
  assert.ok('all' in all);
  assert.equal(all.outcome, 'ok');
  assert.deepEqual(all.jobs.map((j) => j.model), trainJobNames());
  for (const j of all.jobs) assert.ok(j.outcome === 'activated' || (j.model !== 'twotower' && j.model !== 'sasrec' && /below/.test(j.reason ?? '')), `${j.model}: ${j.reason}`);
  const one = await runTrain({ db: dbPath, dataDir: dir, config: cfgPath, model: 'twotower', json: true });
  assert.ok('model' in one && one.version === 'v2' && one.warmStart === 'warm');
  await assert.rejects(runTrain({ db: dbPath, dataDir: dir, all: true, model: 'sasrec' }), /exclude each other/);
});

test('--no-train serves without a trainer; GET /v1/models lists every model kind and the trainer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainer-demo-'));
  dirs.push(dir);
  const h = await startDemo({ dataDir: dir, port: 0, users: 120, items: 150, eventsPerUser: 20, seed: 4, env: {}, log: () => undefined, train: false });
  try {
    assert.equal(h.trainer, undefined);
    const res = await fetch(`${h.url}/v1/models`, { headers: { authorization: `Bearer ${h.keys.client}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { models: { name: string; activeVersion: string | null; ageMs: number | null; metrics: object; versions: number }[]; trainer: { status: string } };
    assert.deepEqual(body.models.map((m) => m.name).sort(), [...trainJobNames()].sort());
    for (const m of body.models) assert.deepEqual([m.activeVersion, m.ageMs, m.versions], [null, null, 0]);
    assert.equal(body.trainer.status, 'off');
    assert.equal((await fetch(`${h.url}/v1/models`)).status, 401);
  } finally {
    await h.close();
  }
});

test('the demo trainer child activates a learned model with nothing typed, shown by /healthz', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainer-demo-'));
  dirs.push(dir);
  const cfgPath = join(dir, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ trainer: { firstRunDelaySeconds: 0, maxMinutesPerRun: 0.5, models: ['twotower'], params: { twotower: TWO_TOWER } } }));
  const logs: string[] = [];
  const t0 = Date.now();
  const stamp = (m: string): void => void logs.push(`${Date.now() - t0} ${m}`);
  const h = await startDemo({ dataDir: dir, port: 0, users: 120, items: 150, eventsPerUser: 20, seed: 5, env: { TASTEMAKER_CONFIG: cfgPath }, log: stamp });
  try {
    assert.ok(h.trainer?.pid(), 'trainer child running');
    type Health = { models: Record<string, { version: string | null; ageMs: number | null }>; trainer: { status: string } };
    let health: Health | undefined;
    while (!health?.models.twotower.version) {
      assert.ok(Date.now() - t0 < 90_000, `no model activated: ${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
      health = (await (await fetch(`${h.url}/healthz`)).json()) as Health;
    }
    assert.equal(health.models.twotower.version, 'v1');
    assert.ok((health.models.twotower.ageMs ?? -1) >= 0);
    assert.ok(logs.some((l) => /trainer: twotower v1 activated/.test(l)), `progress in the log: ${logs.join("\n")}`);
    // Serving hot-reloads it (attachRegistry polls every 2 s).
    const deadline = Date.now() + 10_000;
    while (!logs.some((l) => / two-tower v1 serving/.test(l))) {
      assert.ok(Date.now() < deadline, 'serving did not load v1');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await h.close();
  }
  assert.equal(h.trainer?.pid(), undefined, 'the child left with the server');
});
