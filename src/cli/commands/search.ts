/**
 * `tastemaker search <query> --db <path> [--n 10] [--tags a,b] [--creator c] [--user u]
 *  [--mode hybrid|rrf|lexical|semantic] [--suggest] [--steps 300] [--json]`: builds the search index
 * from the store (items, popularity and the content tower from the event log) and answers one query —
 * the same code path as GET /v1/search and /v1/suggest. The last stdout line is the JSON result.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { buildSearchIndexFromStore } from '../../search/from-store.js';
import { recentHistory } from '../../search/routes.js';
import { SearchMode } from '../../search/search-index.js';
import { openStore } from '../../store/index.js';

const SearchCliOptions = z.strictObject({
  db: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  n: z.coerce.number().int().min(1).max(500).default(10),
  tags: z.string().optional(),
  creator: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  mode: SearchMode.default('hybrid'),
  suggest: z.boolean().optional(),
  steps: z.coerce.number().int().min(0).max(100_000).default(300),
  json: z.boolean().optional(),
});

export async function runSearch(q: string, raw: Record<string, unknown>): Promise<Record<string, unknown>> {
  const parsed = SearchCliOptions.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: `--${String(i.path[0] ?? 'options')}`, message: i.message }));
    throw new ValidationError(`invalid search options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const o = parsed.data;
  const config = loadConfig({ env: process.env, file: o.config, flags: { store: o.db } });
  const store = await openStore(config.store);
  try {
    const { index, report } = await buildSearchIndexFromStore(store, { train: { steps: o.steps }, eventWeights: config.eventWeights });
    if (o.suggest) return { q, suggestions: index.suggest(q, Math.min(o.n, 50)), build: { items: report.items, seconds: report.seconds } };
    const userHistory = o.user ? await recentHistory(store, o.user) : undefined;
    const tags = o.tags ? o.tags.split(',').filter((t) => t.length > 0) : undefined;
    const t0 = performance.now();
    const r = index.search({ q, n: o.n, tags, creator: o.creator, userHistory, mode: o.mode });
    const searchMs = performance.now() - t0;
    return {
      q,
      mode: o.mode,
      items: r.itemIds.map((itemId, i) => ({ itemId, score: r.scores[i], source: r.sources[i] })),
      searchMs: Math.round(searchMs * 1000) / 1000,
      build: { items: report.items, events: report.events, seconds: Math.round(report.seconds * 10) / 10 },
    };
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  program
    .command('search')
    .description('Search the stored catalog (hybrid lexical + semantic), or autocomplete with --suggest')
    .argument('<query>', 'what a user would type')
    .option('--db <path>', 'store: SQLite path or sqlite:<path> (env TASTEMAKER_STORE)')
    .option('--config <file>', 'JSON config file')
    .option('--n <n>', 'number of results', '10')
    .option('--tags <list>', 'comma-separated tags every result must carry')
    .option('--creator <name>', 'only items of this creator (name or id)')
    .option('--user <id>', 'personalise with this user’s recent events')
    .option('--mode <mode>', 'hybrid | rrf | lexical | semantic', 'hybrid')
    .option('--suggest', 'autocomplete the query instead of searching')
    .option('--steps <n>', 'content-tower training steps', '300')
    .option('--json', 'print only the JSON result')
    .action(async (q: string, raw: Record<string, unknown>) => {
      const out = await runSearch(q, raw);
      if (!raw.json) {
        const rows = (out.items ?? out.suggestions) as Record<string, unknown>[];
        for (const r of rows) console.log(Object.values(r).join('\t'));
      }
      console.log(JSON.stringify(out));
    });
}
