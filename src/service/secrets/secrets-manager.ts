/**
 * Secrets Manager operations (`secretsmanager.*`) over the per-PI secret store (pi-secrets.ts): create, put a new
 * value, get, describe, list, delete (scheduled with a recovery window, or at once) and restore, with AWS's errors:
 * ResourceExistsException, ResourceNotFoundException ("Secrets Manager can't find the specified secret."),
 * InvalidRequestException for a secret marked for deletion, InvalidParameterException for contradictory input.
 * Versions: AWSCURRENT and AWSPREVIOUS (the value before the last put) are kept; older ones are dropped, as AWS drops
 * versions that have no staging label. A secret id is its name, its ARN or a partial ARN (without the 6 letters).
 * Refused with a message saying so: tags, replica regions, custom staging labels.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import type { SecretValueRecord } from '../../core/ports.js';
import { decodeToken, encodeToken, seconds, type PiSecrets } from './pi-secrets.js';

type Input = Record<string, any>;
type Operation = (caller: Caller, input: Input) => Promise<unknown>;

const NAME_RE = /^[a-zA-Z0-9/_+=.@-]+$/;
const DAY_MS = 86_400_000;

const invalidParameter = (m: string) => new ApiError('InvalidParameterException', 400, m);
const notFound = () =>
  new ApiError('ResourceNotFoundException', 400, "Secrets Manager can't find the specified secret.");
const markedForDeletion = () =>
  new ApiError(
    'InvalidRequestException',
    400,
    "You can't perform this operation on the secret because it was marked for deletion.",
  );

/**
 * The secret a `SecretId` names (name, ARN or partial ARN); a secret past its deletion date is removed first and
 * counts as absent.
 */
export async function findSecret(secrets: PiSecrets, secretId: string): Promise<SecretValueRecord | undefined> {
  let r = secretId.startsWith('arn:') ? await secrets.store.byArn(secretId) : undefined;
  if (!r) {
    const at = secretId.indexOf(':secret:');
    const name = secretId.startsWith('arn:') && at >= 0 ? secretId.slice(at + ':secret:'.length) : secretId;
    r = await secrets.store.get('secret', name);
  }
  if (r?.deletion_date != null && r.deletion_date <= secrets.clock()) {
    await secrets.store.delete('secret', r.name);
    return undefined;
  }
  return r;
}

/** The value of a version (AWSCURRENT unless a stage or id says otherwise); ResourceNotFoundException if absent. */
export function versionOf(
  r: SecretValueRecord,
  q: { versionId?: string; stage?: string },
): { enc: string; type: string; versionId: string; stages: string[]; current: boolean } {
  const current = r.version_id
    ? { enc: r.value_enc, type: r.type, versionId: r.version_id, stages: ['AWSCURRENT'], current: true }
    : undefined;
  const previous =
    r.previous_enc && r.previous_version_id && r.previous_type
      ? {
          enc: r.previous_enc,
          type: r.previous_type,
          versionId: r.previous_version_id,
          stages: ['AWSPREVIOUS'],
          current: false,
        }
      : undefined;
  const pick = [current, previous].find(
    (v) =>
      v !== undefined &&
      (q.versionId === undefined || v.versionId === q.versionId) &&
      (q.stage === undefined || v.stages.includes(q.stage)) &&
      (q.versionId !== undefined || q.stage !== undefined || v.current),
  );
  if (!pick)
    throw new ApiError(
      'ResourceNotFoundException',
      400,
      q.versionId !== undefined
        ? `Secrets Manager can't find the specified secret value for VersionId: ${q.versionId}`
        : `Secrets Manager can't find the specified secret value for staging label: ${q.stage ?? 'AWSCURRENT'}`,
    );
  return pick;
}

/** The value given as SecretString or SecretBinary (base64); exactly one. */
function valueOf(input: Input, required: boolean): { type: string; value: string } | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined)
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret: give SecretString or SecretBinary",
    );
  if (input.SecretString !== undefined) return { type: 'string', value: String(input.SecretString) };
  if (input.SecretBinary !== undefined) return { type: 'binary', value: String(input.SecretBinary) };
  if (required) throw invalidParameter('You must provide either SecretString or SecretBinary.');
  return undefined;
}

export function secretsManagerOperations(secrets: PiSecrets): Record<string, Operation> {
  /** The caller's secret a SecretId names, for an action; not found, or refused when another PI's. */
  const find = async (caller: Caller, input: Input, action: string, allowDeleted = false) => {
    const r = await findSecret(secrets, String(input.SecretId));
    if (!r) throw notFound();
    secrets.check(caller, `secretsmanager:${action}`, r);
    if (!allowDeleted && r.deletion_date !== null) throw markedForDeletion();
    return r;
  };
  const stagesMap = (r: SecretValueRecord) => ({
    ...(r.version_id ? { [r.version_id]: ['AWSCURRENT'] } : {}),
    ...(r.previous_version_id ? { [r.previous_version_id]: ['AWSPREVIOUS'] } : {}),
  });
  const describe = (r: SecretValueRecord) => ({
    ARN: r.arn,
    Name: r.name,
    ...(r.description ? { Description: r.description } : {}),
    LastChangedDate: seconds(r.updated_at),
    ...(r.deletion_date !== null ? { DeletedDate: seconds(r.deletion_date) } : {}),
    CreatedDate: seconds(r.created_at),
  });
  const noExtras = (input: Input) => {
    if (Array.isArray(input.Tags) && input.Tags.length)
      throw invalidParameter("Tags: openbatch's secret store keeps no tags; leave --tags out");
    if (Array.isArray(input.AddReplicaRegions) && input.AddReplicaRegions.length)
      throw invalidParameter(
        'AddReplicaRegions: openbatch keeps secrets in one place; leave --add-replica-regions out',
      );
  };
  const versionIdOf = (input: Input) => (input.ClientRequestToken ? String(input.ClientRequestToken) : randomUUID());

  return {
    async CreateSecret(caller, input) {
      const name = String(input.Name);
      if (!NAME_RE.test(name))
        throw invalidParameter(
          `Invalid name ${JSON.stringify(name)}. Must be a valid name containing alphanumeric characters, or any of the following: /_+=.@-`,
        );
      noExtras(input);
      const value = valueOf(input, false);
      const existing = await findSecret(secrets, name);
      if (existing) {
        if (existing.deletion_date !== null)
          throw new ApiError(
            'InvalidRequestException',
            400,
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
          );
        throw new ApiError(
          'ResourceExistsException',
          400,
          `The operation failed because the secret ${name} already exists.`,
        );
      }
      const arn = secrets.newSecretArn(name);
      const versionId = value ? versionIdOf(input) : null;
      const now = secrets.clock();
      const inserted = await secrets.store.insert(
        secrets.created(caller, now, {
          kind: 'secret',
          name,
          arn,
          type: value?.type ?? 'string',
          description: input.Description ?? null,
          value_enc: value ? secrets.seal(arn, value.value) : '',
          version: value ? 1 : 0,
          version_id: versionId,
        }),
      );
      if (!inserted)
        throw new ApiError(
          'ResourceExistsException',
          400,
          `The operation failed because the secret ${name} already exists.`,
        );
      return { ARN: arn, Name: name, ...(versionId ? { VersionId: versionId } : {}) };
    },

    async PutSecretValue(caller, input) {
      const r = await find(caller, input, 'PutSecretValue');
      const value = valueOf(input, true)!;
      const stages = input.VersionStages as string[] | undefined;
      if (stages && (stages.length !== 1 || stages[0] !== 'AWSCURRENT'))
        throw invalidParameter(
          'VersionStages: openbatch keeps the staging labels AWSCURRENT and AWSPREVIOUS only; leave --version-stages out',
        );
      const versionId = versionIdOf(input);
      if (versionId === r.version_id) {
        // A retried request (same ClientRequestToken) with the same value changes nothing, as on AWS.
        if (r.type === value.type && secrets.open(r.arn, r.value_enc) === value.value)
          return { ARN: r.arn, Name: r.name, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
        throw new ApiError(
          'ResourceExistsException',
          400,
          "You can't modify an existing version, you can only create a new version: use another ClientRequestToken",
        );
      }
      const next: SecretValueRecord = {
        ...r,
        type: value.type,
        value_enc: secrets.seal(r.arn, value.value),
        version: r.version + 1,
        version_id: versionId,
        previous_enc: r.version_id ? r.value_enc : null,
        previous_type: r.version_id ? r.type : null,
        previous_version_id: r.version_id,
        updated_at: secrets.clock(),
        updated_by: secrets.principalArn(caller),
      };
      if (!(await secrets.store.replace(next, r.version)))
        throw new ApiError(
          'InvalidRequestException',
          400,
          `${r.name} was changed by another request at the same time; try again`,
        );
      return { ARN: r.arn, Name: r.name, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
    },

    async GetSecretValue(caller, input) {
      const r = await find(caller, input, 'GetSecretValue');
      const v = versionOf(r, {
        ...(input.VersionId !== undefined ? { versionId: String(input.VersionId) } : {}),
        ...(input.VersionStage !== undefined ? { stage: String(input.VersionStage) } : {}),
      });
      const plain = secrets.open(r.arn, v.enc);
      return {
        ARN: r.arn,
        Name: r.name,
        VersionId: v.versionId,
        ...(v.type === 'binary' ? { SecretBinary: plain } : { SecretString: plain }),
        VersionStages: v.stages,
        ...(v.current ? { CreatedDate: seconds(r.updated_at) } : {}),
      };
    },

    async DescribeSecret(caller, input) {
      const r = await find(caller, input, 'DescribeSecret', true);
      return { ...describe(r), VersionIdsToStages: stagesMap(r) };
    },

    async ListSecrets(caller, input) {
      const tests: ((r: SecretValueRecord) => boolean)[] = [];
      if (input.IncludePlannedDeletion !== true) tests.push((r) => r.deletion_date === null);
      for (const f of (input.Filters ?? []) as Input[]) {
        const values: string[] = f.Values ?? [];
        const field = (r: SecretValueRecord): string[] =>
          f.Key === 'name'
            ? [r.name]
            : f.Key === 'description'
              ? [r.description ?? '']
              : f.Key === 'all'
                ? [r.name, r.description ?? '']
                : [];
        if (!['name', 'description', 'all'].includes(String(f.Key)))
          throw invalidParameter(
            `Filters: the key ${JSON.stringify(f.Key)} is not supported here; use name, description or all (secrets have no tags here)`,
          );
        // As AWS: each value matches the start of the field; a leading "!" negates it.
        tests.push((r) =>
          values.some((v) =>
            v.startsWith('!') ? !field(r).some((x) => x.startsWith(v.slice(1))) : field(r).some((x) => x.startsWith(v)),
          ),
        );
      }
      const after = decodeToken(
        input.NextToken,
        () => new ApiError('InvalidNextTokenException', 400, 'The NextToken is not valid; start over without it'),
      );
      const page = await secrets.page(
        caller,
        'secret',
        { ...(after !== undefined ? { after } : {}), limit: input.MaxResults ?? 100 },
        (r) => tests.every((t) => t(r)) && (r.deletion_date === null || r.deletion_date > secrets.clock()),
      );
      return {
        SecretList: page.rows.map((r) => ({ ...describe(r), SecretVersionsToStages: stagesMap(r) })),
        ...(page.next ? { NextToken: encodeToken(page.next) } : {}),
      };
    },

    async DeleteSecret(caller, input) {
      const force = input.ForceDeleteWithoutRecovery === true;
      if (force && input.RecoveryWindowInDays !== undefined)
        throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      const days = input.RecoveryWindowInDays ?? 30;
      if (!Number.isInteger(days) || days < 7 || days > 30)
        throw invalidParameter(`RecoveryWindowInDays ${days} must be a whole number of days from 7 to 30`);
      const r = await find(caller, input, 'DeleteSecret', force);
      if (force) {
        await secrets.store.delete('secret', r.name);
        return { ARN: r.arn, Name: r.name, DeletionDate: seconds(secrets.clock()) };
      }
      const deletion = secrets.clock() + days * DAY_MS;
      await secrets.store.replace({ ...r, deletion_date: deletion, version: r.version }, r.version);
      return { ARN: r.arn, Name: r.name, DeletionDate: seconds(deletion) };
    },

    async RestoreSecret(caller, input) {
      const r = await find(caller, input, 'RestoreSecret', true);
      if (r.deletion_date !== null) await secrets.store.replace({ ...r, deletion_date: null }, r.version);
      return { ARN: r.arn, Name: r.name };
    },
  };
}
