/** The set-up most tests and benchmarks share: a MANAGED compute environment, a queue on it, a job definition. */
import * as B from '@aws-sdk/client-batch';

export interface QueueSetup {
  queue: string;
  /** Compute environment name; defaults to the queue's. */
  ce?: string;
  maxvCpus: number;
  /** DISABLED keeps submitted jobs RUNNABLE. */
  ceState?: 'ENABLED' | 'DISABLED';
  priority?: number;
  /** A job definition to register too (vcpus 1 and memory 16 MiB unless given). */
  definition?: { name: string; command: string[]; vcpus?: number; memory?: number };
}

export async function createQueue(sdk: B.BatchClient, o: QueueSetup): Promise<void> {
  const ce = o.ce ?? o.queue;
  await sdk.send(
    new B.CreateComputeEnvironmentCommand({
      computeEnvironmentName: ce,
      type: 'MANAGED',
      ...(o.ceState ? { state: o.ceState } : {}),
      computeResources: { type: 'EC2', maxvCpus: o.maxvCpus },
    }),
  );
  await sdk.send(
    new B.CreateJobQueueCommand({
      jobQueueName: o.queue,
      priority: o.priority ?? 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: ce }],
    }),
  );
  const d = o.definition;
  if (d)
    await sdk.send(
      new B.RegisterJobDefinitionCommand({
        jobDefinitionName: d.name,
        type: 'container',
        containerProperties: { image: 'busybox', vcpus: d.vcpus ?? 1, memory: d.memory ?? 16, command: d.command },
      }),
    );
}
