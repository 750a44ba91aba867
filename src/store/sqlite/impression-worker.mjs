// Impression writer thread (see impression-writer.ts): its own SQLite connection to the store's file, so
// the serving thread never waits on the B-tree inserts and WAL checkpoints of the impressions table.
// Messages are handled in order: {type:'write', seq, rows} → one transaction, then {type:'ack', seq};
// {type:'close'} → close the connection and exit. Rows are already serialised by the caller.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
const insert = db.prepare(`INSERT INTO impressions
  (request_id, user_id, surface, ts, variant, item_ids, positions, scores, propensities, model_versions)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id) DO NOTHING`);
const writeAll = db.transaction((rows) => {
  for (const r of rows) insert.run(r);
});

parentPort.on('message', (m) => {
  if (m.type === 'write') {
    try {
      writeAll(m.rows);
      parentPort.postMessage({ type: 'ack', seq: m.seq });
    } catch (e) {
      parentPort.postMessage({ type: 'failed', seq: m.seq, message: String(e && e.message ? e.message : e) });
    }
  } else if (m.type === 'close') {
    db.close();
    parentPort.close();
  }
});
