// Usage: vCPU-hours and jobs per PI group and per user over a chosen period (jobs that stopped in it).
import { getJson, h, table } from './dom.js';

const DAY = 24 * 3600 * 1000;

function day(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

export async function renderUsage(container, params) {
  const to = Number(params.get('to')) || Date.now();
  const from = Number(params.get('from')) || to - 30 * DAY;
  const data = await getJson(`/ui/api/usage?from=${from}&to=${to}`);
  const fromIn = h('input', { id: 'u-from', type: 'date', value: day(from), required: true });
  const toIn = h('input', { id: 'u-to', type: 'date', value: day(to - 1), required: true });
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Usage period' },
    h('p', { class: 'field' }, h('label', { for: 'u-from' }, 'From (UTC day)'), fromIn),
    h('p', { class: 'field' }, h('label', { for: 'u-to' }, 'To (UTC day, inclusive)'), toIn),
    h('p', { class: 'field' }, h('button', { type: 'submit' }, 'Show')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = Date.parse(fromIn.value + 'T00:00:00Z');
    const t = Date.parse(toIn.value + 'T00:00:00Z') + DAY;
    location.hash = `/usage?from=${f}&to=${t}`;
  });
  const hours = (v) => v.toFixed(3);
  container.replaceChildren(
    h('h1', {}, 'Usage'),
    form,
    h(
      'p',
      {},
      `Jobs that stopped between ${day(data.from)} and ${day(data.to - 1)} (UTC); vCPU-hours are vCPUs × run time summed over attempts.`,
    ),
    h(
      'section',
      { 'aria-labelledby': 'pi-title' },
      h('h2', { id: 'pi-title' }, 'Per PI group'),
      data.byPi.length
        ? table(
            null,
            ['PI group', 'vCPU-hours', 'Jobs'],
            data.byPi.map((r) => [r.pi || '(none)', hours(r.vcpuHours), String(r.jobs)]),
            { rowHeader: true, class: 'usage-pi' },
          )
        : h('p', {}, 'No jobs stopped in this period.'),
    ),
    h(
      'section',
      { 'aria-labelledby': 'user-title' },
      h('h2', { id: 'user-title' }, 'Per user'),
      data.byUser.length
        ? table(
            null,
            ['User', 'PI group', 'vCPU-hours', 'Jobs'],
            data.byUser.map((r) => [r.user || '(unknown)', r.pi || '(none)', hours(r.vcpuHours), String(r.jobs)]),
            { rowHeader: true, class: 'usage-user' },
          )
        : h('p', {}, 'No jobs stopped in this period.'),
    ),
  );
  return {};
}
