// Schema migrations, applied in order; PRAGMA user_version records how many ran.
// Add a migration by appending to the list, never by editing one that has shipped.

import type Database from 'better-sqlite3';

const MIGRATIONS: string[] = [
  // 1: diagnoses, anomalies, incident index, audit log.
  `CREATE TABLE diagnoses (
     id TEXT PRIMARY KEY,
     created_at_ms REAL NOT NULL,
     source TEXT NOT NULL,
     from_ms REAL NOT NULL,
     to_ms REAL NOT NULL,
     summary TEXT NOT NULL,
     detected INTEGER NOT NULL,
     change_at_ms REAL,
     root_service TEXT,
     body TEXT NOT NULL
   );
   CREATE INDEX diagnoses_by_time ON diagnoses (created_at_ms DESC, id DESC);
   CREATE TABLE anomalies (
     id TEXT PRIMARY KEY,
     detected_at_ms REAL NOT NULL,
     change_at_ms REAL,
     from_ms REAL NOT NULL,
     to_ms REAL NOT NULL,
     report TEXT NOT NULL,
     diagnosis_id TEXT
   );
   CREATE INDEX anomalies_by_time ON anomalies (detected_at_ms DESC, id DESC);
   CREATE TABLE incidents (
     id TEXT PRIMARY KEY,
     created_at_ms REAL NOT NULL,
     from_ms REAL NOT NULL,
     to_ms REAL NOT NULL,
     dir TEXT NOT NULL,
     source TEXT NOT NULL,
     system TEXT,
     description TEXT,
     truth TEXT,
     diagnosis_id TEXT
   );
   CREATE INDEX incidents_by_time ON incidents (created_at_ms DESC, id DESC);
   CREATE TABLE audit (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     at_ms REAL NOT NULL,
     kind TEXT NOT NULL,
     actor TEXT,
     data TEXT NOT NULL
   );
   CREATE INDEX audit_by_kind ON audit (kind, seq);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`state database schema version ${current} is newer than this faultline (${MIGRATIONS.length}); upgrade faultline`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
