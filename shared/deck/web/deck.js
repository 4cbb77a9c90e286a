// The deck: columns of tweets and rankings, refreshed by polling (see package deck's doc for
// why not server-sent events). Data only ever reaches the page through textContent and
// attribute setters, never innerHTML, so a tweet's text cannot become markup.
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('deck-config').textContent);
  // Relative by default: the deck is served where the API is (at / deployed, at /ServeRankings/
  // in the local functions process).
  const base = cfg.api_base || '.';
  const enc = encodeURIComponent;
  const PAGE = 20;

  // The endpoints of api.go, in one place.
  const api = {
    ranking: (name, win) => `${base}/rankings/${enc(name)}?window=${enc(win)}&n=10`,
    tweets: (q, n, cursor) => `${base}/tweets?q=${enc(q)}&n=${n}` + (cursor ? `&cursor=${enc(cursor)}` : ''),
    recentViews: (user) => `${base}/recent_views?user_id=${enc(user)}`,
    backfills: () => 'deck/backfills',
    backfill: (id) => `deck/backfills/${enc(id)}`,
    history: () => 'deck/history',
    health: () => 'deck/health',
  };

  const RANKINGS = {
    hashtags: { title: 'Hashtags', sub: 'tweets' },
    retweets: { title: 'Top retweets', sub: 'retweets' },
    popularity: { title: 'Popular items', sub: 'views' },
    search_terms: { title: 'Search terms', sub: 'searches' },
  };
  // The API's windows (GET /rankings lists them): a ranking column's selector offers these
  // and nothing else.
  const WINDOW_WORDS = { '15m': 'last 15 min', '1h': 'last hour', '1d': 'last day' };

  // Whether this deck reaches a Backfill function at all; cfg.backfills becomes whether this
  // person may start and watch backfills once the account is known.
  const backfillsConfigured = !!cfg.backfills;

  const $columns = document.getElementById('columns');
  const $notice = document.getElementById('notice');
  const columns = [];
  const state = { firstPaintMs: null, errors: [] };
  window.deck = state; // read by the browser test

  // ---- small helpers ----

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function notice(msg, isError) {
    $notice.textContent = msg || '';
    $notice.classList.toggle('error', !!isError);
  }

  async function getJSON(url, extra) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 15000);
    try {
      // no-cache revalidates with the ETag: an unchanged answer is a 304 with no body.
      const headers = Object.assign({ Accept: 'application/json' }, await window.deckAccount.headers(), extra || {});
      const resp = await fetch(url, { headers, cache: 'no-cache', signal: ctl.signal });
      let body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      if (!resp.ok) {
        const err = new Error((body && body.error) || `HTTP ${resp.status}`);
        err.status = resp.status;
        err.param = body && (body.param || body.parameter || body.field);
        throw err;
      }
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  // postJSON sends body as JSON and returns the JSON answer, throwing as getJSON does.
  async function postJSON(url, body) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 30000);
    try {
      const headers = Object.assign({ Accept: 'application/json', 'Content-Type': 'application/json' }, await window.deckAccount.headers());
      const resp = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: ctl.signal });
      let out = null;
      try { out = await resp.json(); } catch (e) { out = null; }
      if (!resp.ok) {
        const err = new Error((out && out.error) || `HTTP ${resp.status}`);
        err.status = resp.status;
        err.param = out && out.param;
        throw err;
      }
      return out;
    } finally {
      clearTimeout(timer);
    }
  }

  // MAX_SHOWN bounds an error message the page shows: the API quotes at most a short excerpt
  // of what it was sent, and the page cuts anything longer (a proxy's page, say) to this.
  const MAX_SHOWN = 160;
  function short(text) {
    const t = String(text);
    return t.length <= MAX_SHOWN ? t : `${t.slice(0, MAX_SHOWN)}…`;
  }

  function errorText(err) {
    const p = err.param ? ` (parameter ${err.param})` : '';
    return `Could not load: ${short(err.message)}${p}`;
  }

  function relTime(iso, now) {
    const t = Date.parse(iso);
    if (isNaN(t)) return '';
    const s = Math.max(0, Math.round((now - t) / 1000));
    if (s < 10) return 'now';
    if (s < 60) return `${s} s ago`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ago`;
    // A date of another year, or more than about eleven months back, shows its year: "Mar 1"
    // alone would read as this year's.
    const d = new Date(t);
    const opts = { month: 'short', day: 'numeric' };
    if (d.getFullYear() !== new Date(now).getFullYear() || now - t > 330 * 86400e3) opts.year = 'numeric';
    return d.toLocaleDateString(undefined, opts);
  }
  state.relTime = relTime; // read by the browser test

  function timeEl(iso) {
    const t = el('time', 'time', relTime(iso, Date.now()));
    t.dateTime = iso || '';
    if (iso) t.title = new Date(iso).toLocaleString();
    return t;
  }

  // Ids exceed 2^53: compare them as decimal strings.
  function cmpID(a, b) {
    if (a.length !== b.length) return a.length - b.length;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  // Newer first: by created_at, then by id.
  function newer(a, b) {
    const d = Date.parse(b.created_at) - Date.parse(a.created_at);
    if (d) return d;
    return cmpID(b.tweet_id, a.tweet_id);
  }

  // A hashtag as the stream sees one: # then letters, digits, marks or _.
  const TAG = /#[\p{L}\p{N}\p{M}_]+/gu;

  // textWithTags renders text as text nodes, with each #hashtag a link that opens its column.
  function textWithTags(cls, text) {
    const p = el('p', cls);
    let last = 0;
    for (const m of String(text || '').matchAll(TAG)) {
      if (m.index > last) p.appendChild(document.createTextNode(text.slice(last, m.index)));
      p.appendChild(tagLink(m[0]));
      last = m.index + m[0].length;
    }
    if (last < String(text || '').length) p.appendChild(document.createTextNode(text.slice(last)));
    return p;
  }

  function tagLink(tag) {
    const a = el('a', 'tag', tag);
    a.href = '#';
    a.dataset.tag = tag.replace(/^#/, '');
    return a;
  }

  // ---- recent-views tokens ----
  // A user's recent views are served only with a token for that user (X-Recent-Views-Token),
  // minted by the app's backend or the local stack. It arrives in the URL's fragment
  // (#view_token=…), which no server sees or logs, is kept for this tab only and removed from
  // the address bar.

  const TOKEN_HEADER = 'X-Recent-Views-Token';

  function readTokens() {
    try { const v = JSON.parse(sessionStorage.getItem('deck.viewTokens') || '{}'); return v && typeof v === 'object' ? v : {}; } catch (e) { return {}; }
  }

  // tokenUser returns the user id a token is for (its claims are readable; only ServeRankings
  // can check them), or null.
  function tokenUser(tok) {
    const parts = String(tok).split('.');
    if (parts.length !== 3 || parts[0] !== 'rv1') return null;
    try {
      const b = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
      const text = new TextDecoder().decode(Uint8Array.from(b, (c) => c.charCodeAt(0)));
      const i = text.indexOf(':');
      return i > 0 && i < text.length - 1 ? text.slice(i + 1) : null;
    } catch (e) {
      return null;
    }
  }

  // takeToken moves a token from the fragment into the tab's storage; returns its user or null.
  function takeToken() {
    const m = /(?:^#|&)view_token=([^&]+)/.exec(location.hash);
    if (!m) return null;
    const tok = decodeURIComponent(m[1]);
    history.replaceState(null, '', location.pathname + location.search);
    const user = tokenUser(tok);
    if (!user) { notice('The link\'s recent-views token is not one this page can read.', true); return null; }
    const tokens = readTokens();
    tokens[user] = tok;
    try { sessionStorage.setItem('deck.viewTokens', JSON.stringify(tokens)); } catch (e) { /* private mode */ }
    return user;
  }

  function tokenHeader(user) {
    const tok = readTokens()[user];
    return tok ? { [TOKEN_HEADER]: tok } : {};
  }

  // ---- column set: URL (?col=) first, then localStorage, then the defaults ----

  function defaults() {
    const ids = [`q:${cfg.default_keyword}`, 'rank:hashtags', 'rank:retweets', 'rank:popularity', 'rank:search_terms'];
    if (cfg.backfills) ids.push('backfills');
    if (cfg.health) ids.push('health');
    return ids;
  }

  function loadIDs() {
    const params = new URLSearchParams(location.search);
    let ids = params.getAll('col');
    if (!ids.length) {
      try { ids = JSON.parse(localStorage.getItem('deck.columns') || '[]'); } catch (e) { ids = []; }
      if (!Array.isArray(ids)) ids = [];
    }
    if (!ids.length) ids = defaults();
    const user = params.get('user');
    if (user && validUser(user) === null && !ids.includes(`user:${user}`)) ids.push(`user:${user}`);
    return ids.filter((id) => typeof id === 'string' && parseID(id));
  }

  function save() {
    const ids = columns.map((c) => c.id);
    try { localStorage.setItem('deck.columns', JSON.stringify(ids)); } catch (e) { /* private mode */ }
    const params = new URLSearchParams();
    for (const id of ids) params.append('col', id);
    history.replaceState(null, '', `${location.pathname}?${params}`);
    window.deckAccount.saved(ids); // account.js: the signed-in person's set, server-side
  }

  function parseID(id) {
    if (id.startsWith('q:')) return validQuery(id.slice(2)) === null ? { kind: 'tweets', q: id.slice(2) } : null;
    if (id.startsWith('rank:')) {
      // rank:NAME shows the deck's window (DECK_WINDOW); rank:NAME@WINDOW another of the API's.
      const [name, win] = id.slice(5).split('@');
      if (!RANKINGS[name] || (win !== undefined && !WINDOW_WORDS[win])) return null;
      return { kind: 'ranking', name, window: win || cfg.window };
    }
    if (id.startsWith('user:')) return validUser(id.slice(5)) === null ? { kind: 'user', user: id.slice(5) } : null;
    if (id === 'backfills') return cfg.backfills ? { kind: 'backfills' } : null;
    if (id === 'health') return cfg.health ? { kind: 'health' } : null;
    return null;
  }

  function normQuery(q) { return String(q).trim().replace(/\s+/g, ' '); }

  const utf8 = new TextEncoder();

  // validQuery returns null for a query a column may try, else the message to show instead.
  // What a query matches, and which cannot be searched, is the API's search rule
  // (shared/rankings/search.go): the search box asks it (checkQuery) before opening a column.
  function validQuery(q) {
    const n = utf8.encode(q).length;
    if (q === '' || q === '#') return 'Type a word, "a phrase", #hashtag or @handle to add a column.';
    if (n > cfg.max_query_len) return `That query is ${n} bytes long; a column takes at most ${cfg.max_query_len}.`;
    return null;
  }

  // checkQuery asks the API whether it can search q: null when it can (or could not say), else
  // its reason.
  async function checkQuery(q) {
    try {
      await getJSON(api.tweets(q, 1));
      return null;
    } catch (err) {
      return err.status === 400 ? `Cannot search that: ${short(err.message)}` : null;
    }
  }

  function validUser(u) {
    if (u === '') return 'Type a user id after user:.';
    if (utf8.encode(u).length > 128) return 'That user id is too long (at most 128 bytes).';
    return null;
  }

  function addColumn(id, opts) {
    const existing = columns.find((c) => c.id === id);
    if (existing) {
      existing.el.scrollIntoView({ behavior: 'smooth', inline: 'nearest', block: 'nearest' });
      notice(`${existing.title} is already open.`);
      return existing;
    }
    const spec = parseID(id);
    if (!spec) return null;
    const col = makeColumn(id, spec);
    columns.push(col);
    $columns.appendChild(col.el);
    if (opts && opts.reveal) col.el.scrollIntoView({ behavior: 'smooth', inline: 'nearest', block: 'nearest' });
    if (opts && opts.save) save();
    col.refresh(true);
    return col;
  }

  function closeColumn(col) {
    const i = columns.indexOf(col);
    if (i >= 0) columns.splice(i, 1);
    col.closed = true;
    col.el.remove();
    save();
  }

  // replaceColumn puts the column of id where col is (a ranking's other window).
  function replaceColumn(col, id) {
    const spec = parseID(id);
    if (!spec || columns.some((c) => c.id === id)) { notice(spec ? 'That column is already open.' : ''); return; }
    const fresh = makeColumn(id, spec);
    columns[columns.indexOf(col)] = fresh;
    col.closed = true;
    col.el.replaceWith(fresh.el);
    save();
    fresh.refresh(true);
  }

  // ---- columns ----

  function frame(id, title, sub, extra) {
    const section = el('section', 'column');
    section.dataset.col = id;
    section.setAttribute('aria-label', title);
    const head = el('header', 'col-head');
    const h = el('h2', 'col-title', title);
    if (sub) { h.appendChild(document.createTextNode(' ')); h.appendChild(el('span', 'col-sub', sub)); }
    const close = el('button', 'col-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', `Close ${title}`);
    head.append(h, ...(extra || []), close);
    const body = el('div', 'col-body');
    const msg = el('p', 'col-msg', 'Loading…');
    body.appendChild(msg);
    section.append(head, body);
    return { section, close, body, msg };
  }

  function makeColumn(id, spec) {
    let col;
    if (spec.kind === 'tweets') col = tweetColumn(id, spec.q);
    else if (spec.kind === 'ranking') col = rankingColumn(id, spec.name, spec.window);
    else if (spec.kind === 'user') col = userColumn(id, spec.user);
    else if (spec.kind === 'health') col = healthColumn(id);
    else col = backfillColumn(id);
    col.close.addEventListener('click', () => closeColumn(col));
    return col;
  }

  // Every column shares this: one refresh at a time, a failure shown in the column (over what
  // it showed last), a success clearing it.
  function withRefresh(col, load) {
    col.busy = false;
    col.refresh = async (first) => {
      if (col.busy || col.closed) return;
      col.busy = true;
      try {
        await load(first || !col.loaded);
        col.loaded = true;
      } catch (err) {
        col.msg.textContent = errorText(err);
        col.msg.classList.add('error');
        col.msg.hidden = false;
      } finally {
        col.busy = false;
      }
    };
    return col;
  }

  // loaded shows emptyText when the column has nothing, else hides the message.
  function loaded(col, isEmpty, emptyText) {
    col.msg.classList.remove('error');
    col.msg.textContent = emptyText;
    col.msg.hidden = !isEmpty;
  }

  function tweetColumn(id, q) {
    const title = q;
    // The "↑ N new" pill sits in the column's header, where it covers no tweet.
    const pill = el('button', 'new-pill');
    pill.type = 'button';
    pill.hidden = true;
    const kind = q.startsWith('#') ? 'hashtag' : q.startsWith('@') ? 'handle' : q.startsWith('"') ? 'phrase' : 'search';
    const f = frame(id, title, kind, [pill]);
    const list = el('ol', 'tweets');
    const more = el('div', 'more', '');
    const hist = historyBar(q);
    if (hist) f.body.before(hist.el);
    f.body.append(list, more);
    const col = {
      id, title, el: f.section, close: f.close, msg: f.msg, body: f.body, list,
      byID: new Map(), order: [], cursor: '', ended: false, olderBusy: false, unseen: 0,
    };
    pill.addEventListener('click', () => { f.body.scrollTop = 0; col.unseen = 0; pill.hidden = true; });
    f.body.addEventListener('scroll', () => {
      if (f.body.scrollTop < 4) { col.unseen = 0; pill.hidden = true; }
    }, { passive: true });

    function render(t) {
      const li = el('li', 'tweet');
      li.dataset.id = t.tweet_id;
      const head = el('div', 'tweet-head');
      head.appendChild(el('span', 'author', t.author_handle ? `@${t.author_handle}` : `user ${t.author_id || '?'}`));
      if (t.kind && t.kind !== 'tweet') head.appendChild(el('span', 'kind', t.kind));
      head.appendChild(timeEl(t.created_at));
      li.appendChild(head);
      li.appendChild(textWithTags('text', t.text));
      const counts = el('div', 'counts');
      const c = t.counts || {};
      const keys = Object.keys(c).sort((a, b) => order(a) - order(b) || (a < b ? -1 : 1));
      for (const k of keys) counts.appendChild(el('span', `count count-${k}`, `${Number(c[k]).toLocaleString()} ${k}`));
      li.appendChild(counts);
      return li;
    }
    function order(k) { const i = ['retweets', 'replies', 'quotes', 'likes'].indexOf(k); return i < 0 ? 99 : i; }

    // reconcile makes the list show ids (newest first), reusing the elements it already has.
    function reconcile(ids, data) {
      const keep = new Set(ids);
      for (const id of col.order) {
        if (!keep.has(id)) { col.byID.get(id).el.remove(); col.byID.delete(id); }
      }
      let added = 0;
      let next = null;
      for (let i = ids.length - 1; i >= 0; i--) {
        const id = ids[i];
        let item = col.byID.get(id);
        if (!item) {
          item = { t: data.get(id), el: render(data.get(id)) };
          col.byID.set(id, item);
          list.insertBefore(item.el, next);
          added++;
        } else if (data.has(id)) {
          updateCounts(item, data.get(id));
        }
        next = item.el;
      }
      col.order = ids;
      return added;
    }

    function updateCounts(item, t) {
      if (JSON.stringify(item.t.counts || {}) === JSON.stringify(t.counts || {})) return;
      const fresh = render(t).querySelector('.counts');
      item.el.querySelector('.counts').replaceWith(fresh);
      item.t = t;
    }

    function setMore() {
      more.textContent = col.ended ? (col.order.length ? 'No older tweets' : '') : 'Loading older tweets…';
    }

    async function load(first) {
      // A poll re-reads as many tweets as are shown (up to 100), so a deleted one among them
      // disappears and a new one is placed where it belongs.
      const n = first ? PAGE : Math.min(100, Math.max(PAGE, col.order.length));
      const page = await getJSON(api.tweets(q, n));
      const fresh = (page.tweets || []);
      const data = new Map(fresh.map((t) => [t.tweet_id, t]));
      let ids;
      const complete = !page.next_cursor;
      if (first) {
        ids = fresh.map((t) => t.tweet_id);
        col.cursor = page.next_cursor || '';
        col.ended = complete;
      } else {
        // Shown tweets older than this page's oldest were not re-read: keep them.
        const oldest = fresh[fresh.length - 1];
        const older = complete ? [] : col.order.filter((id) => !data.has(id) && oldest && newer(oldest, col.byID.get(id).t) < 0);
        ids = fresh.map((t) => t.tweet_id).concat(older);
        if (complete && fresh.length < n) col.ended = true;
      }
      const atTop = col.body.scrollTop < 4;
      const before = col.order[0];
      const added = reconcile(ids, data);
      if (!first && added && !atTop && before !== ids[0]) {
        col.unseen += added;
        pill.textContent = `↑ ${col.unseen} new`;
        pill.hidden = false;
      }
      loaded(col, !ids.length, `No tweets for ${q} yet.`);
      setMore();
      if (first) {
        markPainted(col);
        if (nearBottom()) older();
      }
    }

    async function older() {
      if (col.olderBusy || col.ended || !col.cursor || col.closed) return;
      col.olderBusy = true;
      try {
        const page = await getJSON(api.tweets(q, PAGE, col.cursor));
        const data = new Map();
        for (const t of page.tweets || []) if (!col.byID.has(t.tweet_id)) data.set(t.tweet_id, t);
        reconcile(col.order.concat([...data.keys()]), data);
        col.cursor = page.next_cursor || '';
        col.ended = !col.cursor;
        setMore();
      } catch (err) {
        more.textContent = errorText(err);
        return;
      } finally {
        col.olderBusy = false;
      }
      // The observer fires only when the sentinel enters the view: when a short page leaves it
      // in view, ask for the next one here.
      if (nearBottom()) older();
    }
    function nearBottom() {
      const b = f.body;
      return b.clientHeight > 0 && b.scrollTop + b.clientHeight >= b.scrollHeight - 200;
    }
    // Scrolling to the bottom brings the sentinel into view: load the next page through the cursor.
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) older();
    }, { root: f.body, rootMargin: '0px 0px 200px 0px' }).observe(more);
    col.older = older;
    return withRefresh(col, async (first) => {
      if (hist) hist.poll();
      await load(first);
    });
  }

  // ---- a column's history (POST deck/history: an x_search backfill of the last 7 days) ----

  // The terms the server loads a history for: one keyword or #hashtag (shared/deck/history.go).
  const HISTORY_TERM = /^#?[\p{L}\p{N}\p{M}_]+$/u;
  const FINAL = { done: true, done_with_failures: true, cancelled: true };

  function historyJobs() {
    try { const v = JSON.parse(localStorage.getItem('deck.history') || '{}'); return v && typeof v === 'object' ? v : {}; } catch (e) { return {}; }
  }
  function keepHistoryJob(term, job) {
    const all = historyJobs();
    all[term] = job;
    try { localStorage.setItem('deck.history', JSON.stringify(all)); } catch (e) { /* private mode */ }
  }

  // historyBar is a keyword or hashtag column's history line: a button that starts it, then
  // the job's progress (polled with the column until the job ends), or why it cannot start.
  // A button rather than automatic: each start spends X search requests and counts against
  // the deployment's daily bound, which opening a column (a hashtag click) should not.
  function historyBar(q) {
    if (!backfillsConfigured || !HISTORY_TERM.test(q) || utf8.encode(q).length > cfg.max_query_len) return null;
    const term = q.toLowerCase();
    const box = el('div', 'history');
    box.dataset.term = term;
    const line = el('span', 'history-line', '');
    const btn = el('button', 'history-start', 'Load last 7 days');
    btn.type = 'button';
    const track = el('div', 'track');
    track.setAttribute('role', 'progressbar');
    track.setAttribute('aria-valuemin', '0');
    track.setAttribute('aria-valuemax', '100');
    const fill = el('div', 'fill');
    track.appendChild(fill);
    track.hidden = true;
    box.append(btn, line, track);
    const h = { el: box, job: (historyJobs()[term] || {}).job_id || '', ended: false, busy: false };

    function show(j) {
      const c = j.counts || {};
      const finished = (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
      const pct = c.planned ? Math.min(100, Math.floor((100 * finished) / c.planned)) : 0;
      fill.style.width = `${pct}%`;
      track.setAttribute('aria-valuenow', String(pct));
      track.hidden = false;
      box.dataset.state = j.state || '';
      box.dataset.job = j.job_id || h.job;
      let text = `Last 7 days: ${String(j.state || '').replace(/_/g, ' ')} · ${finished}/${c.planned || 0} tasks`;
      if (j.state === 'done_with_failures') text += ` · ${c.failed || 0} failed (the backfills panel and scripts/backfill status show why)`;
      else if (j.state === 'blocked') text += ' · blocked: the X API refused the credentials; a person must fix them';
      else if (j.state === 'cancelled') text += ' · cancelled';
      else if (c.failed) text += ` · ${c.failed} failed`;
      line.textContent = short(text);
      line.classList.toggle('error', j.state === 'done_with_failures' || j.state === 'blocked');
      h.ended = !!FINAL[j.state];
      // An ended history can be asked for again (within HistoryPeriod it is the same job).
      btn.hidden = !h.ended;
      btn.disabled = false;
      btn.textContent = 'Load again';
    }

    function refused(err) {
      line.textContent = short(`Last 7 days: ${err.message}`);
      line.classList.add('error');
      box.dataset.state = 'refused';
    }

    h.poll = async () => {
      if (!cfg.backfills || !h.job || h.ended || h.busy) return;
      h.busy = true;
      try { show(await getJSON(api.backfill(h.job))); } catch (err) { refused(err); } finally { h.busy = false; }
    };

    btn.addEventListener('click', async () => {
      btn.disabled = true;
      line.classList.remove('error');
      line.textContent = 'Last 7 days: starting…';
      try {
        const r = await postJSON(api.history(), { q: term });
        h.job = r.job_id;
        h.ended = false;
        keepHistoryJob(term, { job_id: r.job_id, start: r.start, end: r.end });
        btn.hidden = true;
        show({ job_id: r.job_id, state: r.state, counts: { planned: r.planned_tasks } });
        h.poll();
      } catch (err) {
        refused(err);
        btn.disabled = false;
      }
    });

    // Others see why not: only those allowed to start backfills may (cfg.backfills is known
    // once the account is).
    h.ready = () => {
      if (!cfg.backfills) {
        btn.hidden = true;
        line.textContent = 'Loading the last 7 days starts a backfill: only those allowed to start backfills may.';
        box.dataset.state = 'not-allowed';
      } else if (h.job) {
        btn.hidden = true;
        line.textContent = 'Last 7 days: …';
      }
    };
    h.ready();
    return h;
  }

  function rankingColumn(id, name, win) {
    const r = RANKINGS[name];
    const title = r.title;
    // The window selector: the API's windows only; a change replaces the column in place.
    const select = el('select', 'col-window');
    select.setAttribute('aria-label', `${title}: window`);
    for (const w of Object.keys(WINDOW_WORDS)) {
      const o = el('option', '', WINDOW_WORDS[w]);
      o.value = w;
      select.appendChild(o);
    }
    select.value = win;
    const f = frame(id, title, r.sub, [select]);
    select.addEventListener('change', () => {
      const next = select.value === cfg.window ? `rank:${name}` : `rank:${name}@${select.value}`;
      replaceColumn(col, next);
    });
    const list = el('ol', 'ranks');
    f.body.appendChild(list);
    const col = { id, title, el: f.section, close: f.close, msg: f.msg, body: f.body, list };

    function row(i, e) {
      const li = el('li', name === 'retweets' ? 'rank rt' : 'rank');
      li.appendChild(el('span', 'rank-n', `${i + 1}`));
      if (name === 'hashtags') {
        const key = el('span', 'rank-key');
        key.appendChild(tagLink(`#${e.key}`));
        li.appendChild(key);
      } else if (name === 'retweets') {
        const key = el('div', 'rank-key');
        key.appendChild(el('span', 'author', e.author_handle ? `@${e.author_handle}` : (e.author_id ? `user ${e.author_id}` : `tweet ${e.key}`)));
        key.appendChild(textWithTags('text', e.text || ''));
        li.appendChild(key);
      } else {
        li.appendChild(el('span', 'rank-key', e.key));
      }
      li.appendChild(el('span', 'rank-count', Number(e.count).toLocaleString()));
      li.dataset.key = e.key;
      li.dataset.sig = JSON.stringify([e.key, e.count, e.text, e.author_handle]);
      return li;
    }

    async function load() {
      const body = await getJSON(api.ranking(name, win));
      const entries = body.items || [];
      const rows = list.children;
      entries.forEach((e, i) => {
        const fresh = row(i, e);
        if (!rows[i]) list.appendChild(fresh);
        else if (rows[i].dataset.sig !== fresh.dataset.sig) list.replaceChild(fresh, rows[i]);
      });
      while (rows.length > entries.length) list.lastChild.remove();
      loaded(col, !entries.length, `Nothing in the ${WINDOW_WORDS[win]} yet.`);
      markPainted(col);
    }
    return withRefresh(col, load);
  }

  function userColumn(id, user) {
    const title = `Recent views of ${user}`;
    const f = frame(id, title, 'user');
    const list = el('ol', 'ranks');
    f.body.appendChild(list);
    const col = { id, title, el: f.section, close: f.close, msg: f.msg, body: f.body };
    async function load() {
      // Without a token the answer is a 401 saying what is missing, shown in the column.
      const body = await getJSON(api.recentViews(user), tokenHeader(user));
      const items = body.items || [];
      list.replaceChildren(...items.map((it, i) => {
        const li = el('li', 'rank');
        li.append(el('span', 'rank-n', `${i + 1}`), el('span', 'rank-key', it.item_id), timeEl(it.viewed_at));
        return li;
      }));
      loaded(col, !items.length, 'No views yet.');
      markPainted(col);
    }
    return withRefresh(col, load);
  }

  function watchedJobs() {
    try { const v = JSON.parse(localStorage.getItem('deck.jobs') || '[]'); return Array.isArray(v) ? v : []; } catch (e) { return []; }
  }

  function backfillColumn(id) {
    const title = 'Backfills';
    const f = frame(id, title, 'running and recent');
    const list = el('ol', 'ranks');
    f.body.appendChild(list);
    const col = { id, title, el: f.section, close: f.close, msg: f.msg, body: f.body };

    function job(j) {
      const li = el('li', 'job');
      li.dataset.job = j.job_id;
      const head = el('div', 'job-head');
      head.append(el('span', 'job-id', j.job_id), el('span', `job-state ${j.state}`, String(j.state || '').replace(/_/g, ' ')));
      const c = j.counts || {};
      const finished = (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
      const pct = c.planned ? Math.min(100, Math.floor((100 * finished) / c.planned)) : 0;
      const track = el('div', 'track');
      track.setAttribute('role', 'progressbar');
      track.setAttribute('aria-valuenow', String(pct));
      track.setAttribute('aria-valuemin', '0');
      track.setAttribute('aria-valuemax', '100');
      const fill = el('div', 'fill');
      fill.style.width = `${pct}%`;
      track.appendChild(fill);
      let line = `${pct}%  ${finished}/${c.planned || 0} done · ${c.failed || 0} failed · ${c.retrying || 0} retrying`;
      if (j.rate_per_sec) line += ` · ${Number(j.rate_per_sec).toFixed(1)} tasks/s`;
      if (j.eta_s) line += ` · ${Math.round(j.eta_s)} s left`;
      li.append(head, track, el('div', 'job-line', line));
      return li;
    }

    async function load() {
      let jobs = [];
      let listErr = null;
      try {
        const body = await getJSON(api.backfills());
        jobs = Array.isArray(body) ? body : (body && body.jobs) || [];
      } catch (err) {
        listErr = err;
      }
      const seen = new Set(jobs.map((j) => j.job_id));
      const watched = watchedJobs().filter((j) => !seen.has(j));
      const extra = await Promise.all(watched.map((j) => getJSON(api.backfill(j)).catch(() => null)));
      jobs = jobs.concat(extra.filter(Boolean));
      if (listErr && !jobs.length) throw listErr;
      list.replaceChildren(...jobs.map(job));
      loaded(col, !jobs.length, 'No backfill jobs. Type a job id (bf-…) in the search box to watch one.');
    }
    return withRefresh(col, load);
  }

  // The health panel: the signals the production alerts watch, as the local stack reports them
  // (deck/health; absent where the deck has no health source).
  const DEAD_LETTER_ROWS = 8;

  function healthColumn(id) {
    const title = 'Health';
    const f = frame(id, title, 'what the alerts watch');
    const box = el('div', 'health');
    f.body.appendChild(box);
    const col = { id, title, el: f.section, close: f.close, msg: f.msg, body: f.body };

    function secs(s) {
      const n = Math.round(Number(s) || 0);
      return n < 120 ? `${n} s` : `${Math.round(n / 60)} min`;
    }
    function item(cls, text, bad) {
      const li = el('li', `hl ${cls}` + (bad ? ' bad' : ''), text);
      return li;
    }
    function part(name, items, empty) {
      const ol = el('ol', 'hl-list');
      ol.dataset.part = name;
      ol.append(...(items.length ? items : [item('none', empty)]));
      return [el('h3', 'hl-head', name), ol];
    }

    async function load() {
      const h = await getJSON(api.health());
      const mins = Math.round((h.window_s || 0) / 60);
      // Newest minute first, at most DEAD_LETTER_ROWS rows: a burst is at the top.
      const dls = (h.dead_letters || []).slice().reverse().slice(0, DEAD_LETTER_ROWS).map((d) => {
        const at = new Date(d.minute);
        const hhmm = isNaN(at) ? '' : at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
        const li = item('dl', '', true);
        li.dataset.reason = d.reason;
        li.dataset.count = String(d.count);
        li.append(el('span', 'hl-num', d.count), el('span', 'hl-min', hhmm), el('span', 'hl-reason', d.reason));
        return li;
      });
      const subs = (h.subscriptions || []).map((b) => {
        const name = String(b.subscription).split('/').pop();
        const li = item('sub', `${name}: ${b.at_least ? '≥' : ''}${b.unacked} unacked · oldest ${secs(b.oldest_unacked_age_s)}`, b.unacked > 0);
        li.dataset.sub = name;
        return li;
      });
      const st = h.stream;
      const stream = st ? [item('stream', st.state === 'idle' ? `idle for ${secs(st.idle_s)}` : st.state === 'held' ? 'reading (lease held)' : 'never run', st.state === 'idle')] : [];
      const jobs = (h.jobs || []).map((j) => item('hjob', `${j.job_id} · ${Number(j.rate_per_sec || 0).toFixed(1)} tasks/s`));
      const fns = (h.functions || []).map((fn) => {
        const li = item('fn', `${fn.function}: ${fn.requests} requests · ${fn.errors_5xx} 5xx`, fn.errors_5xx > 0);
        li.dataset.fn = fn.function;
        li.dataset.errors = String(fn.errors_5xx);
        return li;
      });
      box.replaceChildren(
        ...part(`Dead letters, last ${mins} min`, dls, 'None.'),
        ...part('Backlog', subs, 'No subscriptions.'),
        ...part('Stream', stream, 'No stream in this stack.'),
        ...part('Backfills running', jobs, 'None.'),
        ...part(`Functions, last ${mins} min`, fns, 'No requests.'));
      loaded(col, false, '');
    }
    return withRefresh(col, load);
  }

  // The first column's first paint, for the browser test's figure: two frames after its data
  // is in the DOM, the frame with it has been painted.
  function markPainted(col) {
    if (state.firstPaintMs !== null || columns[0] !== col) return;
    state.firstPaintMs = -1;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      state.firstPaintMs = performance.now();
      performance.mark('deck-first-column');
    }));
  }

  // ---- the search box and hashtag clicks ----

  document.getElementById('search').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = document.getElementById('search-input');
    const q = normQuery(input.value);
    let id;
    if (/^user:/i.test(q)) {
      const u = q.slice(5).trim();
      const bad = validUser(u);
      if (bad) { notice(bad, true); return; }
      id = `user:${u}`;
    } else if (/^bf-[A-Za-z0-9_-]+$/.test(q) && cfg.backfills) {
      const jobs = watchedJobs();
      if (!jobs.includes(q)) jobs.unshift(q);
      try { localStorage.setItem('deck.jobs', JSON.stringify(jobs.slice(0, 20))); } catch (e) { /* private mode */ }
      notice(`Watching backfill ${q}.`);
      const col = columns.find((c) => c.id === 'backfills') || addColumn('backfills', { save: true, reveal: true });
      if (col) col.refresh();
      input.value = '';
      return;
    } else {
      const bad = validQuery(q) || await checkQuery(q);
      if (bad) { notice(bad, true); return; }
      id = `q:${q}`;
    }
    notice('');
    input.value = '';
    if (window.deckTrack && id.startsWith('q:')) window.deckTrack('search', { query: q });
    addColumn(id, { save: true, reveal: true });
  });

  $columns.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a.tag');
    if (!a) return;
    ev.preventDefault();
    const q = `#${a.dataset.tag.toLowerCase()}`;
    if (validQuery(q)) { notice(validQuery(q), true); return; }
    notice('');
    addColumn(`q:${q}`, { save: true, reveal: true });
  });

  // ---- polling ----

  function tick() {
    if (document.visibilityState !== 'hidden') {
      for (const c of columns) c.refresh(false);
      const now = Date.now();
      for (const t of document.querySelectorAll('time.time')) {
        const s = relTime(t.dateTime, now);
        if (t.textContent !== s) t.textContent = s;
      }
    }
    setTimeout(tick, cfg.poll_ms);
  }

  // ---- the column switcher (shown on a phone, where one column fills the screen) ----

  const $switcher = document.getElementById('switcher');
  const $where = document.getElementById('switcher-where');
  // offset is where a column's left edge is from the columns' area's (its padding included).
  function offset(c) { return c.el.getBoundingClientRect().left - $columns.getBoundingClientRect().left; }
  // current is the index of the column nearest the left edge: the one on screen on a phone.
  function current() {
    let best = 0;
    columns.forEach((c, i) => { if (Math.abs(offset(c)) < Math.abs(offset(columns[best]))) best = i; });
    return best;
  }
  function showWhere() {
    if (!columns.length) { $where.textContent = 'No columns'; return; }
    const i = current();
    $where.textContent = `${columns[i].title} · ${i + 1} of ${columns.length}`;
    $switcher.dataset.index = String(i + 1);
    $switcher.dataset.count = String(columns.length);
  }
  function go(step) {
    if (!columns.length) return;
    const i = Math.max(0, Math.min(columns.length - 1, current() + step));
    const pad = parseFloat(getComputedStyle($columns).paddingLeft) || 0;
    $columns.scrollBy({ left: offset(columns[i]) - pad, behavior: 'instant' });
    showWhere();
  }
  document.getElementById('switcher-prev').addEventListener('click', () => go(-1));
  document.getElementById('switcher-next').addEventListener('click', () => go(1));
  $columns.addEventListener('scroll', showWhere, { passive: true });
  new MutationObserver(showWhere).observe($columns, { childList: true });
  state.go = go; // read by the browser test

  const tokenFor = takeToken();
  // account.js: signed in, the server's set wins over this browser's (the URL still wins);
  // with sign-in required and nobody signed in, nothing is asked for.
  window.deckAccount.ready.then((acct) => {
    state.account = acct;
    if (cfg.sign_in && !acct.signedIn) { notice('Sign in to read the deck.'); return; }
    cfg.backfills = cfg.backfills && acct.backfills;
    if (acct.columns && !new URLSearchParams(location.search).has('col')) {
      try { localStorage.setItem('deck.columns', JSON.stringify(acct.columns)); } catch (e) { /* private mode */ }
    }
    for (const id of loadIDs()) addColumn(id);
    if (tokenFor && validUser(tokenFor) === null) addColumn(`user:${tokenFor}`);
    save();
    setTimeout(tick, cfg.poll_ms);
  });
})();
