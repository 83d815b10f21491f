// Local stand-in for the suites' node-imports.js (upstream: node-fetch + ws + chai + chai-string).
// No npm registry here, so:
//   fetch     -> Node 20's built-in (undici) fetch
//   WebSocket -> Node 20's built-in WHATWG WebSocket (run node with --experimental-websocket),
//                subclassed to behave like the `ws` package the suites use in Node:
//     * .on("error", fn) (ws/EventEmitter style; the suites call it in their Node branch)
//     * every WebSocket gets its OWN fresh TCP connection (like ws and browsers). Node 20's
//       undici WebSocket would otherwise send the Upgrade request on an idle keep-alive
//       connection left in the shared pool by earlier fetch() calls.
//     * when the opening handshake fails (non-101), fire "close" (code 1006) after "error",
//       as ws (and the WHATWG spec) do; undici 6.x only fires "error" (nodejs/undici#3546).
//     * optional WS_DISPATCH=task: deliver each event in its own macrotask (browser/WHATWG
//       semantics, ws with allowSynchronousEvents:false). Default (unset) keeps undici's
//       native dispatch, where several frames read in one TCP chunk are dispatched in the
//       same tick -- which is also what ws >= 8.17 does by default (allowSynchronousEvents:true).
//   chai      -> ../shim/chai-lite.js (strict subset; unknown chains throw)
import chaiLite from "../shim/chai-lite.js";

const NativeWebSocket = globalThis.WebSocket;
if (typeof NativeWebSocket !== "function") {
  throw new Error("global WebSocket missing: run node with --experimental-websocket");
}
if (typeof globalThis.fetch !== "function") throw new Error("global fetch missing");

const DEBUG = !!process.env.DEBUG_WS;
const TASK_DISPATCH = process.env.WS_DISPATCH === "task";
if (process.env.WS_DISPATCH && !TASK_DISPATCH) throw new Error("WS_DISPATCH must be 'task' or unset");
const t0 = Date.now();
let nextId = 1;

// undici's Agent class is not exported by Node 20; take it from the global dispatcher,
// which undici creates on first fetch() (a data: URL fetch makes no network request).
await fetch("data:,init");
const UndiciAgent = globalThis[Symbol.for("undici.globalDispatcher.1")]?.constructor;
if (typeof UndiciAgent !== "function") throw new Error("could not locate undici Agent");

const redispatched = new WeakSet();

function makeCloseEvent(code, reason, wasClean) {
  const ev = new Event("close");
  Object.defineProperties(ev, {
    code: { value: code }, reason: { value: reason }, wasClean: { value: wasClean },
  });
  return ev;
}

class NodeWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    if (protocols !== undefined) throw new Error("node-imports shim: protocols argument not implemented");
    const dispatcher = new UndiciAgent();
    super(url, { dispatcher });
    const id = nextId++;
    const log = DEBUG ? (...a) => console.error(`[ws#${id} +${Date.now() - t0}ms]`, ...a) : () => {};
    log("new", url);

    let opened = false;
    let closed = false;
    const queue = [];
    let draining = false;
    const drain = () => {
      const ev = queue.shift();
      if (!ev) { draining = false; return; }
      redispatched.add(ev);
      this.dispatchEvent(ev);
      setImmediate(drain);
    };
    const deliver = (ev) => { // (re)deliver a synthetic/cloned event, one per macrotask
      queue.push(ev);
      if (!draining) { draining = true; setImmediate(drain); }
    };

    // registered first => runs before any listener added by the test code
    for (const type of ["open", "message", "error", "close"]) {
      super.addEventListener(type, (e) => {
        if (redispatched.has(e)) return; // our own re-delivery: let it through
        log(type, type === "message" ? JSON.stringify(typeof e.data === "string" ? e.data : String(e.data))
          : type === "close" ? `${e.code} synthetic=${!!e._synthetic}` : "");
        if (type === "open") opened = true;
        if (type === "close") {
          if (closed) { e.stopImmediatePropagation(); return; } // already delivered a close
          closed = true;
          dispatcher.close().catch(() => {});
        }
        if (type === "error" && !opened && !closed) {
          // ws emits 'close' (1006) after a failed opening handshake; undici 6 does not
          setImmediate(() => {
            if (closed) return;
            closed = true;
            dispatcher.close().catch(() => {});
            const ce = makeCloseEvent(1006, "", false);
            log("close 1006 (synthesized after failed handshake)");
            if (TASK_DISPATCH) deliver(ce);
            else { redispatched.add(ce); this.dispatchEvent(ce); }
          });
        }
        if (TASK_DISPATCH) {
          e.stopImmediatePropagation();
          let clone;
          if (type === "message") clone = new MessageEvent("message", { data: e.data });
          else if (type === "close") clone = makeCloseEvent(e.code, e.reason, e.wasClean);
          else {
            clone = new Event(type);
            if (type === "error") Object.defineProperties(clone, { error: { value: e.error }, message: { value: e.message } });
          }
          deliver(clone);
        }
      });
    }
  }
  on(event, listener) {
    if (event !== "error") {
      throw new Error(`node-imports shim: .on(${JSON.stringify(event)}) not implemented`);
    }
    this.addEventListener("error", (ev) => listener(ev.error ?? ev));
    return this;
  }
}

globalThis.fetch = globalThis.fetch;
globalThis.WebSocket = NodeWebSocket;
globalThis.chai = chaiLite;
