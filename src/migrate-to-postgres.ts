/**
 * `openbatch admin migrate --from DIR --to postgres://...`: the way from one machine to replicas. Like server.ts this
 * is composition, not a client of the API: it opens the stores of both backends directly (no server may run on the
 * SQLite directory meanwhile). A progress bar on a terminal; one line per batch otherwise (logs, tests).
 */
import cliProgress from 'cli-progress';
import { copySqliteToPostgres, type CopyProgress } from './store/copy-sqlite-to-postgres.js';
import { describeUrl, redact } from './store/postgres/database.js';

export async function migrateToPostgres(opts: { from: string; to: string }): Promise<void> {
  const target = describeUrl(opts.to);
  const tty = process.stderr.isTTY;
  console.log(
    `copying ${opts.from} into PostgreSQL ${target.host}:${target.port}/${target.database} (${redact(opts.to)}); safe to interrupt and run again`,
  );
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: '{bar} {percentage}% | {value}/{total} rows | {table}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const progress = (p: CopyProgress) => {
    if (bar) {
      if (!started) bar.start(p.totalAll, 0, { table: p.table });
      started = true;
      bar.update(p.doneAll, { table: p.table });
    } else console.log(`progress ${p.doneAll}/${p.totalAll} ${p.table} ${p.done}/${p.total}`);
  };
  try {
    const r = await copySqliteToPostgres(opts, progress);
    bar?.stop();
    for (const t of r.tables) if (t.rows) console.log(`${t.table}: ${t.rows} rows, ${t.inserted} new`);
    console.log(
      `done. Copy ${opts.from}/server-key (it decrypts the stored access keys) and ${opts.from}/root-credentials into the data directory of every replica, then start them with --database-url`,
    );
  } finally {
    bar?.stop();
  }
}
