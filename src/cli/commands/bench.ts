/**
 * `tastemaker bench <name> [--json] [...args]`: runs `bench/<name>.ts`, which exports
 * `run(args): Promise<Record<string, unknown>>`, and prints its result object as the last stdout line
 * (with a readable key/value summary above it unless --json). Arguments after the name, other than
 * --json, are passed to the bench untouched.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';

/** The repo's bench/ directory (this file is src/cli/commands/bench.ts). */
export const BENCH_DIR = fileURLToPath(new URL('../../../bench/', import.meta.url));

export function listBenches(dir = BENCH_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^[a-z0-9-]+\.ts$/.test(f) && !f.endsWith('.test.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

type BenchRun = (args: string[]) => Promise<Record<string, unknown>>;

/** Loads and runs one bench; the name is checked before anything is imported. */
export async function runBench(name: string, args: string[], dir = BENCH_DIR): Promise<Record<string, unknown>> {
  const available = listBenches(dir);
  const file = join(dir, `${name}.ts`);
  if (!/^[a-z0-9-]+$/.test(name) || !existsSync(file)) {
    throw new ValidationError(`unknown bench '${name}'; available: ${available.join(', ') || '(none)'}`, [
      { path: 'name', message: `must be one of ${available.join(', ') || '(none)'}` },
    ]);
  }
  const mod = (await import(pathToFileURL(file).href)) as { run?: unknown };
  if (typeof mod.run !== 'function') {
    throw new ValidationError(`bench/${name}.ts does not export run(args)`, [{ path: 'name', message: 'no run export' }]);
  }
  const result = (await (mod.run as BenchRun)(args)) as unknown;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new Error(`bench/${name}.ts run() must resolve to an object`);
  }
  return result as Record<string, unknown>;
}

function pretty(obj: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(obj).map((k) => k.length));
  return Object.entries(obj)
    .map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(`Run a benchmark from bench/ and print its JSON result last (${listBenches().join(', ')})`)
    .argument('<name>', 'benchmark name (file bench/<name>.ts)')
    .argument('[args...]', 'arguments for the benchmark')
    .option('--json', 'print only the JSON result line')
    .allowUnknownOption()
    // Options after the name belong to the bench, so commander's help option is off and `--help` /
    // `-h` in the name's place prints this command's help instead of naming a bench.
    .helpOption(false)
    .addHelpText('after', () => '\nFigures and the command behind each: docs/benchmarks.md')
    .action(async (name: string, args: string[], opts: { json?: boolean }, cmd: Command) => {
      if (name === '--help' || name === '-h' || name === 'help') {
        cmd.outputHelp();
        return;
      }
      const result = await runBench(name, args);
      if (!opts.json) console.log(pretty(result));
      console.log(JSON.stringify(result));
    });
}
