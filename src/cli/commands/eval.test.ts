import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../core/rng.js';
import { runCaptured } from '../run-captured.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-eval-'));
const data = join(dir, 'tiny.sasrec.txt');
{
  // 60 users in 3 taste clusters of 20 items, 8 interactions each, `user item` lines in order.
  const rng = new Rng(4);
  const lines: string[] = [];
  for (let u = 1; u <= 60; u++) {
    const c = u % 3;
    const seen = new Set<number>();
    while (seen.size < 8) seen.add(c * 20 + Math.floor(20 * rng.next() ** 2) + 1);
    for (const i of seen) lines.push(`${u} ${i}`);
  }
  writeFileSync(data, lines.join('\n') + '\n');
}

const run = runCaptured;

const lastJson = (out: string[]): Record<string, unknown> => JSON.parse(out[out.length - 1]) as Record<string, unknown>;

test('eval prints the contract JSON last, with sane values, and is deterministic', async () => {
  const args = ['eval', '--data', data, '--format', 'sasrec', '--model', 'ease', '--protocol', 'loo-full', '--seed', '3'];
  const a = await run(args);
  assert.equal(a.code, 0, a.err.join('\n'));
  const row = lastJson(a.out);
  for (const key of ['dataset', 'model', 'protocol', 'users', 'items', 'HR@10', 'NDCG@10', 'HR@50', 'NDCG@50', 'MRR', 'coverage@10', 'train_seconds', 'eval_seconds', 'Recall@10', 'novelty', 'gini_items', 'params', 'seed']) {
    assert.ok(key in row, `missing ${key}`);
  }
  assert.equal(row.model, 'ease');
  assert.equal(row.protocol, 'loo-full');
  assert.equal(row.users, 60);
  assert.equal(row.items, 60);
  for (const key of ['HR@10', 'NDCG@10', 'HR@50', 'NDCG@50', 'MRR', 'coverage@10']) {
    const v = row[key] as number;
    assert.ok(v >= 0 && v <= 1, `${key}=${v}`);
  }
  assert.ok((row['HR@10'] as number) > 0.3, `HR@10 ${String(row['HR@10'])}`); // random would be ~0.19
  assert.ok((row['NDCG@10'] as number) <= (row['HR@10'] as number));
  assert.ok((row['HR@50'] as number) >= (row['HR@10'] as number));
  const b = await run(args);
  const strip = (r: Record<string, unknown>): Record<string, unknown> => ({ ...r, train_seconds: 0, eval_seconds: 0 });
  assert.deepEqual(strip(lastJson(b.out)), strip(row));
});

test('eval --compare prints an aligned table and {compare:[...]}; --report writes json, md and svg', async () => {
  const report = join(dir, 'report');
  const r = await run(['eval', '--data', data, '--format', 'sasrec', '--compare', 'popular,itemknn', '--protocol', 'loo-sampled100', '--ks', '1,5,10', '--report', report]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const last = lastJson(r.out) as { compare: Record<string, unknown>[] };
  assert.deepEqual(last.compare.map((x) => x.model), ['popular', 'itemknn']);
  assert.ok(last.compare.every((x) => typeof x['sampled100_HR@10'] === 'number' && typeof x['HR@10'] === 'number' && 'HR@50' in x));
  const lines = r.out.join('\n').split('\n');
  const header = lines.find((l) => l.startsWith('model '));
  assert.ok(header && header.includes('HR@10') && lines.some((l) => l.startsWith('itemknn ')), lines.join('\n'));
  const itemknnLine = lines.find((l) => l.startsWith('itemknn '))!;
  assert.equal(itemknnLine.length, header.length, 'columns aligned');
  for (const f of ['results.json', 'results.md', 'chart.svg']) assert.ok(existsSync(join(report, f)), f);
  assert.match(readFileSync(join(report, 'results.md'), 'utf8'), /\| itemknn \|/);
  const svg = readFileSync(join(report, 'chart.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4); // 2 models × (HR, NDCG)
});

test('bad flags are ValidationErrors naming the flag (exit 2)', async () => {
  const cases: [string[], string][] = [
    [['--model', 'nope'], '--model'],
    [['--model', 'ease', '--protocol', 'sideways'], '--protocol'],
    [['--model', 'ease', '--ks', '0,10'], '--ks'],
    [['--model', 'ease', '--params', '{bad'], '--params'],
    [['--model', 'ease', '--params', '{"lambda":-3}'], 'params.lambda'],
    [['--model', 'ease', '--protocol', 'temporal'], 'protocol'], // sasrec has no timestamps
    [['--model', 'ease', '--seed', 'x'], '--seed'],
    [[], '--model'],
  ];
  for (const [extra, needle] of cases) {
    const r = await run(['eval', '--data', data, '--format', 'sasrec', ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.err.join('\n')}`);
    assert.ok(r.err.join('\n').includes(needle), `${extra.join(' ')} → ${r.err.join('\n')}`);
  }
});

test('the tastemaker binary runs eval end to end', () => {
  const bin = fileURLToPath(new URL('../../../bin/tastemaker.mjs', import.meta.url));
  const p = spawnSync(process.execPath, [bin, 'eval', '--data', data, '--format', 'sasrec', '--model', 'popular', '--protocol', 'loo-full', '--json'], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const lines = p.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const row = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.equal(row.model, 'popular');
  assert.equal(row.dataset, 'tiny.sasrec');
});

test('eval --protocol temporal on a timestamped csv reports Recall@k for the future items', async () => {
  const csv = join(dir, 'tiny.csv');
  const rng = new Rng(9);
  const lines = ['userId,itemId,timestamp'];
  for (let u = 0; u < 40; u++) {
    const c = u % 2;
    for (let t = 0; t < 10; t++) lines.push(`u${u},i${c * 15 + Math.floor(15 * rng.next())},${1_600_000_000_000 + (t * 40 + u) * 60_000}`);
  }
  writeFileSync(csv, lines.join('\n') + '\n');
  const r = await run(['eval', '--data', csv, '--format', 'csv', '--model', 'itemknn', '--protocol', 'temporal', '--cut', '0.8', '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const row = lastJson(r.out);
  assert.equal(row.protocol, 'temporal');
  assert.ok((row.users as number) > 0 && (row.users as number) <= 40);
  assert.equal(typeof row.cut, 'string');
  assert.ok((row['Recall@10'] as number) > 0 && (row['Recall@10'] as number) <= (row['HR@10'] as number));
});
