"use strict";
// Interop check: the real JS client (socket.io-client 4.8.1 browser bundle) against a running Parley server,
// for one transport mode per process. Driven by Tests/python/test_js_client.py.
//
//   node --experimental-websocket Tests/js/interop.cjs '<json config>'
//
// Config: {
//   bundle:          path of socket.io.min.js (Tests/js/fetch-client.sh prints it),
//   mode:            "websocket" | "polling" | "default"   (default = ["polling","websocket"] with upgrade),
//   chatUrl:         a server with the default modules (messaging, rooms),
//   tokenA, tokenB:  access tokens of two users who are both members of room `roomId`,
//   roomId:          the room,
//   conformanceUrl:  a server with only `socketio_conformance` (open `/` namespace echoing binary),
//   timeoutMs:       per-step bound (default 5000)
// }
// Prints exactly one JSON line on stdout: {mode, transports, ok, checks: [{name, ok, ms, detail|error}], failures,
// events (unexpected disconnects, upgrade errors: informational), ms, trace (only with PARLEY_JS_TRACE=1: every
// Engine.IO packet each client sent/received)} and exits 0 when every check passed, 1 when any failed, 2 on a bad invocation or the overall deadline.

require("./xhr-polyfill.cjs");

const started = Date.now();
const checks = [];
const sockets = [];
const events = []; // unexpected disconnects and upgrade errors, reported with the results
const TRACE = !!process.env.PARLEY_JS_TRACE; // set it to get every Engine.IO packet in the output's `trace`
const trace = [];
let finished = false;

function finish(code, extra = {}) {
  if (finished) return;
  finished = true;
  for (const socket of sockets) {
    try { socket.disconnect(); } catch (_) { /* already gone */ }
  }
  const failures = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
  if (extra.error) failures.push(extra.error);
  const ok = code === 0 && failures.length === 0;
  const out = { mode: config && config.mode, transports: transportsFor(config && config.mode), ok, checks, failures, events, ms: Date.now() - started, ...(TRACE ? { trace } : {}) };
  for (const f of failures) process.stderr.write(`FAIL ${f}\n`);
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(ok ? 0 : code || 1));
}

function transportsFor(mode) {
  switch (mode) {
    case "websocket": return ["websocket"];
    case "polling": return ["polling"];
    case "default": return ["polling", "websocket"];
    default: return null;
  }
}

let config;
try {
  config = JSON.parse(process.argv[2] || "");
} catch (e) {
  process.stderr.write(`usage: node --experimental-websocket interop.cjs '<json config>' (${e.message})\n`);
  process.exit(2);
}
const TIMEOUT = Number(config.timeoutMs) || 5000;
const TRANSPORTS = transportsFor(config.mode);
// The whole run is bounded too, whatever hangs.
const overall = setTimeout(() => finish(2, { error: `overall deadline (${TIMEOUT * 12} ms) exceeded` }), TIMEOUT * 12);

let io = null;
let bundleError = null;
try {
  const lib = require(require("path").resolve(String(config.bundle)));
  io = lib.io || lib;
  if (typeof io !== "function") throw new Error("it exports no io()");
} catch (e) {
  io = null;
  bundleError = `cannot load the client bundle ${JSON.stringify(config.bundle)}: ${e.message}`;
}

if (!TRANSPORTS) {
  finish(2, { error: `unknown mode ${JSON.stringify(config.mode)}` });
} else if (!io) {
  finish(2, { error: bundleError });
} else if (typeof globalThis.WebSocket === "undefined") {
  finish(2, { error: "global WebSocket missing: run node (v20) with --experimental-websocket" });
} else {
  main().then(
    () => { clearTimeout(overall); finish(checks.every((c) => c.ok) ? 0 : 1); },
    (e) => { clearTimeout(overall); finish(1, { error: `harness error: ${e && e.stack || e}` }); },
  );
}

// --- helpers ------------------------------------------------------------------------------------------------

/** Runs one named check; a throw or a timeout records a failure (and returns undefined) instead of aborting. */
async function check(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await withTimeout(Promise.resolve().then(fn), TIMEOUT * 2, name);
    checks.push({ name, ok: true, ms: Date.now() - t0, ...(detail === undefined ? {} : { detail }) });
    return detail === undefined ? true : detail;
  } catch (e) {
    checks.push({ name, ok: false, ms: Date.now() - t0, error: String(e && e.message || e) });
    return undefined;
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Opens a client; `socket.ready` (created at once, so no early event is missed) settles like `connected`. */
function open(url, options, what) {
  const socket = io(url, {
    transports: TRANSPORTS,
    forceNew: true, // own Manager (and engine) per client, never the cached one
    reconnection: false,
    timeout: TIMEOUT,
    ...options,
  });
  sockets.push(socket);
  socket.ready = connected(socket, what || url);
  socket.upgradedTo = null; // set by the engine's `upgrade` event (default mode: polling -> websocket)
  const engine = socket.io.engine;
  if (engine) {
    engine.on("upgrade", (transport) => { socket.upgradedTo = transport && transport.name; });
    engine.on("upgradeError", (err) => { if (!finished) events.push({ client: what, upgradeError: String(err && err.message || err) }); });
    if (TRACE) {
      const t0 = Date.now();
      const line = (dir, p) => trace.push(`${Date.now() - t0}ms ${what} ${dir} ${engine.transport && engine.transport.name} ${p.type} ${typeof p.data === "string" ? p.data.slice(0, 60) : p.data ? "<binary>" : ""}`);
      engine.on("packet", (p) => line("<-", p));
      engine.on("packetCreate", (p) => line("->", p));
    }
  }
  socket.on("disconnect", (reason, description) => {
    if (!finished) events.push({ client: what, disconnect: reason, description: description && String(description.message || description.description || description) });
  });
  socket.ready.catch(() => {}); // observed by whoever awaits it
  return socket;
}

/** Resolves on `connect`, rejects on `connect_error` or after TIMEOUT. */
function connected(socket, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no connect within ${TIMEOUT} ms`)), TIMEOUT);
    socket.once("connect", () => { clearTimeout(timer); resolve(); });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`${what}: connect_error: ${err && err.message}`), { connectError: err }));
    });
  });
}

/** Resolves with the first `event` whose first argument satisfies `predicate`. */
function nextEvent(socket, event, predicate = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off(event, handler); reject(new Error(`no ${event} within ${TIMEOUT} ms`)); }, TIMEOUT);
    function handler(...args) {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(args);
    }
    socket.on(event, handler);
  });
}

function transportName(socket) {
  return socket.io.engine && socket.io.engine.transport && socket.io.engine.transport.name;
}

/** Waits until the engine runs on the transport the mode ends up with (default mode: after the upgrade). */
async function settledTransport(socket, what) {
  const want = config.mode === "polling" ? "polling" : "websocket";
  const deadline = Date.now() + TIMEOUT;
  while (transportName(socket) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert(transportName(socket) === want, `${what}: engine transport is ${transportName(socket)}, expected ${want}`);
  return transportName(socket);
}

/** Bytes of whatever binary representation the client handed us (ArrayBuffer, typed array, Buffer, Blob). */
async function bytesOf(value) {
  if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
  if (ArrayBuffer.isView(value)) return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  if (typeof Blob !== "undefined" && value instanceof Blob) return Array.from(new Uint8Array(await value.arrayBuffer()));
  throw new Error(`expected binary, got ${describe(value)}`);
}

function describe(value) {
  if (value === null || value === undefined) return String(value);
  const kind = value.constructor ? value.constructor.name : typeof value;
  try { return `${kind} ${JSON.stringify(value)}`.slice(0, 300); } catch (_) { return kind; }
}

function sameBytes(actual, expected, what) {
  assert(JSON.stringify(actual) === JSON.stringify(expected), `${what}: got bytes ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

// --- the checks ---------------------------------------------------------------------------------------------

async function main() {
  await chat();
  await badToken();
  await binary();
}

async function chat() {
  // A authenticates with the CONNECT `auth` payload (works on every transport).
  const a = open(config.chatUrl, { auth: { token: config.tokenA } }, "A");
  // B authenticates with an Authorization header where the handshake is over polling (XHR can send headers;
  // a browser WebSocket cannot), with `auth` for websocket-only.
  const bByHeader = config.mode !== "websocket";
  const b = open(config.chatUrl, bByHeader
    ? { extraHeaders: { Authorization: `Bearer ${config.tokenB}` } }
    : { auth: { token: config.tokenB } }, "B");

  const aUp = await check("A connects (auth payload)", async () => {
    await a.ready;
    assert(a.connected && a.id, "A: connected without a socket id");
    const transport = await settledTransport(a, "A");
    if (config.mode === "default") assert(a.upgradedTo === "websocket", `A: no upgrade event (upgradedTo=${a.upgradedTo})`);
    return { id: a.id, transport, upgradedTo: a.upgradedTo };
  });
  const bUp = await check(`B connects (${bByHeader ? "Authorization header" : "auth payload"})`, async () => {
    await b.ready;
    assert(b.connected && b.id, "B: connected without a socket id");
    const transport = await settledTransport(b, "B");
    if (config.mode === "default") assert(b.upgradedTo === "websocket", `B: no upgrade event (upgradedTo=${b.upgradedTo})`);
    return { id: b.id, transport, upgradedTo: b.upgradedTo };
  });
  if (!aUp || !bUp) return;

  const content = `hi from js (${config.mode})`;
  const received = nextEvent(b, "message:received", (m) => m && m.content === content);
  received.catch(() => {}); // awaited below; avoid an unhandled rejection if the send check fails first

  const stored = await check("A message:send ack is the stored message", async () => {
    const message = await a.timeout(TIMEOUT).emitWithAck("message:send", { roomId: config.roomId, content });
    assert(message && typeof message === "object", `ack is not an object: ${describe(message)}`);
    assert(message.content === content, `ack content ${JSON.stringify(message.content)} != ${JSON.stringify(content)}`);
    assert(typeof message.id === "string" && message.id, `ack has no id: ${describe(message)}`);
    assert(message.roomId === undefined || message.roomId === config.roomId, `ack roomId ${message.roomId} != ${config.roomId}`);
    return { id: message.id, content: message.content };
  });

  await check("B receives message:received with the same id", async () => {
    const [message] = await received;
    assert(stored, "no stored message to compare with (send failed)");
    assert(message.id === stored.id, `received id ${message.id} != stored id ${stored.id}`);
    return { id: message.id, transport: transportName(b) };
  });

  await check("both still on the expected transport", async () => {
    assert(a.connected && b.connected, `connected: A=${a.connected} B=${b.connected}`);
    return { a: await settledTransport(a, "A"), b: await settledTransport(b, "B") };
  });
}

async function badToken() {
  await check("bad token -> connect_error mentioning the token", async () => {
    const bad = open(config.chatUrl, { auth: { token: "not-a-valid-token" } }, "bad token");
    const outcome = await bad.ready.then(
      () => ({ connected: true }),
      (error) => (error.connectError ? { err: error.connectError } : { timeout: true }),
    );
    assert(!outcome.connected, "a bad token connected");
    assert(!outcome.timeout, `no connect_error within ${TIMEOUT} ms`);
    const message = outcome.err && outcome.err.message;
    assert(typeof message === "string" && /token/i.test(message), `connect_error message does not mention the token: ${JSON.stringify(message)}`);
    assert(!bad.connected, "socket reports connected after connect_error");
    return { message, data: outcome.err.data };
  });
}

async function binary() {
  const s = open(config.conformanceUrl, {}, "conformance");
  const auth = nextEvent(s, "auth"); // the suite namespace greets every connection with its `auth`
  auth.catch(() => {});
  const up = await check("conformance: connects without a token", async () => {
    await s.ready;
    await auth;
    const transport = await settledTransport(s, "conformance");
    if (config.mode === "default") assert(s.upgradedTo === "websocket", `no upgrade event (upgradedTo=${s.upgradedTo})`);
    return { id: s.id, transport, upgradedTo: s.upgradedTo };
  });
  if (!up) return;

  await check("binary: emit message {bin:[1,2,3]} -> message-back with equal bytes", async () => {
    const back = nextEvent(s, "message-back");
    s.emit("message", { bin: Uint8Array.from([1, 2, 3]) });
    const [payload] = await back;
    assert(payload && typeof payload === "object" && "bin" in payload, `message-back payload ${describe(payload)}`);
    const bytes = await bytesOf(payload.bin);
    sameBytes(bytes, [1, 2, 3], "message-back.bin");
    return { bytes, type: payload.bin.constructor.name, transport: transportName(s) };
  });

  await check("binary: emitWithAck message-with-ack [4,5] -> same bytes", async () => {
    const result = await s.timeout(TIMEOUT).emitWithAck("message-with-ack", Uint8Array.from([4, 5]));
    const bytes = await bytesOf(result);
    sameBytes(bytes, [4, 5], "ack");
    return { bytes, type: result.constructor.name, transport: transportName(s) };
  });

  await check("binary: nested binary in an ack", async () => {
    const sent = { a: [Uint8Array.from([0]), Uint8Array.from([255, 254])], text: "é😀" };
    const result = await s.timeout(TIMEOUT).emitWithAck("message-with-ack", sent);
    assert(result && Array.isArray(result.a) && result.a.length === 2, `ack ${describe(result)}`);
    sameBytes(await bytesOf(result.a[0]), [0], "ack.a[0]");
    sameBytes(await bytesOf(result.a[1]), [255, 254], "ack.a[1]");
    assert(result.text === sent.text, `ack.text ${JSON.stringify(result.text)}`);
  });
}
