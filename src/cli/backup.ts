/** `openbatch admin backup DEST`: an online copy of a SQLite data directory (see src/backup-data-dir.ts). */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { backupDataDir, BackupUsageError } from '../backup-data-dir.js';

export function backupCommand(): Command {
  return new Command('backup')
    .description(
      'copy a SQLite data directory (jobs, logs, users, keys) while its server runs, into a new directory that a server can start on',
    )
    .argument('<dest>', 'a new or empty directory')
    .addOption(
      new Option('--data <dir>', "the server's data directory [OPENBATCH_DATA]").default(
        process.env.OPENBATCH_DATA ?? './openbatch-data',
      ),
    )
    .action(async (dest: string, o: { data: string }) => {
      try {
        await backupDataDir({ from: resolve(o.data), to: resolve(dest), log: (l) => console.log(l) });
      } catch (err) {
        console.error(`openbatch admin backup: ${(err as Error).message}`);
        process.exit(err instanceof BackupUsageError ? 2 : 1);
      }
    });
}
