/** Numbered, forward-only migrations of the log database (`<data>/logs.db`). Never edit a released entry. */
export const LOG_MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'log streams and packed event chunks',
    sql: `
      CREATE TABLE log_streams (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        pi TEXT,
        created_at INTEGER NOT NULL,
        first_ts INTEGER,
        last_ts INTEGER,
        last_ingest INTEGER,
        event_count INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        closed_at INTEGER
      );
      CREATE INDEX log_streams_job ON log_streams (job_id, attempt);
      CREATE INDEX log_streams_last ON log_streams (last_ts, name);
      CREATE INDEX log_streams_closed ON log_streams (closed_at) WHERE closed_at IS NOT NULL;
      -- events [first_seq, end_seq) of a stream, packed (see log-chunk.ts); timestamps ascend with seq
      CREATE TABLE log_chunks (
        stream_id INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        end_seq INTEGER NOT NULL,
        first_ts INTEGER NOT NULL,
        last_ts INTEGER NOT NULL,
        ingest INTEGER NOT NULL,
        data BLOB NOT NULL
      );
      CREATE UNIQUE INDEX log_chunks_first ON log_chunks (stream_id, first_seq);
      CREATE INDEX log_chunks_end ON log_chunks (stream_id, end_seq);
      CREATE INDEX log_chunks_time ON log_chunks (stream_id, last_ts, first_seq);
    `,
  },
];
