/**
 * Ingest throughput: imports a dataset (default ML-1M, 1,000,209 events) into a fresh SQLite file with
 * the production importer (validation of ids, deterministic event ids, batches of 5,000 rows per
 * transaction, WAL + synchronous=NORMAL), then imports it again to time the idempotent path, where every
 * event is a duplicate. Reports events/s for both and the database size.
 *
 *   tastemaker bench ingest --json [--data ../shared/data/movielens-1m] [--format movielens-1m] [--batch 5000]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DatasetFormat } from '../src/ingest/datasets.js';
import { importFile } from '../src/ingest/import.js';
import { openStore } from '../src/store/index.js';
import { ValidationError } from '../src/core/errors.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', default: resolve(REPO, '../shared/data/movielens-1m') },
      format: { type: 'string', default: 'movielens-1m' },
      batch: { type: 'string', default: '5000' },
    },
    strict: true,
  });
  const format = DatasetFormat.safeParse(values.format);
  if (!format.success) throw new ValidationError(`--format must be one of ${DatasetFormat.options.join(', ')}`, [{ path: '--format', message: 'unknown format' }]);
  const batchSize = Number(values.batch);
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-ingest-'));
  const dbPath = join(dir, 'bench.db');
  try {
    const store = await openStore(dbPath);
    const first = await importFile(store, values.data, format.data, { batchSize });
    const again = await importFile(store, values.data, format.data, { batchSize });
    const events = await store.countEvents();
    await store.close();
    const dbBytes = readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    return {
      bench: 'ingest',
      data: values.data,
      format: format.data,
      batchSize,
      items: first.items,
      users: first.users,
      events,
      rejected: first.rejected,
      seconds: first.seconds,
      eventsPerSec: first.eventsPerSec,
      rerunSeconds: again.seconds,
      rerunDuplicates: again.duplicates,
      rerunEventsPerSec: again.eventsPerSec,
      dbBytes,
      node: process.version,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
