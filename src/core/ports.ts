/**
 * Ports: the interfaces the service layer needs from the outside world. `store/` and `runtime/` implement them;
 * only the composition root (server.ts) picks the concrete ones.
 */
import type {
  ComputeEnvironment,
  ContainerProperties,
  Job,
  JobDefinition,
  JobQueue,
  JobResources,
  JobStatus,
  SchedulingPolicy,
} from './types.js';

/** The resources of a Batch account: few, small, loaded whole at start and kept in memory. */
export interface ResourceSnapshot {
  computeEnvironments: ComputeEnvironment[];
  jobQueues: JobQueue[];
  jobDefinitions: JobDefinition[];
  schedulingPolicies: SchedulingPolicy[];
}

export interface JobListQuery {
  /** At least one of jobQueueArn / arrayJobId. */
  jobQueueArn?: string;
  arrayJobId?: string;
  /** Statuses to include; undefined = any. */
  statuses?: JobStatus[];
  /** Case-insensitive name: exact, or prefix when `namePrefix` is true. */
  jobName?: { value: string; prefix: boolean };
  /** Job definition: a name (any revision), name:revision, or ARN; prefix on the name when `prefix`. */
  jobDefinition?: { value: string; prefix: boolean };
  /** Name-or-id prefix search (dashboard): matches a job id prefix or a case-insensitive name prefix. */
  search?: string;
  createdAfter?: number;
  createdBefore?: number;
  /** Only jobs of this PI group (access control). */
  pi?: string;
  /** Only jobs submitted by this user (dashboard filter). */
  user?: string;
  limit: number;
  /** Without arrayJobId, array children are left out unless this is set (dashboard search). */
  includeChildren?: boolean;
  /** With arrayJobId: children come in index order, after this index. */
  afterIndex?: number;
  /** Keyset cursor: the (createdAt, jobId) of the last row of the previous page. */
  after?: { createdAt: number; jobId: string };
}

export interface JobPage {
  jobs: Job[];
  /** Present when more rows follow. */
  last?: { createdAt: number; jobId: string };
}

/** Durable state. Async so that a networked backend (PostgreSQL) fits the same contract. */
export interface Store {
  readonly kind: string;
  /** Applies numbered, forward-only migrations. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  loadResources(): Promise<ResourceSnapshot>;
  putComputeEnvironment(ce: ComputeEnvironment): Promise<void>;
  deleteComputeEnvironment(arn: string): Promise<void>;
  putJobQueue(q: JobQueue): Promise<void>;
  deleteJobQueue(arn: string): Promise<void>;
  putJobDefinition(d: JobDefinition): Promise<void>;
  putSchedulingPolicy(p: SchedulingPolicy): Promise<void>;
  deleteSchedulingPolicy(arn: string): Promise<void>;

  /** Inserts or replaces jobs, all in one transaction (group commit). */
  writeJobs(jobs: readonly Job[]): Promise<void>;
  getJobs(ids: readonly string[]): Promise<Job[]>;
  listJobs(q: JobListQuery): Promise<JobPage>;
  /** Every job not SUCCEEDED/FAILED: what the service keeps in memory. */
  loadActiveJobs(): Promise<Job[]>;
  /** Deletes terminal jobs stopped before `before`; returns their ids (history retention). */
  purgeJobs(before: number): Promise<string[]>;
  /** Number of jobs per (queue, status), optionally only a PI group's (dashboard overview). */
  countJobsByQueueAndStatus(pi?: string): Promise<{ jobQueueArn: string; status: JobStatus; count: number }[]>;
  /**
   * Usage per (PI, user) of jobs that stopped in [from, to): jobs run and vCPU-hours, the sum over their attempts
   * of vcpus x (stoppedAt - startedAt). Optionally only one PI group's.
   */
  usageByOwner(q: { from: number; to: number; pi?: string }): Promise<UsageRow[]>;
}

export interface UsageRow {
  pi: string;
  user: string;
  jobs: number;
  vcpuHours: number;
}

/** What a runtime is asked to run: one attempt of one job. */
export interface RunSpec {
  jobId: string;
  /** 1-based attempt number. */
  attempt: number;
  command: string[];
  environment: Record<string, string>;
  containerProperties: ContainerProperties;
  resources: JobResources;
  logStreamName: string;
}

/** How an attempt ended, as the runtime saw it. */
export interface ExitReport {
  exitCode?: number;
  /** A reason in AWS's words (`OutOfMemoryError: ...`, `CannotPullContainerError: ...`). */
  reason?: string;
  /** Why the status is FAILED when there is no exit code (e.g. host restarted). */
  statusReason?: string;
}

/** What runtimes report back. Each call becomes a committed transition. */
export interface RuntimeEvents {
  started(jobId: string, attempt: number, info: { taskArn?: string; containerInstanceArn?: string }): void;
  output(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: Buffer): void;
  exited(jobId: string, attempt: number, report: ExitReport): void;
}

export interface RuntimeStatus {
  name: string;
  /** Human-readable notes (e.g. "no Docker engine answered: jobs run as host processes"). */
  notes: string[];
}

export interface Runtime {
  readonly name: string;
  status(): RuntimeStatus;
  /** Starts an attempt; progress is reported through RuntimeEvents. Never throws for a job's own failure. */
  start(spec: RunSpec): void;
  /** Stops an attempt: SIGTERM, then SIGKILL after the grace period. Resolves once the stop was requested. */
  stop(jobId: string, attempt: number, reason: string): Promise<void>;
  /**
   * Called once at start with the attempts the store believes are running. The runtime re-attaches to those it
   * can still see (and reports them later as usual) and returns the ones that are gone.
   */
  recover(running: readonly { jobId: string; attempt: number }[]): Promise<{ jobId: string; attempt: number }[]>;
  close(): Promise<void>;
}

/** Injected clock so pure code and tests control time. */
export type Clock = () => number;

/**
 * Where attempts' output goes (CloudWatch Logs-style streams). The service opens a stream when an attempt starts,
 * hands it every chunk of output as produced, and closes it when the attempt ends.
 */
export interface LogSink {
  open(streamName: string, meta: { jobId: string; attempt: number; pi?: string }): void;
  write(streamName: string, source: 'stdout' | 'stderr', data: Buffer): void;
  close(streamName: string): Promise<void>;
}

/** A sink that keeps nothing (used where logs are not wanted, e.g. some benchmarks). */
export const discardLogs: LogSink = {
  open() {},
  write() {},
  async close() {},
};

/** One attempt's log stream as stored (CloudWatch Logs' LogStream plus the owner needed for access control). */
export interface LogStreamRecord {
  name: string;
  jobId: string;
  attempt: number;
  /** PI group of the job's owner; readers of another group see the stream as absent. */
  pi?: string;
  createdAt: number;
  firstEventAt?: number;
  lastEventAt?: number;
  lastIngestionAt?: number;
  /** Events stored so far; also the sequence number the next event gets. */
  eventCount: number;
  storedBytes: number;
  closedAt?: number;
}

/** One stored event. `seq` is its 0-based position in its stream (the basis of paging tokens). */
export interface LogEventRecord {
  seq: number;
  timestamp: number;
  ingestionTime: number;
  message: string;
  /** UTF-8 size of the message (what CloudWatch's 1 MB page limit counts). */
  bytes: number;
}

/**
 * A run of consecutive events of one stream, packed by the sink so that no object per line is made: per event a
 * little-endian u32 message length, a u32 millisecond offset from `firstTs`, then the message's UTF-8 bytes.
 * Timestamps ascend within a chunk; a chunk holds at most ~72 KB and 2000 events (one over-long event: ~256 KB).
 */
export interface LogChunk {
  data: Buffer;
  count: number;
  firstTs: number;
  lastTs: number;
  /** Message bytes (without the per-event headers). */
  bytes: number;
}

/** Chunks of one stream to append, in order; their timestamps never go backwards within a stream. */
export interface LogAppend {
  stream: string;
  chunks: LogChunk[];
}

export interface LogEventRead {
  stream: string;
  /** Forward: first seq to return. Backward: return events before this seq (newest first, then reversed). */
  from: number;
  direction: 'forward' | 'backward';
  /** Inclusive. */
  startTime?: number;
  /** Exclusive. */
  endTime?: number;
  limit: number;
  /** Stop before the page's message bytes plus `perEventOverhead` per event exceed this. */
  maxBytes: number;
  perEventOverhead: number;
}

export interface LogStreamQuery {
  prefix?: string;
  orderBy: 'LogStreamName' | 'LastEventTime';
  descending: boolean;
  /** Only streams of this PI group (access control); undefined = all. */
  pi?: string;
  /** Only streams whose events may fall in [startTime, endTime). */
  startTime?: number;
  endTime?: number;
  /** Exact names (FilterLogEvents' logStreamNames). */
  names?: string[];
  limit: number;
  /** Keyset cursor: the sort key and name of the last stream of the previous page. */
  after?: { key: string | number; name: string };
}

/**
 * Durable log storage (the `/aws/batch/job` group). Separate from Store so that logs can live in their own database;
 * async so a networked backend fits. Events of a stream are kept in order; `seq` numbers them from 0.
 */
export interface LogStore {
  readonly kind: string;
  createStream(s: { name: string; jobId: string; attempt: number; pi?: string; createdAt: number }): Promise<void>;
  /** Appends events of many streams in one transaction. The chunks' buffers are reused once it has settled. */
  append(batch: readonly LogAppend[], ingestionTime: number): Promise<void>;
  closeStream(name: string, at: number): Promise<void>;
  getStream(name: string): Promise<LogStreamRecord | undefined>;
  listStreams(q: LogStreamQuery): Promise<LogStreamRecord[]>;
  /** Events in ascending order; for a backward read, the newest ones before `from`. */
  readEvents(q: LogEventRead): Promise<LogEventRecord[]>;
  /** The seq of the first event at or after `time` (the stream's eventCount when none). */
  seqAtTime(stream: string, time: number): Promise<number>;
  /** Deletes streams closed before `before` with their events (retention); returns how many. */
  purge(before: number): Promise<number>;
  close(): Promise<void>;
}
