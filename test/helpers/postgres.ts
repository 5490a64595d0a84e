/**
 * Fresh PostgreSQL databases for tests, on the machine's server (127.0.0.1:5432, trust auth; OPENBATCH_TEST_PG_URL
 * overrides the admin URL). Each test gets its own database `ob_<random>`, dropped only when the test passed, so a
 * failure leaves its data to look at.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const PG_ADMIN_URL = process.env.OPENBATCH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await c.connect();
  } catch (err) {
    throw new Error(
      `the tests need PostgreSQL at ${PG_ADMIN_URL} (trust auth): ${(err as Error).message}. Install and start it (Debian: apt-get install postgresql; pg_ctlcluster 15 main start) or set OPENBATCH_TEST_PG_URL`,
      { cause: err },
    );
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ob_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return databaseAt({ name, url: url.toString() });
}

/** A database made earlier (by createTestDatabase). */
export function databaseAt(d: { name: string; url: string }): TestDatabase {
  return {
    ...d,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${d.name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Runs `fn` with a fresh database; drops it if `fn` succeeds, keeps it (and says so) if it fails. */
export async function withTestDatabase<T>(fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await createTestDatabase();
  try {
    const out = await fn(db);
    await db.drop();
    return out;
  } catch (err) {
    console.error(`kept database ${db.name} of the failed test (${db.url})`);
    throw err;
  }
}
