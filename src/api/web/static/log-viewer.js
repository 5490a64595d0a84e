// The log viewer of one attempt: pages through the stream (infinite scroll + "Load more") and, while the attempt
// runs, keeps asking for what comes next. Lines are text nodes: a log printing markup shows it, never runs it.
import { getJson, h } from './dom.js';

const PAGE = 500;

export class LogViewer {
  constructor() {
    this.title = h('h2', { id: 'logs-title' }, 'Logs');
    this.status = h('p', { class: 'note', role: 'status', id: 'log-status' });
    this.pre = h('pre', { class: 'log', id: 'log-lines', tabindex: '0', 'aria-labelledby': 'logs-title' });
    this.more = h('button', { type: 'button', id: 'log-more', hidden: true }, 'Load more');
    this.sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
    this.el = h(
      'section',
      { 'aria-labelledby': 'logs-title', id: 'logs', hidden: true },
      this.title,
      this.status,
      this.pre,
      this.sentinel,
      this.more,
    );
    this.more.addEventListener('click', () => void this.load());
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !this.more.hidden) void this.load();
    });
    this.observer.observe(this.sentinel);
    this.gen = 0;
  }

  /** Shows an attempt's log from its first line. */
  open(jobId, attempt) {
    this.gen++;
    clearTimeout(this.poll);
    this.jobId = jobId;
    this.attempt = attempt;
    this.token = null;
    this.lines = 0;
    this.busy = false;
    this.pre.replaceChildren();
    this.pre.hidden = false;
    this.el.hidden = false;
    this.title.textContent = `Logs of attempt ${attempt}`;
    this.status.textContent = 'Loading…';
    void this.load();
  }

  async load() {
    if (this.busy) return;
    this.busy = true;
    const gen = this.gen;
    clearTimeout(this.poll);
    try {
      const q = new URLSearchParams({ attempt: String(this.attempt), limit: String(PAGE) });
      if (this.token) q.set('token', this.token);
      const page = await getJson(`/ui/api/jobs/${encodeURIComponent(this.jobId)}/logs?${q}`);
      if (gen !== this.gen) return;
      if (!page.available) {
        this.status.textContent = page.reason;
        this.more.hidden = true;
        this.pre.hidden = true;
        return;
      }
      const text = page.events.map((e) => e.message + '\n').join('');
      if (text) this.pre.append(document.createTextNode(text));
      this.lines += page.events.length;
      const atEnd = page.events.length === 0 || !page.nextForwardToken || page.nextForwardToken === this.token;
      this.token = page.nextForwardToken ?? this.token;
      if (!atEnd && page.running) {
        // Catching up with a running attempt: keep reading without waiting for the reader to scroll.
        this.more.hidden = true;
        this.status.textContent = `${this.lines} lines; following the running attempt…`;
        this.poll = setTimeout(() => void this.load(), 0);
      } else if (!atEnd) {
        this.more.hidden = false;
        this.status.textContent = `${this.lines} lines loaded; more below.`;
        // Infinite scroll: the observer fires only on changes, so keep going while the end is still in view.
        if (this.sentinel.getBoundingClientRect().top < window.innerHeight)
          this.poll = setTimeout(() => void this.load(), 0);
      } else if (page.running) {
        this.more.hidden = true;
        this.status.textContent = `${this.lines} lines; following the running attempt…`;
        this.poll = setTimeout(() => void this.load(), 1000);
      } else {
        this.more.hidden = true;
        this.status.textContent = `${this.lines} lines; end of log.`;
      }
    } catch (err) {
      if (gen === this.gen) this.status.textContent = 'Could not load the log: ' + err.message;
    } finally {
      if (gen === this.gen) this.busy = false;
    }
  }

  /** The job moved on (e.g. finished): ask once more so the last lines and the end are shown. */
  refresh() {
    if (!this.el.hidden && this.more.hidden && !this.busy) void this.load();
  }

  dispose() {
    this.gen++;
    clearTimeout(this.poll);
    this.observer.disconnect();
  }
}
