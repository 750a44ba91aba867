/**
 * The trainer's state, shared with serving through one small JSON file in the data dir
 * (`<dataDir>/trainer/state.json`, replaced atomically by write-temp + rename): what it is doing, how the
 * last round went, when the next one is due. A file rather than IPC because the trainer may be another
 * process on another machine sharing the data dir, and because the file outlives a crash: a state that
 * says "running" under a pid that no longer exists is reported as `crashed`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { pidAlive } from '../core/process.js';

export const JobResultSchema = z.object({
  model: z.string(),
  outcome: z.enum(['activated', 'kept', 'failed']),
  seconds: z.number(),
  version: z.string().optional(),
  'valid.NDCG@10': z.number().optional(),
  warmStart: z.enum(['warm', 'cold']).optional(),
  reason: z.string().optional(),
});

export const TrainerStateSchema = z.object({
  pid: z.number().int(),
  /** idle: waiting for the schedule; running: a round is on (`model` is the job); crashed: the owner died mid-round. */
  status: z.enum(['idle', 'running', 'stopped', 'crashed']),
  model: z.string().optional(),
  /** Rounds this trainer process has started. */
  rounds: z.number().int().min(0),
  startedAt: z.number(),
  currentRun: z.object({ startedAt: z.number(), trigger: z.string() }).optional(),
  lastRun: z
    .object({
      startedAt: z.number(),
      endedAt: z.number(),
      trigger: z.string(),
      outcome: z.enum(['ok', 'partial', 'failed']),
      jobs: z.array(JobResultSchema),
    })
    .optional(),
  /** The event log position the last round trained on (new events are counted from here). */
  lastRoundSeq: z.number().int().min(0).optional(),
  /** When the schedule next starts a round (absent: waiting for new events). */
  nextRunAt: z.number().optional(),
  nextRunReason: z.string().optional(),
  updatedAt: z.number(),
});
export type TrainerState = z.infer<typeof TrainerStateSchema>;

export function trainerDir(dataDir: string): string {
  return join(dataDir, 'trainer');
}
export function statePath(dataDir: string): string {
  return join(trainerDir(dataDir), 'state.json');
}
export function lockPath(dataDir: string): string {
  return join(trainerDir(dataDir), 'round.lock');
}

export function writeState(dataDir: string, state: TrainerState): void {
  mkdirSync(trainerDir(dataDir), { recursive: true });
  const path = statePath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, path);
}

/** The state as last written, with `running` turned into `crashed` when its process is gone; undefined if none. */
export function readState(dataDir: string): TrainerState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(statePath(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
  const r = TrainerStateSchema.safeParse(raw);
  if (!r.success) return undefined;
  const s = r.data;
  if ((s.status === 'running' || s.status === 'idle') && !pidAlive(s.pid)) return { ...s, status: s.status === 'running' ? 'crashed' : 'stopped', model: s.status === 'running' ? s.model : undefined };
  return s;
}
