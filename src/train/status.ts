/**
 * What serving reports about training (`GET /v1/models`, `/healthz`): per model the active version, its
 * age and validation metrics (from the registry), and the trainer's state (from its state file). Read on
 * demand from small files, so it is right whichever process or machine trains.
 */
import { z } from 'zod';
import { ModelRegistry } from '../registry/index.js';
import { trainJobNames } from './jobs.js';
import { JobResultSchema, readState } from './state.js';

export const ModelStatusSchema = z.object({
  name: z.string(),
  activeVersion: z.string().nullable(),
  activatedAt: z.number().nullable(),
  /** Milliseconds since the active version was activated. */
  ageMs: z.number().nullable(),
  /** The active version's metrics (validation NDCG@10 and the like, training time, data size). */
  metrics: z.record(z.string(), z.number()),
  versions: z.number().int(),
});

export const TrainerStatusSchema = z.object({
  /** off: this server runs no trainer (`--no-train`) and no state file says another one does. */
  status: z.enum(['idle', 'running', 'stopped', 'crashed', 'off']),
  /** The model a running round is training. */
  model: z.string().optional(),
  pid: z.number().int().optional(),
  rounds: z.number().int().optional(),
  currentRun: z.object({ startedAt: z.number(), trigger: z.string() }).optional(),
  lastRun: z
    .object({ startedAt: z.number(), endedAt: z.number(), trigger: z.string(), outcome: z.enum(['ok', 'partial', 'failed']), jobs: z.array(JobResultSchema) })
    .optional(),
  nextRunAt: z.number().optional(),
  nextRunReason: z.string().optional(),
});

export const ModelsStatusSchema = z.object({ models: z.array(ModelStatusSchema), trainer: TrainerStatusSchema });
export type ModelsStatus = z.infer<typeof ModelsStatusSchema>;

/** Status of every trainable model (and any other model with versions) plus the trainer's. */
export function modelsStatus(dataDir: string, nowMs: number = Date.now()): ModelsStatus {
  const registry = new ModelRegistry(dataDir);
  const names = [...new Set([...trainJobNames(), ...registry.models()])];
  const models = names.map((name) => {
    const active = registry.active(name);
    let metrics: Record<string, number> = {};
    if (active) {
      try {
        metrics = registry.metrics(name, active.version);
      } catch {
        // The version dir vanished under a stale active.json: report the version, without metrics.
      }
    }
    const { createdAt: _c, ...rest } = metrics;
    return {
      name,
      activeVersion: active?.version ?? null,
      activatedAt: active?.activatedAt ?? null,
      ageMs: active ? Math.max(0, nowMs - active.activatedAt) : null,
      metrics: rest,
      versions: registry.versions(name).length,
    };
  });
  const s = readState(dataDir);
  const trainer = s
    ? {
        status: s.status, pid: s.pid, rounds: s.rounds,
        ...(s.model ? { model: s.model } : {}), ...(s.currentRun ? { currentRun: s.currentRun } : {}), ...(s.lastRun ? { lastRun: s.lastRun } : {}),
        ...(s.nextRunAt !== undefined ? { nextRunAt: s.nextRunAt } : {}), ...(s.nextRunReason ? { nextRunReason: s.nextRunReason } : {}),
      }
    : { status: 'off' as const };
  return { models, trainer };
}
