/** Server configuration: command-line flags, each also settable by an OPENBATCH_* environment variable. */
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  runtime: 'process' | 'docker' | 'auto';
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  region: string;
  accountId: string;
  /** Seconds between SIGTERM and SIGKILL when a job is stopped. */
  stopGraceSeconds: number;
  /** Days of job history (and logs) kept after a job ends; 0 keeps forever. */
  retentionDays: number;
  scratchDir: string;
  dockerHost?: string;
  /** Whether job definitions may ask for privileged containers (and host devices). */
  allowPrivileged?: boolean;
  /** Host directories that job definitions' volumes may mount (subtrees included). */
  volumeAllowlist?: string[];
  /** A Docker config.json with registry credentials for image pulls. */
  registryAuthFile?: string;
  logLevel: 'quiet' | 'info';
  /** Let non-admin users submit jobs although the process runtime does not isolate labs. */
  allowProcessRuntimeForUsers?: boolean;
}

/** Detected capacity of this host. */
export function detectCapacity(): { vcpus: number; memoryMiB: number } {
  return { vcpus: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
}

export type RawOptions = Partial<Record<keyof ServerConfig, string | number | boolean | undefined>>;

const env = (name: string): string | undefined => {
  const v = process.env[`OPENBATCH_${name}`];
  return v === undefined || v === '' ? undefined : v;
};

function num(field: string, v: string | number | boolean | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`--${field} must be a number of at least ${min}; got ${JSON.stringify(v)}`);
  return n;
}

/** Flags win over OPENBATCH_* variables, which win over defaults. */
export function resolveConfig(flags: RawOptions): ServerConfig {
  const cap = detectCapacity();
  const pick = (k: keyof ServerConfig, envName: string): string | number | boolean | undefined =>
    flags[k] ?? env(envName);
  const runtime = String(pick('runtime', 'RUNTIME') ?? 'auto');
  if (runtime !== 'process' && runtime !== 'docker' && runtime !== 'auto')
    throw new Error(`--runtime must be process, docker or auto; got ${JSON.stringify(runtime)}`);
  const dataDir = resolve(String(pick('dataDir', 'DATA') ?? './openbatch-data'));
  const dockerHost = pick('dockerHost', 'DOCKER_HOST');
  const allowPrivileged = String(pick('allowPrivileged', 'ALLOW_PRIVILEGED') ?? 'false');
  const allowlist = pick('volumeAllowlist', 'VOLUME_ALLOWLIST');
  const registryAuthFile = pick('registryAuthFile', 'REGISTRY_AUTH_FILE');
  return {
    host: String(pick('host', 'HOST') ?? '127.0.0.1'),
    port: num('port', pick('port', 'PORT'), 8000, 0),
    dataDir,
    runtime,
    vcpus: num('vcpus', pick('vcpus', 'VCPUS'), cap.vcpus, 0.25),
    memoryMiB: num('memory-mib', pick('memoryMiB', 'MEMORY_MIB'), cap.memoryMiB, 4),
    gpus: num('gpus', pick('gpus', 'GPUS'), 0, 0),
    region: String(pick('region', 'REGION') ?? 'us-east-1'),
    accountId: String(pick('accountId', 'ACCOUNT_ID') ?? '123456789012'),
    stopGraceSeconds: num('stop-grace-seconds', pick('stopGraceSeconds', 'STOP_GRACE_SECONDS'), 30, 0),
    retentionDays: num('retention-days', pick('retentionDays', 'RETENTION_DAYS'), 0, 0),
    scratchDir: resolve(String(pick('scratchDir', 'SCRATCH_DIR') ?? `${dataDir}/scratch`)),
    ...(dockerHost !== undefined ? { dockerHost: String(dockerHost) } : {}),
    allowPrivileged: allowPrivileged === 'true' || allowPrivileged === '1',
    volumeAllowlist: allowlist === undefined ? [] : volumeAllowlist(String(allowlist)),
    ...(registryAuthFile !== undefined ? { registryAuthFile: resolve(String(registryAuthFile)) } : {}),
    logLevel: pick('logLevel', 'LOG_LEVEL') === 'quiet' ? 'quiet' : 'info',
    allowProcessRuntimeForUsers: ['1', 'true'].includes(
      String(pick('allowProcessRuntimeForUsers', 'ALLOW_PROCESS_RUNTIME_FOR_USERS') ?? ''),
    ),
  };
}

/** `--volume-allowlist /a,/b`: absolute paths only, so the policy never depends on the server's working directory. */
function volumeAllowlist(text: string): string[] {
  const paths = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of paths)
    if (!p.startsWith('/'))
      throw new Error(`--volume-allowlist takes absolute host paths separated by commas; got ${JSON.stringify(p)}`);
  return paths.map((p) => resolve(p));
}
