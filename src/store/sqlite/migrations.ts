/**
 * Versioned schema migrations for the SQLite store. Each migration runs once, inside a transaction,
 * and is recorded in `schema_migrations`; add new ones at the end with the next version number and
 * never edit an applied one (databases in the field already carry it).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'catalog, users, event log, impressions, meta',
    sql: `
      CREATE TABLE items (
        id          TEXT PRIMARY KEY,
        creator_id  TEXT,
        title       TEXT NOT NULL,
        text        TEXT NOT NULL,
        tags        TEXT NOT NULL,      -- JSON array of strings
        attributes  TEXT NOT NULL,      -- JSON object
        created_at  INTEGER NOT NULL,   -- ms since epoch
        available   INTEGER NOT NULL,   -- 0/1
        expires_at  INTEGER             -- ms since epoch
      );
      CREATE INDEX items_creator ON items(creator_id) WHERE creator_id IS NOT NULL;

      CREATE TABLE users (
        id          TEXT PRIMARY KEY,
        attributes  TEXT NOT NULL,      -- JSON object
        created_at  INTEGER NOT NULL
      );

      -- Append-only log: seq is the log position; id is the client's (or derived) idempotency key.
      CREATE TABLE events (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL UNIQUE,
        user_id     TEXT NOT NULL,
        item_id     TEXT NOT NULL,
        type        TEXT NOT NULL,
        value       REAL,
        ts          INTEGER NOT NULL,   -- ms since epoch
        session_id  TEXT,
        surface     TEXT,
        request_id  TEXT,
        position    INTEGER,
        context     TEXT                -- JSON object
      );
      CREATE INDEX events_user_ts ON events(user_id, ts);

      CREATE TABLE impressions (
        request_id      TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL,
        surface         TEXT NOT NULL,
        ts              INTEGER NOT NULL,
        variant         TEXT,
        item_ids        TEXT NOT NULL,  -- JSON arrays, aligned
        positions       TEXT NOT NULL,
        scores          TEXT NOT NULL,
        propensities    TEXT,
        model_versions  TEXT NOT NULL   -- JSON object
      );
      CREATE INDEX impressions_user_ts ON impressions(user_id, ts);

      CREATE TABLE meta (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'tombstones, deleted event ids, maintained row counts, events by time',
    sql: `
      -- Deleted users and items: events for them are refused (see Store.appendEvents).
      CREATE TABLE tombstones (
        kind        TEXT NOT NULL,      -- 'user' | 'item'
        id          TEXT NOT NULL,
        deleted_at  INTEGER NOT NULL,   -- ms since epoch
        active      INTEGER NOT NULL,   -- 1 until the entity is created again
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;
      -- Ids of events deleted one by one or by range: re-sending one is refused.
      CREATE TABLE deleted_events (
        id          TEXT PRIMARY KEY,
        deleted_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX events_ts ON events(ts);

      -- Row counts, so /healthz reads three rows instead of counting big tables. Kept by triggers, except
      -- event inserts: appendEvents adds its batch's count in its transaction (a per-row trigger cost
      -- about a third of the import throughput).
      CREATE TABLE row_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO row_counts (name, n) SELECT 'items', COUNT(*) FROM items;
      INSERT INTO row_counts (name, n) SELECT 'users', COUNT(*) FROM users;
      INSERT INTO row_counts (name, n) SELECT 'events', COUNT(*) FROM events;
      CREATE TRIGGER items_count_ins AFTER INSERT ON items BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'items'; END;
      CREATE TRIGGER items_count_del AFTER DELETE ON items BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'items'; END;
      CREATE TRIGGER users_count_ins AFTER INSERT ON users BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'users'; END;
      CREATE TRIGGER users_count_del AFTER DELETE ON users BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'users'; END;
      CREATE TRIGGER events_count_del AFTER DELETE ON events BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'events'; END;
    `,
  },
];
