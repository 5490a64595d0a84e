// Job detail: status and why, times, spec (command, environment, parameters, resources), dependencies, array
// children, attempts with their logs. Re-renders live when the job (or a dependency or child) changes.
import { dl, fmtDuration, fmtTime, getJson, h, link, statusBadge, table } from './dom.js';
import { LogViewer } from './log-viewer.js';

const ACTIVE = new Set(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING']);

function shellWord(s) {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

function resources(c) {
  const req = Object.fromEntries((c.resourceRequirements ?? []).map((r) => [r.type, r.value]));
  return [
    ['vCPUs', String(req.VCPU ?? c.vcpus ?? '—')],
    ['Memory (MiB)', String(req.MEMORY ?? c.memory ?? '—')],
    ['GPUs', String(req.GPU ?? 0)],
  ];
}

function section(id, title, ...body) {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

const SVG = 'http://www.w3.org/2000/svg';
/** Children's states in the order the bar shows them, from done to waiting. */
const BAR_ORDER = ['SUCCEEDED', 'FAILED', 'RUNNING', 'STARTING', 'RUNNABLE', 'PENDING', 'SUBMITTED'];

/** An array's children at a glance: one bar, a segment per state sized by its count, and the counts as text. */
function childrenProgress(size, summary) {
  const W = 600;
  const H = 18;
  const done = (summary.SUCCEEDED ?? 0) + (summary.FAILED ?? 0);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('class', 'array-bar');
  const label = BAR_ORDER.filter((st) => summary[st]).map((st) => `${st} ${summary[st]}`);
  svg.setAttribute(
    'aria-label',
    `${done} of ${size} children finished` + (label.length ? ': ' + label.join(', ') : ''),
  );
  const back = document.createElementNS(SVG, 'rect');
  for (const [k, v] of Object.entries({ x: 0, y: 0, width: W, height: H, class: 'seg-empty' })) back.setAttribute(k, v);
  svg.append(back);
  let x = 0;
  for (const st of BAR_ORDER) {
    const n = summary[st] ?? 0;
    if (!n) continue;
    const w = (n / size) * W;
    const r = document.createElementNS(SVG, 'rect');
    const attrs = { x: x.toFixed(2), y: 0, width: w.toFixed(2), height: H, class: 'seg seg-' + st.toLowerCase() };
    for (const [k, v] of Object.entries(attrs)) r.setAttribute(k, String(v));
    r.setAttribute('data-state', st);
    r.setAttribute('data-count', String(n));
    const t = document.createElementNS(SVG, 'title');
    t.textContent = `${st}: ${n}`;
    r.append(t);
    svg.append(r);
    x += w;
  }
  return h(
    'figure',
    { class: 'array-progress', id: 'array-progress' },
    svg,
    h(
      'figcaption',
      {},
      h('strong', {}, `${done} / ${size} finished (${size ? Math.floor((done / size) * 100) : 0} %)`),
      ' ',
      BAR_ORDER.filter((st) => summary[st]).map((st) =>
        h('span', { class: 'key seg-' + st.toLowerCase(), 'data-state': st }, `${st} ${summary[st]}`),
      ),
    ),
  );
}

async function childrenSection(job) {
  const size = job.arrayProperties?.size;
  if (size === undefined) return null;
  const summary = job.arrayProperties.statusSummary ?? {};
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', hidden: true }, 'Load more children');
  let next = null;
  const load = async () => {
    const page = await getJson(
      `/ui/api/jobs/${encodeURIComponent(job.jobId)}/children${next ? '?next=' + encodeURIComponent(next) : ''}`,
    );
    for (const c of page.children)
      tbody.append(
        h(
          'tr',
          { 'data-job-id': c.jobId },
          h('th', { scope: 'row' }, String(c.index ?? '—')),
          h('td', {}, link('/jobs/' + encodeURIComponent(c.jobId), c.jobId)),
          h('td', {}, statusBadge(c.status)),
          h('td', {}, c.exitCode ?? '—'),
          h('td', {}, c.statusReason ?? ''),
        ),
      );
    next = page.next ?? null;
    more.hidden = !next;
  };
  more.addEventListener('click', () => void load());
  await load();
  return section(
    'array-title',
    `Array job: ${size} children`,
    childrenProgress(size, summary),
    h(
      'p',
      { id: 'array-summary' },
      Object.entries(summary)
        .filter(([, n]) => n)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ') || 'no status summary yet',
    ),
    h(
      'table',
      { class: 'children' },
      h('caption', {}, 'Children by index'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Index', 'Job ID', 'Status', 'Exit code', 'Status reason'].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      tbody,
    ),
    more,
  );
}

function build(data, viewer) {
  const j = data.job;
  const c = j.container ?? {};
  const attempts = j.attempts ?? [];
  const running = j.status === 'STARTING' || j.status === 'RUNNING';
  const viewBtn = (n) => {
    const b = h('button', { type: 'button', class: 'view-logs' }, 'View logs');
    b.addEventListener('click', () => {
      viewer.open(j.jobId, n);
      viewer.pre.focus();
    });
    return b;
  };
  const attemptRows = attempts.map((a, i) => [
    String(i + 1),
    a.container?.exitCode ?? '—',
    a.container?.reason ?? '',
    a.statusReason ?? '',
    fmtTime(a.startedAt),
    fmtTime(a.stoppedAt),
    a.startedAt && a.stoppedAt ? fmtDuration(a.stoppedAt - a.startedAt) : '—',
    viewBtn(i + 1),
  ]);
  if (running)
    attemptRows.push([
      String(attempts.length + 1),
      '—',
      '',
      j.status === 'RUNNING' ? 'running' : 'starting',
      fmtTime(j.startedAt),
      '—',
      j.startedAt ? fmtDuration(Date.now() - j.startedAt) : '—',
      viewBtn(attempts.length + 1),
    ]);
  const env = c.environment ?? [];
  const params = Object.entries(j.parameters ?? {});
  return [
    h('h1', {}, 'Job ', h('span', { id: 'job-name' }, j.jobName)),
    dl([
      ['Status', h('span', { id: 'job-status' }, statusBadge(j.status))],
      ['Status reason', h('span', { id: 'job-reason' }, j.statusReason ?? '—')],
      ['Job ID', h('code', {}, j.jobId)],
      data.arrayParent
        ? ['Array parent', link('/jobs/' + encodeURIComponent(data.arrayParent), data.arrayParent)]
        : null,
      ['Queue', link('/jobs?queue=' + encodeURIComponent(data.queue), data.queue)],
      [
        'Job definition',
        link('/job-definitions?name=' + encodeURIComponent(data.definition.replace(/:\d+$/, '')), data.definition),
      ],
      [
        'Submitted by',
        data.owner ? `${data.owner.user}${data.owner.pi ? ' (PI group ' + data.owner.pi + ')' : ''}` : '—',
      ],
      ['Created', fmtTime(j.createdAt)],
      ['Started', fmtTime(j.startedAt)],
      ['Stopped', fmtTime(j.stoppedAt)],
      ['Image', c.image ?? '—'],
    ]),
    section(
      'cmd-title',
      'Command',
      h('pre', { class: 'command', id: 'job-command' }, (c.command ?? []).map(shellWord).join(' ') || '—'),
    ),
    section(
      'env-title',
      'Environment',
      env.length
        ? table(
            null,
            ['Name', 'Value'],
            env.map((e) => [e.name ?? '', e.value ?? '']),
            { rowHeader: true, class: 'env' },
          )
        : h('p', {}, 'None.'),
    ),
    section(
      'par-title',
      'Parameters',
      params.length ? table(null, ['Name', 'Value'], params, { rowHeader: true }) : h('p', {}, 'None.'),
    ),
    section('res-title', 'Resources', dl(resources(c))),
    section(
      'dep-title',
      'Dependencies',
      data.dependencies.length
        ? table(
            null,
            ['Job ID', 'Name', 'Type', 'Status'],
            data.dependencies.map((d) => [
              link('/jobs/' + encodeURIComponent(d.jobId), d.jobId),
              d.jobName ?? '—',
              d.type ?? '—',
              d.status ? statusBadge(d.status) : 'not visible',
            ]),
            { rowHeader: true },
          )
        : h('p', {}, 'None.'),
    ),
    section(
      'att-title',
      'Attempts',
      attemptRows.length
        ? table(
            null,
            ['Attempt', 'Exit code', 'Reason', 'Status reason', 'Started', 'Stopped', 'Duration', 'Logs'],
            attemptRows,
            { rowHeader: true, class: 'attempts' },
          )
        : h('p', {}, 'No attempt yet.'),
    ),
  ];
}

export async function renderJob(container, _params, id) {
  const viewer = new LogViewer();
  const top = h('div', { id: 'job-detail' });
  const kids = h('div', {});
  container.replaceChildren(top, kids, viewer.el);
  let data = await getJson('/ui/api/jobs/' + encodeURIComponent(id));
  top.replaceChildren(...build(data, viewer));
  const arr = await childrenSection(data.job);
  if (arr) kids.replaceChildren(arr);
  // Open the log of the running or the last attempt right away.
  const n =
    (data.job.attempts ?? []).length + (data.job.status === 'RUNNING' || data.job.status === 'STARTING' ? 1 : 0);
  if (n > 0) viewer.open(data.job.jobId, n);

  let timer = null;
  const watched = () => new Set([data.job.jobId, ...data.dependencies.map((d) => d.jobId)]);
  const refresh = () => {
    timer ??= setTimeout(async () => {
      timer = null;
      try {
        const before = data.job.status;
        data = await getJson('/ui/api/jobs/' + encodeURIComponent(id));
        top.replaceChildren(...build(data, viewer));
        if (data.job.arrayProperties?.size !== undefined) {
          const a = await childrenSection(data.job);
          if (a) kids.replaceChildren(a);
        }
        if (before !== data.job.status) {
          const m =
            (data.job.attempts ?? []).length +
            (ACTIVE.has(data.job.status) &&
            data.job.status !== 'RUNNABLE' &&
            data.job.status !== 'PENDING' &&
            data.job.status !== 'SUBMITTED'
              ? 1
              : 0);
          if (viewer.el.hidden && m > 0) viewer.open(data.job.jobId, m);
          else viewer.refresh();
        }
      } catch {
        /* next event retries */
      }
    }, 200);
  };
  // RUNNABLE reasons change with capacity, not only with this job's transitions: re-read while it waits.
  const every = setInterval(() => ACTIVE.has(data.job.status) && refresh(), 5000);
  return {
    onJobs(list) {
      const w = watched();
      if (list.some((j) => w.has(j.jobId) || j.jobId.startsWith(data.job.jobId + ':'))) refresh();
    },
    dispose() {
      clearInterval(every);
      if (timer) clearTimeout(timer);
      viewer.dispose();
    },
  };
}
