/**
 * Job-role credentials on a Slurm node (docs/decisions/0011). The node reaches the openbatch host only over the
 * network, where the AWS SDKs and the aws CLI refuse a plain-HTTP AWS_CONTAINER_CREDENTIALS_FULL_URI; every one of
 * them runs a `credential_process` named in the config file AWS_CONFIG_FILE points at, and refreshes its credentials
 * before their Expiration. So each attempt with a role gets, in `<task>/aws/` (0700, owned by the job's account):
 *
 *   config           `[default]` with `credential_process = <task>/aws/credentials.sh`
 *   credentials.sh   fetches the endpoint's `?format=process` answer with the token and prints it
 *   token            the attempt's token (0600): never in the environment, a command line, the job record or a log
 *
 * credentials.sh uses what the node (or the image) has: curl (the header read from stdin), else python3, else wget
 * (whose `--header` puts the token on its command line, visible to `ps` on the node: the last resort; no `-T`, on
 * which Debian bookworm's static busybox wget crashes).
 */
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialProcess } from '../../core/ports.js';
import { shq } from './batch-script.js';

/** The script credential_process runs: prints `{Version, AccessKeyId, SecretAccessKey, SessionToken, Expiration}`. */
export function credentialsScript(url: string): string {
  return `#!/bin/sh
# openbatch: prints this attempt's job-role credentials for credential_process (see AWS_CONFIG_FILE).
d=\${0%/*}
u=${shq(url)}
if command -v curl >/dev/null 2>&1; then
  { printf 'Authorization: '; cat "$d/token"; echo; } | curl -sS -f --max-time 20 --retry 2 -H @- "$u"
elif command -v python3 >/dev/null 2>&1; then
  python3 -c 'import sys, urllib.request
tok = open(sys.argv[1]).read().strip()
req = urllib.request.Request(sys.argv[2], headers={"Authorization": tok})
sys.stdout.write(urllib.request.urlopen(req, timeout=20).read().decode())' "$d/token" "$u"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O - --header "Authorization: $(cat "$d/token")" "$u"
else
  echo "openbatch: neither curl, python3 nor wget on $(hostname) to fetch the job role's credentials" >&2
  exit 127
fi
`;
}

/** A path as credential_process reads it (botocore splits it like a shell, the JS SDK runs it through one). */
const processPath = (p: string): string => (/^[\w./+-]+$/.test(p) ? p : `"${p.replace(/(["\\$`])/g, '\\$1')}"`);

/**
 * Writes an attempt's credential files under `taskDir/aws` (owned by `owner` when given) and returns the
 * environment that points the job at them.
 */
export function writeCredentialFiles(
  taskDir: string,
  cp: CredentialProcess,
  owner?: { uid: number; gid: number },
): { dir: string; environment: Record<string, string> } {
  const dir = join(taskDir, 'aws');
  mkdirSync(dir, { mode: 0o700 });
  const files: [string, string, number][] = [
    ['token', cp.token, 0o600],
    ['credentials.sh', credentialsScript(cp.url), 0o700],
    ['config', `[default]\ncredential_process = ${processPath(join(dir, 'credentials.sh'))}\n`, 0o600],
  ];
  for (const [name, text, mode] of files) writeFileSync(join(dir, name), text, { mode });
  if (owner) for (const p of [dir, ...files.map(([n]) => join(dir, n))]) chownSync(p, owner.uid, owner.gid);
  return { dir, environment: { AWS_CONFIG_FILE: join(dir, 'config') } };
}
