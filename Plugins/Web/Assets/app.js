'use strict';
/* The chat app at `/`: sidebar (rooms, groups, direct), history with infinite scroll on the cursor API, live
   events over /ws, catch-up with GET /api/v1/sync after a reconnect. Messages are kept per channel by id
   (upserts), so whatever arrives twice (live and from the sync, or a resend) is shown once. */
(() => {
  const { api, el } = Parley;
  const $ = (id) => document.getElementById(id);
  const RANK = { SENT: 1, DELIVERED: 2, SEEN: 3 };
  const QUICK_REACTIONS = ['👍', '❤️', '😂'];

  const state = {
    features: { groups: false, direct: false, files: false, calls: false, sync: null },
    channels: new Map(),      // channelId -> {id, kind, name, unread, isMember, otherUserId}
    histories: new Map(),     // channelId -> {byId: Map, nextCursor, complete, loaded}
    current: null,
    users: new Map(),         // userId -> {username, isOnline}
    pending: new Map(),       // clientMessageId -> {channelId, data}
    typing: new Map(),        // channelId -> Map(userId -> timer)
    syncCursor: null,
    socket: null, socketOpen: false, backoff: 0, reconnectTimer: null, acks: new Map(), nextAck: 1,
    compose: { mode: null, messageId: null },
    typingSentAt: 0, typingStopTimer: null,
    fileURLs: new Map(),
    started: false,
  };

  // ---------------------------------------------------------------- boot and session

  document.addEventListener('DOMContentLoaded', () => {
    Parley.wireAuthForms(() => start());
    Parley.onSignedOut((reason) => stop(reason));
    wireUI();
    if (Parley.session) start(); else Parley.showAuth();
  });

  async function start() {
    if (state.started) return;
    state.started = true;
    $('auth-view').hidden = true;
    $('chat-view').hidden = false;
    try {
      const me = await api.get('auth/me');
      Parley.setUser(me.data);
    } catch (error) {
      if (error.status === 401) return;  // signed out by the client
    }
    const user = Parley.user;
    if (!user) return;
    rememberUser(user.id, user.username, true);
    $('me').textContent = user.username;
    $('console-link').hidden = user.role !== 'ADMIN';
    await detectFeatures();
    // The cursor first: whatever changes while the lists load is replayed by the next sync (upserts, so twice is fine).
    await freshSyncCursor();
    await loadSidebar();
    connect();
  }

  function stop(reason) {
    state.started = false;
    if (state.socket) { const socket = state.socket; state.socket = null; socket.close(); }
    clearTimeout(state.reconnectTimer);
    state.channels.clear(); state.histories.clear(); state.pending.clear(); state.typing.clear(); state.current = null;
    for (const url of state.fileURLs.values()) url.then(u => u && URL.revokeObjectURL(u));
    state.fileURLs.clear();
    $('messages').replaceChildren(); $('room-list').replaceChildren(); $('group-list').replaceChildren(); $('direct-list').replaceChildren();
    $('chat-view').hidden = true;
    Parley.showAuth(reason || null);
  }

  /* Which modules are on: their routes are in this deployment's OpenAPI document. */
  async function detectFeatures() {
    try {
      const doc = await (await fetch('/api/openapi.json')).json();
      const paths = doc.paths || {};
      state.features.groups = !!paths['/api/v1/groups'];
      state.features.direct = !!paths['/api/v1/conversations'];
      state.features.files = !!paths['/api/v1/files'];
      state.features.calls = !!paths['/api/v1/calls'];
      state.features.sync = !!paths['/api/v1/sync'];
    } catch (_) { /* keep the defaults: rooms only */ }
    $('groups-section').hidden = !state.features.groups;
    $('direct-section').hidden = !state.features.direct;
    $('attach-button').hidden = !state.features.files;
  }

  // ---------------------------------------------------------------- sidebar

  let sidebarGeneration = 0;

  /* The three lists with their unread counts. Only the newest call's answer is applied (an older one may be stale). */
  async function loadSidebar() {
    const generation = ++sidebarGeneration;
    const lists = [api.get('rooms?limit=100')];
    lists.push(state.features.groups ? api.get('groups?limit=100') : Promise.resolve(null));
    lists.push(state.features.direct ? api.get('conversations?limit=100') : Promise.resolve(null));
    try {
      const [rooms, groups, conversations] = await Promise.all(lists);
      if (generation !== sidebarGeneration) return;
      const seen = new Set();
      for (const room of rooms.data || []) {
        if (!room.isMember) continue;
        upsertChannel({ id: room.id, kind: 'room', name: room.name, unread: room.unreadCount || 0, isMember: true });
        seen.add(room.id);
      }
      for (const group of (groups && groups.data) || []) {
        upsertChannel({ id: group.id, kind: 'group', name: group.title, unread: group.unreadCount || 0, isMember: true });
        seen.add(group.id);
      }
      for (const conversation of (conversations && conversations.data) || []) {
        const other = (conversation.participants || []).find(p => p.id !== Parley.user.id) || (conversation.participants || [])[0];
        if (other) rememberUser(other.id, other.username, other.isOnline);
        upsertChannel({ id: conversation.id, kind: 'direct', name: other ? other.username : 'Notes', unread: conversation.unreadCount || 0,
                        isMember: true, otherUserId: other && other.id });
        seen.add(conversation.id);
      }
      for (const id of [...state.channels.keys()]) if (!seen.has(id)) state.channels.delete(id);
      if (state.current && !state.channels.has(state.current)) { state.current = null; renderChannel(); }
      renderSidebar();
      $('sidebar-error').textContent = '';
    } catch (error) {
      $('sidebar-error').textContent = `Could not load conversations: ${error.message}`;
    }
  }

  function upsertChannel(channel) {
    const existing = state.channels.get(channel.id);
    state.channels.set(channel.id, { ...(existing || {}), ...channel });
    // The open channel is read as it is shown.
    if (channel.id === state.current && document.visibilityState === 'visible') state.channels.get(channel.id).unread = 0;
  }

  function renderSidebar() {
    const lists = { room: $('room-list'), group: $('group-list'), direct: $('direct-list') };
    for (const list of Object.values(lists)) list.replaceChildren();
    const sorted = [...state.channels.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const channel of sorted) {
      const label = channel.kind === 'direct' ? channel.name : (channel.kind === 'room' ? '# ' : '') + channel.name;
      const online = channel.otherUserId && (state.users.get(channel.otherUserId) || {}).isOnline;
      const button = el('button', {
        type: 'button', class: 'channel', 'data-channel': channel.id, 'data-kind': channel.kind,
        'aria-current': channel.id === state.current ? 'true' : 'false', onclick: () => openChannel(channel.id),
      },
      channel.kind === 'direct' ? el('span', { class: `dot${online ? ' online' : ''}`, 'data-user': channel.otherUserId,
                                                'aria-label': online ? 'online' : 'offline', role: 'img' }) : null,
      el('span', { class: 'name', text: label }),
      channel.unread > 0 ? el('span', { class: 'badge', 'data-count': channel.unread }, String(channel.unread),
                              el('span', { class: 'visually-hidden', text: ' unread' })) : null);
      lists[channel.kind].append(el('li', {}, button));
    }
  }

  async function browseRooms() {
    const list = $('room-browser');
    if (!list.hidden) { list.hidden = true; return; }
    list.hidden = false;
    list.replaceChildren(el('li', { text: 'Loading…' }));
    try {
      const rooms = await api.get('rooms?limit=100');
      list.replaceChildren();
      for (const room of rooms.data || []) {
        list.append(el('li', { 'data-room': room.id },
          el('span', { text: `# ${room.name} (${room.memberCount})` }),
          room.isMember ? el('span', { text: 'joined' })
            : el('button', { type: 'button', 'aria-label': `Join ${room.name}`, onclick: () => joinRoom(room.id) }, 'Join')));
      }
      if (!(rooms.data || []).length) list.append(el('li', { text: 'No rooms yet: create one.' }));
    } catch (error) { list.replaceChildren(el('li', { text: error.message })); }
  }

  async function joinRoom(roomID) {
    try {
      const res = await api.post(`rooms/${roomID}/join`);
      upsertChannel({ id: roomID, kind: 'room', name: res.data.name, unread: 0, isMember: true });
      $('room-browser').hidden = true;
      renderSidebar();
      openChannel(roomID);
    } catch (error) { $('sidebar-error').textContent = error.message; }
  }

  async function createRoom(event) {
    event.preventDefault();
    const name = $('room-name').value.trim();
    if (!name) { $('sidebar-error').textContent = 'Give the room a name.'; $('room-name').focus(); return; }
    try {
      const res = await api.post('rooms', { name });
      $('room-name').value = '';
      upsertChannel({ id: res.data.id, kind: 'room', name: res.data.name, unread: 0, isMember: true });
      renderSidebar();
      openChannel(res.data.id);
    } catch (error) { $('sidebar-error').textContent = error.message; }
  }

  async function createGroup(event) {
    event.preventDefault();
    const title = $('group-name').value.trim();
    if (!title) { $('sidebar-error').textContent = 'Give the group a name.'; $('group-name').focus(); return; }
    try {
      const res = await api.post('groups', { title });
      $('group-name').value = '';
      upsertChannel({ id: res.data.id, kind: 'group', name: res.data.title, unread: 0, isMember: true });
      renderSidebar();
      openChannel(res.data.id);
    } catch (error) { $('sidebar-error').textContent = error.message; }
  }

  async function startDirect(event) {
    event.preventDefault();
    const who = $('direct-who').value.trim();
    if (!who) { $('sidebar-error').textContent = 'Type an e-mail or a username.'; $('direct-who').focus(); return; }
    try {
      let body;
      if (who.includes('@')) body = { email: who };
      else body = { userId: (await findUser(who)).id };
      const res = await api.post('conversations', body);
      const conversation = res.data;
      const other = (conversation.participants || []).find(p => p.id !== Parley.user.id) || conversation.participants[0];
      rememberUser(other.id, other.username, other.isOnline);
      upsertChannel({ id: conversation.id, kind: 'direct', name: other.username, unread: conversation.unreadCount || 0,
                      isMember: true, otherUserId: other.id });
      $('direct-who').value = '';
      renderSidebar();
      openChannel(conversation.id);
    } catch (error) { $('sidebar-error').textContent = error.message; }
  }

  /* The user an e-mail or a username names (the users search covers both). */
  async function findUser(who) {
    const found = await api.get(`users?query=${encodeURIComponent(who)}&limit=20`);
    const wanted = who.toLowerCase();
    const user = (found.data || []).find(u => u.username.toLowerCase() === wanted || (u.email || '').toLowerCase() === wanted);
    if (!user) throw new Error(`Nobody is called ${who}`);
    return user;
  }

  async function addMember(event) {
    event.preventDefault();
    const channel = state.channels.get(state.current);
    const who = $('member-who').value.trim();
    if (!channel || channel.kind !== 'group' || !who) return;
    try {
      const user = await findUser(who);
      await api.post(`groups/${channel.id}/members`, { userId: user.id });
      $('member-who').value = '';
      $('composer-error').textContent = `${user.username} was added to ${channel.name}.`;
    } catch (error) { $('composer-error').textContent = error.message; }
  }

  // ---------------------------------------------------------------- users and presence

  function rememberUser(id, username, isOnline) {
    const known = state.users.get(id) || {};
    state.users.set(id, { username: username || known.username, isOnline: isOnline === undefined ? known.isOnline : isOnline });
  }

  const lookups = new Map();
  function lookupUser(id) {
    if (state.users.has(id) && state.users.get(id).username) return Promise.resolve(state.users.get(id));
    if (!lookups.has(id)) {
      lookups.set(id, api.get(`users/${id}`).then(res => {
        rememberUser(id, res.data.username, res.data.isOnline);
        refreshUserViews(id);
        return state.users.get(id);
      }).catch(() => { rememberUser(id, 'someone'); return state.users.get(id); }));
    }
    return lookups.get(id);
  }

  function setPresence(userId, online) {
    rememberUser(userId, undefined, online);
    refreshUserViews(userId);
    renderSidebar();
  }

  function refreshUserViews(userId) {
    const user = state.users.get(userId) || {};
    document.querySelectorAll(`.msg [data-user="${userId}"]`).forEach(node => {
      if (node.classList.contains('dot')) {
        node.classList.toggle('online', !!user.isOnline);
        node.setAttribute('aria-label', user.isOnline ? 'online' : 'offline');
      } else if (user.username) node.textContent = user.username;
    });
  }

  // ---------------------------------------------------------------- history

  function history(channelId) {
    if (!state.histories.has(channelId)) state.histories.set(channelId, { byId: new Map(), nextCursor: null, complete: false, loaded: false });
    return state.histories.get(channelId);
  }

  function historyPath(channel) {
    if (channel.kind === 'room') return `messages/room/${channel.id}`;
    if (channel.kind === 'group') return `messages/group/${channel.id}`;
    return `conversations/${channel.id}/messages`;
  }

  async function loadHistory(channelId, older) {
    const channel = state.channels.get(channelId);
    const store = history(channelId);
    if (!channel || store.loading || (older && (store.complete || !store.nextCursor))) return;
    store.loading = true;
    try {
      const cursor = older ? `&before=${encodeURIComponent(store.nextCursor)}` : '';
      const res = await api.get(`${historyPath(channel)}?limit=30${cursor}`);
      const pane = $('drop-zone');
      const fromBottom = pane.scrollHeight - pane.scrollTop;
      for (const message of res.data || []) upsertMessage(message, { render: false });
      const pagination = res.pagination || {};
      if (older || !store.loaded) {
        store.nextCursor = pagination.nextCursor || null;
        store.complete = !pagination.nextCursor;
      }
      store.loaded = true;
      if (state.current === channelId) {
        renderMessages();
        if (older) pane.scrollTop = pane.scrollHeight - fromBottom; else pane.scrollTop = pane.scrollHeight;
      }
    } catch (error) {
      $('composer-error').textContent = `Could not load messages: ${error.message}`;
    } finally { store.loading = false; }
  }

  async function openChannel(channelId) {
    const channel = state.channels.get(channelId);
    if (!channel) return;
    state.current = channelId;
    document.body.classList.remove('sidebar-open');
    $('toggle-sidebar').setAttribute('aria-expanded', 'false');
    channel.unread = 0;
    renderSidebar();
    renderChannel();
    const store = history(channelId);
    if (!store.loaded) await loadHistory(channelId, false);
    else { renderMessages(); $('drop-zone').scrollTop = $('drop-zone').scrollHeight; }
    markSeen(channelId);
  }

  function renderChannel() {
    const channel = state.current && state.channels.get(state.current);
    $('channel-title').textContent = channel ? (channel.kind === 'room' ? `# ${channel.name}` : channel.name) : 'Pick a conversation';
    $('composer').hidden = !channel;
    $('call-button').hidden = !(channel && state.features.calls && channel.kind !== 'room');
    $('member-add').hidden = !(channel && channel.kind === 'group');
    $('messages').replaceChildren();
    $('load-older').hidden = true;
    renderTyping();
    cancelCompose();
  }

  // ---------------------------------------------------------------- messages

  function channelOf(message) { return message.channelId || message.roomId || message.groupId || message.conversationId; }

  function upsertMessage(message, { render = true } = {}) {
    const channelId = channelOf(message);
    const store = history(channelId);
    const previous = store.byId.get(message.id);
    if (previous && RANK[previous.status] > RANK[message.status]) message = { ...message, status: previous.status };
    store.byId.set(message.id, message);
    if (message.senderId && !state.users.has(message.senderId)) lookupUser(message.senderId);
    if (render && state.current === channelId) renderMessage(message);
    return !previous;
  }

  function sortedMessages(channelId) {
    return [...history(channelId).byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  function renderMessages() {
    const channelId = state.current;
    if (!channelId) return;
    const list = $('messages');
    list.replaceChildren(...sortedMessages(channelId).map(messageElement));
    for (const pending of state.pending.values()) if (pending.channelId === channelId) list.append(pendingElement(pending));
    const store = history(channelId);
    $('load-older').hidden = store.complete || !store.nextCursor;
  }

  /* Puts one message in place (replacing its element, or inserted in id order). */
  function renderMessage(message) {
    const list = $('messages');
    const node = messageElement(message);
    const existing = document.getElementById(`m-${message.id}`);
    if (existing) { existing.replaceWith(node); return; }
    const pane = $('drop-zone');
    const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80;
    const after = [...list.querySelectorAll('li.msg[data-id]')].find(li => li.dataset.id > message.id);
    if (after) list.insertBefore(node, after);
    else {
      const firstPending = list.querySelector('li.msg.pending');
      list.insertBefore(node, firstPending);
    }
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  }

  function statusLabel(status) { return { SENT: 'Sent', DELIVERED: 'Delivered', SEEN: 'Seen' }[status] || status; }

  function messageElement(message) {
    const mine = message.senderId === Parley.user.id;
    const user = state.users.get(message.senderId) || {};
    const time = new Date(message.createdAt);
    const parent = message.parentId && history(channelOf(message)).byId.get(message.parentId);
    const reactions = message.reactions || [];
    const li = el('li', {
      class: `msg${mine ? ' mine' : ''}${message.isDeleted ? ' deleted' : ''}`, id: `m-${message.id}`, 'data-id': message.id,
      'data-status': message.status, 'data-sender': message.senderId,
    },
    el('div', { class: 'msg-head' },
      el('span', { class: `dot${user.isOnline ? ' online' : ''}`, 'data-user': message.senderId, role: 'img',
                   'aria-label': user.isOnline ? 'online' : 'offline' }),
      el('span', { class: 'sender', 'data-user': message.senderId, text: user.username || '…' }),
      el('time', { datetime: message.createdAt, text: time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) }),
      message.editedAt && !message.isDeleted ? el('span', { class: 'edited', text: '(edited)' }) : null,
      mine ? el('span', { class: 'ticks', role: 'img', 'data-status': message.status, 'aria-label': statusLabel(message.status),
                          title: statusLabel(message.status), text: message.status === 'SENT' ? '✓' : '✓✓' }) : null),
    message.parentId ? el('div', { class: 'reply-to', text: `↪ ${parent ? (parent.isDeleted ? 'deleted message' : parent.content.slice(0, 80)) : 'a message'}` }) : null,
    el('div', { class: 'msg-body', text: message.isDeleted ? 'This message was deleted' : message.content }),
    !message.isDeleted ? attachment(message) : null,
    !message.isDeleted && reactions.length ? el('div', { class: 'reactions' }, reactions.map(r => {
      const mineToo = (r.userIds || []).includes(Parley.user.id);
      return el('button', { type: 'button', 'aria-pressed': mineToo ? 'true' : 'false', 'data-emoji': r.emoji,
                            'aria-label': `${r.emoji} ${r.count}, ${mineToo ? 'remove your reaction' : 'react'}`,
                            onclick: () => react(message, r.emoji, mineToo ? 'remove' : 'add') }, `${r.emoji} ${r.count}`);
    })) : null,
    !message.isDeleted ? el('div', { class: 'msg-actions' },
      el('button', { type: 'button', class: 'reply', onclick: () => startReply(message), 'aria-label': 'Reply' }, 'Reply'),
      QUICK_REACTIONS.map(emoji => el('button', { type: 'button', class: 'react', 'data-emoji': emoji, 'aria-label': `React ${emoji}`,
                                                  onclick: () => react(message, emoji, 'add') }, emoji)),
      mine && message.type === 'TEXT' ? el('button', { type: 'button', class: 'edit', onclick: () => startEdit(message) }, 'Edit') : null,
      mine ? el('button', { type: 'button', class: 'delete danger', onclick: () => deleteMessage(message) }, 'Delete') : null) : null);
    return li;
  }

  function pendingElement(pending) {
    return el('li', { class: 'msg mine pending', 'data-client-id': pending.data.clientMessageId },
      el('div', { class: 'msg-head' }, el('span', { class: 'sender', text: Parley.user.username }), el('span', { text: 'sending…' })),
      el('div', { class: 'msg-body', text: pending.data.content }));
  }

  function attachment(message) {
    const fileId = message.metadata && message.metadata.fileId;
    if (!fileId) return null;
    const name = message.metadata.fileName || message.metadata.originalName || message.content || 'file';
    if (message.type === 'IMAGE') {
      const img = el('img', { alt: `Image: ${name}`, 'data-file': fileId });
      fileURL(fileId).then(url => { if (url) img.src = url; });
      return el('div', { class: 'attachment' }, img);
    }
    const link = el('button', { type: 'button', class: 'link', onclick: async () => {
      const url = await fileURL(fileId);
      if (url) { const a = el('a', { href: url, download: name }); document.body.append(a); a.click(); a.remove(); }
    } }, `Download ${name}`);
    return el('div', { class: 'attachment' }, link);
  }

  /* Downloads need the bearer token, which an <img src> cannot send: fetch, then a blob: URL (allowed by the CSP). */
  function fileURL(fileId) {
    if (!state.fileURLs.has(fileId)) {
      state.fileURLs.set(fileId, (async () => {
        const attempt = () => fetch(`/api/v1/files/${fileId}`, { headers: { Authorization: `Bearer ${Parley.session.accessToken}` } });
        let res = await attempt();
        if (res.status === 401 && await Parley.refresh()) res = await attempt();
        if (!res.ok) { state.fileURLs.delete(fileId); return null; }
        return URL.createObjectURL(await res.blob());
      })());
    }
    return state.fileURLs.get(fileId);
  }

  // ---------------------------------------------------------------- composing and sending

  function target(channel) {
    if (channel.kind === 'room') return { roomId: channel.id };
    if (channel.kind === 'group') return { groupId: channel.id };
    return { receiverId: channel.otherUserId };
  }

  async function submitComposer(event) {
    event.preventDefault();
    const input = $('composer-input');
    const content = input.value.trim();
    const channel = state.channels.get(state.current);
    if (!channel || !content) return;
    $('composer-error').textContent = '';
    if (state.compose.mode === 'edit') {
      const messageId = state.compose.messageId;
      try {
        const res = await emit('message:edit', { messageId, content });
        if (res && res.id) upsertMessage(res);
        input.value = '';
        cancelCompose();
      } catch (error) { $('composer-error').textContent = error.message; }
      return;
    }
    const data = { ...target(channel), content, type: 'TEXT', clientMessageId: Parley.clientID() };
    if (state.compose.mode === 'reply') data.parentId = state.compose.messageId;
    input.value = '';
    cancelCompose();
    stopTyping();
    send(channel.id, data);
  }

  /* Keeps the send pending until one answer arrives; resent with the same clientMessageId after a reconnect. */
  async function send(channelId, data) {
    const pending = { channelId, data };
    state.pending.set(data.clientMessageId, pending);
    if (state.current === channelId) { $('messages').append(pendingElement(pending)); $('drop-zone').scrollTop = $('drop-zone').scrollHeight; }
    if (state.socketOpen) await deliver(pending);
  }

  async function deliver(pending) {
    try {
      const message = await emit('message:send', pending.data);
      settle(pending, message);
    } catch (error) {
      if (error.transport) return;  // the socket went away: resent after the reconnect
      state.pending.delete(pending.data.clientMessageId);
      document.querySelector(`li.pending[data-client-id="${pending.data.clientMessageId}"]`)?.remove();
      $('composer-error').textContent = `Not sent: ${error.message}`;
    }
  }

  function settle(pending, message) {
    state.pending.delete(pending.data.clientMessageId);
    document.querySelector(`li.pending[data-client-id="${pending.data.clientMessageId}"]`)?.remove();
    if (message && message.id) upsertMessage(message);
  }

  function startReply(message) {
    state.compose = { mode: 'reply', messageId: message.id };
    $('composer-mode').hidden = false;
    $('composer-mode-text').textContent = `Replying to: ${message.content.slice(0, 60)}`;
    $('composer-input').focus();
  }

  function startEdit(message) {
    state.compose = { mode: 'edit', messageId: message.id };
    $('composer-mode').hidden = false;
    $('composer-mode-text').textContent = 'Editing your message (Escape cancels)';
    $('composer-input').value = message.content;
    $('composer-input').focus();
  }

  function cancelCompose() {
    if (state.compose.mode === 'edit') $('composer-input').value = '';
    state.compose = { mode: null, messageId: null };
    $('composer-mode').hidden = true;
  }

  async function react(message, emoji, action) {
    try {
      const change = await emit('message:reaction', { messageId: message.id, emoji, action });
      if (change && change.reactions) applyReactions(change);
    } catch (error) { $('composer-error').textContent = error.message; }
  }

  async function deleteMessage(message) {
    try {
      await emit('message:delete', { messageId: message.id });
      applyDelete({ messageId: message.id, channelId: channelOf(message) });
    } catch (error) { $('composer-error').textContent = error.message; }
  }

  function applyReactions(change) {
    const store = history(change.channelId);
    const message = store.byId.get(change.messageId);
    if (!message) return;
    upsertMessage({ ...message, reactions: change.reactions });
  }

  function applyDelete(event) {
    const store = history(event.channelId);
    const message = store.byId.get(event.messageId);
    if (!message) return;
    upsertMessage({ ...message, isDeleted: true, content: '', reactions: [], deletedAt: event.deletedAt || message.deletedAt });
  }

  // Typing: a start at most every 2 s while keys are pressed, a stop after 3 s of quiet or on send.
  function onComposerInput() {
    const channel = state.channels.get(state.current);
    if (!channel || state.compose.mode === 'edit') return;
    const now = Date.now();
    if (now - state.typingSentAt > 2000) { state.typingSentAt = now; emit('typing:start', target(channel), false).catch(() => {}); }
    clearTimeout(state.typingStopTimer);
    state.typingStopTimer = setTimeout(stopTyping, 3000);
  }

  function stopTyping() {
    clearTimeout(state.typingStopTimer);
    if (!state.typingSentAt) return;
    state.typingSentAt = 0;
    const channel = state.channels.get(state.current);
    if (channel) emit('typing:stop', target(channel), false).catch(() => {});
  }

  function setTyping(event, typing) {
    if (event.userId === Parley.user.id) return;
    const channelId = event.channelId || event.conversationId || event.roomId || event.groupId;
    if (!state.typing.has(channelId)) state.typing.set(channelId, new Map());
    const typists = state.typing.get(channelId);
    clearTimeout(typists.get(event.userId));
    if (typing) typists.set(event.userId, setTimeout(() => { typists.delete(event.userId); renderTyping(); }, 8000));
    else typists.delete(event.userId);
    lookupUser(event.userId).then(renderTyping);
  }

  function renderTyping() {
    const typists = state.current ? state.typing.get(state.current) : null;
    const names = typists ? [...typists.keys()].map(id => (state.users.get(id) || {}).username || 'someone') : [];
    $('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
  }

  // ---------------------------------------------------------------- receipts and unread

  /* The reader's position moves to the newest message of the open channel (its sender's ticks turn SEEN). */
  function markSeen(channelId) {
    if (document.visibilityState !== 'visible' || state.current !== channelId || !state.socketOpen) return;
    const messages = sortedMessages(channelId);
    const latest = messages[messages.length - 1];
    if (!latest) return;
    const channel = state.channels.get(channelId);
    if (latest.senderId === Parley.user.id && !(channel && channel.unread)) return;
    emit('message:read', { messageId: latest.id, status: 'SEEN' }).catch(() => {});
  }

  function onRead(event) {
    const channelId = event.channelId;
    if (event.userId === Parley.user.id) {
      const channel = state.channels.get(channelId);
      if (channel && typeof event.unreadCount === 'number') { channel.unread = event.unreadCount; renderSidebar(); }
      return;
    }
    // Positions only move forward: every message of mine up to this one has at least this status now.
    const status = event.messageStatus;
    if (!RANK[status]) return;
    for (const message of history(channelId).byId.values()) {
      if (message.senderId === Parley.user.id && message.id <= event.messageId && RANK[message.status] < RANK[status]) {
        upsertMessage({ ...message, status });
      }
    }
  }

  function onIncoming(message) {
    const channelId = channelOf(message);
    if (!state.channels.has(channelId)) { loadSidebar(); }
    const fresh = upsertMessage(message);
    if (message.senderId === Parley.user.id) return;
    const channel = state.channels.get(channelId);
    const viewing = state.current === channelId && document.visibilityState === 'visible';
    if (viewing) markSeen(channelId);
    else {
      emit('message:read', { messageId: message.id, status: 'DELIVERED' }).catch(() => {});
      if (fresh && channel) { channel.unread = (channel.unread || 0) + 1; renderSidebar(); }
    }
  }

  // ---------------------------------------------------------------- the socket

  function connect() {
    if (!Parley.session || state.socket) return;
    setConnection('Connecting…', false);
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(Parley.session.accessToken)}`);
    state.socket = socket;
    socket.addEventListener('open', () => onOpen(socket));
    socket.addEventListener('message', (event) => { if (state.socket === socket) onFrame(event.data); });
    socket.addEventListener('close', () => onClose(socket));
  }

  async function onOpen(socket) {
    if (state.socket !== socket) return;
    state.socketOpen = true;
    state.backoff = 0;
    setConnection('Online', true);
    await catchUp();
    for (const pending of [...state.pending.values()]) deliver(pending);
    if (state.current) markSeen(state.current);
  }

  function onClose(socket) {
    if (state.socket !== socket) return;
    state.socket = null;
    state.socketOpen = false;
    for (const [, waiter] of state.acks) waiter.reject(Object.assign(new Error('connection lost'), { transport: true }));
    state.acks.clear();
    if (!Parley.session) return;
    setConnection('Reconnecting…', false);
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... 15 s.
    const delay = Math.min(15000, 500 * 2 ** state.backoff) * (0.75 + Math.random() * 0.5);
    state.backoff = Math.min(state.backoff + 1, 5);
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(reconnect, delay);
  }

  /* Before opening a new socket, check the session: a refused token is refreshed; an ended session signs out. */
  async function reconnect() {
    if (!Parley.session) return;
    try { await api.get('auth/me'); } catch (error) {
      if (!Parley.session) return;  // signed out (deactivated, logged out elsewhere)
      if (error.status === 401) { Parley.signOutLocally('Your session has ended. Please sign in again.'); return; }
    }
    connect();
  }

  function setConnection(text, online) {
    $('connection').textContent = text;
    $('connection').classList.toggle('online', online);
  }

  function emit(event, data, wantAck = true) {
    const socket = state.socket;
    if (!socket || !state.socketOpen) return Promise.reject(Object.assign(new Error('Not connected'), { transport: true }));
    if (!wantAck) { socket.send(JSON.stringify({ event, data })); return Promise.resolve(null); }
    const ack = state.nextAck++;
    return new Promise((resolve, reject) => {
      state.acks.set(ack, { resolve, reject });
      socket.send(JSON.stringify({ event, data, ack }));
    });
  }

  function onFrame(text) {
    let frame;
    try { frame = JSON.parse(text); } catch (_) { return; }
    const data = frame.data;
    if (frame.event === 'ack' || (frame.event === 'error' && frame.ack)) {
      const waiter = state.acks.get(frame.ack);
      if (!waiter) return;
      state.acks.delete(frame.ack);
      if (frame.event === 'ack') waiter.resolve(data);
      else waiter.reject(Object.assign(new Error((data && data.message) || 'Refused'), { code: data && data.code }));
      return;
    }
    switch (frame.event) {
      case 'message:received': onIncoming(data); break;
      case 'message:sent': upsertMessage(data); break;
      case 'message:edit': upsertMessage(data); break;
      case 'message:delete': applyDelete(data); break;
      case 'message:reaction': applyReactions(data); break;
      case 'message:read': onRead(data); break;
      case 'typing:start': setTyping(data, true); break;
      case 'typing:stop': setTyping(data, false); break;
      case 'user:online': setPresence(data.userId, true); break;
      case 'user:offline': setPresence(data.userId, false); break;
      case 'group:member:added': case 'group:member:removed': case 'group:deleted': case 'group:updated':
        loadSidebar(); break;
      default: break;
    }
  }

  // ---------------------------------------------------------------- catching up

  async function freshSyncCursor() {
    if (!state.features.sync) return;
    try { state.syncCursor = (await api.get('sync')).data.cursor; } catch (_) { state.syncCursor = null; }
  }

  /* After a (re)connect: every change since the cursor, page by page, applied as upserts. Without the changes
     feed (an older server), the loaded channels' newest page is fetched again instead. */
  async function catchUp() {
    if (state.features.sync && state.syncCursor) {
      try {
        let more = true;
        while (more) {
          const res = await api.get(`sync?since=${encodeURIComponent(state.syncCursor)}&limit=200`);
          for (const change of res.data.changes || []) applyChange(change);
          state.syncCursor = res.data.cursor;
          more = res.data.hasMore;
        }
        await loadSidebar();
        // Read positions in a room or group decide ticks only all together: the open channel's newest page says.
        if (state.current) await refetch(state.current);
        return;
      } catch (error) {
        if (error.status !== 410) { await refetchLoaded(); return; }
        // The cursor is older than the change log keeps: reload everything and start again.
        state.histories.clear();
        await freshSyncCursor();
        await loadSidebar();
        if (state.current) await openChannel(state.current);
        return;
      }
    }
    await loadSidebar();
    await refetchLoaded();
  }

  async function refetchLoaded() {
    for (const [channelId, store] of state.histories) if (store.loaded) await refetch(channelId);
  }

  /* The newest page of one channel again, merged (upserts). */
  async function refetch(channelId) {
    const channel = state.channels.get(channelId);
    if (!channel) return;
    try {
      const res = await api.get(`${historyPath(channel)}?limit=50`);
      for (const message of res.data || []) upsertMessage(message);
    } catch (_) { /* the next reconnect tries again */ }
  }

  function applyChange(change) {
    if (change.type === 'message' && change.message) {
      const message = change.message;
      const channelId = channelOf(message);
      const known = history(channelId).byId.has(message.id);
      upsertMessage(message);
      if (!known && message.senderId !== Parley.user.id && !message.isDeleted) {
        if (state.current === channelId) markSeen(channelId);
      }
    } else if (change.type === 'read' && change.channel) {
      if (change.userId !== Parley.user.id && change.lastReadMessageId) {
        // A direct conversation has one other reader: their position is the message's SEEN.
        const channel = state.channels.get(change.channel.id);
        if (channel && channel.kind === 'direct') {
          onRead({ channelId: change.channel.id, userId: change.userId, messageId: change.lastReadMessageId, messageStatus: 'SEEN' });
        }
      }
    }
  }

  // ---------------------------------------------------------------- files and calls

  async function upload(file) {
    const channel = state.channels.get(state.current);
    if (!channel || !file) return;
    $('composer-error').textContent = '';
    const form = new FormData();
    form.append('file', file, file.name);
    try {
      const res = await api.request('POST', 'files', form);
      const stored = res.data;
      const type = (stored.mimetype || stored.mimeType || file.type || '').startsWith('image/') ? 'IMAGE' : 'FILE';
      send(channel.id, { ...target(channel), content: file.name, type, metadata: { fileId: stored.id }, clientMessageId: Parley.clientID() });
    } catch (error) { $('composer-error').textContent = `Upload failed: ${error.message}`; }
  }

  async function startCall() {
    const channel = state.channels.get(state.current);
    if (!channel) return;
    const body = channel.kind === 'group' ? { groupId: channel.id } : { participantIds: [channel.otherUserId] };
    try {
      const res = await api.post('calls', body);
      const url = res.data.roomUrl + (res.data.token ? `?jwt=${encodeURIComponent(res.data.token)}` : '');
      window.open(url, '_blank', 'noopener');
    } catch (error) {
      if (error.status === 404 && !error.code) $('call-button').hidden = true;
      $('composer-error').textContent = `Call failed: ${error.message}`;
    }
  }

  // ---------------------------------------------------------------- search

  async function search(event) {
    event.preventDefault();
    const query = $('search-input').value.trim();
    if (!query) return;
    const list = $('search-list');
    $('search-results').hidden = false;
    list.replaceChildren(el('li', { text: 'Searching…' }));
    try {
      const res = await api.get(`messages/search?query=${encodeURIComponent(query)}&limit=30`);
      list.replaceChildren();
      for (const message of res.data || []) {
        const channel = state.channels.get(channelOf(message));
        list.append(el('li', {}, el('button', { type: 'button', onclick: () => { $('search-results').hidden = true; openChannel(channelOf(message)); } },
          `${channel ? channel.name : 'conversation'}: ${message.content}`)));
      }
      if (!list.children.length) list.append(el('li', { text: 'Nothing found.' }));
    } catch (error) { list.replaceChildren(el('li', { text: error.message })); }
  }

  // ---------------------------------------------------------------- wiring

  function wireUI() {
    $('signout').addEventListener('click', () => Parley.signOut());
    $('room-create').addEventListener('submit', createRoom);
    $('group-create').addEventListener('submit', createGroup);
    $('direct-start').addEventListener('submit', startDirect);
    $('browse-rooms').addEventListener('click', browseRooms);
    $('composer').addEventListener('submit', submitComposer);
    $('composer-cancel').addEventListener('click', () => { cancelCompose(); $('composer-input').focus(); });
    const input = $('composer-input');
    input.addEventListener('input', onComposerInput);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); $('composer').requestSubmit(); }
      if (event.key === 'Escape' && state.compose.mode) { event.preventDefault(); cancelCompose(); }
    });
    $('attach-button').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', () => { const file = $('file-input').files[0]; $('file-input').value = ''; upload(file); });
    const zone = $('drop-zone');
    zone.addEventListener('dragover', (event) => { if (state.current && state.features.files) { event.preventDefault(); zone.classList.add('dragging'); } });
    zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('dragging');
      for (const file of event.dataTransfer.files) upload(file);
    });
    zone.addEventListener('scroll', () => { if (zone.scrollTop < 60 && state.current) loadHistory(state.current, true); });
    $('load-older').addEventListener('click', () => state.current && loadHistory(state.current, true));
    $('call-button').addEventListener('click', startCall);
    $('member-add').addEventListener('submit', addMember);
    $('search-form').addEventListener('submit', search);
    $('close-search').addEventListener('click', () => { $('search-results').hidden = true; $('search-input').focus(); });
    // On a phone the sidebar is a drawer: opening it moves focus into it, Escape closes it and returns focus.
    $('toggle-sidebar').addEventListener('click', () => {
      const open = document.body.classList.toggle('sidebar-open');
      $('toggle-sidebar').setAttribute('aria-expanded', String(open));
      if (open) ($('sidebar').querySelector('button.channel') || $('room-name')).focus();
    });
    $('sidebar').addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
        document.body.classList.remove('sidebar-open');
        $('toggle-sidebar').setAttribute('aria-expanded', 'false');
        $('toggle-sidebar').focus();
      }
    });
    // Leaving the page ends its connection at once (a clean close, not a dropped TCP connection found out later).
    window.addEventListener('pagehide', () => {
      const socket = state.socket;
      state.socket = null;
      state.socketOpen = false;
      if (socket) socket.close(1000, 'page closed');
    });
    // Back from the back-forward cache: the socket was closed on the way out.
    window.addEventListener('pageshow', (event) => { if (event.persisted && state.started) connect(); });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && state.current) {
        const channel = state.channels.get(state.current);
        if (channel) { channel.unread = 0; renderSidebar(); }
        markSeen(state.current);
      }
    });
  }
})();
