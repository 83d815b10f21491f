// Minimal mocha-compatible runner (subset used by the official suites):
// describe / it, this.timeout(ms) inside describe(function(){...}), async tests,
// default timeout 2000 ms (mocha's default), sequential execution, mocha's ordering
// (a suite's own tests run before its child suites), uncaught exceptions /
// unhandled rejections fail the current test (as mocha does).
// Usage: node --experimental-websocket shim/mocha-lite.mjs path/to/test-suite.js
import path from "node:path";
import util from "node:util";
import { pathToFileURL } from "node:url";

const DEFAULT_TIMEOUT = 2000;

class Suite {
  constructor(title, parent) {
    this.title = title;
    this.parent = parent;
    this.tests = [];
    this.suites = [];
    this._timeout = undefined;
  }
  timeout() {
    if (this._timeout !== undefined) return this._timeout;
    return this.parent ? this.parent.timeout() : DEFAULT_TIMEOUT;
  }
  titlePath() {
    return this.parent ? [...this.parent.titlePath(), this.title].filter(Boolean) : [];
  }
}

const root = new Suite("", null);
let current = root;

const unsupported = (name) => () => {
  throw new Error(`mocha-lite: ${name} is not implemented`);
};

globalThis.describe = function describe(title, fn) {
  const suite = new Suite(title, current);
  current.suites.push(suite);
  const ctx = {
    timeout(ms) {
      if (ms === undefined) return suite.timeout();
      suite._timeout = Number(ms);
      return ctx;
    },
  };
  const prev = current;
  current = suite;
  try {
    const r = fn.call(ctx);
    if (r && typeof r.then === "function") throw new Error("mocha-lite: async describe() not supported");
  } finally {
    current = prev;
  }
  return suite;
};
globalThis.it = function it(title, fn) {
  if (typeof fn !== "function") throw new Error(`mocha-lite: pending test "${title}" not implemented`);
  const test = { title, fn, parent: current };
  current.tests.push(test);
  return test;
};
for (const name of ["before", "after", "beforeEach", "afterEach", "context", "specify", "xit", "xdescribe"]) {
  globalThis[name] = unsupported(name + "()");
}
globalThis.it.skip = unsupported("it.skip");
globalThis.it.only = unsupported("it.only");
globalThis.describe.skip = unsupported("describe.skip");
globalThis.describe.only = unsupported("describe.only");

// --- uncaught error routing (mocha fails the currently running test) ---
let currentFail = null;
const strayErrors = [];
function onUncaught(err) {
  if (currentFail) currentFail(err, true);
  else strayErrors.push(err);
}
process.on("uncaughtException", onUncaught);
process.on("unhandledRejection", (reason) => onUncaught(reason));

function runTest(test) {
  const ms = test.parent.timeout();
  return new Promise((resolve) => {
    let done = false;
    const finish = (err, uncaught = false) => {
      if (done) {
        if (err) strayErrors.push(Object.assign(err instanceof Error ? err : new Error(String(err)), { afterTest: test }));
        return;
      }
      done = true;
      clearTimeout(timer);
      currentFail = null;
      resolve(err ? { err, uncaught } : null);
    };
    currentFail = finish;
    const timer = setTimeout(() => {
      const file = process.argv[2];
      finish(new Error(`Timeout of ${ms}ms exceeded. For async tests and hooks, ensure "done()" is called; if returning a Promise, ensure it resolves. (${file})`));
    }, ms);
    const ctx = { timeout: unsupported("this.timeout() inside it()") };
    try {
      if (test.fn.length > 0) throw new Error("mocha-lite: done-callback tests not implemented");
      const r = test.fn.call(ctx);
      if (r && typeof r.then === "function") {
        r.then(() => finish(null), (e) => finish(e ?? new Error("Promise rejected with no or falsy reason")));
      } else {
        finish(null);
      }
    } catch (e) {
      finish(e);
    }
  });
}

const results = [];
async function runSuite(suite, depth) {
  const indent = "  ".repeat(depth);
  if (suite.title) console.log(`${indent}${suite.title}`);
  for (const test of suite.tests) {
    const t0 = Date.now();
    const res = await runTest(test);
    const dt = Date.now() - t0;
    if (res) {
      results.push({ test, ...res });
      const n = results.filter((r) => r.err).length;
      console.log(`${indent}  ${n}) ${test.title}`);
    } else {
      results.push({ test, err: null });
      console.log(`${indent}  \u2713 ${test.title} (${dt}ms)`);
    }
    await new Promise((r) => setImmediate(r));
  }
  for (const child of suite.suites) await runSuite(child, suite.title ? depth + 1 : depth);
}

const file = process.argv[2];
if (!file) {
  console.error("usage: mocha-lite.mjs <test-file>");
  process.exit(2);
}
const started = Date.now();
await import(pathToFileURL(path.resolve(file)).href);
console.log("");
await runSuite(root, 0);

const passing = results.filter((r) => !r.err).length;
const failing = results.filter((r) => r.err);
console.log("");
console.log(`  ${passing} passing (${((Date.now() - started) / 1000).toFixed(1)}s)`);
if (failing.length) console.log(`  ${failing.length} failing`);
failing.forEach((r, i) => {
  const titles = [...r.test.parent.titlePath(), r.test.title];
  console.log("");
  console.log(`  ${i + 1}) ${titles.join("\n       ")}:`);
  const e = r.err;
  const prefix = r.uncaught ? "Uncaught " : "";
  const msg = e instanceof Error ? `${prefix}${e.name}: ${e.message}` : `${prefix}${util.inspect(e)}`;
  console.log("     " + msg);
  if (e instanceof Error && e.name !== "AssertionError" && e.stack) {
    console.log(e.stack.split("\n").slice(1, 6).map((l) => "    " + l).join("\n"));
  }
  if (e && e.cause) console.log("     cause: " + util.inspect(e.cause, { depth: 2 }));
});
if (strayErrors.length) {
  console.log("");
  console.log(`  ${strayErrors.length} error(s) raised outside a running test (mocha would report these as failures):`);
  for (const e of strayErrors) {
    console.log("   - " + (e.afterTest ? `[after "${e.afterTest.title}"] ` : "") + (e instanceof Error ? `${e.name}: ${e.message}` : util.inspect(e)));
  }
}
console.log(`\nSUMMARY ${path.basename(path.dirname(path.resolve(file)))}: ${passing} passing, ${failing.length} failing${strayErrors.length ? `, ${strayErrors.length} stray errors` : ""}`);
// like `mocha --exit`: don't wait for sockets left open by the tests
process.exit(Math.min(failing.length + strayErrors.length, 255));
