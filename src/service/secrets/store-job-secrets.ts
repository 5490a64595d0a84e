/**
 * A job's `containerProperties.secrets` read from openbatch's own per-PI secret store (the default when the admin
 * named no external endpoint for the job's role): each `valueFrom` names a parameter (name or ARN) or a secret (ARN,
 * optionally `:json-key:version-stage:version-id`) of the job's PI group. A value that is missing or another PI's
 * fails the attempt before anything runs, in the words ECS and AWS Batch use.
 */
import type { Job } from '../../core/types.js';
import { parameterName, parseSecretRef, SECRETS_FAILED, SM_ARN } from '../credentials/job-secrets.js';
import type { PiSecrets } from './pi-secrets.js';
import { findSecret, versionOf } from './secrets-manager.js';

const FAILED = `${SECRETS_FAILED}: execution resource retrieval failed`;

/** The environment a job's secrets give; rejects with AWS's reason when any cannot be read. */
export async function resolveStoreSecrets(
  secrets: PiSecrets,
  job: Job,
  list: readonly { name: string; valueFrom: string }[],
): Promise<Record<string, string>> {
  const pi = job.owner?.pi ?? '';
  // Who reads, as IAM would name it: the job's role when it has one, else its submitter.
  const principal =
    job.containerProperties.jobRoleArn ?? `arn:aws:iam::${secrets.accountId()}:user/${job.owner?.user ?? 'root'}`;
  const out: Record<string, string> = {};
  for (const s of list) {
    if (SM_ARN.test(s.valueFrom)) {
      const ref = parseSecretRef(s.valueFrom);
      const why = (reason: string) =>
        new Error(
          `${FAILED}: unable to retrieve secret from asm: failed to fetch secret ${ref.secretId} from secrets manager: ${reason}`.slice(
            0,
            1000,
          ),
        );
      const r = await findSecret(secrets, ref.secretId);
      if (!r) throw why("ResourceNotFoundException: Secrets Manager can't find the specified secret.");
      if (r.pi !== pi)
        throw why(
          `AccessDeniedException: ${secrets.denied(principal, 'secretsmanager:GetSecretValue', r.arn).message}`,
        );
      if (r.deletion_date !== null)
        throw why(
          "InvalidRequestException: You can't perform this operation on the secret because it was marked for deletion.",
        );
      let value: string;
      try {
        const v = versionOf(r, {
          ...(ref.version ? { versionId: ref.version } : {}),
          ...(ref.stage ? { stage: ref.stage } : {}),
        });
        value = secrets.open(r.arn, v.enc);
      } catch (err) {
        throw why(`ResourceNotFoundException: ${(err as Error).message}`);
      }
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
            `${FAILED}: unable to retrieve secret from asm: secret ${ref.secretId}: json key ${ref.jsonKey} not found`,
          );
        value = typeof v === 'string' ? v : JSON.stringify(v);
      }
      out[s.name] = value;
    } else {
      const name = parameterName(s.valueFrom);
      const r = await secrets.store.get('parameter', name);
      if (!r) throw new Error(`${FAILED}: unable to retrieve secrets from ssm: invalid ssm parameters: ${name}`);
      if (r.pi !== pi)
        throw new Error(
          `${FAILED}: unable to retrieve secrets from ssm: AccessDeniedException: ${secrets.denied(principal, 'ssm:GetParameters', r.arn).message}`,
        );
      out[s.name] = secrets.open(r.arn, r.value_enc);
    }
  }
  return out;
}
