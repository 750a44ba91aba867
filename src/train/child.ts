/**
 * The trainer inside `serve`/`demo`: `tastemaker trainer` in a child process with a lower CPU priority, so
 * a fit never runs on the serving event loop and the OS prefers request handling when both want a core.
 * Its log lines are forwarded to the server's log; it leaves when the server does (its IPC channel
 * closes, even if the server was killed with -9). A child that dies is restarted after a pause, so a
 * crash in one round does not end training for the life of the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Config } from '../core/config.js';
import { parseStoreUrl } from '../store/index.js';

const BIN = fileURLToPath(new URL('../../bin/tastemaker.mjs', import.meta.url));
/** Niceness of the trainer child (0 = same as serving, 19 = lowest). */
const TRAINER_NICENESS = 10;
/** Pause before restarting a trainer child that exited on its own. */
const RESTART_DELAY_MS = 30_000;

export interface TrainerChildOptions {
  store: string;
  dataDir: string;
  /** The config file serving was started with (the child reads the same one, and the same env). */
  configFile?: string;
  log: (m: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface TrainerChild {
  /** The running child's pid (undefined between a crash and its restart). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

export function startTrainerChild(o: TrainerChildOptions): TrainerChild {
  let child: ChildProcess | undefined;
  let stopping = false;
  let restart: NodeJS.Timeout | undefined;
  const launch = (): void => {
    const args = [BIN, 'trainer', '--db', o.store, '--data-dir', o.dataDir, ...(o.configFile ? ['--config', o.configFile] : [])];
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: o.env ?? process.env });
    child = c;
    try {
      if (c.pid) setPriority(c.pid, TRAINER_NICENESS);
    } catch {
      // Not permitted on some systems: the child then runs at the server's priority.
    }
    for (const stream of [c.stdout, c.stderr]) if (stream) createInterface({ input: stream }).on('line', (line) => o.log(line));
    c.on('exit', (code, signal) => {
      if (child === c) child = undefined;
      if (stopping) return;
      o.log(`trainer: process exited (${signal ?? `code ${code}`}); the active models keep serving; restarting in ${RESTART_DELAY_MS / 1000} s`);
      restart = setTimeout(launch, RESTART_DELAY_MS);
      restart.unref();
    });
    c.unref();
    c.channel?.unref();
  };
  launch();
  return {
    pid: () => child?.pid,
    stop: async () => {
      stopping = true;
      if (restart) clearTimeout(restart);
      const c = child;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
        // A fit cannot stop mid-epoch; a killed round is safe (the active versions keep serving).
        setTimeout(() => c.kill('SIGKILL'), 5_000).unref();
      });
    },
  };
}

/**
 * Starts the trainer child unless turned off or impossible (an in-memory store cannot be shared with
 * another process). Shared by serve and demo.
 */
export function maybeStartTrainer(on: boolean, config: Config, env: NodeJS.ProcessEnv, log: (m: string) => void, configFile?: string): TrainerChild | undefined {
  if (!on) {
    log('trainer: off (--no-train); run `tastemaker trainer` or `tastemaker train --all` to retrain');
    return undefined;
  }
  const target = parseStoreUrl(config.store);
  if (target.kind === 'sqlite' && target.path === ':memory:') {
    log('trainer: off (an in-memory store cannot be read by the trainer process)');
    return undefined;
  }
  const { trainer: t } = config;
  log(`trainer: starting in a child process (rounds every ${t.intervalMinutes} min or ${t.minNewEvents} new events, ${t.maxMinutesPerRun} min each; --no-train turns it off)`);
  return startTrainerChild({ store: config.store, dataDir: config.dataDir, configFile, env, log });
}
