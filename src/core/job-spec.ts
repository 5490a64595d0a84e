/**
 * Resolving a submission into a job's immutable spec: the definition's container properties merged with the
 * submission's overrides, parameters substituted (`Ref::name`), and the resources the scheduler places.
 */
import { ClientException } from './errors.js';
import type { ContainerProperties, JobResources, KeyValuePair, ResourceRequirement } from './types.js';

export interface ContainerOverrides {
  command?: string[];
  environment?: KeyValuePair[];
  resourceRequirements?: ResourceRequirement[];
  vcpus?: number;
  memory?: number;
  instanceType?: string;
}

/** AWS reserves this prefix for the variables it sets itself. */
export const RESERVED_ENV_PREFIX = 'AWS_BATCH_';

const SECRET_ARN = /^arn:[\w-]+:secretsmanager:[\w-]*:\d*:secret:[\w/+=.@-]+$/;

/** `repositoryCredentials.credentialsParameter` must be a Secrets Manager secret's ARN, as AWS requires. */
export function checkRepositoryCredentials(rc: { credentialsParameter?: unknown } | undefined, field: string): void {
  if (rc === undefined) return;
  const v = rc.credentialsParameter;
  if (typeof v !== 'string' || !SECRET_ARN.test(v))
    throw new ClientException(
      `${field}.credentialsParameter must be the ARN of a Secrets Manager secret whose value is {"username": "...", "password": "..."} (arn:aws:secretsmanager:<region>:<account>:secret:<name>; "aws secretsmanager describe-secret --secret-id <name>" shows it); got ${JSON.stringify(v)}`,
    );
}

export function checkEnvironment(env: readonly KeyValuePair[] | undefined, field: string): void {
  if (!env) return;
  env.forEach((kv, i) => {
    if (!kv.name) throw new ClientException(`${field}[${i}].name is required: every environment variable needs a name`);
    if (kv.name.startsWith(RESERVED_ENV_PREFIX))
      throw new ClientException(
        `${field}[${i}].name "${kv.name}" starts with ${RESERVED_ENV_PREFIX}, which is reserved for the variables AWS Batch sets; choose another name`,
      );
  });
}

function mergeByKey<T>(
  base: readonly T[] | undefined,
  over: readonly T[] | undefined,
  keyOf: (t: T) => string,
): T[] | undefined {
  if (!over) return base ? [...base] : undefined;
  const m = new Map<string, T>();
  for (const x of base ?? []) m.set(keyOf(x), x);
  for (const x of over) m.set(keyOf(x), x);
  return [...m.values()];
}

/** Replaces `Ref::name` placeholders in each command element with the parameter's value. */
export function substituteParameters(command: readonly string[], params: Readonly<Record<string, string>>): string[] {
  if (Object.keys(params).length === 0) return [...command];
  return command.map((arg) =>
    arg.includes('Ref::')
      ? arg.replace(/Ref::([A-Za-z0-9_-]+)/g, (whole, name: string) => (name in params ? params[name]! : whole))
      : arg,
  );
}

/** The definition's container properties with the submission's overrides applied. */
export function applyOverrides(base: ContainerProperties, o: ContainerOverrides | undefined): ContainerProperties {
  const out: ContainerProperties = { ...base };
  if (!o) return out;
  if (o.command) out.command = [...o.command];
  const env = mergeByKey(base.environment, o.environment, (kv) => kv.name ?? '');
  if (env) out.environment = env;
  const rr = mergeByKey(base.resourceRequirements, o.resourceRequirements, (r) => r.type);
  if (rr) out.resourceRequirements = rr;
  if (o.vcpus !== undefined) {
    out.vcpus = o.vcpus;
    out.resourceRequirements = out.resourceRequirements?.filter((r) => r.type !== 'VCPU');
  }
  if (o.memory !== undefined) {
    out.memory = o.memory;
    out.resourceRequirements = out.resourceRequirements?.filter((r) => r.type !== 'MEMORY');
  }
  if (o.instanceType !== undefined) out.instanceType = o.instanceType;
  return out;
}

function requirement(cp: ContainerProperties, type: ResourceRequirement['type']): string | undefined {
  return cp.resourceRequirements?.find((r) => r.type === type)?.value;
}

/** The vCPUs, memory and GPUs a job asks for; a clear ClientException when they are missing or malformed. */
export function resolveResources(cp: ContainerProperties, where: string): JobResources {
  const vText = requirement(cp, 'VCPU');
  const mText = requirement(cp, 'MEMORY');
  const gText = requirement(cp, 'GPU');
  const vcpus = vText !== undefined ? Number(vText) : cp.vcpus;
  const memoryMiB = mText !== undefined ? Number(mText) : cp.memory;
  const gpus = gText !== undefined ? Number(gText) : 0;
  if (vcpus === undefined)
    throw new ClientException(
      `${where}: no vCPUs given; set resourceRequirements [{"type":"VCPU","value":"1"}] in the job definition or in containerOverrides`,
    );
  if (!Number.isFinite(vcpus) || vcpus <= 0)
    throw new ClientException(
      `${where}: VCPU must be a positive number (e.g. "1" or "0.5"); got ${JSON.stringify(vText ?? cp.vcpus)}`,
    );
  if (memoryMiB === undefined)
    throw new ClientException(
      `${where}: no memory given; set resourceRequirements [{"type":"MEMORY","value":"2048"}] (MiB) in the job definition or in containerOverrides`,
    );
  if (!Number.isInteger(memoryMiB) || memoryMiB < 4)
    throw new ClientException(
      `${where}: MEMORY must be an integer of at least 4 (MiB); got ${JSON.stringify(mText ?? cp.memory)}`,
    );
  if (!Number.isInteger(gpus) || gpus < 0)
    throw new ClientException(`${where}: GPU must be a non-negative integer; got ${JSON.stringify(gText)}`);
  return { vcpus, memoryMiB, gpus };
}

/** Checks resourceRequirements values where they are given (registration and overrides). */
export function checkResourceRequirements(rr: readonly ResourceRequirement[] | undefined, field: string): void {
  if (!rr) return;
  const seen = new Set<string>();
  rr.forEach((r, i) => {
    if (seen.has(r.type)) throw new ClientException(`${field}[${i}]: ${r.type} is given twice; give each type once`);
    seen.add(r.type);
    const n = Number(r.value);
    const ok =
      r.type === 'VCPU' ? Number.isFinite(n) && n > 0 : Number.isInteger(n) && n >= (r.type === 'MEMORY' ? 4 : 0);
    if (!ok)
      throw new ClientException(
        `${field}[${i}].value ${JSON.stringify(r.value)} is not a valid ${r.type}: ${
          r.type === 'VCPU'
            ? 'use a positive number such as "1" or "0.5"'
            : r.type === 'MEMORY'
              ? 'use an integer number of MiB, at least 4'
              : 'use a whole number of GPUs'
        }`,
      );
  });
}
