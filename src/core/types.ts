/**
 * Domain types of openbatch.
 *
 * Glossary
 * - compute environment (CE): a pool of capacity with a vCPU cap. MANAGED = capacity openbatch places onto (this host).
 * - job queue: an ordered list of CEs plus a priority; jobs are submitted to a queue.
 * - job definition: a named, revisioned template (image, command, resources, retry, timeout, parameters).
 * - job: one submission; an array job is a parent with N children `<id>:<index>`.
 * - attempt: one run of a job on a runtime; a job has 1..10 attempts.
 * - runtime: what actually runs an attempt (process, docker).
 * - plan: the scheduler's output: which RUNNABLE jobs start where, and why the others wait.
 *
 * Shapes mirror the AWS Batch 2016-08-10 model so the API layer can return them with little mapping;
 * everything time-like is epoch milliseconds.
 */
import type { EksProperties } from './eks-pod.js';
import type { NodeProperties } from './multinode.js';

export const JobStatus = {
  SUBMITTED: 'SUBMITTED',
  PENDING: 'PENDING',
  RUNNABLE: 'RUNNABLE',
  STARTING: 'STARTING',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
} as const;
export type JobStatus = keyof typeof JobStatus;
export const JOB_STATUSES = Object.keys(JobStatus) as JobStatus[];

export const isTerminal = (s: JobStatus): boolean => s === 'SUCCEEDED' || s === 'FAILED';

export const ResourceState = { ENABLED: 'ENABLED', DISABLED: 'DISABLED' } as const;
export type ResourceState = keyof typeof ResourceState;

export interface KeyValuePair {
  name?: string;
  value?: string;
}
export interface ResourceRequirement {
  type: 'GPU' | 'VCPU' | 'MEMORY';
  value: string;
}
export type Tags = Record<string, string>;

export interface ComputeEnvironment {
  computeEnvironmentName: string;
  computeEnvironmentArn: string;
  type: 'MANAGED' | 'UNMANAGED';
  state: ResourceState;
  status: 'CREATING' | 'UPDATING' | 'DELETING' | 'DELETED' | 'VALID' | 'INVALID';
  statusReason: string;
  /** Stored whole; openbatch uses maxvCpus and type only. */
  computeResources?: Record<string, unknown> & { maxvCpus?: number; type?: string };
  serviceRole?: string;
  unmanagedvCpus?: number;
  tags?: Tags;
  createdAt: number;
  uuid: string;
  ecsClusterArn: string;
  containerOrchestrationType: 'ECS' | 'EKS';
  /** Any other member the request carried (eksConfiguration, context, ...), echoed back. */
  extra?: Record<string, unknown>;
}

export interface ComputeEnvironmentOrder {
  order: number;
  computeEnvironment: string; // ARN
}

export interface JobStateTimeLimitAction {
  reason: string;
  state: 'RUNNABLE';
  maxTimeSeconds: number;
  action: 'CANCEL' | 'TERMINATE';
}

export interface JobQueue {
  jobQueueName: string;
  jobQueueArn: string;
  state: ResourceState;
  status: 'CREATING' | 'UPDATING' | 'DELETING' | 'DELETED' | 'VALID' | 'INVALID';
  statusReason: string;
  priority: number;
  computeEnvironmentOrder: ComputeEnvironmentOrder[];
  schedulingPolicyArn?: string;
  jobStateTimeLimitActions?: JobStateTimeLimitAction[];
  tags?: Tags;
  createdAt: number;
  extra?: Record<string, unknown>;
}

export interface SchedulingPolicy {
  name: string;
  arn: string;
  fairsharePolicy?: Record<string, unknown>;
  tags?: Tags;
}

/**
 * A consumable resource (licenses and other counted things a job holds while it runs). REPLENISHABLE: what a job
 * holds comes back when it ends. NON_REPLENISHABLE: what a job takes when it goes STARTING is gone for good
 * (subtracted from totalQuantity).
 */
export interface ConsumableResource {
  consumableResourceName: string;
  consumableResourceArn: string;
  totalQuantity: number;
  resourceType: 'REPLENISHABLE' | 'NON_REPLENISHABLE';
  createdAt: number;
  tags?: Tags;
}

/** A job's need of one consumable resource, resolved to the resource's ARN at submission. */
export interface ConsumableRequirement {
  consumableResource: string;
  quantity: number;
}

export interface RetryStrategy {
  attempts?: number;
  evaluateOnExit?: { onStatusReason?: string; onReason?: string; onExitCode?: string; action: string }[];
}

/** containerProperties as registered: stored whole, typed where openbatch reads it. */
export interface ContainerProperties {
  image?: string;
  vcpus?: number;
  memory?: number;
  command?: string[];
  jobRoleArn?: string;
  executionRoleArn?: string;
  environment?: KeyValuePair[];
  /** Variables whose values come from SSM Parameter Store or Secrets Manager at attempt start (never stored). */
  secrets?: { name: string; valueFrom: string }[];
  /** A private registry's credentials: the ARN of a Secrets Manager secret `{"username", "password"}`. */
  repositoryCredentials?: { credentialsParameter: string };
  resourceRequirements?: ResourceRequirement[];
  user?: string;
  privileged?: boolean;
  readonlyRootFilesystem?: boolean;
  ulimits?: { hardLimit: number; name: string; softLimit: number }[];
  volumes?: { host?: { sourcePath?: string }; name?: string }[];
  mountPoints?: { containerPath?: string; readOnly?: boolean; sourceVolume?: string }[];
  linuxParameters?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface JobDefinition {
  jobDefinitionName: string;
  jobDefinitionArn: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  type: 'container' | 'multinode';
  parameters?: Record<string, string>;
  retryStrategy?: RetryStrategy;
  containerProperties?: ContainerProperties;
  timeout?: { attemptDurationSeconds?: number };
  tags?: Tags;
  propagateTags?: boolean;
  platformCapabilities?: string[];
  schedulingPriority?: number;
  /** A pod spec for AWS Batch on EKS (core/eks-pod.ts), instead of containerProperties. */
  eksProperties?: EksProperties;
  /** Every other registered member (nodeProperties, ecsProperties, ...), echoed back. */
  extra?: Record<string, unknown>;
  /** Owner (PI group) of the definition; empty for admin-owned. */
  owner?: string;
  createdAt: number;
}

export interface JobDependency {
  jobId?: string;
  type?: 'N_TO_N' | 'SEQUENTIAL';
}

/** What an attempt reports about its container, as AWS's AttemptContainerDetail. */
export interface AttemptContainer {
  exitCode?: number;
  reason?: string;
  logStreamName?: string;
  containerInstanceArn?: string;
  taskArn?: string;
  networkInterfaces?: unknown[];
}

export interface Attempt {
  container: AttemptContainer;
  startedAt?: number;
  stoppedAt?: number;
  statusReason?: string;
  /**
   * A multi-node attempt: how each node ended and its log stream (index = node index). Not part of AWS's
   * AttemptDetail: the node children `<jobId>#<n>` show it as their own attempts (service/node-views.ts).
   */
  nodes?: NodeState[];
}

/** The resolved resources of one job (after overrides): what the scheduler places. */
export interface JobResources {
  vcpus: number;
  memoryMiB: number;
  gpus: number;
}

/**
 * A job. `spec` is what was resolved at submission (definition + overrides) and never changes;
 * the rest is lifecycle state.
 */
export interface Job {
  jobId: string;
  jobArn: string;
  jobName: string;
  jobQueueArn: string;
  jobDefinitionArn: string;
  status: JobStatus;
  statusReason?: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  /** When the scheduler placed the job (it went STARTING), as AWS's JobSummary.scheduledAt. */
  scheduledAt?: number;
  /** When the job entered its current status (used for RUNNABLE time limits). */
  statusChangedAt: number;
  attempts: Attempt[];
  /** The container of the current (or last) attempt, as AWS's ContainerDetail adds to the spec. */
  container: AttemptContainer;
  isCancelled?: boolean;
  isTerminated?: boolean;
  dependsOn: JobDependency[];
  parameters: Record<string, string>;
  retryStrategy?: RetryStrategy;
  timeout?: { attemptDurationSeconds?: number };
  tags?: Tags;
  propagateTags?: boolean;
  schedulingPriority?: number;
  shareIdentifier?: string;
  /** Consumable resources the job holds while it runs (definition, or SubmitJob's override). */
  consumableResourceProperties?: { consumableResourceList: ConsumableRequirement[] };
  /**
   * Resolved container properties: definition merged with containerOverrides and parameters substituted. For a pod
   * (eksProperties) the container the engine runs, derived by core/eks-pod.ts.
   */
  containerProperties: ContainerProperties;
  /** A pod job: the definition's eksProperties with eksPropertiesOverride applied (what DescribeJobs shows). */
  eksProperties?: EksProperties;
  resources: JobResources;
  /** Array jobs: the parent has `arrayProperties.size`; a child has `index`. */
  arrayProperties?: { size?: number; index?: number; statusSummary?: Record<string, number> };
  /** Array parents: how children depend on each other, and whether they were released (parent dependencies met). */
  arrayMode?: 'PARALLEL' | 'SEQUENTIAL' | 'N_TO_N';
  arrayReleased?: boolean;
  /** Who submitted it (access key owner) and their PI group. */
  owner?: { user: string; pi: string };
  /** A multi-node parallel job: its nodes, with SubmitJob's nodeOverrides applied (core/multinode.ts). */
  nodeProperties?: NodeProperties;
  /** A multi-node parallel job: what each node of the current (or last) attempt did, by node index. */
  nodeStates?: NodeState[];
}

/**
 * A RUNNABLE job as a new leader loads it without its document: what scheduling reads. Only jobs that never ran and
 * are neither array children nor multi-node jobs are held this way (service/engine/compact-jobs.ts); the document is
 * read when the job starts or is stopped. Read-only: records share their parts (core/compact-runnable.ts).
 */
export interface CompactRunnable {
  readonly jobId: string;
  readonly jobQueueArn: string;
  readonly createdAt: number;
  readonly statusChangedAt: number;
  readonly shareIdentifier?: string;
  readonly schedulingPriority?: number;
  readonly resources: JobResources;
  readonly consumableResourceProperties?: { consumableResourceList: ConsumableRequirement[] };
}

/** One node of a multi-node parallel job's current attempt, as its node child `<jobId>#<index>` shows it. */
export interface NodeState {
  logStreamName: string;
  exitCode?: number;
  reason?: string;
}

/** A host-level capacity description: what this machine offers to MANAGED environments. */
export interface HostCapacity {
  vcpus: number;
  memoryMiB: number;
  gpus: number;
}
