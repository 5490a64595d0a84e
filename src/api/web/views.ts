/** Shapes the dashboard's JSON: what a page needs, with secret-looking environment values masked. */
import type { JobDefinition, KeyValuePair } from '../../core/types.js';
import type { ResourceRegistry } from '../../service/resources.js';

const SECRET_NAME = /SECRET|PASSWORD|TOKEN|KEY/i;
export const MASK = '••••••••';

/** Environment entries with values of secret-looking names replaced: those values never reach a browser. */
export function maskEnvironment(env: readonly KeyValuePair[] | undefined): KeyValuePair[] {
  return (env ?? []).map((kv) => (kv.name && SECRET_NAME.test(kv.name) ? { name: kv.name, value: MASK } : { ...kv }));
}

/** The name of a queue ARN, falling back to the ARN's last path segment when the queue is gone. */
export function queueName(registry: ResourceRegistry, arn: string): string {
  return registry.queueByNameOrArn(arn)?.jobQueueName ?? arn.slice(arn.lastIndexOf('/') + 1);
}

/** A job as a row of the jobs table. */
export function jobRow(registry: ResourceRegistry, d: Record<string, any>, owner?: { user: string; pi: string }) {
  return {
    jobId: d.jobId as string,
    jobName: d.jobName as string,
    status: d.status as string,
    statusReason: d.statusReason as string | undefined,
    queue: queueName(registry, (d.jobQueue ?? d.jobQueueArn) as string),
    createdAt: d.createdAt as number,
    startedAt: d.startedAt as number | undefined,
    stoppedAt: d.stoppedAt as number | undefined,
    exitCode: d.container?.exitCode as number | undefined,
    user: owner?.user ?? '',
    pi: owner?.pi ?? '',
    ...(d.arrayProperties ? { arrayProperties: d.arrayProperties } : {}),
  };
}

/** Job definitions grouped by name, newest revision first, secret environment values masked. */
export function jobDefinitionList(registry: ResourceRegistry) {
  const out: { name: string; revisions: Record<string, unknown>[] }[] = [];
  for (const [name, list] of [...registry.jobDefinitions.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push({
      name,
      revisions: [...list].reverse().map((d: JobDefinition) => ({
        revision: d.revision,
        status: d.status,
        type: d.type,
        arn: d.jobDefinitionArn,
        createdAt: d.createdAt,
        parameters: d.parameters ?? {},
        retryStrategy: d.retryStrategy ?? null,
        timeout: d.timeout ?? null,
        containerProperties: d.containerProperties
          ? { ...d.containerProperties, environment: maskEnvironment(d.containerProperties.environment) }
          : null,
      })),
    });
  }
  return out;
}
