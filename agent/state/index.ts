// Durable state: diagnoses, anomalies, the incident index and the audit log, in SQLite
// under the data directory. See docs/api.md ("Data directory").

import os from 'node:os';
import path from 'node:path';
import { SqliteStateStore } from './sqlite-state';
import type { StateStore } from './types';

export * from './types';
export { STATE_DB_FILE } from './sqlite-state';
export { SCHEMA_VERSION } from './migrations';

/** Where incident folders live inside the data directory. */
export const INCIDENTS_SUBDIR = 'incidents';

/**
 * The data directory: FAULTLINE_DATA_DIR when set, else `./.faultline` under the working
 * directory (next to the project, gitignored). Relative paths resolve against cwd.
 */
export function resolveDataDir(configured?: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configured || env.FAULTLINE_DATA_DIR || '.faultline';
  return path.resolve(dir.startsWith('~/') ? path.join(os.homedir(), dir.slice(2)) : dir);
}

export function incidentsDir(dataDir: string): string {
  return path.join(dataDir, INCIDENTS_SUBDIR);
}

/** Opens (creating and migrating if needed) the state database `<dataDir>/state.db`. */
export function openStateStore(dataDir: string): StateStore {
  return new SqliteStateStore(path.resolve(dataDir));
}
