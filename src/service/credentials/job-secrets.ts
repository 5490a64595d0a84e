/**
 * `containerProperties.secrets` the AWS way: each `valueFrom` names an SSM Parameter Store parameter (its name or ARN)
 * or a Secrets Manager secret (its ARN, optionally `:json-key:version-stage:version-id`), read at attempt start with
 * the job role's credentials from the PI's own endpoint, so a PI's jobs read only what that PI's role may read. A
 * secret that cannot be read fails the attempt before anything runs, with AWS's reason words.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export interface SecretsAccess {
  /** The PI's SSM / Secrets Manager endpoint; undefined: AWS's own. */
  endpointUrl?: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** AWS's prefix for an attempt that could not fetch its secrets. */
export const SECRETS_FAILED = 'ResourceInitializationError: unable to pull secrets or registry auth';

export const SM_ARN = /^arn:[\w-]+:secretsmanager:[\w-]*:\d*:secret:/;
const SSM_ARN = /^arn:[\w-]+:ssm:[\w-]*:\d*:parameter(\/.*)$/;

/** A Secrets Manager reference: the secret's ARN and, after it, `json-key:version-stage:version-id` (each optional). */
export function parseSecretRef(valueFrom: string): {
  secretId: string;
  jsonKey?: string;
  stage?: string;
  version?: string;
} {
  const parts = valueFrom.split(':');
  // arn:aws:secretsmanager:region:account:secret:name-XXXXXX = 7 parts; more are the optional selectors.
  const secretId = parts.slice(0, 7).join(':');
  const [jsonKey, stage, version] = parts.slice(7);
  return {
    secretId,
    ...(jsonKey ? { jsonKey } : {}),
    ...(stage ? { stage } : {}),
    ...(version ? { version } : {}),
  };
}

/** A parameter's name from its ARN (`parameter/a/b` is `/a/b`; `parameter/a` is `a`), or the name as given. */
export function parameterName(valueFrom: string): string {
  const m = SSM_ARN.exec(valueFrom);
  if (!m) return valueFrom;
  const rest = m[1]!.slice(1);
  return rest.includes('/') ? `/${rest}` : rest;
}

/** The environment the secrets give; rejects with AWS's reason when any cannot be read. */
export async function resolveSecrets(
  secrets: readonly { name: string; valueFrom: string }[],
  access: SecretsAccess,
): Promise<Record<string, string>> {
  const cfg = {
    ...(access.endpointUrl ? { endpoint: access.endpointUrl } : {}),
    region: access.region,
    credentials: access.credentials,
    maxAttempts: 2,
  };
  let ssm: SSMClient | undefined;
  let sm: SecretsManagerClient | undefined;
  const out: Record<string, string> = {};
  try {
    for (const s of secrets) {
      if (SM_ARN.test(s.valueFrom)) {
        const ref = parseSecretRef(s.valueFrom);
        sm ??= new SecretsManagerClient(cfg);
        const r = await sm
          .send(
            new GetSecretValueCommand({
              SecretId: ref.secretId,
              ...(ref.stage ? { VersionStage: ref.stage } : {}),
              ...(ref.version ? { VersionId: ref.version } : {}),
            }),
          )
          .catch((err: unknown) => failed('unable to retrieve secret from asm', s.valueFrom, err));
        let value = r.SecretString ?? '';
        if (ref.jsonKey) {
          let doc: unknown;
          try {
            doc = JSON.parse(value);
          } catch {
            doc = undefined;
          }
          const v = doc && typeof doc === 'object' ? (doc as Record<string, unknown>)[ref.jsonKey] : undefined;
          if (v === undefined)
            throw new Error(
              `${SECRETS_FAILED}: execution resource retrieval failed: unable to retrieve secret from asm: secret ${ref.secretId}: json key ${ref.jsonKey} not found`,
            );
          value = typeof v === 'string' ? v : JSON.stringify(v);
        }
        out[s.name] = value;
      } else {
        ssm ??= new SSMClient(cfg);
        const r = await ssm
          .send(new GetParameterCommand({ Name: parameterName(s.valueFrom), WithDecryption: true }))
          .catch((err: unknown) => failed('unable to retrieve secrets from ssm', s.valueFrom, err));
        out[s.name] = r.Parameter?.Value ?? '';
      }
    }
    return out;
  } finally {
    ssm?.destroy();
    sm?.destroy();
  }
}

function failed(what: string, valueFrom: string, err: unknown): never {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // Some stores (moto, proxies) answer these JSON services' refusals in XML, which the SDK cannot read: say what the
  // status means rather than quote a parse error.
  const why =
    e.name === 'SyntaxError' && status
      ? `${status === 403 ? 'AccessDeniedException' : `HTTP ${status}`}: the store refused the request (HTTP ${status})`
      : `${e.name ?? 'Error'}: ${e.message ?? ''}`;
  throw new Error(
    `${SECRETS_FAILED}: execution resource retrieval failed: ${what}: ${valueFrom}: ${why}`.slice(0, 1000),
  );
}
