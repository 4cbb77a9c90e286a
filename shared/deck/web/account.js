// The deck's sign-in and the signed-in person's column sets (docs/sign-in.md). Identity
// Platform's REST endpoints, not the Firebase JS SDK, so the page stays without a bundler:
// accounts:createAuthUri sends the browser to Google, accounts:signInWithIdp turns its answer
// into an ID token (https://cloud.google.com/identity-platform/docs/reference/rest/v1/accounts),
// securetoken's token endpoint refreshes it. Locally the same endpoints are the Auth emulator's.
// deck.js waits for window.deckAccount.ready, sends headers() with every request and calls
// saved(ids) when the columns change.
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('deck-config').textContent);
  const si = cfg.sign_in;
  const base = cfg.api_base || '.';
  const none = { ready: Promise.resolve({ signedIn: false, columns: null, backfills: true }), headers: async () => ({}), saved: () => {} };
  if (!si) { window.deckAccount = none; return; }

  const emu = si.emulator || '';
  const idt = `${emu || 'https://identitytoolkit.googleapis.com'}/${emu ? 'identitytoolkit.googleapis.com/' : ''}v1`;
  const sts = `${emu || 'https://securetoken.googleapis.com'}/${emu ? 'securetoken.googleapis.com/' : ''}v1`;
  const key = encodeURIComponent(si.api_key);
  const SET = 'main'; // the set the deck's columns are saved as
  const state = { session: null, me: null };
  window.deckAccountState = state; // read by the browser test

  function readSession() {
    try { const s = JSON.parse(localStorage.getItem('deck.session') || 'null'); return s && s.idToken ? s : null; } catch (e) { return null; }
  }
  function keep(s) {
    state.session = s;
    try { if (s) localStorage.setItem('deck.session', JSON.stringify(s)); else localStorage.removeItem('deck.session'); } catch (e) { /* private mode */ }
  }
  function fromSignIn(r) {
    return { idToken: r.idToken, refreshToken: r.refreshToken, uid: r.localId, email: r.email || '',
      expiresAt: Date.now() + Number(r.expiresIn || 3600) * 1000 };
  }

  async function post(url, body, form) {
    const resp = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form ? new URLSearchParams(body).toString() : JSON.stringify(body),
    });
    const j = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error((j.error && j.error.message) || `HTTP ${resp.status}`);
    return j;
  }

  // The ID token, refreshed a minute before it expires (they last an hour).
  async function idToken() {
    const s = state.session;
    if (!s) return null;
    if (s.expiresAt - 60000 > Date.now()) return s.idToken;
    try {
      const r = await post(`${sts}/token?key=${key}`, { grant_type: 'refresh_token', refresh_token: s.refreshToken }, true);
      keep(Object.assign({}, s, { idToken: r.id_token, refreshToken: r.refresh_token, expiresAt: Date.now() + Number(r.expires_in) * 1000 }));
      return state.session.idToken;
    } catch (e) {
      keep(null);
      return null;
    }
  }

  async function headers() {
    const t = await idToken();
    return t ? { Authorization: `Bearer ${t}` } : {};
  }

  // Google sign-in: to Google (or the emulator's chooser) and back to this page.
  async function signInWithGoogle() {
    const r = await post(`${idt}/accounts:createAuthUri?key=${key}`, {
      providerId: 'google.com', continueUri: location.origin + location.pathname,
    });
    try { sessionStorage.setItem('deck.authSession', r.sessionId); } catch (e) { /* private mode */ }
    location.assign(r.authUri);
  }

  // Back from Google: the URL carries its answer, which signInWithIdp checks.
  async function finishRedirect() {
    let sessionId = null;
    try { sessionId = sessionStorage.getItem('deck.authSession'); sessionStorage.removeItem('deck.authSession'); } catch (e) { /* private mode */ }
    if (!sessionId || !/[?&#](code|id_token|state)=/.test(location.href)) return;
    const r = await post(`${idt}/accounts:signInWithIdp?key=${key}`, {
      requestUri: location.href, sessionId, returnSecureToken: true, returnIdpCredential: true,
    });
    keep(fromSignIn(r));
    history.replaceState(null, '', location.pathname);
  }

  // The emulator only: a Google account made up on the spot (its signInWithIdp takes unsigned
  // claims), as its own sign-in page does.
  async function signInAs(email) {
    const claims = { sub: `google-${email}`, email, email_verified: true };
    const r = await post(`${idt}/accounts:signInWithIdp?key=${key}`, {
      requestUri: location.origin, postBody: `id_token=${encodeURIComponent(JSON.stringify(claims))}&providerId=google.com`,
      returnSecureToken: true, returnIdpCredential: true,
    });
    keep(fromSignIn(r));
  }

  async function api(path, init) {
    const h = Object.assign({ Accept: 'application/json' }, await headers(), (init && init.headers) || {});
    const resp = await fetch(`${base}/${path}`, Object.assign({}, init || {}, { headers: h, cache: 'no-store' }));
    const j = await resp.json().catch(() => null);
    if (!resp.ok) throw new Error((j && j.error) || `HTTP ${resp.status}`);
    return j;
  }

  let pending = null;
  function saved(ids) {
    if (!state.session) return;
    clearTimeout(pending);
    // One PUT for a burst of changes.
    pending = setTimeout(() => {
      api(`column_sets/${encodeURIComponent(SET)}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ columns: ids }) })
        .then(() => { state.savedAt = Date.now(); state.savedColumns = ids; }, (e) => { state.saveError = String(e.message); });
    }, 300);
  }

  function bar() {
    const box = document.getElementById('account');
    if (!box) return;
    box.textContent = '';
    const b = (text, id, fn) => {
      const e = document.createElement('button');
      e.type = 'button'; e.id = id; e.textContent = text;
      e.addEventListener('click', () => fn().catch((err) => { box.dataset.error = err.message; }));
      box.appendChild(e);
    };
    if (state.session) {
      const who = document.createElement('span');
      who.className = 'who'; who.id = 'account-who';
      who.textContent = state.session.email || state.session.uid;
      box.appendChild(who);
      b('Sign out', 'sign-out', async () => { keep(null); location.reload(); });
      return;
    }
    b('Sign in with Google', 'sign-in', signInWithGoogle);
    if (emu) {
      const email = document.createElement('input');
      email.id = 'sign-in-email'; email.type = 'email'; email.value = 'demo@example.com';
      email.setAttribute('aria-label', 'Emulator account email');
      box.appendChild(email);
      b('Sign in (emulator)', 'sign-in-emulator', async () => { await signInAs(email.value); location.reload(); });
    }
  }

  async function start() {
    state.session = readSession();
    try { await finishRedirect(); } catch (e) { state.error = String(e.message); }
    bar();
    if (!state.session || !(await idToken())) return { signedIn: false, columns: null, backfills: false };
    try {
      state.me = await api('me');
      const sets = await api('column_sets');
      const main = (sets.sets || []).find((s) => s.name === SET);
      return { signedIn: true, columns: main ? main.columns : null, backfills: !!state.me.backfills };
    } catch (e) {
      state.error = String(e.message);
      return { signedIn: true, columns: null, backfills: false };
    }
  }

  window.deckAccount = { ready: start(), headers, saved };
})();
