#!/usr/bin/env node
// Entry point: registers the TypeScript loader (tsx) so the CLI runs from source after `npm ci`.
//
// `serve` and `demo` run in a child node started with a small young generation (--max-semi-space-size=4):
// at a 1M-item catalog the default 16 MB semi-space made each scavenge pause ~9 ms, long enough to be the
// p99 of request latency; 4 MB keeps them at ~3 ms (docs/benchmarks.md, "Serving at 1M items"). V8 reads
// the size only at start-up, hence the re-exec. Set the flag yourself (NODE_OPTIONS or node's argv) or
// TASTEMAKER_SEMI_SPACE=default to opt out. The parent forwards signals and exits with the child; the child
// exits when the parent disappears (IPC channel closed), so no server is orphaned.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LONG_RUNNING = new Set(['serve', 'demo']);
const args = process.argv.slice(2);
const hasFlag = (s) => s.includes('--max-semi-space-size') || s.includes('--max_semi_space_size');
const wantsReexec =
  LONG_RUNNING.has(args[0]) &&
  process.env.TASTEMAKER_REEXECED !== '1' &&
  process.env.TASTEMAKER_SEMI_SPACE !== 'default' &&
  !process.execArgv.some(hasFlag) &&
  !hasFlag(process.env.NODE_OPTIONS ?? '');

if (wantsReexec) {
  const semi = /^\d+$/.test(process.env.TASTEMAKER_SEMI_SPACE ?? '') ? process.env.TASTEMAKER_SEMI_SPACE : '4';
  const child = spawn(process.execPath, [`--max-semi-space-size=${semi}`, ...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TASTEMAKER_REEXECED: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 0)));
} else {
  if (process.env.TASTEMAKER_REEXECED === '1' && process.send) {
    // Started by the wrapper above: leave when it goes, even if it was killed with SIGKILL.
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
    process.channel?.unref();
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
