/**
 * The root credentials: from OPENBATCH_ROOT_ACCESS_KEY_ID / OPENBATCH_ROOT_SECRET_ACCESS_KEY, or generated on the
 * first start and kept in `<data>/root-credentials` (mode 0600, like ~/.aws/credentials).
 */
import { newAccessKeyId, newSecretAccessKey } from '../../core/access-keys.js';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Where they are kept, when generated. */
  file?: string;
  generated: boolean;
}

export function loadRootCredentials(dataDir: string): RootCredentials {
  const id = process.env.OPENBATCH_ROOT_ACCESS_KEY_ID;
  const secret = process.env.OPENBATCH_ROOT_SECRET_ACCESS_KEY;
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret, generated: false };
  if (id || secret)
    throw new Error(
      'set both OPENBATCH_ROOT_ACCESS_KEY_ID and OPENBATCH_ROOT_SECRET_ACCESS_KEY, or neither (then they are generated)',
    );
  const file = join(dataDir, 'root-credentials');
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const get = (k: string) => new RegExp(`^${k}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1];
    const accessKeyId = get('aws_access_key_id');
    const secretAccessKey = get('aws_secret_access_key');
    if (!accessKeyId || !secretAccessKey)
      throw new Error(`${file} is damaged: it needs aws_access_key_id and aws_secret_access_key lines`);
    return { accessKeyId, secretAccessKey, file, generated: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const creds = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
  writeFileSync(
    file,
    `# openbatch root credentials (an ~/.aws/credentials profile section)\n[openbatch]\naws_access_key_id = ${creds.accessKeyId}\naws_secret_access_key = ${creds.secretAccessKey}\n`,
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
  return { ...creds, file, generated: true };
}
