/** Server configuration: command-line flags, each also settable by an OPENBATCH_* environment variable. */
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** postgres://... : state in PostgreSQL (replicas share it) instead of SQLite files in dataDir. */
  databaseUrl?: string;
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
  /**
   * Replicas: how long the leader lease lasts without renewal (renewed every fifth of it). A dead leader is replaced
   * after at most this long plus one renewal period.
   */
  leaderLeaseMs: number;
  /** How far (%) V8's heap may grow past its live size before a full collection; 0 leaves V8's own factor. */
  heapGrowthPercent: number;
  /** Let non-admin users submit jobs although the process runtime does not isolate labs. */
  allowProcessRuntimeForUsers?: boolean;
  /**
   * Where the container credentials endpoint listens (jobs with a role get its URL). Loopback by default: containers
   * then get the host's network; an address of the host that containers' own network reaches (e.g. 169.254.170.2 on
   * a dummy interface) keeps them on theirs.
   */
  credentialsHost: string;
  /** 0: any free port. */
  credentialsPort: number;
  /** PEM certificate (chain) and private key files: serve HTTPS. Both or neither. */
  tlsCert?: string;
  tlsKey?: string;
  /** Addresses and CIDR blocks that may read /metrics without signing (default loopback only). */
  metricsAllow: string[];
  /** Slurm pools (UNMANAGED environments tagged openbatch:slurm-partition): how jobs reach the cluster. */
  slurm: SlurmConfig;
}

export interface SlurmConfig {
  /** The cluster's slurm.conf for sbatch/squeue/scancel (SLURM_CONF); unset: Slurm's own default. */
  conf?: string;
  /**
   * Where attempts' scripts and output live: a directory every node sees at the same path (a shared file system),
   * readable and writable by the jobs' accounts. Default: `<data>/slurm-runtime`.
   */
  stateDir?: string;
  /** Unix account jobs run under on the nodes unless their PI group is mapped. */
  account: string;
  /** PI group -> Unix account. */
  accountByPi: Record<string, string>;
  /** Jobs may run as root on the cluster (off unless the admin says so). */
  allowRoot: boolean;
  /** The Docker engine each node runs jobs' images with (`unix:///var/run/docker.sock`); unset: jobs run as processes. */
  dockerHost?: string;
  /**
   * The credentials endpoint as the nodes reach it (`http://<this host's address on the cluster network>:<port>`):
   * the server listens there too, and Slurm attempts with a job role get a `credential_process` that fetches from it
   * (docs/decisions/0011). Unset: Slurm attempts get no job-role credentials.
   */
  credentialsUrl?: string;
}

/** Detected capacity of this host. */
export function detectCapacity(): { vcpus: number; memoryMiB: number } {
  return { vcpus: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
}

/** Flags that are not ServerConfig members as such (they make up a nested part of it). */
type NestedFlag =
  | 'slurmConf'
  | 'slurmStateDir'
  | 'slurmAccount'
  | 'slurmAccountMap'
  | 'slurmAllowRoot'
  | 'slurmDockerHost'
  | 'slurmCredentialsUrl';

export type RawOptions = Partial<Record<keyof ServerConfig | NestedFlag, string | number | boolean | undefined>>;

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
  const pick = (k: keyof ServerConfig | NestedFlag, envName: string): string | number | boolean | undefined =>
    flags[k] ?? env(envName);
  const runtime = String(pick('runtime', 'RUNTIME') ?? 'auto');
  if (runtime !== 'process' && runtime !== 'docker' && runtime !== 'auto')
    throw new Error(`--runtime must be process, docker or auto; got ${JSON.stringify(runtime)}`);
  const dataDir = resolve(String(pick('dataDir', 'DATA') ?? './openbatch-data'));
  const databaseUrl = pick('databaseUrl', 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(String(databaseUrl)))
    throw new Error(
      `--database-url must be a PostgreSQL URL, postgres://USER:PASSWORD@HOST:5432/DATABASE; got ${JSON.stringify(String(databaseUrl).replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@'))} (leave it out to keep the state in SQLite files under --data)`,
    );
  const dockerHost = pick('dockerHost', 'DOCKER_HOST');
  const allowPrivileged = String(pick('allowPrivileged', 'ALLOW_PRIVILEGED') ?? 'false');
  const allowlist = pick('volumeAllowlist', 'VOLUME_ALLOWLIST');
  const registryAuthFile = pick('registryAuthFile', 'REGISTRY_AUTH_FILE');
  const tlsCert = pick('tlsCert', 'TLS_CERT');
  const tlsKey = pick('tlsKey', 'TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new Error(
      '--tls-cert and --tls-key (OPENBATCH_TLS_CERT, OPENBATCH_TLS_KEY) go together: give both PEM files to serve HTTPS, or neither for plain HTTP',
    );
  return {
    host: String(pick('host', 'HOST') ?? '127.0.0.1'),
    port: num('port', pick('port', 'PORT'), 8000, 0),
    dataDir,
    ...(databaseUrl !== undefined ? { databaseUrl: String(databaseUrl) } : {}),
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
    leaderLeaseMs: num('leader-lease-ms', pick('leaderLeaseMs', 'LEADER_LEASE_MS'), 5000, 500),
    heapGrowthPercent: num('heap-growth-percent', pick('heapGrowthPercent', 'HEAP_GROWTH_PERCENT'), 30, 0),
    credentialsHost: String(pick('credentialsHost', 'CREDENTIALS_HOST') ?? '127.0.0.1'),
    credentialsPort: num('credentials-port', pick('credentialsPort', 'CREDENTIALS_PORT'), 0, 0),
    allowProcessRuntimeForUsers: ['1', 'true'].includes(
      String(pick('allowProcessRuntimeForUsers', 'ALLOW_PROCESS_RUNTIME_FOR_USERS') ?? ''),
    ),
    metricsAllow: String(pick('metricsAllow', 'METRICS_ALLOW') ?? '127.0.0.0/8,::1/128')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean),
    slurm: slurmConfig(pick),
    ...(tlsCert !== undefined && tlsKey !== undefined
      ? { tlsCert: resolve(String(tlsCert)), tlsKey: resolve(String(tlsKey)) }
      : {}),
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

function slurmConfig(raw: (k: NestedFlag, envName: string) => string | number | boolean | undefined): SlurmConfig {
  const conf = raw('slurmConf', 'SLURM_CONF');
  const stateDir = raw('slurmStateDir', 'SLURM_STATE_DIR');
  const map = raw('slurmAccountMap', 'SLURM_ACCOUNT_MAP');
  const dockerHost = raw('slurmDockerHost', 'SLURM_DOCKER_HOST');
  if (dockerHost !== undefined && !/^(unix:\/\/\/\S+|tcp:\/\/\S+:\d+|ssh:\/\/\S+)$/.test(String(dockerHost)))
    throw new Error(
      `--slurm-docker-host takes the nodes' Docker engine as unix:///path/to/docker.sock, tcp://host:port or ssh://user@host; got ${JSON.stringify(String(dockerHost))}`,
    );
  const accountByPi: Record<string, string> = {};
  if (map !== undefined)
    for (const entry of String(map)
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const m = /^([^=\s]+)=([a-z_][a-z0-9_.-]*)$/i.exec(entry);
      if (!m)
        throw new Error(
          `--slurm-account-map takes PI=ACCOUNT pairs separated by commas (e.g. lab-a=laba,lab-b=labb); got ${JSON.stringify(entry)}`,
        );
      accountByPi[m[1]!] = m[2]!;
    }
  const credentialsUrl = raw('slurmCredentialsUrl', 'SLURM_CREDENTIALS_URL');
  if (credentialsUrl !== undefined) checkCredentialsUrl(String(credentialsUrl));
  return {
    ...(credentialsUrl !== undefined ? { credentialsUrl: String(credentialsUrl) } : {}),
    ...(conf !== undefined ? { conf: resolve(String(conf)) } : {}),
    ...(stateDir !== undefined ? { stateDir: resolve(String(stateDir)) } : {}),
    account: String(raw('slurmAccount', 'SLURM_ACCOUNT') ?? 'openbatch'),
    accountByPi,
    allowRoot: ['1', 'true'].includes(String(raw('slurmAllowRoot', 'SLURM_ALLOW_ROOT') ?? '')),
    ...(dockerHost !== undefined ? { dockerHost: String(dockerHost) } : {}),
  };
}

/** `--slurm-credentials-url`: plain HTTP to an address and port of this host that the nodes reach. */
function checkCredentialsUrl(text: string): void {
  const m = /^http:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new Error(
      `--slurm-credentials-url takes the credentials endpoint as the Slurm nodes reach it, http://ADDRESS:PORT with an address of this host on the cluster network and a fixed port (e.g. http://10.1.0.5:8001); got ${JSON.stringify(text)}`,
    );
}
