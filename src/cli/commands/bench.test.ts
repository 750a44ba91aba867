import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { main } from '../main.js';
import { listBenches, runBench } from './bench.js';

test('runBench imports bench/<name>.ts and passes the arguments', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'));
  writeFileSync(join(dir, 'echo.ts'), 'export async function run(args: string[]) { return { bench: "echo", args }; }\n');
  writeFileSync(join(dir, 'norun.ts'), 'export const x = 1;\n');
  assert.deepEqual(listBenches(dir), ['echo', 'norun']);
  assert.deepEqual(await runBench('echo', ['--n', '3'], dir), { bench: 'echo', args: ['--n', '3'] });
  await assert.rejects(runBench('norun', [], dir), ValidationError);
  await assert.rejects(runBench('../etc', [], dir), (e: unknown) => e instanceof ValidationError && /available: echo, norun/.test(e.message));
  await assert.rejects(runBench('missing', [], dir), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'name');
});

test('CLI: unknown bench exits 2 and lists the available ones', async () => {
  const errs: string[] = [];
  const err = console.error;
  console.error = (...a: unknown[]) => errs.push(a.join(' '));
  try {
    assert.equal(await main(['bench', 'no-such-bench', '--json']), 2);
  } finally {
    console.error = err;
  }
  assert.ok(errs.some((l) => l.includes('available:') && l.includes('ingest')), errs.join('\n'));
});

test('CLI: bench --help and -h print the usage and exit 0', async () => {
  for (const flag of ['--help', '-h']) {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['bench', flag]);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0, flag);
    const text = out.join('');
    assert.match(text, /Usage: tastemaker bench/);
    assert.match(text, /ingest/, 'lists the benchmarks');
  }
});
