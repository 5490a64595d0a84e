// The dashboard's entry: sign-in gate, hash routing, and the live event stream shared by the pages.
import { getJson, h } from './dom.js';
import { renderOverview } from './page-overview.js';
import { renderJobs } from './page-jobs.js';
import { renderJob } from './page-job.js';
import { renderDefinitions } from './page-definitions.js';
import { renderUsage } from './page-usage.js';

const $ = (id) => document.getElementById(id);
let current = null; // the page on screen: { onJobs?, dispose? }
let events = null;

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  if (path === '/' || path === '') return { page: renderOverview, title: 'Overview', params };
  if (path === '/jobs') return { page: renderJobs, title: 'Jobs', params };
  if (path.startsWith('/jobs/'))
    return { page: renderJob, title: 'Job', params, id: decodeURIComponent(path.slice(6)) };
  if (path === '/job-definitions') return { page: renderDefinitions, title: 'Job definitions', params };
  if (path === '/usage') return { page: renderUsage, title: 'Usage', params };
  return { page: null, title: 'Not found', params };
}

let shown = 0; // which show() is the latest: a slower earlier one must not take the screen back

async function show() {
  const mine = ++shown;
  current?.dispose?.();
  current = null;
  const r = route();
  // Each page renders into its own element: when the route changes before a page has loaded, the stale page goes on
  // filling a detached element instead of the screen.
  const container = h('div', {});
  $('page').replaceChildren(container);
  document.title = r.title + ' · openbatch';
  for (const a of document.querySelectorAll('#nav a')) {
    const target = a.getAttribute('href').slice(1);
    const here = location.hash.slice(1) || '/';
    const active =
      target === '/' ? here === '/' : here === target || here.startsWith(target + '/') || here.startsWith(target + '?');
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!r.page) {
    container.append(h('h1', {}, 'Not found'), h('p', {}, 'There is no such page.'));
    return;
  }
  try {
    const page = (await r.page(container, r.params, r.id)) ?? {};
    if (mine !== shown) page.dispose?.();
    else current = page;
  } catch (err) {
    if (err.status === 401 || mine !== shown) return;
    container.append(h('p', { class: 'error', role: 'alert' }, 'Could not load this page: ' + err.message));
  }
}

function startEvents() {
  if (events) return;
  events = new EventSource('/ui/events');
  events.addEventListener('jobs', (e) => {
    const list = JSON.parse(e.data);
    current?.onJobs?.(list);
  });
}

function signedIn(me) {
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = me.user + (me.admin ? ' (admin)' : me.pi ? ' (PI group ' + me.pi + ')' : '');
  document.body.classList.add('signed-in');
  startEvents();
  void show();
}

function signedOut() {
  events?.close();
  events = null;
  current?.dispose?.();
  current = null;
  $('page').replaceChildren();
  $('nav').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  document.body.classList.remove('signed-in');
  $('akid').focus();
}

async function init() {
  if (new URLSearchParams(location.search).get('signin') === 'failed')
    $('signin-error').textContent = 'Wrong access key ID or secret access key.';
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = new URLSearchParams(new FormData(e.target));
    const res = await fetch('/ui/session', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      $('signin-error').textContent = body.message ?? 'Sign-in failed.';
      $('secret').value = '';
      $('secret').focus();
      return;
    }
    $('signin-error').textContent = '';
    $('secret').value = '';
    if (location.search) history.replaceState(null, '', '/' + location.hash);
    signedIn(body);
  });
  $('logout').addEventListener('click', async () => {
    await fetch('/ui/logout', { method: 'POST' });
    signedOut();
  });
  window.addEventListener('openbatch:signed-out', signedOut);
  window.addEventListener('hashchange', () => {
    if (document.body.classList.contains('signed-in')) void show();
  });
  try {
    signedIn(await getJson('/ui/api/me'));
  } catch {
    signedOut();
  }
}

void init();
