/** Creates a compute environment, a queue and a job definition through the real Batch API (AWS SDK). */
import {
  BatchClient,
  CreateComputeEnvironmentCommand,
  CreateJobQueueCommand,
  DescribeJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  type SubmitJobCommandInput,
} from '@aws-sdk/client-batch';

export function batchClient(url: string, accessKeyId: string, secretAccessKey: string): BatchClient {
  return new BatchClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
}

export async function createQueue(batch: BatchClient, queue: string, maxvCpus = 4): Promise<void> {
  await batch.send(
    new CreateComputeEnvironmentCommand({
      computeEnvironmentName: `${queue}-ce`,
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus, minvCpus: 0, subnets: ['subnet-1'], instanceRole: 'ecsInstanceRole' },
    }),
  );
  await batch.send(
    new CreateJobQueueCommand({
      jobQueueName: queue,
      priority: 10,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: `${queue}-ce` }],
    }),
  );
  await batch.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: `${queue}-def`,
      type: 'container',
      containerProperties: {
        image: 'busybox',
        command: ['echo', 'hello'],
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '64' },
        ],
      },
    }),
  );
}

export async function submit(
  batch: BatchClient,
  queue: string,
  jobName: string,
  command: string[],
  extra: Partial<SubmitJobCommandInput> = {},
): Promise<string> {
  const out = await batch.send(
    new SubmitJobCommand({
      jobName,
      jobQueue: queue,
      jobDefinition: `${queue}-def`,
      containerOverrides: { command, ...(extra.containerOverrides ?? {}) },
      ...(extra.parameters ? { parameters: extra.parameters } : {}),
      ...(extra.dependsOn ? { dependsOn: extra.dependsOn } : {}),
    }),
  );
  return out.jobId!;
}

export async function waitStatus(batch: BatchClient, jobId: string, status: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
    if (j?.status === status) return;
    if (Date.now() > end)
      throw new Error(`job ${jobId} did not reach ${status}; it is ${j?.status} (${j?.statusReason})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
