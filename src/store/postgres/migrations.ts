/**
 * Numbered, forward-only migrations of the PostgreSQL database (jobs, resources, logs, identities: one database).
 * Never edit a released entry: append a new one. Text that is compared or ordered is COLLATE "C", so prefix ranges
 * and keyset pages order bytewise exactly as SQLite's BINARY does. Times are epoch milliseconds (BIGINT).
 */
import { PG_SECRET_VALUES_SQL } from './secret-values.js';

export const PG_MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'resources, jobs, intents, leader lease, replicas, engine state, logs, identities',
    sql: `
      CREATE TABLE compute_environments (
        seq BIGSERIAL, arn TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, doc TEXT NOT NULL);
      CREATE TABLE job_queues (
        seq BIGSERIAL, arn TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, doc TEXT NOT NULL);
      CREATE TABLE job_definitions (
        seq BIGSERIAL, arn TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, revision INTEGER NOT NULL,
        status TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (name, revision));
      CREATE TABLE scheduling_policies (
        seq BIGSERIAL, arn TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, doc TEXT NOT NULL);

      CREATE TABLE jobs (
        id TEXT COLLATE "C" PRIMARY KEY,
        name_lc TEXT COLLATE "C" NOT NULL,
        queue_arn TEXT COLLATE "C" NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        stopped_at BIGINT,
        job_def_arn TEXT COLLATE "C" NOT NULL,
        job_def_name TEXT COLLATE "C" NOT NULL,
        array_parent TEXT COLLATE "C",
        array_index INTEGER,
        pi TEXT COLLATE "C",
        doc TEXT NOT NULL,
        tags TEXT
      );
      CREATE INDEX jobs_queue_status_created ON jobs (queue_arn, status, created_at DESC, id DESC);
      CREATE INDEX jobs_queue_created ON jobs (queue_arn, created_at DESC, id DESC);
      CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
      CREATE INDEX jobs_name ON jobs (name_lc, created_at DESC);
      CREATE INDEX jobs_array ON jobs (array_parent, array_index) WHERE array_parent IS NOT NULL;
      CREATE INDEX jobs_active ON jobs (status) WHERE status NOT IN ('SUCCEEDED', 'FAILED');
      CREATE INDEX jobs_stopped ON jobs (stopped_at) WHERE stopped_at IS NOT NULL;
      CREATE INDEX jobs_submitted ON jobs (created_at) WHERE status = 'SUBMITTED';

      CREATE TABLE job_intents (
        seq BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL, at BIGINT NOT NULL);
      CREATE TABLE leader_lease (
        id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_at BIGINT NOT NULL);
      CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_at BIGINT NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE engine_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL, at BIGINT NOT NULL);

      CREATE TABLE log_streams (
        id BIGSERIAL PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL UNIQUE,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        pi TEXT,
        created_at BIGINT NOT NULL,
        first_ts BIGINT,
        last_ts BIGINT,
        last_ingest BIGINT,
        event_count BIGINT NOT NULL DEFAULT 0,
        stored_bytes BIGINT NOT NULL DEFAULT 0,
        closed_at BIGINT
      );
      CREATE INDEX log_streams_job ON log_streams (job_id, attempt);
      CREATE INDEX log_streams_last ON log_streams (last_ts, name);
      CREATE INDEX log_streams_closed ON log_streams (closed_at) WHERE closed_at IS NOT NULL;
      -- events [first_seq, end_seq) of a stream, packed (see store/sqlite/log-chunk.ts); timestamps ascend with seq
      CREATE TABLE log_chunks (
        stream_id BIGINT NOT NULL,
        first_seq BIGINT NOT NULL,
        end_seq BIGINT NOT NULL,
        first_ts BIGINT NOT NULL,
        last_ts BIGINT NOT NULL,
        ingest BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (stream_id, first_seq)
      );
      CREATE INDEX log_chunks_end ON log_chunks (stream_id, end_seq);
      CREATE INDEX log_chunks_time ON log_chunks (stream_id, last_ts, first_seq);

      CREATE TABLE pi_groups (
        name TEXT COLLATE "C" PRIMARY KEY,
        created_at BIGINT NOT NULL,
        role_access_key_id TEXT,
        role_secret_enc TEXT,
        role_endpoint_url TEXT,
        role_region TEXT
      );
      CREATE TABLE users (
        name TEXT COLLATE "C" PRIMARY KEY,
        pi TEXT COLLATE "C" NOT NULL REFERENCES pi_groups (name),
        admin INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE access_keys (
        id TEXT COLLATE "C" PRIMARY KEY,
        user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name),
        secret_enc TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX access_keys_user ON access_keys (user_name);
      CREATE TABLE audit (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        user_name TEXT NOT NULL,
        pi TEXT NOT NULL,
        operation TEXT NOT NULL,
        target TEXT,
        source TEXT,
        outcome TEXT NOT NULL
      );
      CREATE INDEX audit_at ON audit (at);
      CREATE INDEX audit_user ON audit (user_name, seq);

      -- Every change of groups, users or keys bumps the version and signals the replicas, in the same transaction:
      -- replicas reload their key tables on the signal, and poll the version in case a signal was lost.
      CREATE TABLE identity_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
      INSERT INTO identity_version VALUES (1, 0);
      CREATE FUNCTION identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE identity_version SET version = version + 1 WHERE id = 1;
        PERFORM pg_notify('identities', '');
        RETURN NULL;
      END $$;
      CREATE TRIGGER pi_groups_changed AFTER INSERT OR UPDATE OR DELETE ON pi_groups
        FOR EACH STATEMENT EXECUTE FUNCTION identity_changed();
      CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
        FOR EACH STATEMENT EXECUTE FUNCTION identity_changed();
      CREATE TRIGGER access_keys_changed AFTER INSERT OR UPDATE OR DELETE ON access_keys
        FOR EACH STATEMENT EXECUTE FUNCTION identity_changed();
    `,
  },
  {
    id: 2,
    name: 'consumable resources',
    sql: `
      CREATE TABLE consumable_resources (
        seq BIGSERIAL, arn TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, doc TEXT NOT NULL);
    `,
  },
  {
    id: 3,
    name: 'job role credential source (STS AssumeRole, secrets endpoint)',
    sql: 'ALTER TABLE pi_groups ADD COLUMN role_source TEXT;',
  },
  {
    id: 4,
    name: 'cluster identity (labels the containers of every replica)',
    sql: `
      CREATE TABLE cluster (id INTEGER PRIMARY KEY CHECK (id = 1), cluster_id TEXT NOT NULL);
      INSERT INTO cluster VALUES (1, gen_random_uuid()::text);
    `,
  },
  { id: 5, name: 'per-PI secret store (SSM parameters, Secrets Manager secrets)', sql: PG_SECRET_VALUES_SQL },
  {
    id: 6,
    name: 'scheduling fields of RUNNABLE jobs that never ran, apart from their documents',
    // See the SQLite migration 5: a new leader loads RUNNABLE jobs from this column; older rows load whole.
    sql: `
      ALTER TABLE jobs ADD COLUMN sched TEXT;
      CREATE INDEX jobs_sched ON jobs (created_at, id) WHERE sched IS NOT NULL;
      CREATE INDEX jobs_whole_active ON jobs (created_at, id) WHERE status NOT IN ('SUCCEEDED', 'FAILED') AND sched IS NULL;
    `,
  },
  {
    id: 7,
    name: 'job documents without what their columns hold (store/job-doc.ts)',
    // See the SQLite migration 6: no schema change; the number keeps older releases from reading the new documents.
    sql: 'SELECT 1',
  },
];
