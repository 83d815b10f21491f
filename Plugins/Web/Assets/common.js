'use strict';
/* Shared by the chat app and the console: the session (tokens in sessionStorage, one per tab, so two tabs never
   race to rotate one refresh token), REST calls in document 001's envelope with one refresh on 401, and the
   sign-in / sign-up forms. Plain DOM, no framework, nothing fetched from elsewhere. */
const Parley = (() => {
  const KEY = 'parley.session';
  let session = null;
  try { session = JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (_) { session = null; }
  let refreshing = null;
  const signedOutHandlers = [];

  function save(next) {
    session = next;
    if (next) sessionStorage.setItem(KEY, JSON.stringify(next)); else sessionStorage.removeItem(KEY);
  }

  class APIError extends Error {
    constructor(status, body) {
      const message = (body && body.message) || `HTTP ${status}`;
      const fields = body && Array.isArray(body.errors) ? body.errors.map(e => (e.field ? `${e.field}: ` : '') + e.message) : [];
      super(fields.length ? `${message} (${fields.join('; ')})` : message);
      this.status = status;
      this.code = body && body.code;
      this.body = body;
    }
  }

  async function refresh() {
    if (!session || !session.refreshToken) return false;
    if (!refreshing) {
      refreshing = (async () => {
        try {
          const res = await fetch('/api/v1/auth/refresh', {
            method: 'POST', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ refreshToken: session.refreshToken }),
          });
          if (!res.ok) return false;
          const body = await res.json();
          save({ ...session, accessToken: body.data.accessToken, refreshToken: body.data.refreshToken });
          return true;
        } catch (_) {
          return null;  // the network, not the session: keep the tokens
        } finally {
          setTimeout(() => { refreshing = null; }, 0);
        }
      })();
    }
    return refreshing;
  }

  /* `body` is JSON unless it is FormData. Returns the whole envelope; throws APIError. */
  async function request(method, path, body, { retry = true } = {}) {
    const headers = {};
    if (session) headers.Authorization = `Bearer ${session.accessToken}`;
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
    const res = await fetch(path.startsWith('/') ? path : `/api/v1/${path}`, { method, headers, body: payload });
    if (res.status === 401 && session && retry && !path.includes('auth/login')) {
      const ok = await refresh();
      if (ok) return request(method, path, body, { retry: false });
      if (ok === false) { signOutLocally('Your session has ended. Please sign in again.'); }
    }
    let json = null;
    const text = await res.text();
    if (text) { try { json = JSON.parse(text); } catch (_) { json = null; } }
    if (!res.ok) throw new APIError(res.status, json);
    return json || {};
  }

  const api = {
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body === undefined ? {} : body),
    put: (path, body) => request('PUT', path, body),
    patch: (path, body) => request('PATCH', path, body),
    del: (path) => request('DELETE', path),
    request,
  };

  async function signIn(identifier, password) {
    const field = identifier.includes('@') ? 'email' : 'username';
    const res = await request('POST', 'auth/login', { [field]: identifier.trim(), password }, { retry: false });
    save({ accessToken: res.data.accessToken, refreshToken: res.data.refreshToken, user: res.data.user });
    return res.data.user;
  }

  async function signUp(username, email, password, inviteCode) {
    const body = { username: username.trim(), email: email.trim(), password };
    if (inviteCode && inviteCode.trim()) body.inviteCode = inviteCode.trim();
    await request('POST', 'auth/register', body, { retry: false });
    return signIn(email, password);
  }

  function signOutLocally(reason) {
    const was = session;
    save(null);
    if (was) signedOutHandlers.forEach(handler => handler(reason));
  }

  async function signOut() {
    try { if (session) await request('POST', 'auth/logout', {}, { retry: false }); } catch (_) { /* signed out anyway */ }
    signOutLocally(null);
  }

  /* Builds an element: el('li', {class: 'x', onclick: fn, 'aria-label': '...'}, child, 'text', ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /* Wires the sign-in and sign-up forms of a page; `done(user)` runs after a successful sign-in. */
  function wireAuthForms(done) {
    const $ = (id) => document.getElementById(id);
    const signin = $('signin-form'), signup = $('signup-form');
    $('show-signup').addEventListener('click', () => { signin.hidden = true; signup.hidden = false; $('signup-username').focus(); });
    $('show-signin').addEventListener('click', () => { signup.hidden = true; signin.hidden = false; $('signin-identifier').focus(); });
    signin.addEventListener('submit', async (event) => {
      event.preventDefault();
      $('signin-error').textContent = '';
      try {
        const user = await signIn($('signin-identifier').value, $('signin-password').value);
        $('signin-password').value = '';
        done(user);
      } catch (error) { $('signin-error').textContent = error.message; }
    });
    signup.addEventListener('submit', async (event) => {
      event.preventDefault();
      $('signup-error').textContent = '';
      try {
        const user = await signUp($('signup-username').value, $('signup-email').value, $('signup-password').value, $('signup-invite').value);
        $('signup-password').value = '';
        done(user);
      } catch (error) { $('signup-error').textContent = error.message; }
    });
  }

  function showAuth(notice) {
    const $ = (id) => document.getElementById(id);
    $('auth-view').hidden = false;
    $('auth-notice').hidden = !notice;
    $('auth-notice').textContent = notice || '';
    $('signup-form').hidden = true;
    $('signin-form').hidden = false;
    $('signin-identifier').focus();
  }

  /* A random id for each send (README "Idempotent sends"): kept with the pending message, reused on resend. */
  function clientID() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
  }

  return {
    api, APIError, signIn, signUp, signOut, signOutLocally, el, wireAuthForms, showAuth, clientID, refresh,
    get session() { return session; },
    get user() { return session && session.user; },
    setUser(user) { if (session) save({ ...session, user }); },
    onSignedOut(handler) { signedOutHandlers.push(handler); },
  };
})();
