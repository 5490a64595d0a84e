/**
 * PostgreSQL faults: a wrong or unreachable URL stops the start with what to check; connections cut while serving make
 * operations reject with a retryable StoreUnavailableException (503), write nothing half, and the pool and the LISTEN
 * connection recover by themselves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { StoreUnavailableException } from '../../src/core/errors.js';
import { openStores } from '../../src/store/open-stores.js';
import { PG_ADMIN_URL, withTestDatabase } from '../helpers/postgres.js';
import { job, jobId } from './fixtures.js';

const dataDir = '/nonexistent-not-used';

void describe('PostgreSQL faults', () => {
  void it('a wrong or unreachable --database-url names what to check', async () => {
    const url = new URL(PG_ADMIN_URL);
    const at = (over: (u: URL) => void) => {
      const u = new URL(url);
      over(u);
      return u.toString();
    };
    await assert.rejects(
      openStores({ dataDir, databaseUrl: at((u) => (u.port = '1')) }),
      /connection refused\. Check that PostgreSQL runs and listens on that host and port/,
    );
    await assert.rejects(
      openStores({ dataDir, databaseUrl: at((u) => (u.pathname = '/ob_does_not_exist')) }),
      /the database "ob_does_not_exist" does not exist\. Create it \(createdb/,
    );
    await assert.rejects(
      openStores({ dataDir, databaseUrl: at((u) => (u.hostname = 'no-such-host.invalid')) }),
      /the host name "no-such-host.invalid" does not resolve/,
    );
    await assert.rejects(
      openStores({ dataDir, databaseUrl: 'postgres://[bad' }),
      /is not a URL; write it as postgres:\/\//,
    );
  });

  void it('connections cut while serving: 503 StoreUnavailableException, nothing half-written, then recovery', async () => {
    await withTestDatabase(async (db) => {
      const stores = await openStores({ dataDir, databaseUrl: db.url });
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      try {
        const s = stores.store;
        await s.writeJobs([job(1)]);
        const heard: string[] = [];
        s.subscribe('resources', (p) => heard.push(p));
        await (s as unknown as { listening(): Promise<void> }).listening();
        // The database goes away: every connection (the pool's and the LISTEN one) is cut and new ones are refused.
        await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
        const results = await Promise.allSettled(
          Array.from({ length: 4 }, (_, i) => s.writeJobs([job(10 + i), job(20 + i)])),
        );
        const failed = results.filter((r) => r.status === 'rejected');
        assert.equal(failed.length, 4, 'no write succeeds while the database is away');
        await assert.rejects(s.listJobs({ limit: 5, jobQueueArn: job(1).jobQueueArn }), StoreUnavailableException);
        await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
        for (const f of failed) {
          const e = f.reason as unknown;
          assert.ok(e instanceof StoreUnavailableException, `got ${String(e)}`);
          assert.equal(e.statusCode, 503);
          assert.equal(e.code, 'ServerException');
        }
        // each batch is all or nothing
        for (let i = 0; i < 4; i++) {
          const got = await s.getJobs([jobId(10 + i), jobId(20 + i)]);
          assert.ok(got.length === 0 || got.length === 2, `batch ${i} was half-written`);
        }
        // the pool recovers: new connections serve
        await s.writeJobs([job(99)]);
        assert.equal((await s.getJobs([jobId(99)])).length, 1);
        // and the LISTEN connection reconnects
        const deadline = Date.now() + 5_000;
        while (!heard.length && Date.now() < deadline) {
          await s.notify('resources', 'after-restart');
          await sleep(100);
        }
        assert.ok(heard.includes('after-restart'), 'signals are heard again after the LISTEN connection was cut');
      } finally {
        await admin.end();
        await stores.close();
      }
    });
  });
});
