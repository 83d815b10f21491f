// Minimal, strict re-implementation of the chai 4 + chai-string assertion chains
// used by the official Engine.IO v4 / Socket.IO v5 test suites:
//   .to.eql(x)  .to.startsWith(s)  .to.have.all.keys(...)  .to.be.a(t)  .to.be.oneOf([...])
// Any other property access on an assertion throws (never silently passes).
import util from "node:util";

export class AssertionError extends Error {
  constructor(message, actual, expected) {
    super(message);
    this.name = "AssertionError";
    this.actual = actual;
    this.expected = expected;
  }
}

const LANGUAGE_CHAINS = new Set([
  "to", "be", "been", "is", "that", "which", "and", "has", "have",
  "with", "at", "of", "same", "but", "does", "still", "also",
]);

const fmt = (v) => util.inspect(v, { depth: 5, breakLength: Infinity });

// like chai's type-detect
function typeOf(v) {
  if (v === null) return "null";
  const t = typeof v;
  if (t !== "object" && t !== "function") return t;
  if (t === "function") return "function";
  return Object.prototype.toString.call(v).slice(8, -1);
}

function isPrimitive(v) {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

// like deep-eql (chai 4)
function iterableEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
  return true;
}
function enumerableKeys(o) {
  const keys = [];
  for (const k in o) keys.push(k);
  for (const s of Object.getOwnPropertySymbols(o)) {
    if (Object.getOwnPropertyDescriptor(o, s).enumerable) keys.push(s);
  }
  return keys;
}
export function deepEqual(a, b) {
  if (a === b) return a !== 0 || 1 / a === 1 / b;
  if (a !== a && b !== b) return true; // NaN
  if (isPrimitive(a) || isPrimitive(b)) return false;
  const ta = typeOf(a);
  if (ta !== typeOf(b)) return false;
  switch (ta) {
    case "String": case "Number": case "Boolean": case "Date":
      return deepEqual(a.valueOf(), b.valueOf());
    case "function": case "Promise": case "Symbol": case "WeakMap": case "WeakSet":
      return false; // not identical (=== checked above)
    case "ArrayBuffer":
      return iterableEqual(new Uint8Array(a), new Uint8Array(b));
    case "DataView":
      return iterableEqual(new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
                           new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    case "Array": case "Arguments":
    case "Int8Array": case "Uint8Array": case "Uint8ClampedArray":
    case "Int16Array": case "Uint16Array": case "Int32Array": case "Uint32Array":
    case "Float32Array": case "Float64Array":
      return iterableEqual(a, b);
    case "Map": case "Set": case "RegExp": case "Error": case "Generator":
      throw new Error(`chai-lite: deep equality for ${ta} is not implemented`);
    default: {
      const ka = enumerableKeys(a), kb = enumerableKeys(b);
      if (ka.length !== kb.length) return false;
      const sa = ka.map(String).sort(), sb = kb.map(String).sort();
      for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return false;
      for (const k of ka) if (!deepEqual(a[k], b[k])) return false;
      return true;
    }
  }
}

function makeAssertion(actual) {
  const flags = { all: false };
  let proxy;
  const assert = (ok, message, expected) => {
    if (!ok) throw new AssertionError(message, actual, expected);
    return proxy;
  };
  const methods = {
    eql(expected) {
      return assert(deepEqual(actual, expected),
        `expected ${fmt(actual)} to deeply equal ${fmt(expected)}`, expected);
    },
    // chai-string
    startsWith(prefix) {
      const ok = typeof actual === "string" && typeof prefix === "string" && actual.indexOf(prefix) === 0;
      return assert(ok, `expected ${fmt(actual)} to start with ${fmt(prefix)}`, prefix);
    },
    keys(...args) {
      if (!flags.all) throw new Error("chai-lite: only the .all.keys form is implemented");
      let expected = args;
      if (args.length === 1 && Array.isArray(args[0])) expected = args[0];
      else if (args.length === 1 && typeOf(args[0]) === "Object") expected = Object.keys(args[0]);
      if (!expected.length) throw new Error("keys required");
      if (isPrimitive(actual) || typeOf(actual) === "Map" || typeOf(actual) === "Set") {
        throw new AssertionError(`expected ${fmt(actual)} to be a plain object with keys`, actual, expected);
      }
      const own = Object.keys(actual).concat(
        Object.getOwnPropertySymbols(actual).filter((s) => Object.getOwnPropertyDescriptor(actual, s).enumerable));
      const ok = expected.every((k) => own.includes(k)) && expected.length === own.length;
      return assert(ok, `expected ${fmt(actual)} to have keys ${fmt(expected)} (actual keys: ${fmt(own)})`, expected);
    },
    a(type) {
      const t = typeOf(actual).toLowerCase();
      return assert(t === String(type).toLowerCase(), `expected ${fmt(actual)} to be a ${type}`, type);
    },
    oneOf(list) {
      if (!Array.isArray(list)) throw new Error("chai-lite: oneOf expects an array");
      return assert(list.indexOf(actual) > -1, `expected ${fmt(actual)} to be one of ${fmt(list)}`, list);
    },
  };
  methods.an = methods.a;
  proxy = new Proxy({}, {
    get(_t, prop) {
      if (typeof prop === "symbol") return undefined;
      if (LANGUAGE_CHAINS.has(prop)) return proxy;
      if (prop === "all") { flags.all = true; return proxy; }
      if (Object.prototype.hasOwnProperty.call(methods, prop)) return methods[prop];
      throw new Error(`chai-lite: unsupported assertion chain property ".${prop}"`);
    },
  });
  return proxy;
}

export function expect(actual, message) {
  if (message !== undefined) throw new Error("chai-lite: expect(value, message) form not implemented");
  return makeAssertion(actual);
}

export default { expect, AssertionError };
