/** What every client-side command needs: the endpoint and credentials, read the way the aws CLI reads them. */
import { BatchClient } from '@aws-sdk/client-batch';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { Command } from 'commander';

export interface ClientOptions {
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

/** Adds --endpoint-url, --profile and --region to a client command. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--endpoint-url <url>', 'openbatch server [OPENBATCH_ENDPOINT] (default http://127.0.0.1:8000)')
    .option('--profile <name>', 'credentials profile, as the aws CLI reads them (env, ~/.aws/credentials)')
    .option('--region <region>', 'region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1)');
}

export function clientConfig(o: ClientOptions) {
  return {
    endpoint: o.endpointUrl ?? process.env.OPENBATCH_ENDPOINT ?? 'http://127.0.0.1:8000',
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials: fromNodeProviderChain(o.profile ? { profile: o.profile } : {}),
  };
}

export function batchClient(o: ClientOptions): BatchClient {
  return new BatchClient(clientConfig(o));
}

/** A usage mistake the user can fix: printed without a stack, exit status 2. */
export class UsageError extends Error {}

/** The message a client command prints for a failed call: the server's own words, or how to reach the server. */
export function clientErrorMessage(err: unknown, o: ClientOptions): string {
  const e = err as Error & { name?: string; code?: string; cause?: { code?: string } };
  if (err instanceof UsageError) return e.message;
  if (e.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNREFUSED')
    return `cannot reach openbatch at ${clientConfig(o).endpoint}: is the server running? (set --endpoint-url or OPENBATCH_ENDPOINT)`;
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`;
}
