/**
 * The rules resource inputs follow beyond the shapes of the API models (src/api/model-validator.ts checks those): the
 * limits AWS Batch documents for job definitions, retry strategies, timeouts, fair-share policies and share
 * identifiers, each failing with a ClientException that names the field, the rule and the value. Shared by the
 * resource registry and SubmitJob (whose overrides follow the same rules).
 */
import { ClientException } from '../core/errors.js';
import { checkEksProperties, type EksProperties } from '../core/eks-pod.js';
import { checkEnvironment, checkRepositoryCredentials, checkResourceRequirements } from '../core/job-spec.js';
import { checkNodeProperties } from '../core/multinode.js';
import { checkRange } from '../core/names.js';
import { partitionTagProblem, SLURM_PARTITION_TAG } from '../core/pools.js';
import type { ComputeEnvironment, JobDefinition, RetryStrategy, Tags } from '../core/types.js';

type Input = Record<string, any>;

/** AWS: a share identifier is "limited to 255 alphanumeric characters, and can be followed by an asterisk (*)". */
export const SHARE_ID_RE = /^[A-Za-z0-9]{1,255}\*?$/;

/** Whether two shareDistribution identifiers overlap (equal, or one's `prefix*` covers the other). */
function sharesOverlap(a: string, b: string): boolean {
  const pa = a.endsWith('*') ? a.slice(0, -1) : undefined;
  const pb = b.endsWith('*') ? b.slice(0, -1) : undefined;
  if (pa !== undefined && pb !== undefined) return pa.startsWith(pb) || pb.startsWith(pa);
  if (pa !== undefined) return b.startsWith(pa);
  if (pb !== undefined) return a.startsWith(pb);
  return a === b;
}

/** A retryStrategy (job definition or SubmitJob): 1-10 attempts, at most 5 evaluateOnExit entries in AWS's forms. */
export function checkRetryStrategy(rs: RetryStrategy | undefined, field: string): void {
  if (!rs) return;
  checkRange(`${field}.attempts`, rs.attempts, 1, 10);
  if (rs.evaluateOnExit && rs.evaluateOnExit.length > 5)
    throw new ClientException(`${field}.evaluateOnExit has ${rs.evaluateOnExit.length} entries; at most 5 are allowed`);
  rs.evaluateOnExit?.forEach((e, i) => {
    if (!/^(retry|exit)$/i.test(e.action))
      throw new ClientException(
        `${field}.evaluateOnExit[${i}].action must be RETRY or EXIT; got ${JSON.stringify(e.action)}`,
      );
    if (e.onExitCode !== undefined && !/^[0-9]*\*?$/.test(e.onExitCode))
      throw new ClientException(
        `${field}.evaluateOnExit[${i}].onExitCode must be digits, optionally ending in *; got ${JSON.stringify(e.onExitCode)}`,
      );
    for (const k of ['onReason', 'onStatusReason'] as const) {
      const v = e[k];
      if (v !== undefined && (v.length > 512 || !/^[A-Za-z0-9.: ]*\*?$/.test(v)))
        throw new ClientException(
          `${field}.evaluateOnExit[${i}].${k} may contain only letters, digits, periods, colons and spaces, optionally ending in *, at most 512 characters; got ${JSON.stringify(v)}`,
        );
    }
  });
}

/** A timeout (job definition or SubmitJob): AWS's minimum of 60 seconds. */
export function checkTimeout(t: { attemptDurationSeconds?: number } | undefined, field: string): void {
  if (t?.attemptDurationSeconds !== undefined && t.attemptDurationSeconds < 60)
    throw new ClientException(
      `${field}.attemptDurationSeconds must be at least 60 seconds; got ${t.attemptDurationSeconds}`,
    );
}

/**
 * RegisterJobDefinition's properties: the one kind of properties its type takes (container, eks or node properties),
 * each checked by its own rules.
 */
export function checkJobDefinitionProperties(input: Input): void {
  const type = input.type as 'container' | 'multinode';
  const cp = input.containerProperties as JobDefinition['containerProperties'];
  const eks = input.eksProperties as EksProperties | undefined;
  if (type === 'container' && !cp && !input.ecsProperties && !eks)
    throw new ClientException(
      'containerProperties is required for a job definition of type container: give at least {"image": "...", "command": [...]}',
    );
  if (type === 'multinode') checkNodeProperties(input.nodeProperties);
  else if (input.nodeProperties)
    throw new ClientException(
      `nodeProperties is given for a job definition of type ${JSON.stringify(type)}; nodeProperties needs type multinode (a multi-node parallel job)`,
    );
  const kinds = ['containerProperties', 'ecsProperties', 'eksProperties', 'nodeProperties'].filter((k) => input[k]);
  if (kinds.length > 1)
    throw new ClientException(
      `${kinds.join(' and ')} are given; a job definition has exactly one of containerProperties, ecsProperties, eksProperties or nodeProperties`,
    );
  if (eks) {
    if (type !== 'container')
      throw new ClientException(`eksProperties needs type container; got type ${JSON.stringify(type)}`);
    checkEksProperties(eks, 'eksProperties');
  }
  if (cp) {
    checkEnvironment(cp.environment, 'containerProperties.environment');
    checkResourceRequirements(cp.resourceRequirements, 'containerProperties.resourceRequirements');
    checkRepositoryCredentials(cp.repositoryCredentials, 'containerProperties.repositoryCredentials');
    if (cp.vcpus !== undefined && cp.vcpus < 1)
      throw new ClientException(`containerProperties.vcpus must be at least 1; got ${cp.vcpus}`);
    if (cp.memory !== undefined && cp.memory < 4)
      throw new ClientException(`containerProperties.memory must be at least 4 (MiB); got ${cp.memory}`);
  }
}

/** A scheduling policy's fairsharePolicy: AWS's ranges, at most 500 shares, no two overlapping. */
export function checkFairsharePolicy(fp: Input | undefined): void {
  if (!fp) return;
  checkRange('fairsharePolicy.shareDecaySeconds', fp.shareDecaySeconds as number | undefined, 0, 604_800);
  checkRange('fairsharePolicy.computeReservation', fp.computeReservation as number | undefined, 0, 99);
  const shares = (fp.shareDistribution as Input[] | undefined) ?? [];
  if (shares.length > 500)
    throw new ClientException(
      `fairsharePolicy.shareDistribution has ${shares.length} entries; at most 500 are allowed`,
    );
  shares.forEach((s, i) => {
    const id = s.shareIdentifier as string;
    if (!SHARE_ID_RE.test(id))
      throw new ClientException(
        `fairsharePolicy.shareDistribution[${i}].shareIdentifier ${JSON.stringify(id)} is not valid: up to 255 letters and digits, optionally followed by an asterisk (*)`,
      );
    const clash = shares.findIndex((o, j) => j !== i && sharesOverlap(id, o.shareIdentifier as string));
    if (clash >= 0)
      throw new ClientException(
        `fairsharePolicy.shareDistribution: share identifiers ${JSON.stringify(id)} and ${JSON.stringify(shares[clash]!.shareIdentifier)} overlap; the list of share identifiers in a fair-share policy can't overlap (e.g. UserA* and UserA1)`,
      );
    const w = s.weightFactor as number | undefined;
    if (w !== undefined && (w < 0.0001 || w > 999.9999))
      throw new ClientException(
        `fairsharePolicy.shareDistribution[${i}].weightFactor must be from 0.0001 to 999.9999; got ${w}`,
      );
  });
}

/** The tag that binds a compute environment to a Slurm partition: only on UNMANAGED ones, naming a partition. */
export function checkPoolTag(type: ComputeEnvironment['type'], tags: Tags | undefined): void {
  const value = tags?.[SLURM_PARTITION_TAG];
  if (value === undefined) return;
  if (type !== 'UNMANAGED')
    throw new ClientException(
      `tag ${SLURM_PARTITION_TAG} binds an UNMANAGED compute environment to a Slurm partition; this one is ${type}: create an UNMANAGED environment with unmanagedvCpus for the partition (docs/slurm.md)`,
    );
  const problem = partitionTagProblem(value);
  if (problem) throw new ClientException(problem);
}
