/**
 * Human-facing outputs of an evaluation: an aligned text table for the terminal (`--compare`), and a
 * report directory (`--report dir`) with results.json, results.md (Markdown table) and chart.svg
 * (hand-written SVG, HR@k and NDCG@k against k, one line per model) — no plotting dependency.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultRow } from './run.js';

export const TABLE_COLUMNS = ['model', 'HR@10', 'NDCG@10', 'HR@50', 'NDCG@50', 'MRR', 'coverage@10', 'novelty', 'train_seconds', 'eval_seconds'];

function cell(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(4);
  return String(v);
}

/** Aligned plain-text table (numbers right-aligned). */
export function formatTable(rows: ResultRow[], columns = TABLE_COLUMNS): string {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]): string => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function markdownTable(rows: ResultRow[], ks: readonly number[]): string {
  const columns = [
    'model',
    ...ks.flatMap((k) => [`HR@${k}`, `NDCG@${k}`]),
    'MRR',
    'coverage@10',
    'novelty',
    'diversity',
    'gini_items',
    'train_seconds',
    'eval_seconds',
  ];
  if (rows.some((r) => r['sampled100_HR@10'] !== undefined)) columns.push('sampled100_HR@10', 'sampled100_NDCG@10');
  const head = `| ${columns.join(' | ')} |`;
  const sep = `|${columns.map((c, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`;
  const body = rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(' | ')} |`);
  const first = rows[0];
  const caption = first ? `Dataset \`${first.dataset}\`, protocol \`${first.protocol}\`, ${first.users} test users, ${first.items} items, seed ${String(first.seed)}. Full ranking, pessimistic ties.` : '';
  return [caption, '', head, sep, ...body, ''].join('\n');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Two panels (HR@k, NDCG@k) with k on a categorical x axis; y from 0 to the rounded-up maximum. */
export function svgChart(rows: ResultRow[], ks: readonly number[]): string {
  const panelW = 360;
  const panelH = 240;
  const margin = { l: 50, r: 15, t: 30, b: 40 };
  const legendH = 18 * rows.length + 10;
  const width = 2 * (panelW + margin.l + margin.r);
  const height = panelH + margin.t + margin.b + legendH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  ['HR', 'NDCG'].forEach((metric, p) => {
    const x0 = p * (panelW + margin.l + margin.r) + margin.l;
    const y0 = margin.t;
    let maxV = 0;
    for (const r of rows) for (const k of ks) maxV = Math.max(maxV, Number(r[`${metric}@${k}`] ?? 0));
    const yMax = maxV <= 0 ? 1 : Math.ceil(maxV * 10) / 10;
    const xs = (i: number): number => x0 + (ks.length === 1 ? panelW / 2 : (i * panelW) / (ks.length - 1));
    const ys = (v: number): number => y0 + panelH - (v / yMax) * panelH;
    parts.push(`<text x="${x0 + panelW / 2}" y="${y0 - 10}" text-anchor="middle" font-size="13" font-weight="bold">${metric}@k</text>`);
    parts.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="none" stroke="#888"/>`);
    for (let t = 0; t <= 5; t++) {
      const v = (yMax * t) / 5;
      const y = ys(v);
      parts.push(`<line x1="${x0}" y1="${y}" x2="${x0 + panelW}" y2="${y}" stroke="#eee"/>`);
      parts.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    }
    ks.forEach((k, i) => {
      parts.push(`<text x="${xs(i)}" y="${y0 + panelH + 16}" text-anchor="middle">${k}</text>`);
    });
    parts.push(`<text x="${x0 + panelW / 2}" y="${y0 + panelH + 32}" text-anchor="middle">k</text>`);
    rows.forEach((r, m) => {
      const color = COLORS[m % COLORS.length];
      const pts = ks.map((k, i) => `${xs(i).toFixed(1)},${ys(Number(r[`${metric}@${k}`] ?? 0)).toFixed(1)}`);
      parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const pt of pts) {
        const [cx, cy] = pt.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
      }
    });
  });
  rows.forEach((r, m) => {
    const y = panelH + margin.t + margin.b + 14 + 18 * m;
    const color = COLORS[m % COLORS.length];
    parts.push(`<line x1="${margin.l}" y1="${y - 4}" x2="${margin.l + 24}" y2="${y - 4}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${margin.l + 30}" y="${y}">${esc(`${r.model} — ${r.dataset}, ${r.protocol}`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export async function writeReport(dir: string, rows: ResultRow[], ks: readonly number[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = [join(dir, 'results.json'), join(dir, 'results.md'), join(dir, 'chart.svg')];
  await writeFile(files[0], JSON.stringify(rows, null, 2) + '\n');
  await writeFile(files[1], markdownTable(rows, ks));
  await writeFile(files[2], svgChart(rows, ks));
  return files;
}
