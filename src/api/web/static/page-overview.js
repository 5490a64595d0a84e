// Overview: queues with a count per job state, compute environments with vCPUs in use, and the last hour's chart.
import { getJson, h, link, table } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

/** A small line chart of two series over the last hour, drawn with SVG elements (no inline styles). */
function chart(history) {
  const W = 600,
    H = 140,
    P = 28;
  const t1 = history.length ? history[history.length - 1].t : Date.now();
  const t0 = t1 - 3600_000;
  const maxV = Math.max(1, ...history.map((p) => Math.max(p.runningVcpus, p.queuedJobs)));
  const x = (t) => P + ((t - t0) / 3600_000) * (W - 2 * P);
  const y = (v) => H - P + 4 - (v / maxV) * (H - 2 * P);
  const line = (key, cls) =>
    s('polyline', {
      class: cls,
      fill: 'none',
      points: history.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' '),
    });
  const last = history[history.length - 1] ?? { runningVcpus: 0, queuedJobs: 0 };
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart', 'aria-labelledby': 'chart-title' },
    s(
      'title',
      { id: 'chart-title' },
      `Running vCPUs (now ${last.runningVcpus}) and queued jobs (now ${last.queuedJobs}) over the last hour`,
    ),
    s('line', { class: 'axis', x1: P, y1: H - P + 4, x2: W - P, y2: H - P + 4 }),
    s('line', { class: 'axis', x1: P, y1: P - 10, x2: P, y2: H - P + 4 }),
    s('text', { x: 2, y: P - 2, class: 'tick' }, maxV),
    s('text', { x: 2, y: H - P + 4, class: 'tick' }, 0),
    s('text', { x: P, y: H - 4, class: 'tick' }, '-60 min'),
    s('text', { x: W - P - 24, y: H - 4, class: 'tick' }, 'now'),
    line('runningVcpus', 'series-vcpus'),
    line('queuedJobs', 'series-queued'),
  );
  return h(
    'figure',
    { class: 'chart-box' },
    svg,
    h(
      'figcaption',
      {},
      h('span', { class: 'key key-vcpus' }, 'running vCPUs'),
      ' ',
      h('span', { class: 'key key-queued' }, 'queued (RUNNABLE) jobs'),
    ),
  );
}

function build(container, data) {
  const statuses = data.statuses;
  const queueRows = data.queues.map((q) => [
    link('/jobs?queue=' + encodeURIComponent(q.name), q.name),
    String(q.priority),
    q.state,
    ...statuses.map((st) => {
      const n = q.counts[st] ?? 0;
      return n ? link('/jobs?queue=' + encodeURIComponent(q.name) + '&status=' + st, String(n)) : '0';
    }),
  ]);
  const ceRows = data.computeEnvironments.map((ce) => [
    ce.name,
    ce.type,
    ce.state,
    ce.status,
    `${ce.usedVcpus} / ${ce.maxVcpus ?? '—'}`,
    String(ce.runningJobs),
  ]);
  container.replaceChildren(
    h('h1', {}, 'Overview'),
    h(
      'section',
      { 'aria-labelledby': 'q-title' },
      h('h2', { id: 'q-title' }, 'Job queues'),
      data.queues.length
        ? table(null, ['Queue', 'Priority', 'State', ...statuses], queueRows, { rowHeader: true, class: 'queues' })
        : h('p', {}, 'No job queues yet.'),
    ),
    h(
      'section',
      { 'aria-labelledby': 'ce-title' },
      h('h2', { id: 'ce-title' }, 'Compute environments'),
      data.computeEnvironments.length
        ? table(
            null,
            ['Compute environment', 'Type', 'State', 'Status', 'vCPUs in use / max', 'Running jobs'],
            ceRows,
            {
              rowHeader: true,
              class: 'ces',
            },
          )
        : h('p', {}, 'No compute environments yet.'),
      h(
        'p',
        {},
        `This host: ${data.host.usedVcpus} of ${data.host.vcpus} vCPUs in use by ${data.host.runningJobs} jobs.`,
      ),
    ),
    h('section', { 'aria-labelledby': 'chart-h' }, h('h2', { id: 'chart-h' }, 'Last hour'), chart(data.history)),
  );
}

export async function renderOverview(container) {
  build(container, await getJson('/ui/api/overview'));
  let timer = null;
  const refresh = () => {
    timer ??= setTimeout(async () => {
      timer = null;
      try {
        build(container, await getJson('/ui/api/overview'));
      } catch {
        /* the next event retries */
      }
    }, 500);
  };
  const every = setInterval(refresh, 30_000);
  return {
    onJobs: refresh,
    dispose() {
      clearInterval(every);
      if (timer) clearTimeout(timer);
    },
  };
}
