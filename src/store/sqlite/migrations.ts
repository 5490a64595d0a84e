/** Numbered, forward-only migrations of the SQLite store. Never edit a released entry: append a new one. */
export const SQLITE_MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE compute_environments (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
      CREATE TABLE job_queues (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
      CREATE TABLE job_definitions (
        arn TEXT PRIMARY KEY, name TEXT NOT NULL, revision INTEGER NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL,
        UNIQUE (name, revision)
      );
      CREATE TABLE scheduling_policies (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        name_lc TEXT NOT NULL,
        queue_arn TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        stopped_at INTEGER,
        job_def_arn TEXT NOT NULL,
        job_def_name TEXT NOT NULL,
        array_parent TEXT,
        array_index INTEGER,
        pi TEXT,
        doc TEXT NOT NULL
      );
      CREATE INDEX jobs_queue_status_created ON jobs (queue_arn, status, created_at DESC, id DESC);
      CREATE INDEX jobs_queue_created ON jobs (queue_arn, created_at DESC, id DESC);
      CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
      CREATE INDEX jobs_name ON jobs (name_lc, created_at DESC);
      CREATE INDEX jobs_array ON jobs (array_parent, array_index) WHERE array_parent IS NOT NULL;
      CREATE INDEX jobs_active ON jobs (status) WHERE status NOT IN ('SUCCEEDED', 'FAILED');
      CREATE INDEX jobs_stopped ON jobs (stopped_at) WHERE stopped_at IS NOT NULL;
    `,
  },
];
