/**
 * The read-only web dashboard, mounted through buildHttpServer's `plugins` hook.
 *
 * Routes (none collides with the API: `/v1/...`, `POST /`, `/healthz`):
 * - `GET /` the HTML shell; `GET /ui/static/<file>` its scripts and styles (served from src/api/web/static);
 * - `POST /ui/session` sign-in with an access key, `POST /ui/logout` sign-out: the only non-GET routes;
 * - `GET /ui/api/...` read-only JSON and `GET /ui/events` server-sent events, both behind a session (401 otherwise).
 * Reads go through JobService (the API's own view and access rules) and the Store's indexed queries.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ClientException } from '../../core/errors.js';
import type { JobChange, Store } from '../../core/ports.js';
import { JOB_STATUSES, isTerminal, type JobStatus } from '../../core/types.js';
import type { Caller } from '../../core/caller.js';
import type { JobService } from '../../service/jobs/job-service.js';
import type { ResourceRegistry } from '../../service/resources.js';
import type { IdentityResolver } from '../http.js';
import { EventHub } from './events.js';
import { clearedCookie, readCookie, SESSION_COOKIE, sessionCookie, SessionStore } from './sessions.js';
import { loadStaticFiles, SECURITY_HEADERS } from './static-files.js';
import { jobDefinitionList, jobRow, maskEnvironment, queueName } from './views.js';

/** Reads a log stream page by page (the logs feature provides it; CloudWatch GetLogEvents semantics). */
export interface DashboardLogReader {
  getLogEvents(
    streamName: string,
    opts: { startFromHead?: boolean; nextToken?: string; limit?: number },
  ): Promise<{
    events: { timestamp: number; message: string }[];
    nextForwardToken?: string;
    nextBackwardToken?: string;
  }>;
}

export interface DashboardDeps {
  registry: ResourceRegistry;
  jobs: JobService;
  store: Store;
  identities: IdentityResolver;
  /** Signs session cookies (any replica sharing the server key accepts them). */
  sessionKey: Buffer;
  logs?: DashboardLogReader;
  /**
   * Subscribes to status changes made on any replica (live updates); `listening` says whether a browser listens now
   * (when none does, the changes need not be read).
   */
  onJobChange?(listener: (change: JobChange) => void, listening: () => boolean): void;
}

const PAGE_SIZE = 50;
const LOG_PAGE_MAX = 1000;

type Query = Record<string, string | undefined>;

function intParam(q: Query, name: string): number | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ClientException(
      `${name} must be a non-negative integer (epoch milliseconds for times); got ${JSON.stringify(v)}`,
    );
  return n;
}

/** Builds the plugin that mounts the dashboard on the API's fastify app. */
export function dashboardPlugin(deps: DashboardDeps): (app: FastifyInstance) => void {
  return (app) => {
    const sessions = new SessionStore(deps.identities, deps.sessionKey);
    const files = loadStaticFiles();
    const hub = new EventHub();
    deps.onJobChange?.(
      (change) => hub.jobChanged(change),
      () => hub.listening,
    );
    app.addHook('preClose', (done) => {
      hub.close();
      done();
    });

    const secure = (req: FastifyRequest) => req.protocol === 'https';
    const sid = (req: FastifyRequest) => readCookie(req.headers.cookie, SESSION_COOKIE);
    const json = (reply: FastifyReply, code: number, body: unknown) =>
      reply
        .code(code)
        .headers(SECURITY_HEADERS)
        .header('cache-control', 'no-store')
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify(body));

    /** Wraps a read-only JSON route: session required, errors mapped to 4xx/5xx with a message. */
    const api = (path: string, handler: (caller: Caller, req: FastifyRequest) => Promise<unknown>) =>
      app.get(path, async (req, reply) => {
        const caller = sessions.caller(sid(req));
        if (!caller) return json(reply, 401, { message: 'not signed in: sign in with your access key ID and secret' });
        try {
          const out = await handler(caller, req);
          return out === undefined ? json(reply, 404, { message: 'not found' }) : json(reply, 200, out);
        } catch (err) {
          if (err instanceof ClientException) return json(reply, 400, { message: err.message });
          req.log.error({ err }, 'dashboard request failed');
          return json(reply, 500, { message: 'the server failed to answer; nothing was changed' });
        }
      });

    // ---------------------------------------------------------------- shell, assets, session

    app.get('/', async (_req, reply) =>
      reply.code(200).headers(SECURITY_HEADERS).header('content-type', 'text/html; charset=utf-8').send(files.index),
    );
    app.get('/ui/static/:name', async (req, reply) => {
      const f = files.assets.get((req.params as { name: string }).name);
      if (!f) return json(reply, 404, { message: 'no such asset' });
      return reply.code(200).headers(SECURITY_HEADERS).header('content-type', f.type).send(f.body);
    });

    app.post('/ui/session', async (req, reply) => {
      // A cross-site form must not sign a browser in (login CSRF): the Origin, when sent, must be this host.
      const origin = req.headers.origin;
      if (origin && origin !== 'null' && new URL(origin).host !== req.headers.host)
        return json(reply, 403, { message: 'sign-in must come from the dashboard page itself' });
      const form = new URLSearchParams((req.body as Buffer | undefined)?.toString('utf8') ?? '');
      const akid = form.get('accessKeyId') ?? '';
      const secret = form.get('secretAccessKey') ?? '';
      const wantsJson = String(req.headers.accept ?? '').includes('application/json');
      const id = akid && secret ? sessions.signIn(akid, secret) : undefined;
      if (!id) {
        if (wantsJson) return json(reply, 401, { message: 'wrong access key ID or secret access key' });
        return reply.code(303).headers(SECURITY_HEADERS).header('location', '/?signin=failed').send();
      }
      reply.header('set-cookie', sessionCookie(id, secure(req)));
      if (wantsJson) return json(reply, 200, sessions.caller(id));
      return reply.code(303).headers(SECURITY_HEADERS).header('location', '/').send();
    });

    app.post('/ui/logout', async (req, reply) => {
      sessions.signOut(sid(req));
      reply.header('set-cookie', clearedCookie(secure(req)));
      return json(reply, 200, { signedOut: true });
    });

    app.get('/ui/events', (req, reply) => {
      const caller = sessions.caller(sid(req));
      if (!caller) return json(reply, 401, { message: 'not signed in' });
      reply.hijack();
      hub.add(caller, reply.raw);
      return reply;
    });

    // ---------------------------------------------------------------- read-only JSON

    api('/ui/api/me', async (caller) => caller);

    api('/ui/api/overview', async (caller) => {
      const counts = await deps.store.countJobsByQueueAndStatus(caller.admin ? undefined : caller.pi);
      const byQueue = new Map<string, Record<string, number>>();
      for (const c of counts) {
        const m = byQueue.get(c.jobQueueArn) ?? {};
        m[c.status] = (m[c.status] ?? 0) + c.count;
        byQueue.set(c.jobQueueArn, m);
      }
      const state = await deps.jobs.engineState();
      const ceUse = new Map(state.computeEnvironments.map((c) => [c.arn, c]));
      return {
        statuses: JOB_STATUSES,
        queues: [...deps.registry.jobQueues.values()]
          .sort((a, b) => b.priority - a.priority || a.jobQueueName.localeCompare(b.jobQueueName))
          .map((q) => ({
            name: q.jobQueueName,
            priority: q.priority,
            state: q.state,
            status: q.status,
            computeEnvironments: q.computeEnvironmentOrder.map((o) =>
              o.computeEnvironment.slice(o.computeEnvironment.lastIndexOf('/') + 1),
            ),
            counts: byQueue.get(q.jobQueueArn) ?? {},
          })),
        computeEnvironments: [...deps.registry.computeEnvironments.values()].map((ce) => {
          const s = ceUse.get(ce.computeEnvironmentArn);
          return {
            name: ce.computeEnvironmentName,
            type: ce.type,
            state: ce.state,
            status: ce.status,
            usedVcpus: s?.usedVcpus ?? 0,
            maxVcpus: ce.computeResources?.maxvCpus ?? null,
            runningJobs: s?.runningJobs ?? 0,
          };
        }),
        host: { vcpus: state.host.vcpus, usedVcpus: state.host.usedVcpus, runningJobs: state.host.runningJobs },
        // The leader's published last hour (kept across restarts), ending with the present.
        history: [
          ...(state.history ?? []),
          { t: Date.now(), runningVcpus: state.host.usedVcpus, queuedJobs: state.queued },
        ],
      };
    });

    api('/ui/api/jobs', async (caller, req) => {
      const q = req.query as Query;
      const query: Parameters<Store['listJobs']>[0] = { limit: PAGE_SIZE };
      const search = (q.q ?? '').trim();
      if (search) query.search = search;
      if (q.queue) {
        const queue = deps.registry.queueByNameOrArn(q.queue);
        if (!queue)
          throw new ClientException(`queue ${JSON.stringify(q.queue)} does not exist; pick one from the list`);
        query.jobQueueArn = queue.jobQueueArn;
      }
      if (q.status) {
        if (!JOB_STATUSES.includes(q.status as JobStatus))
          throw new ClientException(
            `status must be one of ${JOB_STATUSES.join(', ')}; got ${JSON.stringify(q.status)}`,
          );
        query.statuses = [q.status as JobStatus];
      }
      const from = intParam(q, 'from');
      const to = intParam(q, 'to');
      if (from !== undefined) query.createdAfter = from - 1;
      if (to !== undefined) query.createdBefore = to;
      // Non-admins see their own PI group's jobs only, whatever filter they send.
      if (!caller.admin) query.pi = caller.pi;
      else if (q.pi) query.pi = q.pi;
      if (q.user) query.user = q.user;
      if (q.after) {
        const m = /^(\d+)\.(.+)$/.exec(q.after);
        if (!m) throw new ClientException('after must be the cursor the previous page returned (<createdAt>.<jobId>)');
        query.after = { createdAt: Number(m[1]), jobId: m[2]! };
      }
      const page = await deps.store.listJobs(query);
      // The store may trail the live state by a commit; active jobs are re-read through the service.
      const live = page.jobs.filter((j) => !isTerminal(j.status)).map((j) => j.jobId);
      const fresh = new Map<string, Record<string, any>>();
      if (live.length)
        for (const d of (await deps.jobs.describe(caller, { jobs: live })).jobs) fresh.set(d.jobId as string, d);
      return {
        jobs: page.jobs.map((j) =>
          jobRow(deps.registry, fresh.get(j.jobId) ?? { ...j, jobQueue: j.jobQueueArn }, j.owner),
        ),
        ...(page.last ? { next: `${page.last.createdAt}.${page.last.jobId}` } : {}),
      };
    });

    const describeOne = async (caller: Caller, id: string) =>
      (await deps.jobs.describe(caller, { jobs: [id] })).jobs[0] as Record<string, any> | undefined;

    api('/ui/api/jobs/:id', async (caller, req) => {
      const id = (req.params as { id: string }).id;
      const d = await describeOne(caller, id);
      if (!d) return undefined;
      const [stored] = await deps.store.getJobs([id]);
      const depIds = ((d.dependsOn ?? []) as { jobId?: string; type?: string }[]).map((x) => x.jobId!).filter(Boolean);
      const depJobs = depIds.length ? (await deps.jobs.describe(caller, { jobs: depIds })).jobs : [];
      const defArn = d.jobDefinition as string;
      const defRef = defArn.slice(defArn.lastIndexOf('/') + 1);
      const colon = id.indexOf(':');
      return {
        job: {
          ...d,
          container: { ...d.container, environment: maskEnvironment(d.container?.environment) },
        },
        queue: queueName(deps.registry, d.jobQueue as string),
        definition: defRef,
        owner: stored?.owner ?? null,
        dependencies: ((d.dependsOn ?? []) as { jobId?: string; type?: string }[]).map((x) => {
          const dep = depJobs.find((j) => j.jobId === x.jobId);
          return { jobId: x.jobId, type: x.type ?? null, jobName: dep?.jobName ?? null, status: dep?.status ?? null };
        }),
        arrayParent: colon > 0 ? id.slice(0, colon) : null,
        logsAvailable: deps.logs !== undefined,
      };
    });

    api('/ui/api/jobs/:id/children', async (caller, req) => {
      const id = (req.params as { id: string }).id;
      if (!(await describeOne(caller, id))) return undefined;
      const q = req.query as Query;
      // ListJobs with a filter returns every status; the filter itself matches every child.
      const page = await deps.jobs.list(caller, {
        arrayJobId: id,
        maxResults: 1000,
        filters: [{ name: 'AFTER_CREATED_AT', values: ['0'] }],
        ...(q.next ? { nextToken: q.next } : {}),
      });
      const children = page.jobSummaryList
        .map((s) => ({
          jobId: s.jobId as string,
          index: (s.arrayProperties as { index?: number } | undefined)?.index ?? null,
          status: s.status as string,
          statusReason: (s.statusReason as string | undefined) ?? null,
          exitCode: (s.container as { exitCode?: number } | undefined)?.exitCode ?? null,
        }))
        .sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      return { children, ...(page.nextToken ? { next: page.nextToken } : {}) };
    });

    api('/ui/api/jobs/:id/logs', async (caller, req) => {
      const id = (req.params as { id: string }).id;
      const d = await describeOne(caller, id);
      if (!d) return undefined;
      const q = req.query as Query;
      const attempts = (d.attempts ?? []) as { container?: { logStreamName?: string } }[];
      const n = intParam(q, 'attempt') ?? Math.max(1, attempts.length);
      const running = n === attempts.length + 1 && (d.status === 'STARTING' || d.status === 'RUNNING');
      const stream = running ? d.container?.logStreamName : attempts[n - 1]?.container?.logStreamName;
      if (!deps.logs) return { available: false, reason: 'logs unavailable: this server has no log store' };
      if (!stream) return { available: false, reason: 'this attempt has no log stream' };
      const limit = Math.min(intParam(q, 'limit') ?? 500, LOG_PAGE_MAX);
      const page = await deps.logs.getLogEvents(stream, {
        startFromHead: true,
        limit,
        ...(q.token ? { nextToken: q.token } : {}),
      });
      return {
        available: true,
        streamName: stream,
        running,
        events: page.events,
        nextForwardToken: page.nextForwardToken ?? null,
      };
    });

    api('/ui/api/job-definitions', async () => ({ jobDefinitions: jobDefinitionList(deps.registry) }));

    api('/ui/api/usage', async (caller, req) => {
      const q = req.query as Query;
      const to = intParam(q, 'to') ?? Date.now();
      const from = intParam(q, 'from') ?? to - 30 * 24 * 3600 * 1000;
      if (from >= to) throw new ClientException('from must be before to');
      const rows = await deps.store.usageByOwner({ from, to, ...(caller.admin ? {} : { pi: caller.pi }) });
      const byPi = new Map<string, { pi: string; jobs: number; vcpuHours: number }>();
      for (const r of rows) {
        const p = byPi.get(r.pi) ?? { pi: r.pi, jobs: 0, vcpuHours: 0 };
        p.jobs += r.jobs;
        p.vcpuHours += r.vcpuHours;
        byPi.set(r.pi, p);
      }
      return { from, to, byPi: [...byPi.values()].sort((a, b) => b.vcpuHours - a.vcpuHours), byUser: rows };
    });
  };
}
