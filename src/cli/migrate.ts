/** `openbatch admin migrate`: copies a SQLite data directory into PostgreSQL (see src/migrate-to-postgres.ts). */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { migrateToPostgres } from '../migrate-to-postgres.js';

export function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'copy everything (resources, job history, logs, users, keys, audit) from a SQLite data directory into PostgreSQL; idempotent and resumable. Stop the server on that directory first',
    )
    .addOption(
      new Option('--from <dir>', "the SQLite data directory (the server's --data)").default('./openbatch-data'),
    )
    .addOption(
      new Option(
        '--to <url>',
        'the PostgreSQL database, postgres://USER:PASSWORD@HOST:5432/DB [OPENBATCH_DATABASE_URL]',
      ),
    )
    .action(async (o: { from: string; to?: string }) => {
      const to = o.to ?? process.env.OPENBATCH_DATABASE_URL;
      if (!to) {
        console.error('openbatch admin migrate: --to postgres://USER:PASSWORD@HOST:5432/DB is required');
        process.exit(2);
      }
      try {
        await migrateToPostgres({ from: resolve(o.from), to });
      } catch (err) {
        console.error(`openbatch admin migrate: ${(err as Error).message}`);
        process.exit(1);
      }
    });
}
