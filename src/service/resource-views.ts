/**
 * Compute environments, job queues, job definitions and scheduling policies as the Batch API shows them: the stored
 * record plus what AWS reports for members the creator left out (wire-defaults.ts).
 */
import { parseBatchArn } from '../core/arn.js';
import type { ComputeEnvironment, JobDefinition, JobQueue, SchedulingPolicy } from '../core/types.js';
import { serviceLinkedRoleArn, withDefaults } from './wire-defaults.js';

/** The wire shape of a compute environment (ComputeEnvironmentDetail). */
export function ceDetail(ce: ComputeEnvironment): ComputeEnvironment {
  const { extra, createdAt: _c, ...rest } = ce;
  const out = withDefaults('ComputeEnvironmentDetail', { ...(extra ?? {}), ...rest });
  out.serviceRole ??= serviceLinkedRoleArn(parseBatchArn(ce.computeEnvironmentArn)?.accountId ?? '');
  const cr = ce.computeResources;
  if (cr && (cr.type === 'EC2' || cr.type === 'SPOT')) {
    const filled = withDefaults('ComputeResource(EC2|SPOT)', { ...cr });
    filled.desiredvCpus ??= filled.minvCpus;
    out.computeResources = filled;
  }
  return out as unknown as ComputeEnvironment;
}

/** The wire shape of a job queue (JobQueueDetail). */
export function queueDetail(q: JobQueue): JobQueue {
  const { extra, createdAt: _c, ...rest } = q;
  return withDefaults('JobQueueDetail', { ...(extra ?? {}), ...rest }) as unknown as JobQueue;
}

/** The wire shape of a scheduling policy (SchedulingPolicyDetail). */
export function schedulingPolicyDetail(p: SchedulingPolicy): SchedulingPolicy {
  return withDefaults('SchedulingPolicyDetail', { ...p });
}

/** eksProperties (of a definition or a job) with the pod's and each container's defaults. */
export function eksPropertiesView(ep: Record<string, any>): Record<string, unknown> {
  const pod = ep.podProperties as Record<string, any> | undefined;
  if (!pod) return { ...ep };
  const containers = (list: unknown) =>
    Array.isArray(list) ? list.map((c: Record<string, unknown>) => withDefaults('EksContainer', c)) : list;
  const view: Record<string, unknown> = withDefaults('EksPodProperties', {
    ...pod,
    containers: containers(pod.containers ?? []),
  });
  if (pod.initContainers) view.initContainers = containers(pod.initContainers);
  return { ...ep, podProperties: view };
}

/** The wire shape of a job definition (JobDefinition). */
export function jobDefinitionDetail(d: JobDefinition): Record<string, unknown> {
  const { extra, createdAt: _c, owner: _o, ...rest } = d;
  const out: Record<string, unknown> = withDefaults('JobDefinition', { ...(extra ?? {}), ...rest });
  if (d.containerProperties)
    out.containerProperties = withDefaults('ContainerProperties', { ...d.containerProperties });
  const eks = (d.eksProperties ?? extra?.eksProperties) as Record<string, unknown> | undefined;
  if (eks) out.eksProperties = eksPropertiesView(eks);
  out.containerOrchestrationType = eks ? 'EKS' : 'ECS';
  return out;
}
