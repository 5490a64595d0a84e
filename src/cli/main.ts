/** The `openbatch` command: `server` runs the service; the other commands are thin clients of its API. */
import { Command, Option } from 'commander';
import { resolveConfig } from '../config.js';
import { startServer } from '../server.js';
import { serverParts } from '../parts.js';
import { adminCommand } from './admin.js';
import { registerCancel } from './cancel.js';
import { registerLogsCommand } from './logs.js';

// The AWS SDK warns on every run that its releases after January 2027 need Node 22 (see README: Node 20 support).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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
      '--allow-process-runtime-for-users',
      'let non-admin users submit jobs on the process runtime, which does not isolate labs [OPENBATCH_ALLOW_PROCESS_RUNTIME_FOR_USERS]',
    ),
  )
  .action(async (o: Record<string, string | boolean | undefined>) => {
    let cfg;
    try {
      cfg = resolveConfig({
        host: o.host,
        port: o.port,
        dataDir: o.data,
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
        allowProcessRuntimeForUsers: o.allowProcessRuntimeForUsers ? 'true' : undefined,
      });
    } catch (err) {
      console.error(`openbatch server: ${(err as Error).message}`);
      process.exit(2);
    }
    const srv = await startServer(cfg, serverParts);
    const say = (s: string) => cfg.logLevel !== 'quiet' && console.log(s);
    say(
      `openbatch listening on ${srv.url} (store: sqlite at ${cfg.dataDir}, runtime: ${srv.runtime.name}, ${cfg.vcpus} vCPUs, ${cfg.memoryMiB} MiB)`,
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

registerCancel(program);
registerLogsCommand(program);
// Options belong to the command they follow (`admin role set --endpoint-url` is not the server's).
program.enablePositionalOptions().addCommand(adminCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`openbatch: ${(err as Error).message}`);
  process.exit(1);
});
