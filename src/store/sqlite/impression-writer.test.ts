/**
 * Impressions of a file-backed SQLite store are written on a worker thread (impression-writer.ts): the
 * public store API must behave exactly as the synchronous path — every recorded impression readable at
 * once, all of them on disk after close, and the process free to exit afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Impression } from '../types.js';
import { SqliteStore } from './store.js';

function imp(k: number): Impression {
  return {
    requestId: `r${k}`,
    userId: `u${k % 7}`,
    surface: k % 2 ? 'home' : 'next',
    timestamp: 1_700_000_000_000 + k,
    itemIds: [`i${k}`, `i${k + 1}`],
    positions: [0, 1],
    scores: [0.5, 0.25],
    ...(k % 3 === 0 ? { propensities: [0.9, 0.1], variant: 'B' } : {}),
    modelVersions: { ranker: 'ranker@v1' },
  };
}

for (const worker of [true, false]) {
  test(`impressions (${worker ? 'worker thread' : 'main thread'}): readable at once, all on disk after close`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-imp-'));
    try {
      const path = join(dir, 'store.db');
      const store = new SqliteStore(path, { impressionWorker: worker });
      await store.migrate();
      for (let k = 0; k < 2_500; k++) await store.recordImpression(imp(k)); // crosses the 1,000-row flush
      assert.deepEqual(await store.getImpression('r1234'), imp(1234));
      assert.deepEqual(await store.getImpression('r2499'), imp(2499), 'the newest one, still queued, is read');
      await store.recordImpression({ ...imp(5), userId: 'other' }); // same requestId: ignored
      await store.close();
      const db = new Database(path, { readonly: true });
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM impressions').get() as { n: number }).n, 2_500);
      assert.equal((db.prepare("SELECT user_id FROM impressions WHERE request_id = 'r5'").get() as { user_id: string }).user_id, 'u5');
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
