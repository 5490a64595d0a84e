// Jobs: server-side search (job ID or name prefix) and filters, keyset paging with "Load more", live statuses, and
// new matching jobs added on top as they are submitted.
import { fmtTime, getJson, h, link, statusBadge } from './dom.js';

const STATUSES = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'];

function toMs(local) {
  if (!local) return '';
  const t = new Date(local).getTime();
  return Number.isFinite(t) ? String(t) : '';
}
function toLocal(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms) - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function field(label, id, control) {
  return h('p', { class: 'field' }, h('label', { for: id }, label), control);
}

function select(id, name, options, value) {
  return h(
    'select',
    { id, name },
    h('option', { value: '' }, 'any'),
    options.map((o) => h('option', { value: o, selected: o === value }, o)),
  );
}

export async function renderJobs(container, params) {
  const [me, overview] = await Promise.all([getJson('/ui/api/me'), getJson('/ui/api/overview')]);
  const queues = overview.queues.map((q) => q.name);
  const search = h('input', {
    id: 'job-search',
    name: 'q',
    type: 'search',
    value: params.get('q') ?? '',
    placeholder: 'job ID or name prefix',
  });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Search jobs' },
    field('Search by job ID or name', 'job-search', search),
    field('Queue', 'f-queue', select('f-queue', 'queue', queues, params.get('queue'))),
    field('Status', 'f-status', select('f-status', 'status', STATUSES, params.get('status'))),
    me.admin ? field('PI group', 'f-pi', h('input', { id: 'f-pi', name: 'pi', value: params.get('pi') ?? '' })) : null,
    field('User', 'f-user', h('input', { id: 'f-user', name: 'user', value: params.get('user') ?? '' })),
    field(
      'Created from',
      'f-from',
      h('input', { id: 'f-from', name: 'from', type: 'datetime-local', value: toLocal(params.get('from')) }),
    ),
    field(
      'Created to',
      'f-to',
      h('input', { id: 'f-to', name: 'to', type: 'datetime-local', value: toLocal(params.get('to')) }),
    ),
    h('p', { class: 'field' }, h('button', { type: 'submit' }, 'Search')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      const val = k === 'from' || k === 'to' ? toMs(v) : String(v).trim();
      if (val) q.set(k, val);
    }
    location.hash = '/jobs' + (q.size ? '?' + q.toString() : '');
  });

  const tbody = h('tbody', {});
  const tbl = h(
    'table',
    { class: 'jobs' },
    h('caption', {}, 'Jobs, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Job ID', 'Name', 'Status', 'Queue', 'User', 'PI group', 'Created', 'Started', 'Stopped', 'Exit code'].map(
          (t) => h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    tbody,
  );
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load more');
  const note = h('p', { class: 'note', role: 'status' });
  container.replaceChildren(h('h1', {}, 'Jobs'), form, note, tbl, more);

  const rows = new Map();
  const query = new URLSearchParams();
  for (const k of ['q', 'queue', 'status', 'pi', 'user', 'from', 'to']) if (params.get(k)) query.set(k, params.get(k));
  let next = null;

  function row(j) {
    const statusCell = h('td', {}, statusBadge(j.status));
    rows.set(j.jobId, statusCell);
    return h(
      'tr',
      { 'data-job-id': j.jobId },
      h('th', { scope: 'row' }, link('/jobs/' + encodeURIComponent(j.jobId), j.jobId)),
      h('td', {}, j.jobName),
      statusCell,
      h('td', {}, j.queue),
      h('td', {}, j.user),
      h('td', {}, j.pi),
      h('td', {}, fmtTime(j.createdAt)),
      h('td', {}, fmtTime(j.startedAt)),
      h('td', {}, fmtTime(j.stoppedAt)),
      h('td', {}, j.exitCode ?? '—'),
    );
  }
  function showCount() {
    note.textContent =
      rows.size === 0
        ? 'No jobs match.'
        : `${rows.size} job${rows.size === 1 ? '' : 's'} shown${next ? '; more below' : ''}.`;
  }

  async function load() {
    const q = new URLSearchParams(query);
    if (next) q.set('after', next);
    const page = await getJson('/ui/api/jobs?' + q.toString());
    for (const j of page.jobs) if (!rows.has(j.jobId)) tbody.append(row(j));
    next = page.next ?? null;
    more.hidden = !next;
    showCount();
  }

  // A job the table does not show changed: it may be new. Ask for the first page again (the same filters, so only
  // jobs that match) and put the ones not shown yet on top, newest first.
  let newer = null;
  function lookForNewJobs() {
    newer ??= setTimeout(async () => {
      try {
        const page = await getJson('/ui/api/jobs?' + query.toString());
        const fresh = page.jobs.filter((j) => !rows.has(j.jobId)).map(row);
        if (fresh.length) {
          tbody.prepend(...fresh);
          showCount();
        }
      } catch {
        /* the next event retries */
      }
      newer = null;
    }, 500);
  }
  more.addEventListener('click', () => void load());
  await load();
  return {
    onJobs(list) {
      let unknown = false;
      for (const j of list) {
        const cell = rows.get(j.jobId);
        if (cell) cell.replaceChildren(statusBadge(j.status));
        else unknown = true;
      }
      if (unknown) lookForNewJobs();
    },
    dispose() {
      if (newer) clearTimeout(newer);
    },
  };
}
