// Timers, events, AbortController and fetch for actions (issue 17). Timers and requests are
// driven by the invocation's event loop (Rust: `wait_for_events`), which never waits past the
// action's deadline; whatever an invocation leaves pending is cancelled when it ends.
(function (hostCall) {
  "use strict";
  function call(method, args) {
    const raw = hostCall(method, JSON.stringify(args));
    if (raw === "") return undefined;
    const answer = JSON.parse(raw);
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.value === null ? undefined : answer.value;
  }

  // ---- timers
  const timers = new Map();
  let seq = 0;
  class Timeout {
    constructor(id) { this._id = id; }
    ref() { return this; }
    unref() { return this; }
    hasRef() { return true; }
    refresh() { const t = timers.get(this._id); if (t) t.at = Date.now() + t.delay; return this; }
    [Symbol.toPrimitive]() { return this._id; }
  }
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn !== "function") throw new TypeError('The "callback" argument must be of type function');
    const delay = Math.max(1, Math.min(Number(ms) || 0, 2147483647));
    const id = ++seq;
    timers.set(id, { at: Date.now() + delay, delay, fn, args, repeat });
    return new Timeout(id);
  }
  const idOf = (t) => (t && typeof t === "object" ? t._id : Number(t));
  const clearTimer = (t) => { timers.delete(idOf(t)); };
  const pendingFetches = new Map();
  globalThis.__idpipe_loop = Object.freeze({
    next() {
      if (timers.size === 0) return -1;
      let at = Infinity;
      for (const t of timers.values()) at = Math.min(at, t.at);
      return Math.max(0, at - Date.now());
    },
    fire() {
      const now = Date.now();
      const due = [...timers.entries()].filter(([, t]) => t.at <= now).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      for (const [id, t] of due) {
        if (!timers.has(id)) continue;
        if (t.repeat) t.at = now + t.delay; else timers.delete(id);
        t.fn.apply(undefined, t.args);
      }
    },
    deliver(id, raw) {
      const p = pendingFetches.get(id);
      if (!p) return;
      pendingFetches.delete(id);
      const answer = JSON.parse(raw);
      if (answer.error !== undefined) p.reject(new TypeError("fetch failed: " + answer.error));
      else p.resolve(makeResponse(answer.value));
    },
    clear() {
      const n = timers.size + pendingFetches.size;
      timers.clear();
      pendingFetches.clear();
      return n;
    },
  });
  Object.assign(globalThis, {
    setTimeout: (fn, ms, ...args) => addTimer(fn, ms, args, false),
    setInterval: (fn, ms, ...args) => addTimer(fn, ms, args, true),
    setImmediate: (fn, ...args) => addTimer(fn, 0, args, false),
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    clearImmediate: clearTimer,
  });
  if (typeof globalThis.queueMicrotask !== "function") {
    globalThis.queueMicrotask = (fn) => { Promise.resolve().then(fn); };
  }

  // ---- events and abort
  class DOMException extends Error {
    constructor(message = "", name = "Error") { super(message); this.name = name; }
  }
  class Event {
    constructor(type, init) { this.type = String(type); this.cancelable = !!(init && init.cancelable); this.defaultPrevented = false; this.target = null; }
    preventDefault() { if (this.cancelable) this.defaultPrevented = true; }
  }
  class EventTarget {
    constructor() { Object.defineProperty(this, "_listeners", { value: new Map() }); }
    addEventListener(type, fn, opts) {
      if (!fn) return;
      const list = this._listeners.get(type) || [];
      if (!list.some((l) => l.fn === fn)) list.push({ fn, once: !!(opts && typeof opts === "object" && opts.once) });
      this._listeners.set(type, list);
    }
    removeEventListener(type, fn) {
      const list = this._listeners.get(type);
      if (list) this._listeners.set(type, list.filter((l) => l.fn !== fn));
    }
    dispatchEvent(ev) {
      ev.target = this;
      for (const l of [...(this._listeners.get(ev.type) || [])]) {
        if (l.once) this.removeEventListener(ev.type, l.fn);
        if (typeof l.fn === "function") l.fn.call(this, ev); else l.fn.handleEvent(ev);
      }
      return !ev.defaultPrevented;
    }
  }
  class AbortSignal extends EventTarget {
    constructor() { super(); this.aborted = false; this.reason = undefined; this.onabort = null; }
    throwIfAborted() { if (this.aborted) throw this.reason; }
    static abort(reason) { const c = new AbortController(); c.abort(reason); return c.signal; }
    static timeout(ms) {
      const c = new AbortController();
      addTimer(() => c.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), ms, [], false);
      return c.signal;
    }
    static any(signals) {
      const c = new AbortController();
      for (const s of signals) {
        if (s.aborted) { c.abort(s.reason); break; }
        s.addEventListener("abort", () => c.abort(s.reason), { once: true });
      }
      return c.signal;
    }
  }
  class AbortController {
    constructor() { this.signal = new AbortSignal(); }
    abort(reason) {
      const s = this.signal;
      if (s.aborted) return;
      s.aborted = true;
      s.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
      const ev = new Event("abort");
      if (typeof s.onabort === "function") s.onabort.call(s, ev);
      s.dispatchEvent(ev);
    }
  }

  // ---- Headers, FormData, fetch
  class Headers {
    constructor(init) {
      this._map = new Map();
      if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === "object") for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    append(k, v) { const key = String(k).toLowerCase(); const old = this._map.get(key); this._map.set(key, old === undefined ? String(v) : old + ", " + String(v)); }
    set(k, v) { this._map.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this._map.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this._map.has(String(k).toLowerCase()); }
    delete(k) { this._map.delete(String(k).toLowerCase()); }
    forEach(f, self) { for (const [k, v] of [...this._map.entries()].sort()) f.call(self, v, k, this); }
    entries() { return [...this._map.entries()].sort()[Symbol.iterator](); }
    keys() { return [...this._map.keys()].sort()[Symbol.iterator](); }
    values() { return [...this._map.entries()].sort().map((e) => e[1])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "Headers"; }
  }
  class FormData {
    constructor() { this._list = []; }
    append(k, v) { this._list.push([String(k), String(v)]); }
    set(k, v) { this.delete(k); this.append(k, v); }
    get(k) { const e = this._list.find((x) => x[0] === String(k)); return e ? e[1] : null; }
    getAll(k) { return this._list.filter((x) => x[0] === String(k)).map((x) => x[1]); }
    has(k) { return this._list.some((x) => x[0] === String(k)); }
    delete(k) { this._list = this._list.filter((x) => x[0] !== String(k)); }
    entries() { return this._list.map((e) => e.slice())[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "FormData"; }
  }
  function makeResponse(r) {
    const headers = new Headers(r.headers || {});
    let used = false;
    const take = () => { if (used) return Promise.reject(new TypeError("Body is unusable: Body has already been read")); used = true; return Promise.resolve(r.body); };
    return {
      status: r.status,
      statusText: r.statusText || "",
      ok: r.status >= 200 && r.status < 300,
      redirected: false,
      type: "basic",
      url: r.url,
      headers,
      get bodyUsed() { return used; },
      text: take,
      json: () => take().then((t) => JSON.parse(t)),
      arrayBuffer: () => take().then((t) => new TextEncoder().encode(t).buffer),
      clone() { return makeResponse(r); },
    };
  }
  globalThis.fetch = function (input, init) {
    return new Promise((resolve, reject) => {
      const opts = init || {};
      const signal = opts.signal;
      if (signal && signal.aborted) { reject(signal.reason); return; }
      const url = typeof input === "string" ? input : input && input.href !== undefined ? input.href : String(input && input.url !== undefined ? input.url : input);
      const headers = new Headers(opts.headers || (input && input.headers) || {});
      let body = opts.body;
      if (body instanceof URLSearchParams) {
        if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
        body = body.toString();
      } else if (body instanceof FormData) {
        const boundary = "----idpipe" + Math.random().toString(16).slice(2) + Date.now().toString(16);
        headers.set("content-type", "multipart/form-data; boundary=" + boundary);
        body = body._list.map(([k, v]) => "--" + boundary + '\r\nContent-Disposition: form-data; name="' + k.replace(/"/g, "%22") + '"\r\n\r\n' + v + "\r\n").join("") + "--" + boundary + "--\r\n";
      } else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
        body = new TextDecoder().decode(body);
      } else if (body !== undefined && body !== null) {
        body = String(body);
      }
      const plain = {};
      headers.forEach((v, k) => { plain[k] = v; });
      let id;
      try {
        id = call("fetch", [url, { method: opts.method, headers: plain, body: body === null ? undefined : body }]);
      } catch (e) {
        reject(new TypeError("fetch failed: " + e.message));
        return;
      }
      pendingFetches.set(id, { resolve, reject });
      if (signal) {
        signal.addEventListener("abort", () => { if (pendingFetches.delete(id)) reject(signal.reason); }, { once: true });
      }
    });
  };
  Object.assign(globalThis, { DOMException, Event, EventTarget, AbortSignal, AbortController, Headers, FormData });
})(__idpipe_host);
