/** How large the SQLite databases' write-ahead logs may grow (the job store's: see the checkpointer in sqlite-writer.ts). */

/**
 * Past this much WAL, a PASSIVE checkpoint is not enough: it copies frames but never rewinds the WAL while readers
 * keep overlapping, so under sustained submission the file grows without bound (1.4 GB after 200,000 jobs). The
 * writer thread then runs TRUNCATE after its commit, which waits (up to a few seconds) for the readers of old frames,
 * copies the rest and empties the file: commits stall for that moment instead of the disk filling up. The writer does
 * it, not the checkpointer thread: a TRUNCATE there had to wait for the write lock, which a writer committing group
 * after group rarely left free, and meanwhile the WAL grew on (105 MB in a test bounded at 56).
 */
export const WAL_TRUNCATE_BYTES = 32 * 1024 * 1024;
/** Whenever the WAL is rewound, SQLite truncates the file to at most this (journal_size_limit). */
export const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;
/**
 * journal_size_limit of the log and identity databases, whose connections checkpoint on their own terms (a thread of
 * the log store's, the audit writer's commits): a burst does not leave a large file behind.
 */
export const SIDE_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
