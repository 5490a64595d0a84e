/** Online backup of one SQLite database file with SQLite's backup API (better-sqlite3), while a server writes to it. */
import Database from 'better-sqlite3';

/**
 * Copies `source` into `destination` (a new file) as of one moment, while other processes keep writing. The first
 * step copies 100 pages; every later step copies all that remain, so a write from the server between steps restarts
 * the copy at most once instead of starving it. Checks the copy with `PRAGMA quick_check`.
 */
export async function backupSqliteFile(source: string, destination: string): Promise<{ pages: number }> {
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    const r = await db.backup(destination, { progress: ({ remainingPages }) => Math.max(100, remainingPages) });
    // Read-write, so that closing it removes the -wal and -shm files the check creates.
    const copy = new Database(destination, { fileMustExist: true });
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy of ${source} fails SQLite's quick_check: ${String(check)}`);
    } finally {
      copy.close();
    }
    return { pages: r.totalPages };
  } finally {
    db.close();
  }
}
