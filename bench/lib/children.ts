/**
 * Child processes the HTTP benches run: the real `tastemaker serve` (through bin/tastemaker.mjs, as users
 * start it) and the CLI's batch commands. One place for how they are started, awaited and stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = `${REPO}bin/tastemaker.mjs`;

export interface ServeChild {
  child: ChildProcess;
  url: string;
  /** Seconds from spawn to the server's "serving at" line (warm-up included). */
  startSeconds: number;
  stop(): Promise<void>;
}

export interface ServeOptions {
  db: string;
  dataDir: string;
  /** API keys, passed as TASTEMAKER_ADMIN_KEYS / TASTEMAKER_CLIENT_KEYS. */
  adminKey: string;
  clientKey: string;
  /** Flags for the server's node (e.g. --max-semi-space-size=64, --cpu-prof). */
  nodeArgs?: string[];
  /** More `serve` arguments (e.g. --config file, --no-search). */
  serveArgs?: string[];
  env?: Record<string, string>;
  /** Every complete stderr line of the server. */
  onStderrLine?: (line: string) => void;
  /** Longest wait for the server to listen (default 10 min: a 1M-item store warms up in ~25 s). */
  timeoutMs?: number;
}

/** Stops a child with SIGTERM, then SIGKILL after killAfterMs if it is stuck in a synchronous step. */
export async function stopChild(child: ChildProcess, killAfterMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(killer);
}

/** Starts `tastemaker serve` on a free loopback port; resolves once it listens. */
export function startServe(o: ServeOptions): Promise<ServeChild> {
  const args = [...(o.nodeArgs ?? []), BIN, 'serve', '--db', o.db, '--data-dir', o.dataDir, '--port', '0', '--host', '127.0.0.1', ...(o.serveArgs ?? [])];
  return listening('tastemaker serve', args, { ...process.env, TASTEMAKER_ADMIN_KEYS: o.adminKey, TASTEMAKER_CLIENT_KEYS: o.clientKey, ...o.env }, o);
}

/**
 * The node flags `tastemaker serve` runs with (bin/tastemaker.mjs re-executes it with a 4 MB young
 * generation unless the flags or TASTEMAKER_SEMI_SPACE say otherwise), for a process that must run like it.
 */
export function serveNodeFlags(nodeArgs: string[] = []): string[] {
  const has = (s: string): boolean => s.includes('--max-semi-space-size') || s.includes('--max_semi_space_size');
  const env = process.env.TASTEMAKER_SEMI_SPACE;
  if (nodeArgs.some(has) || has(process.env.NODE_OPTIONS ?? '') || env === 'default') return nodeArgs;
  return [`--max-semi-space-size=${/^\d+$/.test(env ?? '') ? env : '4'}`, ...nodeArgs];
}

/**
 * Starts the floor server (bench/lib/floor-server.ts) answering `pageFile`'s JSON on GET
 * /v1/recommend/:userId, with the same node flags as `tastemaker serve` given nodeArgs.
 */
export function startFloor(pageFile: string, nodeArgs: string[] = []): Promise<ServeChild> {
  const script = fileURLToPath(new URL('./floor-server.ts', import.meta.url));
  return listening('floor server', [...serveNodeFlags(nodeArgs), '--import', 'tsx', script, pageFile], { ...process.env }, { ipc: true });
}

/** Spawns node with args and resolves when it prints `serving at <url>`. */
function listening(name: string, args: string[], env: NodeJS.ProcessEnv, o: { onStderrLine?: (line: string) => void; timeoutMs?: number; ipc?: boolean }): Promise<ServeChild> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe', ...(o.ipc ? (['ipc'] as const) : [])] });
  return new Promise((resolve, reject) => {
    let out = '';
    let errTail = '';
    let partial = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      void stopChild(child);
      reject(new Error(`${name} did not listen within ${(o.timeoutMs ?? 600_000) / 1000} s:\n${errTail}`));
    }, o.timeoutMs ?? 600_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (done) return;
      out = (out + d.toString()).slice(-4000);
      const m = /serving at (http:\/\/\S+)/.exec(out);
      if (!m) return;
      done = true;
      clearTimeout(timer);
      resolve({ child, url: m[1], startSeconds: Math.round((performance.now() - t0) / 100) / 10, stop: () => stopChild(child) });
    });
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      errTail = (errTail + text).slice(-4000);
      if (!o.onStderrLine) return;
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) o.onStderrLine(line);
    });
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${errTail}`));
    });
  });
}

/**
 * Runs `tastemaker <args>` to completion. Its stderr (progress) goes to ours; its stdout is returned and
 * also echoed to our stderr, so our own stdout keeps only the bench's JSON line. Rejects on a non-zero exit.
 */
export function runCli(args: string[], opts: { env?: Record<string, string>; echo?: boolean } = {}): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', opts.echo === false ? 'ignore' : 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (opts.echo !== false) process.stderr.write(d);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`tastemaker ${args.join(' ')} failed (${signal ?? code})`));
    });
  });
}

/** The last line of a command's stdout parsed as JSON (the CLI's summary contract). */
export function lastJsonLine(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}
