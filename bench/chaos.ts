/**
 * The soak of issue 14: 100 concurrent clients mixing the Batch and Logs operations for 60 s against a server that
 * runs the jobs (process runtime). Targets: 0 errors, p99 <= 100 ms, RSS growth <= 10% from the end of a 10 s warm-up.
 */
import { cpus, loadavg } from 'node:os';
import { serverMemory, soakAgainst, startSoakServer } from '../test/chaos/soak-load.js';
import { percentile, type ScenarioResult } from './harness.js';

/** Interval between one client's requests in the paced soak: 100 clients offer 1,000 requests a second. */
const PACED_INTERVAL_MS = 100;

/** One 60 s soak on a fresh server (paced, or a closed loop without intervalMs), its drain, and what it measured. */
async function soakRound(
  label: string,
  intervalMs: number | undefined,
  notes: string[],
): Promise<Record<string, number>> {
  const srv = await startSoakServer();
  try {
    const res = await soakAgainst(srv, { warmupMs: 10_000, durationMs: 60_000, intervalMs });
    const fig: Record<string, number> = {
      p50: percentile(res.latenciesMs, 50),
      p99: percentile(res.latenciesMs, 99),
      rate: res.requests / 60,
      errors: res.errorCount,
      serverP50: res.server.p50Ms,
      serverP99: res.server.p99Ms,
      serverCpu: res.serverCpuPerRequestUs,
      loopP99: res.server.eventLoopDelayP99Ms,
      growth: ((res.rssEndBytes - res.rssStartBytes) / res.rssStartBytes) * 100,
      heapGrowth: ((res.server.heapUsedEndBytes - res.server.heapUsedStartBytes) / res.server.heapUsedStartBytes) * 100,
      rssEnd: res.rssEndBytes / 1e6,
    };
    // Each client cancels or terminates its own oldest jobs, so the backlog stays level; once what is left has run
    // (at most 3 minutes), memory that is still above the warm-up baseline would be a leak.
    const drainEnd = Date.now() + 180_000;
    let after = await serverMemory(srv.url, srv.proc.pid!);
    while (after.active > 0 && Date.now() < drainEnd) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await serverMemory(srv.url, srv.proc.pid!);
    }
    await new Promise((r) => setTimeout(r, 5000)); // idle: let V8 collect
    after = await serverMemory(srv.url, srv.proc.pid!);
    fig.drainedHeap = ((after.heapUsed - res.server.heapUsedStartBytes) / res.server.heapUsedStartBytes) * 100;
    notes.push(
      `${label}: after the backlog ran (${after.active} unfinished jobs left) and 5 s idle: RSS ${(after.rss / 1e6).toFixed(0)} MB, V8 heap used ${(after.heapUsed / 1e6).toFixed(0)} MB.`,
    );
    if (res.errors.length) notes.push(`${label} errors: ${res.errors.slice(0, 3).join('; ')}`);
    const byOp = (lat: (op: string) => number) =>
      Object.keys(res.byOperation)
        .sort()
        .map((op) => `${op} ${lat(op).toFixed(1)}`)
        .join(', ');
    notes.push(
      `${label}: requests by operation ${JSON.stringify(res.byOperation)}; p99 by operation as the clients saw it (ms): ${byOp(
        (op) =>
          percentile(
            res.latenciesMs.filter((_, i) => res.operations[i] === op),
            99,
          ),
      )}; as the server measured it (ms, from its histogram): ${byOp((op) => res.server.p99ByOperationMs[op] ?? 0)}; event-loop delay max ${res.server.eventLoopDelayMaxMs.toFixed(0)} ms; RSS ${(res.rssStartBytes / 1e6).toFixed(0)} -> ${(res.rssEndBytes / 1e6).toFixed(0)} MB (max ${(res.rssMaxBytes / 1e6).toFixed(0)}), V8 heap used ${(res.server.heapUsedStartBytes / 1e6).toFixed(0)} -> ${(res.server.heapUsedEndBytes / 1e6).toFixed(0)} MB, unfinished jobs in memory ${res.server.activeJobsStart} -> ${res.server.activeJobsEnd}; load generator ${res.generatorCpuPerRequestUs.toFixed(0)} µs CPU per request; load average at the end ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores.`,
    );
    return fig;
  } finally {
    await srv.stop();
  }
}

export async function soak({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const paced: Record<string, number>[] = [];
  const closed: Record<string, number>[] = [];
  const notes: string[] = [];
  // One 60 s soak is already a long sample; a round is a paced soak and a closed-loop one, each on a fresh server.
  for (let r = 0; r < Math.min(rounds, 2); r++) {
    paced.push(await soakRound(`round ${r + 1}, paced`, PACED_INTERVAL_MS, notes));
    closed.push(await soakRound(`round ${r + 1}, closed loop`, undefined, notes));
  }
  notes.push(
    "Memory (decision 0014, 2026-11-26): on an idle machine at 20:21 UTC, before it, this soak served 2,054 req/s with RSS +43.8% over the 60 s (rounds 45.0, 42.6) and server p99 154 ms (169, 139; event-loop delay p99 60 ms). Sampling /proc/PID/smaps and V8's heap spaces every 5 s split the growth: V8's old generation rose from about 40 to 100 MB of garbage (about 0.45 MB/s promoted) with no full collection in 70 s (+55 MB of V8 pages), and two glibc arenas grew by 20-25 MB: the SQLite page caches of the read connection and of the writer thread filling towards better-sqlite3's 16 MB default as the jobs table grew. `malloc_trim(0)` every 5 s and `mallopt` (2 arenas, 128 KiB mmap threshold) through FFI changed nothing; `--max-semi-space-size=32` neither (+43%). Since: the server sets V8's heap growing factor to 1.3 (`--heap-growth-percent`, V8 pages +4 to +9 MB) and the page caches to 2 MiB (reads) and 4 MiB (writer); a diagnostic run with both caches at 2 MiB grew 1.2%. CancelJob and TerminateJob on the leader are applied directly instead of through the intent table (insert, list, apply, delete), where under a steady stream of cancels each caller waited for every intent queued before its own.",
    "Memory since decision 0017 (2026-11-27): the server caps V8's young generation at 16 MiB from its start (loading its modules had grown it to V8's 32 MiB, and V8 lets the old generation grow by the young generation's capacity, on top of at least 8 MB, past what survived before it collects again) and bounds the page caches of the audit writer (512 KiB), the identity database's connection (2 MiB; it had none) and the job store's writer (2 MiB instead of 4). Diagnostic runs of this soak (06:35-06:58 UTC, 60 s after a 10 s warm-up, RSS and V8's spaces sampled every 5 s, a script outside the repository): heap snapshots 30 s apart found the live heap flat (47.5 to 48.7 MB); with the young generation at 32 MiB, RSS was 156-165 MB after the warm-up and grew 5.8-11.5% in eight runs, the old generation going from about 31 to 39-46 MB committed whether V8's heap growth was set to 20 or 30%; capped at 16 MiB, 145-150 MB after the warm-up and 4.6, 5.0 and 7.2%. This table (07:20-07:29 UTC): RSS growth 6.0 and 5.6% (met), and 4.4 and 8.3% in a run at 07:00-07:07 (server p99 99.6 and 97.3 ms there). The machine was slower than at 04:52 for every setting: 430-490 \u00b5s of server CPU per request in the closed loop against 346-373, 1,550-1,900 req/s against 2,078-2,107, and the server p99 at 146 and 99.9 ms here (not met). An A/B at 07:30-07:35 UTC (40 s soaks, the cap on and off alternately) measured no cost of the cap beyond that noise: closed loop 70.0k and 61.5k requests with it, 68.7k and 71.0k without, 427-491 against 423-428 \u00b5s of CPU per request, clients' p99 138-166 against 136-138 ms; paced, clients' p99 191 and 144 ms with it, 118 and 201 without, CPU 682-684 against 679-710 \u00b5s. The paced rows' clients' p99 of 2,864 ms (and 1,694 ms in the 07:00 run), with the server's own p99 at 150 ms and its event loop's longest delay under 210 ms, is time the requests spent outside the server's handling; the A/B's paced soaks, two of them capped, had none above 617 ms.",
    'Latency before decision 0018 (2026-11-26): the p99 target was not met on this machine. Before the changes above, on the idle machine, server p99 was 154 ms with the event loop delayed 60 ms at p99 (SubmitJob 100, ListJobs 97, DescribeJobs 82, CancelJob 242, TerminateJob 224 ms at p99 inside the server); resource describes take 1-2 ms inside the server but wait for the event loop like the rest. In a closed loop of 100 clients the mean latency is 100 / rate: at 2,000 req/s (this AMD EPYC VM: the server uses 450-530 µs of CPU per request, the generator 180-200 µs, twice what the Intel VM of earlier runs measured) the mean is already 50 ms, so the p99 needs more CPU than these 2 cores give while they also run 150-300 `true` jobs a second. It was met on the Intel VM earlier the same day (16:32 UTC, idle: server 47.7 ms, clients 56.6 ms).',
    "Latency since 2026-11-27: reads on the leader no longer wait for every queued write (WriteBuffer.barrierFor and barrierWhere): DescribeJobs waits only for pending commits of the jobs it reads, ListJobs for those of its queue, and SubmitJob not at all for its dependencies (it waited for a whole barrier even with none). In 30 s runs on an idle machine (23:53-23:57 UTC) that took the server's p50 from 20.1 to 1.4-1.9 ms, DescribeJobs' p99 from 96 to 9 ms, SubmitJob's from 232 to 109-115 ms and the server p99 from 150 to 98 ms; the clients' p99 moved less (142 to 132 ms): in a closed loop of 100 clients the mean latency is 100 / rate, and the rate (1,760-1,830 req/s) is what the 2 cores give (top at 23:57: the server 0.8 of a core with its main thread about 90% busy, the load generator 0.25, the two spawner helpers and the 150-300 `true` jobs a second the rest, 0% idle). This table's rounds (01:10-01:15 UTC, a noisier machine: 1,574-1,681 req/s) put the server p99 at 99.9 and 155 ms and the clients' at 152-157 ms: the p99 target is met by the server's own measure in some rounds only, and not by the clients'. Above 100 ms at p99 inside the server are the requests that wait for a commit (SubmitJob, CancelJob, TerminateJob, TagResource, ListJobs): the writer thread's reply waits for the event loop's next turn, 50-100 ms when 100 requests are ready at once. RSS grew 11.3 and 12.9% in these rounds (8.9% in the previous table, at 1,245 req/s, against the same 10% target): not met here; V8's heap used accounts for 10-13 MB of the 20-22 MB.",
    "Latency since decision 0018 and the log store's checkpointer (2026-11-27, 09:10-10:00 UTC): two causes of the p99 were found and removed. (1) A request that waits for a commit (SubmitJob, CancelJob, TerminateJob, TagResource, ListJobs) was answered only in the event loop's turn after the commit: the writer thread's answer (1.5 ms at the median) woke the loop behind every socket that became readable meanwhile, so the write waited for the rest of its own turn of ~100 requests and most of the next. The HTTP edge now reads the writer's answers between requests (decision 0018); the next batch still starts at the end of the turn. 30 s soaks alternating on one machine: server p99 51.7 and 48.9 ms against 79.1 and 84.5, clients' 88.1 and 71.8 against 90.8 and 95.3 ms; `core.submitThroughput` 3,739 and 3,540 jobs/s against 3,511 and 3,277. (2) The paced soak's clients waited 175-181 ms at p99 while the server's own p99 was 25 ms: a CPU profile of the server showed the event loop blocked 75-150 ms every ~8 s inside a commit of the log store (logs.db), which ran SQLite's automatic checkpoint: every log transaction writes whole 64 KiB pages, ~30 MB of WAL a second here, and the checkpoint copied 256 MB and fsynced it on the main thread. A checkpointer thread (the job store's, shared) now checkpoints logs.db every 250 ms; its WAL stays near 40 MB. Paced, the clients' p99 fell to 23 ms in a 30 s run (this table: 30.8 ms); closed loop, 78-87 ms. This table (09:50-09:55 UTC): server p99 52.3 ms (49.9, 54.7) and clients' 82.2 ms (79.0, 85.4) in the closed loop, clients' 30.8 ms paced: the target is met by both measures, and the clients' rows carry it from this run on. The run before (2) alone, at 09:35-09:40, measured the server at 70.2 ms (90.6, 49.8) and the clients at 108 ms (132, 83.5), paced 179 ms. RSS at the end is 175 MB against 160-161 (the second checkpointer thread); its growth over the 60 s 6.62% (7.94, 5.30). This machine is the Intel VM (server CPU per request 347-422 µs in the closed loop here against 430-490 µs on the AMD EPYC VM of this morning's runs, where the server p99 was 98.5-123 ms before these changes); the comparisons above alternate on one machine, so they tell the changes' effect apart from the machine's. A paced A/B at 09:56-10:01 UTC (30 s each, alternating, e112b12 against these changes): clients' p99 145 and 174 ms against 20.5 and 28.1, server p99 37.3 and 35.6 against 10.7 and 18.5, server CPU per request 785 and 800 against 779 and 821 µs (the paced soak's higher CPU per request is this machine's, not the changes').",
  );
  notes.push(
    "Paced soak (decision 0016, 2026-11-27): tried as the load the targets apply to, in a run at 04:39 UTC on an idle machine, it did not lower the clients' p99: at 1,000 req/s offered (1,003-1,004 served) the clients saw p50 37.5-43.1 ms and p99 155-168 ms, the server p99 90.0-94.6 ms (event-loop delay p99 61-70 ms), against a closed loop in the same run at 1,975-1,979 req/s with the clients' p99 118-119 ms and the server's 97.0-97.3 ms. The server spent 670-694 µs of CPU per request paced against 372-373 µs in the closed loop: requests arriving one by one are parsed, committed (a group of one or two per fsync instead of dozens) and answered one by one, so the fixed costs of a turn, a commit and a wake-up of the client (writev, 12% of the main thread's profile) are paid per request, and the main thread was about 90% busy at half the closed loop's rate (profile at 04:48). RSS grew 9.2-9.8% paced and 10.1-14.3% in the closed loop. The targets stay on the closed loop; the paced rows stay as a second view of latency.",
  );
  notes.unshift(
    "Method (decision 0016): a round is two soaks, each on a fresh server and measured for 60 s after a 10 s warm-up: 100 clients, each one keep-alive connection and a loop of SigV4-signed requests (one reused signer per service), cycling through SubmitJob, DescribeJobs, ListJobs (RUNNABLE, SUCCEEDED), DescribeJobQueues, DescribeComputeEnvironments, DescribeJobDefinitions, CancelJob, TerminateJob, TagResource, DescribeLogGroups, DescribeLogStreams. The closed loop, which the targets apply to: no pause between requests, so the rate is what the server sustains and the mean latency is 100 / rate. The paced soak (rows marked so): each client starts a request every 100 ms (starts staggered over the first 100 ms), 1,000 requests a second offered, twenty times AWS Batch's fixed quota of 50 API transactions a second per account; a request's latency runs from when it was due to its whole answer read, so a client that falls behind counts the wait (no coordinated omission). In both the jobs run `true` on the process runtime (--vcpus 4); each client's CancelJob and TerminateJob take its own oldest jobs in turn (two submitted, one cancelled and one terminated per cycle of the mix), so every job is run, cancelled or terminated and the backlog stays level: a steady state, in which memory that grows is a leak rather than the queue. The clients run in their own process (test/chaos/soak-client.ts), not the server's, but on the same 2 cores. \"Server\" latency is the server's own openbatch_api_request_duration_seconds histogram over the measured window (request parsed to response sent, quantiles interpolated in its buckets as Prometheus' histogram_quantile does); \"clients\" latency holds the time a request waits for the server's event loop too. Memory and CPU: /proc of the server process at the end of the warm-up and at the end of the 60 s; V8 heap from /metrics.",
  );
  const v = (figs: Record<string, number>[], k: string) => figs.map((f) => f[k]!);
  return {
    title: 'Soak: 100 concurrent clients mixing operations for 60 s',
    metrics: [
      { name: 'errors', unit: '', values: v(closed, 'errors'), target: { op: '<=', value: 0 } },
      { name: 'p50 latency, server', unit: 'ms', values: v(closed, 'serverP50') },
      { name: 'p99 latency, server', unit: 'ms', values: v(closed, 'serverP99'), target: { op: '<=', value: 100 } },
      { name: 'p50 latency, clients', unit: 'ms', values: v(closed, 'p50') },
      { name: 'p99 latency, clients', unit: 'ms', values: v(closed, 'p99'), target: { op: '<=', value: 100 } },
      { name: 'event-loop delay p99, server', unit: 'ms', values: v(closed, 'loopP99') },
      { name: 'requests served', unit: 'req/s', values: v(closed, 'rate') },
      { name: 'server CPU per request (all threads)', unit: 'µs', values: v(closed, 'serverCpu') },
      { name: 'RSS growth over the 60 s', unit: '%', values: v(closed, 'growth'), target: { op: '<=', value: 10 } },
      { name: 'V8 heap used growth over the 60 s', unit: '%', values: v(closed, 'heapGrowth') },
      { name: 'V8 heap used, after the backlog ran, vs warm-up', unit: '%', values: v(closed, 'drainedHeap') },
      { name: 'RSS at the end', unit: 'MB', values: v(closed, 'rssEnd') },
      { name: 'paced: errors', unit: '', values: v(paced, 'errors'), target: { op: '<=', value: 0 } },
      { name: 'paced: requests served (1,000 req/s offered)', unit: 'req/s', values: v(paced, 'rate') },
      { name: 'paced: p50 latency, clients', unit: 'ms', values: v(paced, 'p50') },
      { name: 'paced: p99 latency, clients', unit: 'ms', values: v(paced, 'p99'), target: { op: '<=', value: 100 } },
      { name: 'paced: p99 latency, server', unit: 'ms', values: v(paced, 'serverP99') },
      { name: 'paced: event-loop delay p99, server', unit: 'ms', values: v(paced, 'loopP99') },
      { name: 'paced: server CPU per request (all threads)', unit: 'µs', values: v(paced, 'serverCpu') },
      { name: 'paced: RSS growth over the 60 s', unit: '%', values: v(paced, 'growth') },
    ],
    notes,
  };
}
