/**
 * Model registry: versioned, immutable artifacts on disk, one active version per model, switched
 * atomically. This is the hand-off between the `train` worker and any number of `serve` replicas
 * (Gorse's master/worker split): trainers only ever add versions; readers follow `active.json`.
 *
 * Layout under `<dataDir>/models/<name>/`:
 *   <version>/config.json     model hyper-parameters and shapes
 *   <version>/metrics.json    evaluation metrics (flat name → number), incl. the validation metric
 *   <version>/weights.json    manifest: tensor name → { dtype, length }
 *   <version>/weights/<t>.bin raw little-endian Float32/Int32 tensors
 *   <version>/files/<f>       extra text files (e.g. the item id list the indexes refer to)
 *   active.json               { version, activatedAt, metric, value }
 * A version is written into a temp directory and renamed into place (POSIX rename is atomic), so a
 * crashed or failed training run leaves no half-written version and never touches active.json.
 * active.json is itself replaced by write-temp + rename: readers see the old or the new file, never a mix.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { pidAlive } from '../core/process.js';

import type { Tensor } from '../core/tensor.js';

export type { Tensor };

export interface ModelArtifacts {
  config: Record<string, unknown>;
  metrics: Record<string, number>;
  weights: Record<string, Tensor>;
  /** Extra text files by name (flat names only). */
  files?: Record<string, string>;
}

export interface VersionInfo {
  name: string;
  version: string;
  createdAt: number;
  metrics: Record<string, number>;
  active: boolean;
}

const ActiveSchema = z.object({
  version: z.string(),
  activatedAt: z.number(),
  metric: z.string(),
  value: z.number().nullable(),
});
export type ActiveRecord = z.infer<typeof ActiveSchema>;

const NAME_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const VERSION_RE = /^v(\d{1,9})$/;
/** Default metric compared on activation: validation NDCG@10 (higher is better). */
export const DEFAULT_VALIDATION_METRIC = 'valid.NDCG@10';

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new ValidationError(`invalid model name "${name}"`, [{ path: 'name', message: 'lower-case letters, digits, _ or -' }]);
}
function checkVersion(version: string): void {
  if (!VERSION_RE.test(version)) throw new ValidationError(`invalid version "${version}"`, [{ path: 'version', message: 'expected v<number>, e.g. v3' }]);
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export class ModelRegistry {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'models');
  }

  private dir(name: string): string {
    checkName(name);
    return join(this.root, name);
  }

  /** Model names that have at least one version. */
  models(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root).filter((n) => NAME_RE.test(n) && this.versions(n).length > 0).sort();
  }

  /**
   * Removes the temp directories of versions whose writer died mid-write (killed trainer: its pid, part of
   * the name, no longer exists). They were never visible as versions; this only reclaims the disk.
   * Returns how many were removed.
   */
  removeAbandoned(): number {
    if (!existsSync(this.root)) return 0;
    let removed = 0;
    for (const n of readdirSync(this.root)) {
      if (!NAME_RE.test(n)) continue;
      for (const entry of readdirSync(join(this.root, n))) {
        const m = /^(?:\.|active\.json\.)tmp-(\d+)-/.exec(entry);
        if (m && !pidAlive(Number(m[1]))) {
          rmSync(join(this.root, n, entry), { recursive: true, force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  /** Version names, oldest first. */
  versions(name: string): string[] {
    const d = this.dir(name);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((v) => VERSION_RE.test(v))
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  }

  /**
   * Writes a new immutable version and returns its name (v1, v2, ...). Does not activate it.
   * Everything goes to a temp dir first; on any error the temp dir is removed and nothing is visible.
   */
  register(name: string, a: ModelArtifacts): string {
    const d = this.dir(name);
    mkdirSync(d, { recursive: true });
    const tmp = join(d, `.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    try {
      mkdirSync(join(tmp, 'weights'), { recursive: true });
      for (const [k, v] of Object.entries(a.metrics)) {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(`metric ${k} must be a finite number`, [{ path: `metrics.${k}`, message: `got ${v}` }]);
      }
      const manifest: Record<string, { dtype: 'f32' | 'i32'; length: number }> = {};
      for (const [k, t] of Object.entries(a.weights)) {
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k)) throw new ValidationError(`invalid tensor name ${k}`, [{ path: `weights.${k}`, message: 'letters, digits, _ . -' }]);
        const dtype = t instanceof Float32Array ? 'f32' : t instanceof Int32Array ? 'i32' : null;
        if (!dtype) throw new ValidationError(`tensor ${k} must be a Float32Array or Int32Array`, [{ path: `weights.${k}`, message: 'unsupported type' }]);
        if (dtype === 'f32') {
          for (let i = 0; i < t.length; i++) {
            if (!Number.isFinite(t[i])) throw new ValidationError(`tensor ${k} has a non-finite value`, [{ path: `weights.${k}[${i}]`, message: String(t[i]) }]);
          }
        }
        writeFileSync(join(tmp, 'weights', `${k}.bin`), new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
        manifest[k] = { dtype, length: t.length };
      }
      if (a.files) {
        mkdirSync(join(tmp, 'files'));
        for (const [f, text] of Object.entries(a.files)) {
          if (!/^[A-Za-z0-9_.-]{1,64}$/.test(f) || f.startsWith('.')) throw new ValidationError(`invalid file name ${f}`, [{ path: `files.${f}`, message: 'flat name expected' }]);
          writeFileSync(join(tmp, 'files', f), text);
        }
      }
      writeFileSync(join(tmp, 'weights.json'), JSON.stringify(manifest));
      writeFileSync(join(tmp, 'config.json'), JSON.stringify(a.config, null, 2));
      writeFileSync(join(tmp, 'metrics.json'), JSON.stringify({ ...a.metrics, createdAt: Date.now() }, null, 2));
      // Claim the next free version by rename; a concurrent trainer that took it makes us retry.
      for (let attempt = 0; attempt < 100; attempt++) {
        const existing = this.versions(name);
        const next = `v${existing.length ? Number(existing[existing.length - 1].slice(1)) + 1 : 1}`;
        try {
          renameSync(tmp, join(d, next));
          return next;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
        }
      }
      throw new ConflictError(`could not allocate a version for ${name}`);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  private versionDir(name: string, version: string): string {
    checkVersion(version);
    const vd = join(this.dir(name), version);
    if (!existsSync(vd)) throw new NotFoundError(`model ${name} has no version ${version}`, [{ path: 'version', message: 'not found' }]);
    return vd;
  }

  metrics(name: string, version: string): Record<string, number> {
    return JSON.parse(readFileSync(join(this.versionDir(name, version), 'metrics.json'), 'utf8')) as Record<string, number>;
  }

  active(name: string): ActiveRecord | undefined {
    const p = join(this.dir(name), 'active.json');
    if (!existsSync(p)) return undefined;
    return ActiveSchema.parse(JSON.parse(readFileSync(p, 'utf8')));
  }

  list(name?: string): VersionInfo[] {
    const names = name ? [name] : this.models();
    const out: VersionInfo[] = [];
    for (const n of names) {
      const act = this.active(n)?.version;
      for (const v of this.versions(n)) {
        const { createdAt, ...metrics } = this.metrics(n, v);
        out.push({ name: n, version: v, createdAt, metrics, active: v === act });
      }
    }
    return out;
  }

  /**
   * Makes `version` the active one. Refuses (ConflictError) when its validation metric is worse than the
   * active version's, or missing while the active one has it, unless `force`.
   */
  activate(name: string, version: string, opts: { force?: boolean; metric?: string } = {}): ActiveRecord {
    const metric = opts.metric ?? DEFAULT_VALIDATION_METRIC;
    const candidate = this.metrics(name, version)[metric];
    const current = this.active(name);
    if (current && current.version !== version && !opts.force) {
      const cur = existsSync(join(this.dir(name), current.version)) ? this.metrics(name, current.version)[metric] : undefined;
      if (typeof cur === 'number' && !(typeof candidate === 'number' && candidate >= cur)) {
        throw new ConflictError(
          `refusing to activate ${name} ${version}: ${metric} ${candidate ?? 'missing'} is worse than active ${current.version} (${cur}); pass --force to override`,
          [{ path: 'version', message: `${metric} ${candidate ?? 'missing'} < ${cur}` }],
        );
      }
    }
    const rec: ActiveRecord = { version, activatedAt: Date.now(), metric, value: typeof candidate === 'number' ? candidate : null };
    writeAtomic(join(this.dir(name), 'active.json'), JSON.stringify(rec, null, 2));
    return rec;
  }

  /** Reads a version (the active one by default). */
  load(name: string, version?: string): ModelArtifacts & { version: string } {
    const v = version ?? this.active(name)?.version;
    if (!v) throw new NotFoundError(`model ${name} has no active version`, [{ path: 'name', message: 'train and activate a version first' }]);
    const vd = this.versionDir(name, v);
    const manifest = JSON.parse(readFileSync(join(vd, 'weights.json'), 'utf8')) as Record<string, { dtype: 'f32' | 'i32'; length: number }>;
    const weights: Record<string, Tensor> = {};
    for (const [k, { dtype, length }] of Object.entries(manifest)) {
      const buf = readFileSync(join(vd, 'weights', `${k}.bin`));
      if (buf.byteLength !== length * 4) throw new ValidationError(`tensor ${k} of ${name} ${v} is truncated`, [{ path: `weights.${k}`, message: `${buf.byteLength} bytes for ${length} values` }]);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      weights[k] = dtype === 'f32' ? new Float32Array(ab) : new Int32Array(ab);
    }
    const files: Record<string, string> = {};
    const fd = join(vd, 'files');
    if (existsSync(fd)) for (const f of readdirSync(fd)) files[f] = readFileSync(join(fd, f), 'utf8');
    const { createdAt: _c, ...metrics } = this.metrics(name, v);
    return { version: v, config: JSON.parse(readFileSync(join(vd, 'config.json'), 'utf8')) as Record<string, unknown>, metrics, weights, files };
  }

  /**
   * Calls cb(record) whenever the active version of `name` changes (reading the small active.json every
   * intervalMs; polling works on every filesystem, including network mounts shared by replicas).
   * Returns a stop function. The timer does not keep the process alive.
   */
  onActiveChange(name: string, cb: (rec: ActiveRecord) => void, opts: { intervalMs?: number } = {}): () => void {
    let last = this.active(name)?.version;
    const timer = setInterval(() => {
      try {
        const rec = this.active(name);
        if (rec && rec.version !== last) {
          last = rec.version;
          cb(rec);
        }
      } catch {
        // active.json replaced between exists and read: the next tick sees the new one.
      }
    }, Math.max(10, opts.intervalMs ?? 1000));
    timer.unref();
    return () => clearInterval(timer);
  }
}
