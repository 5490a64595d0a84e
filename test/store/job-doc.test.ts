/**
 * Job documents stored without what their row's columns hold (store/job-doc.ts), on SQLite and on PostgreSQL: every
 * read gives back the job as written, and a database of the schema before (documents written whole) is upgraded
 * with its jobs readable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Job } from '../../src/core/types.js';
import { openStores } from '../../src/store/open-stores.js';
import { applyPgMigrations } from '../../src/store/postgres/migrate.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { jobColumns, UPSERT_JOBS_SQL } from '../../src/store/postgres/job-batch.js';
import { applyMigrations } from '../../src/store/sqlite/migrate.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { JOB_COLUMNS, pushJobRow, UPSERT_JOB_SQL, type JobRowValues } from '../../src/store/sqlite/job-rows.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { forEachBackend } from './backends.js';
import { job, jobId, Q } from './fixtures.js';

const jobs: Job[] = [
  job(0),
  job(1, { status: 'SUBMITTED', shareIdentifier: 'labA' }),
  // Whatever is not empty or not derived is kept as written.
  job(2, {
    status: 'FAILED',
    startedAt: 1_100,
    stoppedAt: 1_250,
    jobArn: 'arn:aws:batch:eu-west-1:210987654321:job/imported',
    attempts: [{ container: { exitCode: 3 }, startedAt: 1_100, stoppedAt: 1_200 }],
    container: { exitCode: 3, reason: 'boom' },
    dependsOn: [{ jobId: jobId(0) }],
    parameters: { p: 'v' },
    tags: { team: 'a' },
  }),
  job(3, { jobId: `${jobId(3)}:7`, jobArn: `arn:aws:batch:us-east-1:123456789012:job/${jobId(3)}:7` }),
  job(4, { status: 'SUCCEEDED', startedAt: 1_100, stoppedAt: 1_300 }),
];

const byId = (list: readonly Job[]) => [...list].sort((a, b) => (a.jobId < b.jobId ? -1 : 1));

forEachBackend('Store: job documents without their columns', (ctx) => {
  ctx.it('every read gives back the jobs as written', async () => {
    const s = ctx.stores.store;
    await s.writeJobs(jobs);
    assert.deepEqual(byId(await s.getJobs(jobs.map((j) => j.jobId))), byId(jobs), 'getJobs');
    const page = await s.listJobs({ jobQueueArn: Q, includeChildren: true, limit: 100 });
    assert.deepEqual(byId(page.jobs), byId(jobs), 'listJobs');
    const active = jobs.filter((j) => j.status !== 'SUCCEEDED' && j.status !== 'FAILED');
    assert.deepEqual(byId(await s.loadActiveJobs()), byId(active), 'loadActiveJobs');
    assert.deepEqual(
      byId(await s.listJobsStoppedSince(0)),
      byId(jobs.filter((j) => j.stoppedAt !== undefined)),
      'listJobsStoppedSince',
    );
    assert.deepEqual(await s.listSubmittedJobs(10), [jobs[1]], 'listSubmittedJobs');
  });

  ctx.it('the stored document leaves out the id, queue, status, times, derived ARN and empty lists', async () => {
    const doc = await storedDoc(ctx.backend, ctx.location, jobs[0]!.jobId);
    for (const k of ['jobId', 'jobArn', 'jobQueueArn', 'jobDefinitionArn', 'status', 'createdAt', 'attempts'])
      assert.equal(k in doc, false, k);
    assert.equal(doc.jobName, jobs[0]!.jobName);
    const kept = await storedDoc(ctx.backend, ctx.location, jobs[2]!.jobId);
    assert.equal(kept.jobArn, jobs[2]!.jobArn, 'an ARN not derived from the id is kept');
  });
});

async function storedDoc(
  backend: string,
  loc: { dataDir: string; databaseUrl?: string },
  id: string,
): Promise<Record<string, unknown>> {
  if (backend === 'sqlite') {
    const db = new Database(join(loc.dataDir, 'openbatch.db'), { readonly: true });
    try {
      return JSON.parse((db.prepare('SELECT doc FROM jobs WHERE id = ?').get(id) as { doc: string }).doc) as Record<
        string,
        unknown
      >;
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: loc.databaseUrl });
  await c.connect();
  try {
    const r = await c.query<{ doc: string }>('SELECT doc FROM jobs WHERE id = $1', [id]);
    return JSON.parse(r.rows[0]!.doc) as Record<string, unknown>;
  } finally {
    await c.end();
  }
}

/** A row as releases before SQLite migration 6 / PostgreSQL migration 7 wrote it: the whole job as its document. */
function oldRow(j: Job): JobRowValues {
  const row: JobRowValues = [];
  pushJobRow(row, j);
  row[JOB_COLUMNS.indexOf('doc')] = JSON.stringify(j);
  return row;
}

void describe('Store: a database of the schema before job documents left out their columns', () => {
  const check = async (loc: { dataDir: string; databaseUrl?: string }) => {
    const stores = await openStores(loc);
    try {
      const s = stores.store;
      assert.deepEqual(byId(await s.getJobs(jobs.map((j) => j.jobId))), byId(jobs), 'old rows read whole');
      const active = jobs.filter((j) => j.status !== 'SUCCEEDED' && j.status !== 'FAILED');
      assert.deepEqual(byId(await s.loadActiveJobs()), byId(active));
      // A job written again after the upgrade gets the new document and still reads whole.
      const next: Job = { ...jobs[0]!, status: 'RUNNING', startedAt: 2_000, statusChangedAt: 2_000 };
      await s.writeJobs([next]);
      assert.deepEqual(await s.getJobs([next.jobId]), [next]);
      assert.equal('jobQueueArn' in (await storedDoc(loc.databaseUrl ? 'postgres' : 'sqlite', loc, next.jobId)), false);
    } finally {
      await stores.close();
    }
  };

  void it('SQLite (migrations 1-5) is upgraded to 6 with its jobs readable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'openbatch-jobdoc-'));
    try {
      const db = new Database(join(dataDir, 'openbatch.db'));
      db.pragma('journal_mode = WAL');
      applyMigrations(
        db,
        SQLITE_MIGRATIONS.filter((m) => m.id <= 5),
      );
      const upsert = db.prepare(UPSERT_JOB_SQL);
      for (const j of jobs) upsert.run(oldRow(j));
      db.prepare('UPDATE jobs SET tags = ? WHERE id = ?').run(JSON.stringify(jobs[2]!.tags), jobs[2]!.jobId);
      db.close();
      await check({ dataDir });
      const after = new Database(join(dataDir, 'openbatch.db'), { readonly: true });
      const ids = (after.prepare('SELECT id FROM schema_migrations ORDER BY id').all() as { id: number }[]).map(
        (r) => r.id,
      );
      after.close();
      assert.deepEqual(ids, [1, 2, 3, 4, 5, 6]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  void it('PostgreSQL (migrations 1-6) is upgraded to 7 with its jobs readable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'openbatch-jobdoc-'));
    const tdb = await createTestDatabase();
    try {
      const pool = new pg.Pool({ connectionString: tdb.url });
      try {
        await applyPgMigrations(
          pool,
          tdb.name,
          PG_MIGRATIONS.filter((m) => m.id <= 6),
        );
        const cols = jobColumns(jobs);
        const docAt = JOB_COLUMNS.indexOf('doc');
        const ids = cols[JOB_COLUMNS.indexOf('id')]!;
        cols[docAt] = ids.map((id) => oldRow(jobs.find((j) => j.jobId === id)!)[docAt]!);
        await pool.query(UPSERT_JOBS_SQL, cols);
        await pool.query('UPDATE jobs SET tags = $1 WHERE id = $2', [JSON.stringify(jobs[2]!.tags), jobs[2]!.jobId]);
      } finally {
        await pool.end();
      }
      await check({ dataDir, databaseUrl: tdb.url });
      await tdb.drop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
