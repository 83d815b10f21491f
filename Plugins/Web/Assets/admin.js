'use strict';
/* The operator console at /admin: everything comes from /api/v1/admin/..., which refuses anyone but an
   administrator (the page then says so and shows nothing). The overview is polled every 2 s for the chart. */
(() => {
  const { api, el } = Parley;
  const $ = (id) => document.getElementById(id);
  const samples = [];          // {at, messages, deliveries}
  const MAX_SAMPLES = 60;      // 2 minutes at one sample every 2 s
  let pollTimer = null;
  let slowTick = 0;

  document.addEventListener('DOMContentLoaded', () => {
    Parley.wireAuthForms(() => start());
    Parley.onSignedOut((reason) => stop(reason));
    $('signout').addEventListener('click', () => Parley.signOut());
    $('user-search').addEventListener('submit', (event) => { event.preventDefault(); loadUsers(); });
    $('invite-button').addEventListener('click', createInvite);
    if (Parley.session) start(); else Parley.showAuth();
  });

  async function start() {
    $('auth-view').hidden = true;
    $('console-view').hidden = false;
    $('console-me').textContent = Parley.user ? Parley.user.username : '';
    try {
      await poll();
    } catch (error) {
      if (error.status === 403) { showForbidden(); return; }
      if (error.status === 401) return;
      $('console-error').textContent = error.message;
    }
    if (!Parley.session) return;
    $('console-main').hidden = false;
    await Promise.all([loadRoutes(), loadUsers(), loadRooms(), loadGroups(), loadErrors()].map(p => p.catch(report)));
    clearInterval(pollTimer);
    pollTimer = setInterval(() => poll().catch(report), 2000);
  }

  function stop(reason) {
    clearInterval(pollTimer);
    $('console-view').hidden = true;
    $('console-main').hidden = true;
    $('forbidden').hidden = true;
    Parley.showAuth(reason || null);
  }

  function showForbidden() {
    $('forbidden').hidden = false;
    $('console-main').hidden = true;
    clearInterval(pollTimer);
  }

  function report(error) {
    if (error && error.status === 403) { showForbidden(); return; }
    $('console-error').textContent = error ? error.message : '';
  }

  async function poll() {
    const res = await api.get('admin/overview');
    renderOverview(res.data);
    $('console-error').textContent = '';
    slowTick += 1;
    if (slowTick % 5 === 0) loadErrors().catch(report);
  }

  function duration(seconds) {
    const s = Math.floor(seconds || 0);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
  }

  function number(value, digits = 1) { return typeof value === 'number' ? value.toFixed(digits) : '–'; }

  function renderOverview(data) {
    $('stat-version').textContent = data.version || '–';
    $('stat-uptime').textContent = duration(data.uptimeSeconds);
    $('stat-storage').textContent = (data.storage && data.storage.driver) || '–';
    const connections = data.connections || {};
    $('stat-connections').textContent = String(connections.total ?? 0);
    const by = connections.byTransport || {};
    $('stat-transports').textContent = Object.keys(by).length ? Object.entries(by).map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
    $('stat-transports').dataset.ws = String(by.ws || 0);
    const rates = data.rates || {};
    // Messages sent per second (older servers name them broadcasts, or list them under perSecond).
    const messages = rates.messagesPerSecond ?? (rates.perSecond || {}).messages ?? rates.broadcastsPerSecond ?? 0;
    const deliveries = rates.deliveriesPerSecond ?? 0;
    $('stat-mps').textContent = number(messages);
    $('stat-dps').textContent = number(deliveries);
    const latency = rates.deliveryLatencyMs || {};
    $('stat-latency').textContent = `${number(latency.p50)} / ${number(latency.p99)} ms`;
    samples.push({ messages, deliveries });
    while (samples.length > MAX_SAMPLES) samples.shift();
    drawChart();
    const kernel = data.kernel ? [{ id: 'kernel', enabled: true, requires: [], config: data.kernel }] : [];
    renderModules(kernel.concat(data.modules || []));
  }

  /* A two-line chart drawn on the canvas: no library. Scales to the largest value shown. */
  function drawChart() {
    const canvas = $('chart');
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 800, height = canvas.clientHeight || 180;
    if (canvas.width !== Math.round(width * ratio)) { canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio); }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const pad = { left: 36, right: 8, top: 10, bottom: 18 };
    const max = Math.max(1, ...samples.map(s => Math.max(s.messages, s.deliveries)));
    const x = (i) => pad.left + (width - pad.left - pad.right) * (i / (MAX_SAMPLES - 1));
    const y = (v) => height - pad.bottom - (height - pad.top - pad.bottom) * (v / max);
    ctx.strokeStyle = '#d5dae3'; ctx.fillStyle = '#535c6e'; ctx.font = '11px system-ui, sans-serif'; ctx.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const value = max * fraction;
      ctx.beginPath(); ctx.moveTo(pad.left, y(value)); ctx.lineTo(width - pad.right, y(value)); ctx.stroke();
      ctx.fillText(value >= 10 ? value.toFixed(0) : value.toFixed(1), 4, y(value) + 4);
    }
    const offset = MAX_SAMPLES - samples.length;
    for (const [key, color] of [['messages', '#2447b8'], ['deliveries', '#17703a']]) {
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
      samples.forEach((sample, i) => { const px = x(offset + i), py = y(sample[key]); if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py); });
      ctx.stroke();
    }
  }

  let modulesShown = '';
  function renderModules(modules) {
    const text = JSON.stringify(modules);
    if (text === modulesShown) return;
    modulesShown = text;
    $('module-list').replaceChildren(...modules.map(module => el('div', { class: 'module', 'data-module': module.id },
      el('h3', {}, `${module.id} `, el('small', { text: module.enabled === false ? '(off)' : '(on)' })),
      module.requires && module.requires.length ? el('p', { text: `requires ${module.requires.join(', ')}` }) : null,
      module.config ? el('pre', { class: 'module-config', text: JSON.stringify(module.config, null, 2) }) : null)));
  }

  async function loadRoutes() {
    const res = await api.get('admin/routes');
    $('route-rows').replaceChildren(...(res.data || []).map(route => el('tr', {},
      el('td', { text: route.listener }), el('td', { text: route.method }), el('td', { text: route.path }), el('td', { text: route.owner }))));
  }

  async function loadErrors() {
    const res = await api.get('admin/errors?limit=50');
    const rows = (res.data || []).map(entry => el('tr', {},
      el('td', {}, el('time', { datetime: entry.at, text: new Date(entry.at).toLocaleString() })),
      el('td', { text: entry.level }),
      el('td', { text: [entry.status, entry.method, entry.path, entry.message].filter(Boolean).join(' ') }),
      el('td', { text: entry.requestId || entry.source || '' })));
    $('error-rows').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 4, text: 'Nothing recorded.' }))]));
  }

  async function loadUsers() {
    const query = $('user-query').value.trim();
    const res = await api.get(`admin/users?limit=50${query ? `&query=${encodeURIComponent(query)}` : ''}`);
    $('user-rows').replaceChildren(...(res.data || []).map(user => el('tr', { 'data-user': user.id, 'data-username': user.username },
      el('td', { text: user.username }), el('td', { text: user.email }), el('td', { class: 'role', text: user.role }),
      el('td', { class: 'state', text: user.deactivated ? 'deactivated' : (user.isOnline ? 'online' : 'offline') }),
      el('td', {},
        el('button', { type: 'button', class: 'role-toggle', 'aria-label': `${user.role === 'ADMIN' ? 'Remove admin from' : 'Make admin'} ${user.username}`,
                       onclick: () => act(() => api.put(`admin/users/${user.id}/role`, { role: user.role === 'ADMIN' ? 'USER' : 'ADMIN' }), loadUsers) },
                   user.role === 'ADMIN' ? 'Make user' : 'Make admin'), ' ',
        el('button', { type: 'button', class: user.deactivated ? 'reactivate' : 'deactivate danger',
                       'aria-label': `${user.deactivated ? 'Reactivate' : 'Deactivate'} ${user.username}`,
                       onclick: () => act(() => api.post(`admin/users/${user.id}/${user.deactivated ? 'reactivate' : 'deactivate'}`), loadUsers) },
                   user.deactivated ? 'Reactivate' : 'Deactivate')))));
  }

  async function loadRooms() {
    const res = await api.get('admin/rooms?limit=100');
    $('room-rows').replaceChildren(...(res.data || []).map(room => el('tr', { 'data-room': room.id },
      el('td', { text: room.name }), el('td', { text: String(room.memberCount ?? '') }), el('td', { text: room.createdAt || '' }),
      el('td', {}, confirmButton(`Delete room ${room.name}`, () => act(() => api.del(`admin/rooms/${room.id}`), loadRooms))))));
  }

  async function loadGroups() {
    const res = await api.get('admin/groups?limit=100');
    $('group-rows').replaceChildren(...(res.data || []).map(group => el('tr', { 'data-group': group.id },
      el('td', { text: group.title || group.name }), el('td', { text: group.type || '' }), el('td', { text: String(group.memberCount ?? '') }),
      el('td', {}, confirmButton(`Delete group ${group.title || group.name}`, () => act(() => api.del(`admin/groups/${group.id}`), loadGroups))))));
  }

  /* Deleting asks twice, in place (no modal dialog): the first press arms the button for 5 s. */
  function confirmButton(label, action) {
    const button = el('button', { type: 'button', class: 'danger', 'aria-label': label }, 'Delete');
    let armed = null;
    button.addEventListener('click', () => {
      if (armed) { clearTimeout(armed); armed = null; action(); return; }
      button.textContent = 'Really delete?';
      armed = setTimeout(() => { armed = null; button.textContent = 'Delete'; }, 5000);
    });
    return button;
  }

  async function act(call, reload) {
    try { await call(); await reload(); $('console-error').textContent = ''; } catch (error) { report(error); }
  }

  async function createInvite() {
    try {
      const res = await api.post('admin/invites', {});
      $('invite-output').textContent = `Invite code ${res.data.code} (until ${new Date(res.data.expiresAt).toLocaleString()})`;
    } catch (error) { report(error); }
  }
})();
