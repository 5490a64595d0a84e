/**
 * Several real `openbatch server` processes (each its own data directory and port) on one fresh PostgreSQL
 * database: replicas as operators run them. The database is dropped only when the replicas are stopped after a
 * passing test; a failure keeps it (and the data directories) to look at.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { startTestServer, type StartOptions, type TestServer } from './server.js';

export interface Health {
  status: string;
  store: string;
  role: 'leader' | 'follower';
  replicaId: string;
  epoch?: number;
  leader: { replicaId: string; epoch: number } | null | { error: string };
}

export interface Replicas {
  db: TestDatabase;
  servers: TestServer[];
  /** Starts one more replica on the same database. */
  add(): Promise<TestServer>;
  /** Stops every replica still running; drops the database unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts `n` replicas one after the other (the first creates the schema; the rest find it in place). As
 * docs/scale-out.md asks, every data directory holds the same `server-key` (it decrypts the stored access keys).
 */
export async function startReplicas(
  n: number,
  opts: StartOptions & {
    leaseMs?: number;
    /** A database to use instead of a fresh one on the machine's server (then not dropped). */
    databaseUrl?: string;
  } = {},
): Promise<Replicas> {
  const db: TestDatabase = opts.databaseUrl
    ? { name: new URL(opts.databaseUrl).pathname.slice(1), url: opts.databaseUrl, drop: async () => {} }
    : await createTestDatabase();
  const servers: TestServer[] = [];
  const serverKey = randomBytes(32).toString('base64') + '\n';
  const add = async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'openbatch-replica-'));
    writeFileSync(join(dataDir, 'server-key'), serverKey, { mode: 0o600 });
    const srv = await startTestServer({
      ...opts,
      dataDir,
      args: [...(opts.args ?? []), '--database-url', db.url, '--leader-lease-ms', String(opts.leaseMs ?? 2000)],
    });
    servers.push(srv);
    return srv;
  };
  for (let i = 0; i < n; i++) await add();
  return {
    db,
    servers,
    add,
    async stop({ keepData = false } = {}) {
      // A replica a test left stopped (SIGSTOP) would never see the SIGTERM.
      for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGCONT');
      await Promise.all(servers.map((s) => s.stop({ keepData })));
      if (keepData) {
        console.error(`kept database ${db.name} and data directories of the failed test`);
        for (const s of servers)
          console.error(
            `--- replica ${s.url} (${s.dataDir}), exit ${s.proc.exitCode ?? s.proc.signalCode}:\n${s.output().slice(-4000)}`,
          );
      } else await db.drop();
    },
  };
}

/** GET /healthz of one replica (unsigned, as a load balancer asks). */
export async function health(srv: TestServer): Promise<Health> {
  const r = await fetch(`${srv.url}/healthz`);
  return (await r.json()) as Health;
}

/** The replica that leads now, as the replicas themselves say (exactly one says leader). */
export async function leaderOf(servers: readonly TestServer[]): Promise<{ leader: TestServer; epoch: number }> {
  const live = servers.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);
  const hs = await Promise.all(live.map((s) => health(s)));
  const leaders = live.filter((_, i) => hs[i]!.role === 'leader');
  if (leaders.length !== 1) throw new Error(`expected one leader, got ${leaders.length}: ${JSON.stringify(hs)}`);
  return { leader: leaders[0]!, epoch: hs[live.indexOf(leaders[0]!)]!.epoch! };
}
