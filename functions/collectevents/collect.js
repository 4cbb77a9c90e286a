/* collect.js: sends a page's events to CollectEvents. No dependencies, no cookies unless the
 * page opts in (data-cookies="on"). Load it with the app's write key:
 *   <script src="https://COLLECT_URL/collect.js" data-key="wk_..." defer></script>
 * then call collect.track(kind, fields). Events are queued, sent in batches with fetch
 * (keepalive, text/plain so no preflight), retried with backoff, and sent with sendBeacon when
 * the page is hidden or left. Each event carries an id, so a resend is dropped as a duplicate. */
(function () {
  'use strict';
  if (window.collect && window.collect.track) return;
  var me = document.currentScript;
  var opt = (me && me.dataset) || {};
  var key = opt.key || '';
  var base = me && me.src ? me.src.replace(/collect\.js(\?.*)?$/, '') : '';
  var url = (opt.endpoint || base) + '?key=' + encodeURIComponent(key);
  var flushMs = +opt.flushMs || 2000;
  var MAX_EVENTS = 100;     // events per request
  var MAX_BYTES = 60000;    // under the 64 KiB a browser lets keepalive and beacon bodies hold
  var MAX_QUEUE = 1000;     // events kept while the endpoint is unreachable; older ones are dropped
  var MAX_TRIES = 8;
  var queue = [];
  var timer = 0;
  var tries = 0;
  var stopped = '';
  var user = '';
  var session = rid();

  if (opt.cookies === 'on') {
    var m = document.cookie.match(/(?:^|; )_collect_uid=([A-Za-z0-9_-]+)/);
    session = m ? m[1] : session;
    document.cookie = '_collect_uid=' + session + '; Max-Age=31536000; Path=/; SameSite=Lax';
  }

  function rid() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  function track(kind, fields) {
    if (stopped) return false;
    var ev = { id: rid(), kind: kind, time: new Date().toISOString(), session_id: session };
    if (user) ev.user_id = user;
    for (var k in fields || {}) if (Object.prototype.hasOwnProperty.call(fields, k)) ev[k] = fields[k];
    queue.push(ev);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    schedule(queue.length >= MAX_EVENTS ? 0 : flushMs);
    return true;
  }

  function schedule(ms) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = 0; flush(); }, ms);
  }

  // take removes and returns the next batch: at most MAX_EVENTS events and MAX_BYTES bytes.
  function take() {
    var n = Math.min(queue.length, MAX_EVENTS), body;
    for (;;) {
      body = JSON.stringify(queue.slice(0, n));
      if (n === 1 || new Blob([body]).size <= MAX_BYTES) break;
      n = Math.ceil(n / 2);
    }
    return { events: queue.splice(0, n), body: body };
  }

  function retry(events, ms) {
    queue = events.concat(queue);
    tries++;
    if (tries > MAX_TRIES) { queue.splice(0, events.length); tries = 0; return; }
    schedule(ms || Math.min(60000, 1000 * Math.pow(2, tries - 1)) * (0.5 + Math.random() / 2));
  }

  function flush() {
    if (stopped || !queue.length) return Promise.resolve();
    var b = take();
    return fetch(url, { method: 'POST', body: b.body, keepalive: true, credentials: 'omit',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' } }).then(function (r) {
      if (r.status === 429) { retry(b.events, 1000 * (+r.headers.get('Retry-After') || 1)); return; }
      if (r.status === 503) {
        // Some events failed to publish: the answer says which; send those again.
        return r.json().then(function (j) {
          retry((j.results || []).filter(function (x) { return x.status === 'failed'; })
            .map(function (x) { return b.events[x.index]; }));
        }, function () { retry(b.events); });
      }
      if (r.status >= 500) { retry(b.events); return; }
      if (r.status === 401 || r.status === 403) {
        stopped = 'refused: ' + r.status;
        queue = [];
      }
      if (r.status >= 400) {
        r.text().then(function (t) { console.warn('collect.js: events refused (' + r.status + '): ' + t); });
      }
      tries = 0;
      if (queue.length) schedule(0);
    }, function () { retry(b.events); });
  }

  // beacon sends everything queued: the page may be gone before a fetch's answer comes.
  function beacon() {
    if (timer) { clearTimeout(timer); timer = 0; }
    while (queue.length && !stopped) {
      var b = take();
      if (!(navigator.sendBeacon && navigator.sendBeacon(url, b.body))) {
        fetch(url, { method: 'POST', body: b.body, keepalive: true, credentials: 'omit',
          headers: { 'Content-Type': 'text/plain;charset=UTF-8' } }).catch(function () {});
      }
    }
  }

  addEventListener('pagehide', beacon);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') beacon();
  });

  window.collect = {
    track: track,
    flush: flush,
    // setUser sets the user_id of the events tracked from now on ('' for none).
    setUser: function (id) { user = String(id || ''); },
    status: function () { return { queued: queue.length, stopped: stopped }; }
  };
})();
