/**
 * One configuration schema for every long-running command (serve, demo). Values come from, in rising
 * precedence: built-in defaults, an optional JSON file, environment variables, command-line flags. The
 * zod schema is the only description of the shape; a bad value fails at start with the field named
 * (`port: must be at most 65535`), and `printConfig` shows what was resolved with the secrets masked.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ValidationError, issuesFromSchema } from './errors.js';
import { DEFAULT_EVENT_WEIGHTS, EventType, LIMITS } from './schemas.js';

/** An API key: long enough to resist guessing, printable so it travels in a header. */
const ApiKey = z
  .string()
  .min(16, 'API keys must be at least 16 characters')
  .max(256, 'API keys must be at most 256 characters')
  .regex(/^[\x21-\x7e]+$/, 'API keys must be printable ASCII without spaces');

export const LimitsConfig = z.strictObject({
  /** Largest accepted request body; larger bodies get 413 before they are parsed. */
  bodyLimitBytes: z.number().int().min(1_024).max(512 * 1024 * 1024).default(32 * 1024 * 1024),
  /** Most rows in one POST /v1/items|users|events batch (413 above). */
  batchSize: z.number().int().min(1).max(LIMITS.batchSize).default(LIMITS.batchSize),
  /** Largest `n` a recommend/similar call may ask for. */
  maxN: z.number().int().min(1).max(LIMITS.maxN).default(LIMITS.maxN),
  /** Most ids in an `exclude` list. */
  maxExclude: z.number().int().min(0).max(10_000).default(1_000),
  /** A request whose headers and body have not all arrived after this is answered 408 (src/serve/body-deadline.ts). */
  requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
});
export type LimitsConfig = z.infer<typeof LimitsConfig>;

const DAY_MS = 86_400_000;

/**
 * The accepted time window of client timestamps (events' `timestamp`, items' `createdAt`/`expiresAt`,
 * users' `createdAt`), measured against the server clock. A timestamp far in the future would dominate
 * every time-decayed counter (forward decay weighs an event by 2^(t/halfLife)) and stay there, since the
 * log replays at start; so the window is checked at ingest, and replay clamps what an older log holds.
 */
export const IngestConfig = z.strictObject({
  /** Outside the window: `reject` the row (400-style issue naming the field) or `clamp` the value into it. */
  timePolicy: z.enum(['reject', 'clamp']).default('reject'),
  /** How far ahead of server time an event `timestamp` or user `createdAt` may be (client clock skew). */
  maxFutureSkewMs: z.number().int().min(0).max(7 * DAY_MS).default(5 * 60_000),
  /** How far ahead an item `createdAt` may be: a scheduled release is not served before that time. */
  maxItemScheduleAheadMs: z.number().int().min(0).max(10 * 366 * DAY_MS).default(366 * DAY_MS),
  /** How far ahead an item `expiresAt` may be. */
  maxExpiresAheadMs: z.number().int().min(0).max(1_000 * 366 * DAY_MS).default(100 * 366 * DAY_MS),
  /** Earliest accepted timestamp of any field (ms since the epoch; default 0 = 1970-01-01). */
  minTimestampMs: z.number().int().min(0).max(8.64e15).default(0),
});
export type IngestConfig = z.infer<typeof IngestConfig>;
export const DEFAULT_INGEST_CONFIG: IngestConfig = IngestConfig.parse({});

/**
 * The trainer role (src/train): when it retrains, how long a round may take, which models it keeps fresh.
 * A round runs when `intervalMinutes` have passed since the last one, or earlier once `minNewEvents`
 * events arrived since it, but never before `minNewEvents`/interval of nothing new: an idle store is not
 * retrained for nothing. Model names are checked against the trainer's job table when it starts (core
 * cannot know them).
 */
export const TrainerConfig = z.strictObject({
  /** Minutes between scheduled rounds (a round needs at least one new event since the last). */
  intervalMinutes: z.number().min(0.05).max(7 * 24 * 60).default(60),
  /** New events since the last round that start a round before the interval is up. */
  minNewEvents: z.number().int().min(1).max(1_000_000_000).default(20_000),
  /** Wall-clock budget of one round, split across its models by `shares`. */
  maxMinutesPerRun: z.number().gt(0).max(24 * 60).default(6),
  /** Seconds after start before the first round when some model has no active version yet. */
  firstRunDelaySeconds: z.number().min(0).max(3_600).default(5),
  /** How often the trainer checks the schedule and counts new events. */
  checkIntervalSeconds: z.number().min(0.05).max(3_600).default(30),
  /** Models retrained each round, in order (default: every job the trainer knows). */
  models: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/)).min(1).max(32).optional(),
  /** Relative share of the round's budget per model (models not listed get 1). */
  shares: z.record(z.string(), z.number().positive().max(1_000)).default({ twotower: 3, sasrec: 2, blend: 0.5, ranker: 0.5 }),
  /** Hyper-parameter overrides per model, e.g. { "twotower": { "dim": 32 } } (validated by each model). */
  params: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** Seed of every fit (a round is reproducible given the store). */
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
});
export type TrainerConfig = z.infer<typeof TrainerConfig>;

export const Config = z.strictObject({
  /** Where the embedded store, key file and model artifacts live. */
  dataDir: z.string().min(1, 'must not be empty').default('./.tastemaker'),
  /** Store URL (`sqlite:<path>`, a plain path, or `postgres://…`); default `<dataDir>/tastemaker.db`. */
  store: z.string().min(1, 'must not be empty').optional(),
  port: z.number().int('must be an integer').min(0).max(65_535, 'must be at most 65535').default(8080),
  host: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  /** Keys with the admin role (writes, deletes, admin routes) and the client role (reads, recommend). */
  adminKeys: z.array(ApiKey).max(100).default([]),
  clientKeys: z.array(ApiKey).max(100).default([]),
  /**
   * Reward weight per event type, merged over the defaults (schemas.ts). This map is the one declaration
   * of which feedback is positive (weight > 0), negative (< 0) or ignored (0 or undeclared); every stage
   * asks `isPositive`/`eventWeight` (core/events.ts) about it.
   */
  eventWeights: z
    .record(EventType, z.number().min(-100).max(100).refine(Number.isFinite, 'must be finite'))
    .default({})
    .transform((w) => ({ ...DEFAULT_EVENT_WEIGHTS, ...w })),
  /**
   * An event whose item is not in the catalog creates a minimal item (id only, createdAt = the event's
   * time), as Gorse does; false rejects such events with a reason naming `itemId`.
   */
  autoInsertItems: z.boolean().default(true),
  limits: LimitsConfig.default(LimitsConfig.parse({})),
  /** Accepted time window of client timestamps and what happens outside it. */
  ingest: IngestConfig.default(DEFAULT_INGEST_CONFIG),
  /** Engine settings (re-ranking rules, caps, blend weights…), validated by src/engine/config.ts at start. */
  engine: z.record(z.string(), z.unknown()).default({}),
  trainer: TrainerConfig.default(TrainerConfig.parse({})),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof Config> & { store: string };
export type ConfigInput = z.input<typeof Config>;

/** Environment variables read by `loadConfig`, and the field each one sets. */
export const CONFIG_ENV = {
  TASTEMAKER_DATA_DIR: 'dataDir',
  TASTEMAKER_STORE: 'store',
  PORT: 'port',
  HOST: 'host',
  TASTEMAKER_ADMIN_KEYS: 'adminKeys',
  TASTEMAKER_CLIENT_KEYS: 'clientKeys',
  TASTEMAKER_LOG_LEVEL: 'logLevel',
} as const;

export interface LoadConfigOptions {
  /** Values from command-line flags (already named as config fields); undefined entries are ignored. */
  flags?: Partial<Record<keyof ConfigInput, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file (optional; `TASTEMAKER_CONFIG` in env names one too). */
  file?: string;
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** Reads env values into config fields; numbers are parsed here so the schema error names the field. */
function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(CONFIG_ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (field === 'port') out[field] = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    else if (field === 'adminKeys' || field === 'clientKeys') out[field] = splitList(raw);
    else out[field] = raw;
  }
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read config file ${path}`, [
      { path: 'config', message: e instanceof Error ? e.message : String(e) },
    ]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`config file ${path} is not valid JSON`, [
      { path: 'config', message: e instanceof Error ? e.message : String(e) },
    ]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError(`config file ${path} must hold a JSON object`, [{ path: 'config', message: 'expected an object' }]);
  }
  return parsed as Record<string, unknown>;
}

/** The default store URL for a data dir. */
export function defaultStoreUrl(dataDir: string): string {
  return `sqlite:${join(resolve(dataDir), 'tastemaker.db')}`;
}

/**
 * Resolves the configuration: defaults < file < env < flags. Throws ValidationError listing every bad
 * field by its path (e.g. `limits.batchSize`).
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? {};
  const filePath = opts.file ?? env.TASTEMAKER_CONFIG;
  const fileValues = filePath ? readConfigFile(filePath) : {};
  const flagValues: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts.flags ?? {})) if (v !== undefined) flagValues[k] = v;
  const merged = { ...fileValues, ...fromEnv(env), ...flagValues };
  const r = Config.safeParse(merged);
  if (!r.success) {
    const issues = issuesFromSchema(r.error.issues);
    throw new ValidationError(`invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return { ...r.data, store: r.data.store ?? defaultStoreUrl(r.data.dataDir) };
}

/** Shows a key's first four characters only: enough to tell keys apart in a log, useless to an attacker. */
export function maskSecret(s: string): string {
  return s.length <= 8 ? '****' : `${s.slice(0, 4)}…(${s.length} chars)`;
}

/** The resolved configuration as indented JSON with the API keys masked, for the start-up log. */
export function printConfig(config: Config): string {
  const masked = {
    ...config,
    adminKeys: config.adminKeys.map(maskSecret),
    clientKeys: config.clientKeys.map(maskSecret),
    store: config.store.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:****@'),
  };
  return JSON.stringify(masked, null, 2);
}
