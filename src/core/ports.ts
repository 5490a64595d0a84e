/**
 * Ports: the interfaces the service layer needs from the outside world. `store/` and `runtime/` implement them;
 * only the composition root (server.ts) picks the concrete ones.
 */
import type {
  CompactRunnable,
  ComputeEnvironment,
  ConsumableResource,
  ContainerProperties,
  Job,
  JobDefinition,
  JobQueue,
  JobResources,
  JobStatus,
  SchedulingPolicy,
} from './types.js';
import type { InitContainerRun } from './eks-pod.js';

/** The resources of a Batch account: few, small, loaded whole at start and kept in memory. */
export interface ResourceSnapshot {
  computeEnvironments: ComputeEnvironment[];
  jobQueues: JobQueue[];
  jobDefinitions: JobDefinition[];
  schedulingPolicies: SchedulingPolicy[];
  consumableResources: ConsumableResource[];
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
  /** Only jobs that need this consumable resource (its ARN). */
  consumableResource?: string;
  /** Only jobs of this fair-share identifier (ListJobs' SHARE_IDENTIFIER filter). */
  shareIdentifier?: string;
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
  putConsumableResource(r: ConsumableResource): Promise<void>;
  deleteConsumableResource(arn: string): Promise<void>;

  /**
   * Inserts or replaces jobs, all in one transaction (group commit). With `fence`, the transaction first checks that
   * the leader lease still has that epoch and otherwise writes nothing and throws `FencedError`: a deposed leader
   * can change nothing. A job's tags (setJobTags) are never overwritten by this.
   */
  writeJobs(jobs: readonly Job[], fence?: Fence): Promise<void>;
  /**
   * How many batches of new jobs (writeJobs or insertJobs of jobs the store has never seen) may be committing at once:
   * more than 1 where commits run side by side and wait on the disk (PostgreSQL); 1 (or unset) for one writer.
   */
  readonly writeLanes?: number;
  /**
   * Resolves at once the writes whose commits have landed but whose answers wait for the event loop (a store that
   * commits on another thread): called between two requests, so a busy loop answers them within its turn.
   */
  deliverCommitted?(): void;
  /**
   * Inserts new jobs (SubmitJob on any replica; ids are fresh UUIDs), SUBMITTED or (without dependencies, not an
   * array) already RUNNABLE, in one transaction, then tells the leader (`jobs-submitted`).
   */
  insertJobs(jobs: readonly Job[]): Promise<void>;
  /** SUBMITTED jobs, oldest first: what the engine has still to admit (it learns of them from any replica). */
  listSubmittedJobs(limit: number): Promise<Job[]>;
  /**
   * Ids of the RUNNABLE jobs created at or after `since` (epoch ms): a leader looks for recent ones inserted RUNNABLE
   * whose signal it missed.
   */
  listRunnableJobIds(since: number): Promise<string[]>;
  /** Replaces a job's tags (kept apart from the document the engine writes, so neither overwrites the other). */
  setJobTags(jobId: string, tags: Record<string, string>): Promise<void>;
  getJobs(ids: readonly string[]): Promise<Job[]>;
  listJobs(q: JobListQuery): Promise<JobPage>;
  /**
   * Every job not SUCCEEDED/FAILED (what the engine keeps in memory), oldest first; with `exceptCompact`, not the
   * ones `loadCompactRunnable` returns.
   */
  loadActiveJobs(opts?: { exceptCompact?: boolean }): Promise<Job[]>;
  /**
   * RUNNABLE jobs that never ran and are neither array children nor multi-node jobs, oldest first (created, id), read
   * from columns without their documents: a new leader holds 1,000,000 of these in little memory.
   */
  loadCompactRunnable(): Promise<CompactRunnable[]>;
  /**
   * Terminal jobs that stopped at or after `since` (epoch ms), oldest stop first: what a new leader reads to rebuild
   * fair-share usage of the last decay window.
   */
  listJobsStoppedSince(since: number): Promise<Job[]>;
  /** Deletes terminal jobs stopped before `before`; returns their ids (history retention). */
  purgeJobs(before: number): Promise<string[]>;
  /** Number of jobs per (queue, status), optionally only a PI group's (dashboard overview). */
  countJobsByQueueAndStatus(pi?: string): Promise<{ jobQueueArn: string; status: JobStatus; count: number }[]>;
  /**
   * Usage per (PI, user) of jobs that stopped in [from, to): jobs run and vCPU-hours, the sum over their attempts
   * of vcpus x (stoppedAt - startedAt). Optionally only one PI group's.
   */
  usageByOwner(q: { from: number; to: number; pi?: string }): Promise<UsageRow[]>;

  /** Records a cancel/terminate request from any replica and tells the leader (`job-intents`). */
  addJobIntent(intent: Omit<JobIntent, 'seq'>): Promise<void>;
  /** Intents not yet applied, oldest first. */
  listJobIntents(limit: number): Promise<JobIntent[]>;
  /** Removes applied intents (fenced: only the leader applies them). */
  deleteJobIntents(seqs: readonly number[], fence: Fence): Promise<void>;

  /**
   * Takes or renews the leader lease for `holder` for `ttlMs` (measured by the store's own clock, so replicas' clocks
   * do not matter). A holder that takes the lease from another holder (expired) gets the next epoch; the same holder
   * keeps its epoch, even after its lease expired if nobody took it meanwhile. Resolves undefined while another
   * holder's lease is live.
   */
  acquireLease(holder: string, ttlMs: number): Promise<{ epoch: number; expiresAt: number } | undefined>;
  /** Gives the lease up at once (clean shutdown) if `holder` still has it at `epoch`. */
  releaseLease(holder: string, epoch: number): Promise<void>;
  readLease(): Promise<LeaderLease | undefined>;
  /**
   * The identity of a store shared by replicas (made once, when the database is created): what labels the containers
   * of the deployment, so whichever replica leads re-attaches to them. Absent on a store one process owns (SQLite).
   */
  clusterId?(): Promise<string>;

  /** Each replica says it is alive every few seconds; admins list them. */
  heartbeatReplica(r: ReplicaRecord): Promise<void>;
  listReplicas(): Promise<ReplicaRecord[]>;

  /**
   * The engine's published view of capacity (JSON, small), fenced; every replica reads it to explain why a
   * RUNNABLE job waits exactly as the leader would.
   */
  putEngineState(json: string, fence: Fence): Promise<void>;
  getEngineState(): Promise<{ json: string; at: number } | undefined>;

  /**
   * Cross-replica signals (PostgreSQL: LISTEN/NOTIFY; SQLite, one process: in-process). Delivery is best effort:
   * listeners also poll, so a lost signal only delays. Returns an unsubscribe function.
   */
  subscribe(channel: ChangeChannel, listener: (payload: string) => void): () => void;
  notify(channel: ChangeChannel, payload: string): Promise<void>;
}

/** One status change as replicas hear of it (the `job-changes` channel carries arrays of these as JSON). */
export interface JobChange {
  jobId: string;
  status: JobStatus;
  jobQueueArn: string;
  pi: string;
}

/** The leader's epoch, carried by every write of the engine. */
export interface Fence {
  epoch: number;
}

export interface LeaderLease {
  holder: string;
  epoch: number;
  expiresAt: number;
}

export interface JobIntent {
  seq: number;
  jobId: string;
  action: 'cancel' | 'terminate';
  reason: string;
  at: number;
}

export interface ReplicaRecord {
  id: string;
  /** Where its API listens, as it sees itself. */
  url: string;
  host: string;
  pid: number;
  startedAt: number;
  seenAt: number;
  role: 'leader' | 'follower';
  /** The epoch it leads with, for the leader. */
  epoch?: number;
}

/**
 * - jobs-submitted: new jobs, SUBMITTED or RUNNABLE (payload: core/submitted-signal.ts: ids, and what the leader
 *   needs to file a RUNNABLE job without reading it) — wakes the engine;
 * - job-intents: a cancel/terminate was recorded — wakes the engine;
 * - job-changes: jobs changed status (payload: JSON [{jobId, status, jobQueueArn, pi}]) — dashboards' live updates;
 * - resources: compute environments, queues, definitions or policies changed — replicas reload them;
 * - identities: users or keys changed — replicas reload their key tables.
 */
export type ChangeChannel = 'jobs-submitted' | 'job-intents' | 'job-changes' | 'resources' | 'identities';

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
  /** The capacity pool the attempt was placed on (`slurm:<partition>`, core/pools.ts); undefined: this host. */
  pool?: string;
  command: string[];
  environment: Record<string, string>;
  containerProperties: ContainerProperties;
  resources: JobResources;
  logStreamName: string;
  /**
   * The private registry's username and password (`repositoryCredentials.credentialsParameter`), read at attempt
   * start: for the pull only, never stored, shown or put in the container.
   */
  registryAuth?: RegistryAuth;
  /** Who submitted the job: runtimes that run jobs under per-group accounts (Slurm) map the PI group to one. */
  owner?: { user: string; pi: string };
  /** The attempt's timeout, for runtimes that enforce one themselves (Slurm's `--time`). */
  timeoutSeconds?: number;
  /** Replaces the image's entrypoint, `command` being its arguments (a pod container's command/args). */
  entrypoint?: string[];
  /** Containers to run to completion, in order, before the main one (a pod's init containers). */
  initContainers?: InitContainerRun[];
  /**
   * The attempt must reach a service on the host's loopback address (the container credentials endpoint): runtimes
   * that give an attempt a network of its own give it the host's network instead.
   */
  reachesHostLoopback?: boolean;
  /**
   * Job-role credentials through a `credential_process` rather than the container endpoint on loopback (a Slurm pool,
   * whose nodes reach this host only over the network): the runtime writes an AWS config file naming a script that
   * fetches `url` with `token`, both readable by the job's account only, and points AWS_CONFIG_FILE at it.
   */
  credentialProcess?: CredentialProcess;
  /**
   * A multi-node parallel job (core/multinode.ts): one run per node, in index order, started together; the attempt
   * ends when node `mainNode` exits (its exit is the attempt's), and the other nodes are then stopped. Each node
   * reports its output with its index. The top-level command/environment/resources are the main node's.
   */
  nodes?: NodeRunSpec[];
  mainNode?: number;
  /**
   * A network of the runtime's to attach the attempt to instead of one of its own: the network of a multi-node
   * attempt's containers (runtime/local-multi-node.ts), on which the nodes reach the main node.
   */
  network?: string;
}

/** Where a `credential_process` script fetches an attempt's credentials (the endpoint's `?format=process`). */
export interface CredentialProcess {
  url: string;
  /** The attempt's token: a secret, written only to a file the job's account alone reads. */
  token: string;
}

/** One node of a multi-node attempt. The runtime adds AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS on non-main nodes. */
export interface NodeRunSpec {
  index: number;
  command: string[];
  environment: Record<string, string>;
  containerProperties: ContainerProperties;
  resources: JobResources;
  logStreamName: string;
}

/** Credentials for a private registry (a Secrets Manager secret `{"username", "password"}`, as AWS documents). */
export interface RegistryAuth {
  username: string;
  password: string;
}

/** What secrets resolve to at attempt start: environment variables, and the registry credentials when named. */
export interface ResolvedSecrets {
  environment: Record<string, string>;
  registryAuth?: RegistryAuth;
}

/**
 * What an attempt gets beyond its job's own environment (job-role credentials endpoint, secrets): handed to the
 * runtime only, never stored with the job, shown or logged.
 */
export interface AttemptExtras {
  environment: Record<string, string>;
  reachesHostLoopback?: boolean;
  credentialProcess?: CredentialProcess;
  /** Resolved just before the runtime starts the attempt; a rejection fails the attempt, its message the reason. */
  resolve?: () => Promise<ResolvedSecrets>;
}

/** How an attempt ended, as the runtime saw it. */
export interface ExitReport {
  exitCode?: number;
  /** A reason in AWS's words (`OutOfMemoryError: ...`, `CannotPullContainerError: ...`). */
  reason?: string;
  /** Why the status is FAILED when there is no exit code (e.g. host restarted). */
  statusReason?: string;
  /** A multi-node attempt: how each node ended, where known. */
  nodes?: { index: number; exitCode?: number; reason?: string }[];
}

/** What runtimes report back. Each call becomes a committed transition. */
export interface RuntimeEvents {
  /** `privateIpv4Address`: the attempt's address on RunSpec.network, when one was given. */
  started(
    jobId: string,
    attempt: number,
    info: { taskArn?: string; containerInstanceArn?: string; privateIpv4Address?: string },
  ): void;
  /** Output of the attempt; of node `node` of a multi-node attempt when given. */
  output(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: Buffer, node?: number): void;
  /**
   * The attempt ended. `durable`, when given, is called once that end is durable: only then may the runtime delete
   * what records it (a container and its exit code), or a crash in between would lose the attempt. It is never
   * called when this replica stops leading before then (the next leader collects the attempt).
   */
  exited(jobId: string, attempt: number, report: ExitReport, durable?: () => void): void;
}

export interface RuntimeStatus {
  name: string;
  /** Human-readable notes (e.g. "no Docker engine answered: jobs run as host processes"). */
  notes: string[];
}

export interface Runtime {
  readonly name: string;
  /** Whether one job's attempt is isolated from another's (containers, separate accounts); process runtimes are not. */
  readonly isolatesJobs?: boolean;
  /** Whether the runtime runs the nodes of a multi-node attempt (RunSpec.nodes) itself. */
  readonly runsMultiNode?: boolean;
  status(): RuntimeStatus;
  /** Why a started attempt still waits for the runtime's own scheduler (e.g. Slurm's `Resources`); undefined otherwise. */
  pendingReason?(jobId: string): string | undefined;
  /** Starts an attempt; progress is reported through RuntimeEvents. Never throws for a job's own failure. */
  start(spec: RunSpec): void;
  /** Stops an attempt: SIGTERM, then SIGKILL after the grace period. Resolves once the stop was requested. */
  stop(jobId: string, attempt: number, reason: string): Promise<void>;
  /**
   * Called once at start with the attempts the store believes are running. The runtime re-attaches to those it
   * can still see (and reports them later as usual) and returns the ones that are gone.
   */
  recover(
    running: readonly { jobId: string; attempt: number; pool?: string }[],
  ): Promise<{ jobId: string; attempt: number }[]>;
  /**
   * This replica no longer leads: the next leader owns the attempts now. A runtime whose attempts another replica can
   * reach (containers on a shared engine, Slurm jobs) leaves them running for the next leader to re-attach; one whose
   * attempts nobody else can follow (host processes) kills them (the next leader settles and retries them).
   */
  abandon(): Promise<void>;
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

/** A PI group as stored (secrets sealed by the service's SecretBox before they reach a store). */
export interface PiGroupRecord {
  name: string;
  created_at: number;
  role_access_key_id: string | null;
  role_secret_enc: string | null;
  role_endpoint_url: string | null;
  role_region: string | null;
  /** JSON: where the role's credentials come from beyond the keys (STS AssumeRole, secrets endpoint); no secrets. */
  role_source: string | null;
}
export interface UserRecord {
  name: string;
  pi: string;
  admin: number;
  disabled: number;
  created_at: number;
}
export interface AccessKeyRecord {
  id: string;
  user_name: string;
  secret_enc: string;
  created_at: number;
}
export interface AuditRecord {
  seq?: number;
  at: number;
  user_name: string;
  pi: string;
  operation: string;
  target: string | null;
  source: string | null;
  outcome: string;
}

/**
 * A value of the per-PI secret store (an SSM parameter or a Secrets Manager secret), its value sealed by the service's
 * SecretBox before it reaches a store. Names are one namespace per kind; `pi` owns the row.
 */
export interface SecretValueRecord {
  kind: 'parameter' | 'secret';
  name: string;
  pi: string;
  arn: string;
  /** Parameters: String, StringList or SecureString; secrets: string or binary. */
  type: string;
  description: string | null;
  value_enc: string;
  /** Parameters: their Version; secrets: how many versions were put. */
  version: number;
  /** Secrets: the AWSCURRENT version's id. */
  version_id: string | null;
  /** Secrets: the AWSPREVIOUS version (sealed value, its type and id). */
  previous_enc: string | null;
  previous_type: string | null;
  previous_version_id: string | null;
  created_at: number;
  updated_at: number;
  updated_by: string;
  /** Secrets: when a scheduled deletion takes effect (epoch ms); null when not scheduled. */
  deletion_date: number | null;
}

/** Rows of the per-PI secret store; names sort byte-wise (keyset pages by name). */
export interface SecretValueStore {
  get(kind: SecretValueRecord['kind'], name: string): Promise<SecretValueRecord | undefined>;
  byArn(arn: string): Promise<SecretValueRecord | undefined>;
  /** In name order after `after`; `pi` undefined: every PI's; `prefix`: names that start with it. */
  list(q: {
    kind: SecretValueRecord['kind'];
    pi?: string;
    prefix?: string;
    after?: string;
    limit: number;
  }): Promise<SecretValueRecord[]>;
  /** False when a row of that kind and name exists already. */
  insert(r: SecretValueRecord): Promise<boolean>;
  /** Replaces the row if it is still at `expectedVersion`; false when it is not (a concurrent change, or gone). */
  replace(r: SecretValueRecord, expectedVersion: number): Promise<boolean>;
  delete(kind: SecretValueRecord['kind'], name: string): Promise<boolean>;
}

/** Reads and writes of PI groups, users and keys: what a transaction of the identity store offers. */
export interface IdentityOps {
  piGroups(): Promise<PiGroupRecord[]>;
  piGroup(name: string): Promise<PiGroupRecord | undefined>;
  insertPiGroup(name: string, at: number): Promise<void>;
  setRole(
    pi: string,
    accessKeyId: string,
    secretEnc: string,
    endpointUrl: string | null,
    region: string | null,
    source: string | null,
  ): Promise<void>;
  users(): Promise<UserRecord[]>;
  user(name: string): Promise<UserRecord | undefined>;
  insertUser(name: string, pi: string, at: number): Promise<void>;
  setUserFlag(name: string, flag: 'admin' | 'disabled', value: boolean): Promise<void>;
  accessKeys(): Promise<AccessKeyRecord[]>;
  keysOf(user: string): Promise<AccessKeyRecord[]>;
  insertKey(id: string, user: string, secretEnc: string, at: number): Promise<void>;
  deleteKeysOf(user: string): Promise<void>;
}

/**
 * PI groups, users, access keys and the audit log. Every change of groups, users or keys raises `version()` and, on a
 * shared database, signals the `identities` channel, so every replica can reload its key table.
 */
export interface IdentityStore extends IdentityOps {
  readonly kind: string;
  migrate(): Promise<void>;
  /** Runs `fn` in one transaction (onboarding creates a group, a user and a key together or not at all). */
  transaction<T>(fn: (tx: IdentityOps) => Promise<T>): Promise<T>;
  /** Changes whenever groups, users or keys change (cheap: replicas poll it). */
  version(): Promise<number>;
  /** Appends many audit records in one transaction (the audit log batches them). */
  appendAudit(rows: readonly AuditRecord[]): Promise<void>;
  /** Newest first; `beforeSeq` pages backwards. */
  audit(q: { limit: number; beforeSeq?: number; user?: string }): Promise<AuditRecord[]>;
  /** The per-PI secret store (SSM parameters, Secrets Manager secrets), in the same database. */
  readonly secretValues: SecretValueStore;
  close(): Promise<void>;
}
