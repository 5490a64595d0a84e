/**
 * What AWS Batch returns for members a caller did not set: the one list the response views fill in from and the
 * contract test checks against. Established from AWS's API reference and CLI examples (describe-compute-environments,
 * describe-job-queues, describe-job-definitions, describe-jobs): AWS answers with empty collections rather than
 * leaving them out (`tags: {}`, `environment: []`, ...), and tools written against it index them directly
 * (Ansible's `community.aws` reads `serviceRole`; dashboards iterate `environment`).
 *
 * Derived members, computed by the views rather than listed here:
 * - ComputeEnvironmentDetail.serviceRole: the service-linked role {@link serviceLinkedRoleArn} when none was given;
 *   a plain role name is reported as the role ARN in the CE's account.
 * - ComputeResource.desiredvCpus (EC2 and SPOT only; AWS does not report it for Fargate): minvCpus when not given.
 * - JobDefinition.containerOrchestrationType: EKS for a definition with eksProperties, ECS otherwise.
 */

/** Members and their defaults, per model shape (or a part of one, where the default depends on the kind). */
export const WIRE_DEFAULTS = {
  ComputeEnvironmentDetail: { tags: {}, containerOrchestrationType: 'ECS' },
  /** computeResources of an EC2 or SPOT environment. */
  'ComputeResource(EC2|SPOT)': { minvCpus: 0 },
  JobQueueDetail: { tags: {}, jobStateTimeLimitActions: [] },
  JobDefinition: { tags: {}, parameters: {}, propagateTags: false, platformCapabilities: [] },
  /** containerProperties of a job definition (when it has them). */
  ContainerProperties: {
    command: [],
    environment: [],
    mountPoints: [],
    ulimits: [],
    volumes: [],
    resourceRequirements: [],
  },
  /** eksProperties.podProperties of a definition or job (AWS documents hostNetwork's and dnsPolicy's defaults). */
  EksPodProperties: { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet', volumes: [] },
  /** eksProperties.podProperties.containers[] / initContainers[] of a definition or job. */
  EksContainer: { command: [], args: [], env: [], volumeMounts: [] },
  JobDetail: { tags: {}, parameters: {}, dependsOn: [], attempts: [], propagateTags: false, platformCapabilities: [] },
  /** container of a job (ContainerDetail). */
  ContainerDetail: {
    command: [],
    environment: [],
    mountPoints: [],
    ulimits: [],
    volumes: [],
    resourceRequirements: [],
    networkInterfaces: [],
  },
  SchedulingPolicyDetail: { tags: {} },
} as const satisfies Record<string, Record<string, unknown>>;

export type WireDefaultsOf = keyof typeof WIRE_DEFAULTS;

/** The role AWS Batch uses when a compute environment names none. */
export function serviceLinkedRoleArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch`;
}

/** A role given by name is stored and reported as its ARN in the account, as AWS does. */
export function roleArn(nameOrArn: string, accountId: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:iam::${accountId}:role/${nameOrArn}`;
}

/** `obj` with every member of WIRE_DEFAULTS[kind] it lacks (undefined or null) set to a fresh copy of the default. */
export function withDefaults<T extends Record<string, unknown>>(kind: WireDefaultsOf, obj: T): T {
  const out: Record<string, unknown> = { ...obj };
  for (const [k, v] of Object.entries(WIRE_DEFAULTS[kind]))
    if (out[k] === undefined || out[k] === null) out[k] = typeof v === 'object' ? structuredClone(v) : v;
  return out as T;
}
