/**
 * `openbatch admin backup DEST`: a consistent copy of a SQLite data directory while its server runs. Each database
 * (identity.db, openbatch.db, logs.db) is copied with SQLite's online backup API, as of one moment each; the key
 * files (server-key, root-credentials) are copied as they are, readable only by the owner. What is not copied:
 * scratch directories and the runtimes' bookkeeping of running attempts, which a restored server settles as lost
 * hosts (and retries per each job's retry strategy). DEST is a data directory: `openbatch server --data DEST`.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backupSqliteFile } from './store/sqlite/backup.js';

/** In the order they are copied: users and keys first, so every job's owner in the copy exists. */
const DATABASES = ['identity.db', 'openbatch.db', 'logs.db'];
const KEY_FILES = ['server-key', 'root-credentials'];

export class BackupUsageError extends Error {}

export async function backupDataDir(o: { from: string; to: string; log: (line: string) => void }): Promise<void> {
  if (!existsSync(join(o.from, 'openbatch.db')))
    throw new BackupUsageError(
      `${o.from} holds no openbatch.db: give the server's SQLite data directory with --data (a PostgreSQL deployment is backed up with pg_dump; see docs/operations.md)`,
    );
  if (existsSync(o.to) && readdirSync(o.to).length > 0)
    throw new BackupUsageError(`${o.to} is not empty: back up into a new or empty directory`);
  mkdirSync(o.to, { recursive: true, mode: 0o700 });
  chmodSync(o.to, 0o700);
  for (const name of DATABASES) {
    const src = join(o.from, name);
    if (!existsSync(src)) continue;
    const began = Date.now();
    await backupSqliteFile(src, join(o.to, name));
    chmodSync(join(o.to, name), 0o600);
    o.log(`${name}\t${mib(statSync(join(o.to, name)).size)}\t${((Date.now() - began) / 1000).toFixed(1)} s`);
  }
  for (const name of KEY_FILES) {
    const src = join(o.from, name);
    if (!existsSync(src)) continue;
    copyFileSync(src, join(o.to, name));
    chmodSync(join(o.to, name), 0o600);
    o.log(`${name}\tcopied`);
  }
  o.log(`backed up ${o.from} into ${o.to}; restore with: openbatch server --data ${o.to} (or copy it into place)`);
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
