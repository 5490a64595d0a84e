/**
 * `repositoryCredentials.credentialsParameter`: a Secrets Manager secret whose value is `{"username", "password"}` (as
 * AWS documents), read at attempt start with the job's other secrets, from the same place (docs/decisions/0010), and
 * handed to the runtime for the image pull only.
 */
import type { ResolvedSecrets } from '../../core/ports.js';
import { SECRETS_FAILED } from './job-secrets.js';

/** The entry the registry secret travels under among the job's secrets; not a name an environment variable can have. */
export const REGISTRY_ENTRY = '\u0000repositoryCredentials';

/** The job's secrets plus its registry secret, if it names one. */
export function withRegistrySecret(
  secrets: readonly { name: string; valueFrom: string }[],
  credentialsParameter: string | undefined,
): { name: string; valueFrom: string }[] {
  return credentialsParameter ? [...secrets, { name: REGISTRY_ENTRY, valueFrom: credentialsParameter }] : [...secrets];
}

/** Splits what the secrets resolved to into the environment and the registry credentials. */
export function splitRegistryAuth(resolved: Record<string, string>, credentialsParameter?: string): ResolvedSecrets {
  const { [REGISTRY_ENTRY]: raw, ...environment } = resolved;
  if (raw === undefined) return { environment };
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    doc = undefined;
  }
  const { username, password } = (doc ?? {}) as { username?: unknown; password?: unknown };
  if (typeof username !== 'string' || typeof password !== 'string')
    throw new Error(
      `${SECRETS_FAILED}: execution resource retrieval failed: unable to retrieve secret from asm: secret ${credentialsParameter ?? ''}: repositoryCredentials needs a secret whose value is JSON {"username": "...", "password": "..."}`,
    );
  return { environment, registryAuth: { username, password } };
}
