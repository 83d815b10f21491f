"use strict";
// Just enough browser API for the socket.io-client *browser* bundle (socket.io.min.js) to run under Node 20:
//
// - XMLHttpRequest over Node's global fetch, for engine.io-client's HTTP long-polling transport (the bundle's
//   polling transport only knows XHR). Supports open/setRequestHeader/send/abort, readyState + onreadystatechange,
//   status, responseText, getResponseHeader, onload/onerror/ontimeout and `timeout`.
// - FileReader.readAsDataURL, which the browser build uses to base64-encode binary packets (Blobs) for polling.
//
// WebSocket itself is Node's global one: run node with --experimental-websocket (default from Node 22).
// Usage: require("./xhr-polyfill.cjs"); const { io } = require(".../socket.io.min.js");

class XMLHttpRequest {
  constructor() {
    this.readyState = XMLHttpRequest.UNSENT;
    this.status = 0;
    this.statusText = "";
    this.responseText = "";
    this.response = "";
    this.responseType = "";
    this.withCredentials = false;
    this.timeout = 0;
    this.onreadystatechange = null;
    this.onload = null;
    this.onerror = null;
    this.ontimeout = null;
    this.onabort = null;
    this._headers = {};
    this._controller = new AbortController();
    this._response = null;
    this._done = false;
  }

  open(method, url) {
    this._method = String(method).toUpperCase();
    this._url = String(url);
    this._state(XMLHttpRequest.OPENED);
  }

  setRequestHeader(name, value) {
    this._headers[name] = String(value);
  }

  getResponseHeader(name) {
    return this._response ? this._response.headers.get(name) : null;
  }

  getAllResponseHeaders() {
    if (!this._response) return "";
    let out = "";
    this._response.headers.forEach((value, name) => { out += `${name}: ${value}\r\n`; });
    return out;
  }

  abort() {
    if (this._done) return;
    this._done = true;
    this._controller.abort();
    if (this.onabort) this.onabort();
  }

  _state(state) {
    this.readyState = state;
    if (this.onreadystatechange) this.onreadystatechange();
  }

  _fail(handler, error) {
    if (this._done) return;
    this._done = true;
    this.status = 0;
    this._state(XMLHttpRequest.DONE);
    if (handler) handler(error);
  }

  send(body) {
    let timer = null;
    let timedOut = false;
    if (this.timeout > 0) {
      timer = setTimeout(() => {
        timedOut = true;
        this._controller.abort();
      }, this.timeout);
    }
    const init = { method: this._method, headers: this._headers, signal: this._controller.signal };
    if (body !== undefined && body !== null && this._method !== "GET" && this._method !== "HEAD") init.body = body;
    fetch(this._url, init)
      .then(async (response) => {
        this._response = response;
        this.status = response.status;
        this.statusText = response.statusText;
        if (this._done) return;
        this._state(XMLHttpRequest.HEADERS_RECEIVED);
        const text = await response.text();
        if (timer) clearTimeout(timer);
        if (this._done) return;
        this._done = true;
        this.responseText = text;
        this.response = text;
        this._state(XMLHttpRequest.DONE);
        if (this.onload) this.onload();
      })
      .catch((error) => {
        if (timer) clearTimeout(timer);
        if (timedOut) return this._fail(this.ontimeout, error);
        if (this._done) return; // aborted by the client
        this._fail(this.onerror, error);
      });
  }
}
XMLHttpRequest.UNSENT = 0;
XMLHttpRequest.OPENED = 1;
XMLHttpRequest.HEADERS_RECEIVED = 2;
XMLHttpRequest.LOADING = 3;
XMLHttpRequest.DONE = 4;

if (typeof globalThis.XMLHttpRequest === "undefined") globalThis.XMLHttpRequest = XMLHttpRequest;

if (typeof globalThis.FileReader === "undefined") {
  globalThis.FileReader = class FileReader {
    constructor() {
      this.result = null;
      this.onload = null;
      this.onerror = null;
    }

    readAsDataURL(blob) {
      blob.arrayBuffer().then(
        (buffer) => {
          const type = blob.type || "application/octet-stream";
          this.result = `data:${type};base64,${Buffer.from(buffer).toString("base64")}`;
          if (this.onload) this.onload({ target: this });
        },
        (error) => { if (this.onerror) this.onerror(error); },
      );
    }
  };
}

module.exports = { XMLHttpRequest };
