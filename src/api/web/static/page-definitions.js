// Job definitions: every name with its revisions, newest first, and each revision's container properties.
import { dl, fmtTime, getJson, h } from './dom.js';

function json(v) {
  return h('pre', { class: 'json' }, JSON.stringify(v, null, 2));
}

export async function renderDefinitions(container, params) {
  const { jobDefinitions } = await getJson('/ui/api/job-definitions');
  const only = params.get('name');
  const list = only ? jobDefinitions.filter((d) => d.name === only) : jobDefinitions;
  container.replaceChildren(
    h('h1', {}, 'Job definitions'),
    only ? h('p', {}, h('a', { href: '#/job-definitions' }, 'Show all job definitions')) : null,
    list.length === 0 ? h('p', {}, 'No job definitions.') : null,
    ...list.map((d) =>
      h(
        'section',
        { 'aria-label': d.name, class: 'jobdef' },
        h('h2', {}, d.name),
        ...d.revisions.map((r) =>
          h(
            'details',
            { open: r === d.revisions[0] },
            h('summary', {}, `Revision ${r.revision} · ${r.status} · ${r.type} · registered ${fmtTime(r.createdAt)}`),
            dl([
              ['ARN', h('code', {}, r.arn)],
              ['Image', r.containerProperties?.image ?? '—'],
              ['Command', (r.containerProperties?.command ?? []).join(' ') || '—'],
              ['Retry', r.retryStrategy ? JSON.stringify(r.retryStrategy) : '—'],
              ['Timeout', r.timeout?.attemptDurationSeconds ? r.timeout.attemptDurationSeconds + ' s' : '—'],
              ['Parameters', Object.keys(r.parameters).length ? JSON.stringify(r.parameters) : '—'],
            ]),
            h('h3', {}, 'Container properties'),
            json(r.containerProperties),
          ),
        ),
      ),
    ),
  );
  return {};
}
