/** The `openbatch` command: `server` runs the service; the other commands are thin clients of its API. */
import './young-generation.js'; // first: before the other modules load (see there)
import { Command, Option } from 'commander';
import { resolveConfig } from '../config.js';
import { startServer } from '../server.js';
import { serverParts } from '../parts.js';
import { adminCommand } from './admin.js';
import { migrateCommand } from './migrate.js';
import { backupCommand } from './backup.js';
import { registerCancel } from './cancel.js';
import { registerLogsCommand } from './logs.js';
import { registerSubmit } from './submit.js';
import { registerJobs } from './jobs.js';
import { registerWait } from './wait.js';
import { registerCompletion } from './completion.js';
import { UsageError } from './client.js';

// The AWS SDK warns on every run that its releases after January 2027 need Node 22 (see README: Node 20 support).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** host:port/database of a database URL, for the start-up line (never the password). */
function postgresTarget(url: string): string {
  const u = new URL(url);
  return `${u.hostname || 'localhost'}:${u.port || 5432}${u.pathname}`;
}

const program = new Command();
program
  .name('openbatch')
  .description('A self-hostable AWS Batch: the Batch and CloudWatch Logs APIs on your own machines.');

program
  .command('server')
  .description('run the openbatch server (API, scheduler and runtime in one process)')
  .addOption(new Option('--host <host>', 'address to listen on [OPENBATCH_HOST]'))
  .addOption(new Option('--port <port>', 'port to listen on [OPENBATCH_PORT] (default 8000)'))
  .addOption(new Option('--data <dir>', 'data directory [OPENBATCH_DATA] (default ./openbatch-data)'))
  .addOption(
    new Option(
      '--database-url <url>',
      'keep the state in PostgreSQL (postgres://USER:PASSWORD@HOST:5432/DB) so replicas can share it [OPENBATCH_DATABASE_URL] (default: SQLite files in --data)',
    ),
  )
  .addOption(new Option('--runtime <kind>', 'process, docker or auto [OPENBATCH_RUNTIME] (default auto)'))
  .addOption(new Option('--vcpus <n>', 'vCPUs this host offers to jobs [OPENBATCH_VCPUS] (default: detected)'))
  .addOption(
    new Option('--memory-mib <n>', 'memory (MiB) this host offers to jobs [OPENBATCH_MEMORY_MIB] (default: detected)'),
  )
  .addOption(new Option('--gpus <n>', 'GPUs this host offers to jobs [OPENBATCH_GPUS] (default 0)'))
  .addOption(new Option('--region <region>', 'region used in ARNs [OPENBATCH_REGION] (default us-east-1)'))
  .addOption(new Option('--account-id <id>', 'account id used in ARNs [OPENBATCH_ACCOUNT_ID] (default 123456789012)'))
  .addOption(
    new Option(
      '--stop-grace-seconds <n>',
      'seconds between SIGTERM and SIGKILL [OPENBATCH_STOP_GRACE_SECONDS] (default 30)',
    ),
  )
  .addOption(
    new Option(
      '--retention-days <n>',
      'days of finished-job history and logs kept; 0 = forever [OPENBATCH_RETENTION_DAYS]',
    ),
  )
  .addOption(new Option('--scratch-dir <dir>', 'parent of per-attempt scratch directories [OPENBATCH_SCRATCH_DIR]'))
  .addOption(new Option('--docker-host <url>', 'Docker engine to use [OPENBATCH_DOCKER_HOST, DOCKER_HOST]'))
  .addOption(
    new Option(
      '--allow-privileged',
      'let job definitions ask for privileged containers and host devices [OPENBATCH_ALLOW_PRIVILEGED]',
    ),
  )
  .addOption(
    new Option(
      '--volume-allowlist <paths>',
      'host directories (comma-separated) that job volumes may mount [OPENBATCH_VOLUME_ALLOWLIST] (default: none)',
    ),
  )
  .addOption(
    new Option(
      '--registry-auth-file <file>',
      'Docker config.json with registry credentials [OPENBATCH_REGISTRY_AUTH_FILE]',
    ),
  )
  .addOption(new Option('--log-level <level>', 'info or quiet [OPENBATCH_LOG_LEVEL]'))
  .addOption(
    new Option(
      '--credentials-host <address>',
      "address of the job-role credentials endpoint [OPENBATCH_CREDENTIALS_HOST] (default 127.0.0.1; containers with a role then use the host's network)",
    ),
  )
  .addOption(new Option('--credentials-port <n>', 'its port [OPENBATCH_CREDENTIALS_PORT] (default 0: any free port)'))
  .addOption(
    new Option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS, with --tls-key [OPENBATCH_TLS_CERT]'),
  )
  .addOption(new Option('--tls-key <file>', 'PEM private key of --tls-cert [OPENBATCH_TLS_KEY]'))
  .addOption(
    new Option(
      '--metrics-allow <cidrs>',
      'addresses or CIDR blocks that may read /metrics unsigned, comma-separated, or none [OPENBATCH_METRICS_ALLOW] (default 127.0.0.0/8,::1/128; admins may always sign)',
    ),
  )
  .addOption(
    new Option(
      '--leader-lease-ms <ms>',
      'replicas: leader lease lifetime; a dead leader is replaced within about this long [OPENBATCH_LEADER_LEASE_MS] (default 5000)',
    ),
  )
  .addOption(
    new Option(
      '--heap-growth-percent <n>',
      "how far the server's heap may grow past its live size before a full collection; 0 leaves V8's adaptive factor [OPENBATCH_HEAP_GROWTH_PERCENT] (default 30)",
    ),
  )
  .addOption(
    new Option(
      '--allow-process-runtime-for-users',
      'let non-admin users submit jobs on the process runtime, which does not isolate labs [OPENBATCH_ALLOW_PROCESS_RUNTIME_FOR_USERS]',
    ),
  )
  .addOption(
    new Option(
      '--slurm-conf <file>',
      "the Slurm cluster's slurm.conf, for environments tagged openbatch:slurm-partition [OPENBATCH_SLURM_CONF] (default: Slurm's own)",
    ),
  )
  .addOption(
    new Option(
      '--slurm-state-dir <dir>',
      "Slurm jobs' scripts and output: a directory every node sees at the same path [OPENBATCH_SLURM_STATE_DIR] (default <data>/slurm-runtime)",
    ),
  )
  .addOption(
    new Option(
      '--slurm-account <user>',
      'Unix account Slurm jobs run under [OPENBATCH_SLURM_ACCOUNT] (default openbatch; never root unless --slurm-allow-root)',
    ),
  )
  .addOption(
    new Option('--slurm-account-map <pairs>', 'per PI group accounts, PI=ACCOUNT,... [OPENBATCH_SLURM_ACCOUNT_MAP]'),
  )
  .addOption(new Option('--slurm-allow-root', 'let Slurm jobs run as root [OPENBATCH_SLURM_ALLOW_ROOT]'))
  .addOption(
    new Option(
      '--slurm-docker-host <url>',
      'run Slurm jobs in their images with this Docker engine on each node, e.g. unix:///var/run/docker.sock [OPENBATCH_SLURM_DOCKER_HOST] (default: as processes)',
    ),
  )
  .addOption(
    new Option(
      '--slurm-credentials-url <url>',
      'the job-role credentials endpoint as the Slurm nodes reach it, http://ADDRESS:PORT of this host; the server listens there too [OPENBATCH_SLURM_CREDENTIALS_URL] (default: Slurm jobs get no job-role credentials)',
    ),
  )
  .action(async (o: Record<string, string | boolean | undefined>) => {
    let cfg;
    try {
      cfg = resolveConfig({
        host: o.host,
        port: o.port,
        dataDir: o.data,
        databaseUrl: o.databaseUrl,
        runtime: o.runtime,
        vcpus: o.vcpus,
        memoryMiB: o.memoryMib,
        gpus: o.gpus,
        region: o.region,
        accountId: o.accountId,
        stopGraceSeconds: o.stopGraceSeconds,
        retentionDays: o.retentionDays,
        scratchDir: o.scratchDir,
        dockerHost: o.dockerHost,
        allowPrivileged: o.allowPrivileged,
        volumeAllowlist: o.volumeAllowlist,
        registryAuthFile: o.registryAuthFile,
        logLevel: o.logLevel,
        credentialsHost: o.credentialsHost,
        credentialsPort: o.credentialsPort,
        leaderLeaseMs: o.leaderLeaseMs,
        heapGrowthPercent: o.heapGrowthPercent,
        allowProcessRuntimeForUsers: o.allowProcessRuntimeForUsers ? 'true' : undefined,
        tlsCert: o.tlsCert,
        tlsKey: o.tlsKey,
        metricsAllow: o.metricsAllow,
        slurmConf: o.slurmConf,
        slurmStateDir: o.slurmStateDir,
        slurmAccount: o.slurmAccount,
        slurmAccountMap: o.slurmAccountMap,
        slurmAllowRoot: o.slurmAllowRoot ? 'true' : undefined,
        slurmDockerHost: o.slurmDockerHost,
        slurmCredentialsUrl: o.slurmCredentialsUrl,
      });
    } catch (err) {
      console.error(`openbatch server: ${(err as Error).message}`);
      process.exit(2);
    }
    let srv;
    try {
      srv = await startServer(cfg, serverParts);
    } catch (err) {
      console.error(`openbatch server: ${(err as Error).message}`);
      process.exit(1);
    }
    const say = (s: string) => cfg.logLevel !== 'quiet' && console.log(s);
    say(
      `openbatch listening on ${srv.url} (store: ${cfg.databaseUrl ? `postgres at ${postgresTarget(cfg.databaseUrl)}` : `sqlite at ${cfg.dataDir}`}, runtime: ${srv.runtime.name}, ${cfg.vcpus} vCPUs, ${cfg.memoryMiB} MiB)`,
    );
    for (const n of srv.runtime.status().notes) say(`note: ${n}`);
    if (srv.root.generated) {
      say(`Generated root credentials in ${srv.root.file} (readable only by you). Use them with the aws CLI:`);
      say(
        `  export AWS_SHARED_CREDENTIALS_FILE=${srv.root.file} AWS_PROFILE=openbatch AWS_DEFAULT_REGION=${cfg.region}`,
      );
      say(`  aws batch describe-job-queues --endpoint-url ${srv.url}`);
    } else if (srv.root.file) {
      say(`Root credentials: ${srv.root.file} (profile "openbatch")`);
    }
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      say(`${sig}: stopping`);
      void srv.close().then(() => process.exit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

registerSubmit(program);
registerJobs(program);
registerWait(program);
registerCancel(program);
registerLogsCommand(program);
// Options belong to the command they follow (`admin role set --endpoint-url` is not the server's).
program.enablePositionalOptions().addCommand(adminCommand().addCommand(migrateCommand()).addCommand(backupCommand()));
registerCompletion(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`openbatch: ${(err as Error).message}`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
