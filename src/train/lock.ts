/**
 * One training round at a time per data dir, across processes (the trainer inside `serve`, a standalone
 * `tastemaker trainer`, a `train --all` typed by hand). The lock is a small JSON file created with O_EXCL
 * holding the owner's pid, host and a heartbeat. A lock whose owner is gone — its pid no longer exists on
 * this host (killed with -9, crashed, machine rebooted), or its heartbeat is older than `staleMs` (a pid
 * reused by another program) — is stale: the next run removes it and goes ahead, so a killed run never
 * blocks the ones after it.
 */
import { hostname } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ConflictError } from '../core/errors.js';
import { pidAlive } from '../core/process.js';

const LockFile = z.object({ pid: z.number().int().positive(), host: z.string(), startedAt: z.number(), heartbeatAt: z.number() });
export type LockInfo = z.infer<typeof LockFile>;

export function readLock(path: string): LockInfo | undefined {
  try {
    const r = LockFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Why a lock (as read) no longer protects anything, or undefined while its owner lives. */
export function staleReason(lock: LockInfo | undefined, staleMs: number, nowMs: number): string | undefined {
  if (!lock) return 'unreadable lock file';
  if (lock.host !== hostname()) return nowMs - lock.heartbeatAt > staleMs ? `owner on ${lock.host} silent for ${Math.round((nowMs - lock.heartbeatAt) / 1000)} s` : undefined;
  if (!pidAlive(lock.pid)) return `owner pid ${lock.pid} is gone`;
  if (nowMs - lock.heartbeatAt > staleMs) return `owner pid ${lock.pid} silent for ${Math.round((nowMs - lock.heartbeatAt) / 1000)} s`;
  return undefined;
}

export interface HeldLock {
  /** Refreshes the heartbeat (called between jobs, and by a timer while the event loop is free). */
  beat(): void;
  release(): void;
}

/**
 * Takes the lock or throws ConflictError naming the live owner. A stale lock is removed (and reported
 * through onStale) first. `staleMs` must exceed the longest stretch without a heartbeat: a fit holds the
 * event loop for up to an epoch, so the default allows an hour.
 */
export function acquireLock(path: string, opts: { staleMs?: number; nowMs?: () => number; onStale?: (reason: string) => void } = {}): HeldLock {
  const now = opts.nowMs ?? Date.now;
  const staleMs = opts.staleMs ?? 60 * 60_000;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    const t = now();
    const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: t, heartbeatAt: t };
    try {
      writeFileSync(path, JSON.stringify(mine), { flag: 'wx' });
      let released = false;
      return {
        beat: () => {
          if (released) return;
          // Replace, not rewrite in place: a reader never sees a half-written file.
          const tmp = `${path}.${process.pid}.tmp`;
          writeFileSync(tmp, JSON.stringify({ ...mine, heartbeatAt: now() }));
          renameSync(tmp, path);
        },
        release: () => {
          if (released) return;
          released = true;
          if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock(path);
    const reason = staleReason(held, staleMs, now());
    if (!reason) {
      throw new ConflictError(`a training round is already running (pid ${held!.pid} on ${held!.host}, since ${new Date(held!.startedAt).toISOString()})`, [
        { path: 'lock', message: path },
      ]);
    }
    opts.onStale?.(reason);
    rmSync(path, { force: true });
  }
  throw new ConflictError(`could not take the training lock ${path}`, [{ path: 'lock', message: 'contended' }]);
}
