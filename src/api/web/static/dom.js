// DOM helpers: every value becomes a text node (never innerHTML), so job data cannot inject markup.

/** h('tag', {attrs}, ...children): strings and numbers become text nodes; null/undefined/false are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

/** An in-page link to a route (hash routing keeps the server to one HTML page). */
export function link(route, text) {
  return h('a', { href: '#' + route }, text);
}

export function fmtTime(ms) {
  if (ms === undefined || ms === null) return '—';
  const d = new Date(ms);
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

export function statusBadge(status) {
  return h('span', { class: 'status status-' + String(status).toLowerCase() }, status);
}

/** A table with a caption and column headers (th scope=col); rows are arrays of cells. */
export function table(caption, headers, rows, opts = {}) {
  return h(
    'table',
    { class: opts.class },
    caption ? h('caption', {}, caption) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c, i) => (i === 0 && opts.rowHeader ? h('th', { scope: 'row' }, c) : h('td', {}, c))),
        ),
      ),
    ),
  );
}

/** A definition list from [term, value] pairs. */
export function dl(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]),
  );
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET a dashboard JSON route; a 401 sends the user back to sign-in. */
export async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) {
    window.dispatchEvent(new CustomEvent('openbatch:signed-out'));
    throw new HttpError(401, body.message ?? 'not signed in');
  }
  if (!res.ok) throw new HttpError(res.status, body.message ?? res.statusText);
  return body;
}
