// sanity checks that the chai-lite shim fails when it should
import chai from "./chai-lite.js";
const { expect } = chai;
const cases = [
  ["eql num ok", () => expect(200).to.eql(200), true],
  ["eql num vs str", () => expect("200").to.eql(200), false],
  ["eql arr ok", () => expect(["websocket"]).to.eql(["websocket"]), true],
  ["eql arr bad", () => expect([]).to.eql(["websocket"]), false],
  ["eql ab ok", () => expect(Uint8Array.from([1,2,3]).buffer).to.eql(Uint8Array.from([1,2,3]).buffer), true],
  ["eql ab bad", () => expect(Uint8Array.from([1,2,4]).buffer).to.eql(Uint8Array.from([1,2,3]).buffer), false],
  ["eql ab vs u8", () => expect(Uint8Array.from([1,2,3])).to.eql(Uint8Array.from([1,2,3]).buffer), false],
  ["eql ab vs str", () => expect("\x01\x02\x03").to.eql(Uint8Array.from([1,2,3]).buffer), false],
  ["eql ab vs blob", () => expect(new Blob([Uint8Array.from([1,2,3])])).to.eql(Uint8Array.from([1,2,3]).buffer), false],
  ["startsWith ok", () => expect("0{}").to.startsWith("0"), true],
  ["startsWith bad", () => expect("40").to.startsWith("0"), false],
  ["startsWith non-string", () => expect(undefined).to.startsWith("0"), false],
  ["keys ok", () => expect({a:1,b:2}).to.have.all.keys("b","a"), true],
  ["keys extra", () => expect({a:1,b:2,c:3}).to.have.all.keys("a","b"), false],
  ["keys missing", () => expect({a:1}).to.have.all.keys("a","b"), false],
  ["a string ok", () => expect("x").to.be.a("string"), true],
  ["a string bad", () => expect(1).to.be.a("string"), false],
  ["oneOf ok", () => expect(400).to.be.oneOf([400,500]), true],
  ["oneOf bad", () => expect(200).to.be.oneOf([400,500]), false],
  ["unknown chain", () => expect(1).to.equal(1), false],
  ["not chain", () => expect(1).to.not.eql(2), false],
];
let bad = 0;
for (const [name, fn, shouldPass] of cases) {
  let passed = true, msg = "";
  try { fn(); } catch (e) { passed = false; msg = e.message; }
  const ok = passed === shouldPass;
  if (!ok) bad++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${msg ? "  -> " + msg : ""}`);
}
console.log(bad ? `${bad} selftest problems` : "chai-lite selftest: all good");
