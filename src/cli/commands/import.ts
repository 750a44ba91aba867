/**
 * `tastemaker import <file> --db <path> --format <fmt> [--kind items|users|events] [--json]`: loads a
 * file or dataset directory into the store (src/ingest/import.ts). A progress bar goes to stderr when it
 * is a terminal; the last stdout line is always the JSON summary, so scripts can parse it.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { createProgress, type Progress } from '../../core/progress.js';
import { ValidationError } from '../../core/errors.js';
import { DatasetFormat } from '../../ingest/datasets.js';
import { ImportKind, importFile, type ImportSummary } from '../../ingest/import.js';
import { openStore } from '../../store/index.js';

const ImportCliOptions = z.strictObject({
  db: z.string({ error: 'is required' }).min(1, 'is required'),
  format: DatasetFormat,
  kind: ImportKind.optional(),
  batchSize: z.coerce.number().int().min(1).max(10_000).optional(),
  json: z.boolean().optional(),
  autoInsertItems: z.boolean().optional(),
});

/** True when the import stored nothing and rejected rows: the exit status is then non-zero. */
export function everyRowRejected(s: ImportSummary): boolean {
  return s.rejected > 0 && s.items + s.itemsCreated + s.users + s.events + s.duplicates === 0;
}

/** Options as commander gives them; validated here so errors name the option. */
export async function runImport(file: string, raw: Record<string, unknown>): Promise<ImportSummary> {
  const parsed = ImportCliOptions.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: `--${String(i.path[0] ?? 'options').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
      message: i.message,
    }));
    throw new ValidationError(`invalid import options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const opts = parsed.data;
  const store = await openStore(opts.db);
  let bar: Progress | undefined;
  try {
    return await importFile(store, file, opts.format, {
      kind: opts.kind,
      batchSize: opts.batchSize,
      autoInsertItems: opts.autoInsertItems,
      onProgress: (p) => {
        bar ??= createProgress(`import ${opts.format}`, p.total, { unit: p.unit });
        bar.update(p.done, p.total);
      },
    });
  } finally {
    bar?.stop();
    await store.close();
  }
}

export function register(program: Command): void {
  program
    .command('import')
    .description('Import items, users or events from a file or a dataset directory into the store')
    .argument('<file>', 'file or dataset directory')
    .option('--db <path>', 'store: a SQLite path, sqlite:<path> or :memory:')
    .option('--format <fmt>', `one of ${DatasetFormat.options.join(', ')}`)
    .option('--kind <kind>', 'for csv/jsonl: items, users or events (default events)')
    .option('--batch-size <n>', 'rows per transaction (default 5000)')
    .option('--json', 'print only the JSON summary')
    .option('--no-auto-insert-items', 'reject events whose item is not in the catalog instead of creating a minimal item')
    .action(async (file: string, raw: Record<string, unknown>) => {
      const s = await runImport(file, raw);
      if (!raw.json) {
        console.log(`imported ${s.file} (${s.format}${s.kind ? `, ${s.kind}` : ''}) in ${s.seconds}s`);
        console.log(`  items ${s.items}${s.itemsCreated ? ` (+ ${s.itemsCreated} created from events)` : ''}, users ${s.users}, events ${s.events} new + ${s.duplicates} duplicates (${s.eventsPerSec}/s)`);
        if (s.rejected) console.log(`  rejected ${s.rejected} rows; first: ${s.issues.slice(0, 3).map((r) => r.issues.map((i) => `${i.path}: ${i.message}`).join(', ')).join(' | ')}`);
        for (const sk of s.skipped) console.log(`  skipped ${sk}`);
        if (s.itemsCreated > 0) {
          console.log(
            `  ${s.itemsCreated} items created from events: the events referenced ids not in the catalog${s.items === 0 ? ' (no catalog was imported)' : ''}; ` +
              'they have an id only (autoInsertItems) — import the catalog (--kind items) to add titles and tags, or pass --no-auto-insert-items to reject such events',
          );
        }
      }
      const { issues: _issues, ...line } = s;
      console.log(JSON.stringify({ ...line, issues: s.issues.slice(0, 5) }));
      if (everyRowRejected(s)) {
        // A file whose rows all fail is almost always the wrong --format or --kind: say so and fail.
        console.error(`error: every row was rejected (${s.rejected} rejected, nothing stored); check --format${s.kind ? ' and --kind' : ''}`);
        process.exitCode = 2;
      }
    });
}
