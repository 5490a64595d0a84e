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
  {
    id: 2,
    name: 'replicas: job tags apart, intents, leader lease, replicas, engine state',
    sql: `
      ALTER TABLE jobs ADD COLUMN tags TEXT;
      CREATE INDEX jobs_submitted ON jobs (created_at) WHERE status = 'SUBMITTED';
      CREATE TABLE job_intents (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE TABLE leader_lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE engine_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL, at INTEGER NOT NULL);
    `,
  },
  {
    id: 3,
    name: 'consumable resources',
    sql: `
      CREATE TABLE consumable_resources (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
    `,
  },
  {
    id: 4,
    name: 'job counts by queue, PI group and state, kept by triggers',
    // /metrics and the dashboard's overview count jobs per queue and state; a GROUP BY over the jobs index took
    // ~0.35 s at 1,000,000 jobs, on the thread that serves every request. The writer keeps the counts instead.
    sql: `
      CREATE TABLE job_counts (
        queue_arn TEXT NOT NULL,
        pi TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (queue_arn, pi, status)
      ) WITHOUT ROWID;
      INSERT INTO job_counts (queue_arn, pi, status, n)
        SELECT queue_arn, COALESCE(pi, ''), status, COUNT(*) FROM jobs GROUP BY queue_arn, COALESCE(pi, ''), status;
      CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO job_counts (queue_arn, pi, status, n) VALUES (NEW.queue_arn, COALESCE(NEW.pi, ''), NEW.status, 1)
          ON CONFLICT (queue_arn, pi, status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER job_counts_status AFTER UPDATE OF status ON jobs WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE job_counts SET n = n - 1
          WHERE queue_arn = OLD.queue_arn AND pi = COALESCE(OLD.pi, '') AND status = OLD.status;
        INSERT INTO job_counts (queue_arn, pi, status, n) VALUES (NEW.queue_arn, COALESCE(NEW.pi, ''), NEW.status, 1)
          ON CONFLICT (queue_arn, pi, status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET n = n - 1
          WHERE queue_arn = OLD.queue_arn AND pi = COALESCE(OLD.pi, '') AND status = OLD.status;
      END;
    `,
  },
  {
    id: 5,
    name: 'scheduling fields of RUNNABLE jobs that never ran, apart from their documents',
    // A new leader loads 1,000,000 RUNNABLE jobs from this column (Store.loadCompactRunnable) instead of parsing every
    // document. Rows written before it have none: they load whole, as before.
    sql: `
      ALTER TABLE jobs ADD COLUMN sched TEXT;
      CREATE INDEX jobs_sched ON jobs (created_at, id) WHERE sched IS NOT NULL;
      CREATE INDEX jobs_whole_active ON jobs (created_at, id) WHERE status NOT IN ('SUCCEEDED', 'FAILED') AND sched IS NULL;
    `,
  },
  {
    id: 6,
    name: 'job documents without what their columns hold (store/job-doc.ts)',
    // No schema change: from here on a job's document leaves out its id, queue, definition, status, times, derived
    // ARN and empty lists (about 400 bytes a job), and reads put them back from the row. Documents written whole
    // read as before, so existing rows are not rewritten; the number keeps an older openbatch, which would read the
    // new documents without those fields, from opening the database.
    sql: 'SELECT 1',
  },
];
