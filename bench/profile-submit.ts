/**
 * Profiles the SubmitJob path: starts one server with `node --cpu-prof` (profile written to --out, default
 * /tmp/openbatch-prof), runs the submitThroughput load against it once, prints the rate and stops the server.
 * `node dist/bench/profile-submit.js [--jobs N] [--out DIR] [--no-prof]`; OPENBATCH_TEST_STORE=postgres profiles the
 * server on a fresh PostgreSQL database and also prints the CPU its database backends spent per request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { sdkClient } from '../test/helpers/signed.js';
import { startTestServer } from '../test/helpers/server.js';
import { createQueue } from '../test/helpers/setup.js';
import { blast, presign } from './harness.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: { jobs: { type: 'string' }, out: { type: 'string' }, 'no-prof': { type: 'boolean' } },
});
const jobs = Number(values.jobs ?? 20_000);
const out = values.out ?? '/tmp/openbatch-prof';
const server = await startTestServer({
  args: ['--runtime', 'process'],
  nodeArgs: values['no-prof'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${out}`],
});
try {
  const sdk = sdkClient(server);
  await createQueue(sdk, {
    queue: 'q',
    ce: 'held',
    maxvCpus: 0,
    ceState: 'DISABLED',
    definition: { name: 'jd', command: ['true'] },
  });
  const reqs = await presign(
    server.url,
    server,
    '/v1/submitjob',
    (i) => ({ jobName: `bench-${i}`, jobQueue: 'q', jobDefinition: 'jd' }),
    jobs,
  );
  await blast(server.url, reqs.slice(0, 500), 32);
  // CPU time (user + system, all threads) of the server and of this load generator: unlike the rate, not skewed
  // by whatever else runs on the machine.
  const serverCpuMs = () => {
    const f = readFileSync(`/proc/${server.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const threadsCpuMs = () =>
    readdirSync(`/proc/${server.proc.pid}/task`).map((t) => {
      const st = readFileSync(`/proc/${server.proc.pid}/task/${t}/stat`, 'utf8');
      const f = st.split(') ')[1]!.split(' ');
      return {
        tid: t,
        name: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')),
        ms: (Number(f[11]) + Number(f[12])) * 10,
      };
    });
  // PostgreSQL: the backends connected to this server's database (same machine), by their /proc entries.
  const backendsCpuMs = async (): Promise<number> => {
    if (!server.databaseUrl) return 0;
    const c = new pg.Client({ connectionString: server.databaseUrl });
    await c.connect();
    try {
      const { rows } = await c.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      let ms = 0;
      for (const { pid } of rows) {
        try {
          const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
          ms += (Number(f[11]) + Number(f[12])) * 10;
        } catch {
          // ended meanwhile
        }
      }
      return ms;
    } finally {
      await c.end();
    }
  };
  const b0 = await backendsCpuMs();
  const t0 = threadsCpuMs();
  const s0 = serverCpuMs();
  const c0 = process.cpuUsage();
  const { ms, errors } = await blast(server.url, reqs, 32);
  const c = process.cpuUsage(c0);
  const s = serverCpuMs() - s0;
  const b = (await backendsCpuMs()) - b0;
  if (errors.length) throw new Error(errors.join('; '));
  const before = new Map(t0.map((t) => [t.tid, t.ms]));
  const perThread = threadsCpuMs()
    .map((t) => ({ ...t, ms: t.ms - (before.get(t.tid) ?? 0) }))
    .filter((t) => t.ms > 0)
    .sort((a, b) => b.ms - a.ms)
    .map((t) => `${t.name}#${t.tid} ${((t.ms * 1000) / jobs).toFixed(0)} µs`);
  console.log(`server threads: ${perThread.join(', ')}`);
  console.log(
    `${Math.round((jobs / ms) * 1000)} jobs/s; CPU per request: server ${((s * 1000) / jobs).toFixed(0)} µs, load generator ${((c.user + c.system) / jobs).toFixed(0)} µs${server.databaseUrl ? `, PostgreSQL backends ${((b * 1000) / jobs).toFixed(0)} µs` : ''}`,
  );
} finally {
  await server.stop({ keepData: false, signal: 'SIGINT' });
  process.stdout.write(server.output().slice(-2000));
}
