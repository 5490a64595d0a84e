/**
 * The one place that picks the backend: SQLite files in the data directory (one machine, the default) or one
 * PostgreSQL database shared by every replica (`--database-url postgres://...`).
 */
import { join } from 'node:path';
import type { IdentityStore, LogStore, Store } from '../core/ports.js';
import { PgDatabase } from './postgres/database.js';
import { PostgresIdentityStore } from './postgres/identity-store.js';
import { PostgresLogStore } from './postgres/log-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteIdentityStore } from './sqlite/identity-store.js';
import { SqliteLogStore } from './sqlite/log-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export interface Stores {
  store: Store;
  logStore: LogStore;
  identityStore: IdentityStore;
  /** Where the state lives, for the start-up line and /healthz (never a password). */
  description: string;
  /** Closes the three stores (after everything that uses them). */
  close(): Promise<void>;
}

export interface StoreLocation {
  dataDir: string;
  databaseUrl?: string;
}

/**
 * Opens and migrates the three stores. A wrong or unreachable database URL, or a database of a newer schema, throws
 * an Error whose message says what to check.
 */
export async function openStores(loc: StoreLocation): Promise<Stores> {
  if (loc.databaseUrl) {
    const db = await PgDatabase.open({ url: loc.databaseUrl });
    try {
      await db.migrate();
    } catch (err) {
      await db.pool.end().catch(() => undefined);
      throw err;
    }
    const { host, port, database } = db.target;
    return withClose({
      store: new PostgresStore(db),
      logStore: new PostgresLogStore(db),
      identityStore: new PostgresIdentityStore(db),
      description: `postgres at ${host}:${port}/${database}`,
    });
  }
  const store = new SqliteStore({ file: join(loc.dataDir, 'openbatch.db') });
  await store.migrate();
  return withClose({
    store,
    logStore: new SqliteLogStore({ file: join(loc.dataDir, 'logs.db') }),
    identityStore: new SqliteIdentityStore(join(loc.dataDir, 'identity.db')),
    description: `sqlite at ${loc.dataDir}`,
  });
}

function withClose(s: Omit<Stores, 'close'>): Stores {
  return {
    ...s,
    async close() {
      await s.logStore.close();
      await s.identityStore.close();
      await s.store.close();
    },
  };
}
