/**
 * A throwaway PostgreSQL 15 server for tests that stop, kill or restart the database (the machine's shared one at
 * 127.0.0.1:5432 must never be touched): initdb into a temporary directory, pg_ctl on a free port, trust auth, a
 * socket in the same directory. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const BIN = process.env.OPENBATCH_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface ThrowawayPostgres {
  /** URL of its `openbatch` database. */
  url: string;
  port: number;
  dir: string;
  start(): void;
  /** Stops it (`fast`: connections are cut, as when the database host goes away cleanly). */
  stop(): void;
  /** Stops it and deletes its files. */
  destroy(opts?: { keep?: boolean }): void;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  if (!existsSync(join(BIN, 'initdb')))
    throw new Error(
      `PostgreSQL 15's initdb is missing at ${BIN}: install it (Debian: apt-get install postgresql-15) or set OPENBATCH_TEST_PG_BIN`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'openbatch-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(BIN, cmd), args, { stdio: 'pipe' });
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = () => void run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  const stop = () => void run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE openbatch');
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/openbatch`,
    port,
    dir,
    start,
    stop,
    destroy({ keep = false } = {}) {
      try {
        stop();
      } catch {
        // already stopped
      }
      if (keep) console.error(`kept the throwaway PostgreSQL of the failed test in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
