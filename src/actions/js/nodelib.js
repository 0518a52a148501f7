// More of Node's built-in modules for actions (issue 17): util, events, querystring, path,
// string_decoder, zlib (sync, through the host's flate2), and the `process` global (an empty
// env: secrets come in event.secrets). Modules that make no sense in an action (fs,
// child_process, net, ...) are not here: requiring one fails with a clear message.
(function (nodeHost) {
  "use strict";
  const B = globalThis.__idpipe_builtins;
  const { Buffer } = B.buffer;

  // ---- util
  function inspect(v, opts, depth = 0, seen = new Set()) {
    const max = opts && opts.depth !== undefined ? opts.depth : 2;
    if (v === null) return "null";
    switch (typeof v) {
      case "string": return depth === 0 ? v : "'" + v.replace(/'/g, "\\'") + "'";
      case "undefined": return "undefined";
      case "function": return "[Function: " + (v.name || "(anonymous)") + "]";
      case "symbol": return v.toString();
      case "bigint": return v + "n";
      case "object": break;
      default: return String(v);
    }
    if (seen.has(v)) return "[Circular *1]";
    if (v instanceof Error) return v.stack || v.name + ": " + v.message;
    if (v instanceof Date) return v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (depth > max) return Array.isArray(v) ? "[Array]" : "[Object]";
    seen.add(v);
    const inner = (x) => inspect(x, opts, depth + 1, seen);
    let out;
    if (Array.isArray(v)) out = v.length ? "[ " + v.map(inner).join(", ") + " ]" : "[]";
    else if (v instanceof Map) out = "Map(" + v.size + ") {" + (v.size ? " " + [...v].map(([k, x]) => inner(k) + " => " + inner(x)).join(", ") + " " : "") + "}";
    else if (v instanceof Set) out = "Set(" + v.size + ") {" + (v.size ? " " + [...v].map(inner).join(", ") + " " : "") + "}";
    else {
      const keys = Object.keys(v);
      const key = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : "'" + k + "'");
      out = keys.length ? "{ " + keys.map((k) => key(k) + ": " + inner(v[k])).join(", ") + " }" : "{}";
    }
    seen.delete(v);
    return out;
  }
  function format(f, ...args) {
    if (typeof f !== "string") return [f, ...args].map((a) => inspect(a)).join(" ");
    let i = 0;
    let out = f.replace(/%[sdifjoO%]/g, (m) => {
      if (m === "%%") return "%";
      if (i >= args.length) return m;
      const a = args[i++];
      switch (m) {
        case "%s": return typeof a === "string" ? a : inspect(a, { depth: 0 });
        case "%d": case "%i": return typeof a === "object" ? "NaN" : String(m === "%i" ? parseInt(a, 10) : Number(a));
        case "%f": return String(parseFloat(a));
        case "%j": try { return JSON.stringify(a); } catch (_) { return "[Circular]"; }
        default: return inspect(a, { depth: 4 });
      }
    });
    for (; i < args.length; i++) out += " " + (typeof args[i] === "string" ? args[i] : inspect(args[i]));
    return out;
  }
  const custom = Symbol.for("nodejs.util.promisify.custom");
  function promisify(fn) {
    if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function');
    if (fn[custom]) return fn[custom];
    return function (...args) {
      return new Promise((resolve, reject) => {
        fn.call(this, ...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values : values[0])));
      });
    };
  }
  promisify.custom = custom;
  function callbackify(fn) {
    return function (...args) {
      const cb = args.pop();
      fn.apply(this, args).then((v) => cb(null, v), (e) => cb(e || new Error("Promise was rejected with a falsy value")));
    };
  }
  function inherits(ctor, superCtor) {
    Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
    Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
  }
  function isDeepStrictEqual(a, b) {
    if (Object.is(a, b)) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && isDeepStrictEqual(a[k], b[k]));
  }
  const util = {
    format, formatWithOptions: (_opts, ...args) => format(...args), inspect, promisify, callbackify, inherits, isDeepStrictEqual,
    deprecate: (fn) => fn,
    types: {
      isDate: (v) => v instanceof Date, isRegExp: (v) => v instanceof RegExp, isPromise: (v) => v instanceof Promise,
      isUint8Array: (v) => v instanceof Uint8Array, isArrayBuffer: (v) => v instanceof ArrayBuffer, isMap: (v) => v instanceof Map, isSet: (v) => v instanceof Set,
    },
    TextEncoder, TextDecoder,
  };

  // ---- events (a function constructor, as in Node: old code calls `EventEmitter.call(this)`)
  function EventEmitter() { EventEmitter.init.call(this); }
  EventEmitter.init = function () {
    if (!this._events || this._events === Object.getPrototypeOf(this)._events) this._events = Object.create(null);
    if (this._max === undefined) this._max = 10;
  };
  const listenersOf = (em, name) => { if (!em._events) em._events = Object.create(null); return em._events[name] || (em._events[name] = []); };
  Object.assign(EventEmitter.prototype, {
    on(name, fn) { if (name !== "newListener" && this._events && this._events.newListener) this.emit("newListener", name, fn); listenersOf(this, name).push(fn); return this; },
    addListener(name, fn) { return this.on(name, fn); },
    prependListener(name, fn) { listenersOf(this, name).unshift(fn); return this; },
    once(name, fn) { const self = this; function w(...a) { self.off(name, w); fn.apply(self, a); } w.listener = fn; return this.on(name, w); },
    prependOnceListener(name, fn) { const self = this; function w(...a) { self.off(name, w); fn.apply(self, a); } w.listener = fn; return this.prependListener(name, w); },
    off(name, fn) { const l = this._events && this._events[name]; if (l) { const i = l.findIndex((x) => x === fn || x.listener === fn); if (i >= 0) l.splice(i, 1); } return this; },
    removeListener(name, fn) { return this.off(name, fn); },
    removeAllListeners(name) { if (name === undefined) this._events = Object.create(null); else if (this._events) delete this._events[name]; return this; },
    emit(name, ...args) {
      const l = this._events && this._events[name];
      if (!l || l.length === 0) { if (name === "error") throw args[0] instanceof Error ? args[0] : new Error("Unhandled error. (" + inspect(args[0]) + ")"); return false; }
      for (const fn of [...l]) fn.apply(this, args);
      return true;
    },
    listeners(name) { return ((this._events && this._events[name]) || []).map((f) => f.listener || f); },
    rawListeners(name) { return ((this._events && this._events[name]) || []).slice(); },
    listenerCount(name) { return ((this._events && this._events[name]) || []).length; },
    eventNames() { return this._events ? Object.keys(this._events).filter((k) => this._events[k].length) : []; },
    setMaxListeners(n) { this._max = n; return this; },
    getMaxListeners() { return this._max === undefined ? 10 : this._max; },
  });
  EventEmitter.EventEmitter = EventEmitter;
  EventEmitter.defaultMaxListeners = 10;
  EventEmitter.once = (em, name) => new Promise((resolve, reject) => {
    em.once(name, (...a) => resolve(a));
    if (name !== "error") em.once("error", reject);
  });

  // ---- stream (enough for libraries that subclass streams or pipe small buffers; no
  // backpressure: actions handle small documents)
  function Stream(opts) { EventEmitter.call(this, opts); }
  inherits(Stream, EventEmitter);
  Stream.prototype.pipe = function (dest) {
    this.on("data", (c) => dest.write(c));
    this.on("end", () => { if (dest.end) dest.end(); });
    return dest;
  };
  function Readable(opts) {
    Stream.call(this, opts);
    this.readable = true;
    if (opts && typeof opts.read === "function") this._read = opts.read;
  }
  inherits(Readable, Stream);
  Object.assign(Readable.prototype, {
    push(chunk) {
      if (chunk === null) { this._ended = true; queueMicrotask(() => this.emit("end")); return false; }
      queueMicrotask(() => this.emit("data", chunk));
      return true;
    },
    setEncoding() { return this; },
    resume() { return this; },
    pause() { return this; },
    read() { return null; },
    destroy(err) { if (err) queueMicrotask(() => this.emit("error", err)); queueMicrotask(() => this.emit("close")); return this; },
  });
  Readable.from = (items) => {
    const r = new Readable();
    queueMicrotask(() => { for (const x of items) r.push(x); r.push(null); });
    return r;
  };
  function Writable(opts) {
    Stream.call(this, opts);
    this.writable = true;
    if (opts && typeof opts.write === "function") this._write = opts.write;
    if (opts && typeof opts.final === "function") this._final = opts.final;
  }
  inherits(Writable, Stream);
  const writableMethods = {
    write(chunk, enc, cb) {
      if (typeof enc === "function") { cb = enc; enc = undefined; }
      const done = (err) => { if (err) this.emit("error", err); if (cb) cb(err); };
      if (this._write) this._write(chunk, enc || "buffer", done); else done();
      return true;
    },
    end(chunk, enc, cb) {
      if (typeof chunk === "function") { cb = chunk; chunk = undefined; }
      if (typeof enc === "function") { cb = enc; enc = undefined; }
      if (chunk !== undefined && chunk !== null) this.write(chunk, enc);
      const fin = () => { this.emit("finish"); if (cb) cb(); };
      if (this._final) this._final(fin); else queueMicrotask(fin);
      return this;
    },
    cork() {},
    uncork() {},
    setDefaultEncoding() { return this; },
  };
  Object.assign(Writable.prototype, writableMethods, { destroy: Readable.prototype.destroy });
  function Duplex(opts) {
    Readable.call(this, opts);
    Writable.call(this, opts);
  }
  inherits(Duplex, Readable);
  Object.assign(Duplex.prototype, writableMethods);
  function Transform(opts) {
    Duplex.call(this, opts);
    if (opts && typeof opts.transform === "function") this._transform = opts.transform;
    if (opts && typeof opts.flush === "function") this._flush = opts.flush;
  }
  inherits(Transform, Duplex);
  Transform.prototype._write = function (chunk, enc, cb) {
    if (!this._transform) { this.push(chunk); cb(); return; }
    this._transform(chunk, enc, (err, data) => { if (data !== undefined && data !== null) this.push(data); cb(err); });
  };
  Transform.prototype._final = function (cb) {
    const finish = () => { this.push(null); cb(); };
    if (this._flush) this._flush((err, data) => { if (data !== undefined && data !== null) this.push(data); finish(); });
    else finish();
  };
  function PassThrough(opts) { Transform.call(this, opts); }
  inherits(PassThrough, Transform);
  Object.assign(Stream, { Stream, Readable, Writable, Duplex, Transform, PassThrough });

  // ---- assert
  class AssertionError extends Error {
    constructor(options) { super(options && options.message ? options.message : "Assertion failed"); this.name = "AssertionError"; this.code = "ERR_ASSERTION"; }
  }
  const fail = (message, dflt) => { if (message instanceof Error) throw message; throw new AssertionError({ message: message || dflt }); };
  function assert(value, message) { if (!value) fail(message, "The expression evaluated to a falsy value"); }
  Object.assign(assert, {
    ok: assert,
    AssertionError,
    fail: (message) => fail(message, "Failed"),
    equal: (a, b, m) => { if (a != b) fail(m, inspect(a) + " == " + inspect(b)); },
    notEqual: (a, b, m) => { if (a == b) fail(m, inspect(a) + " != " + inspect(b)); },
    strictEqual: (a, b, m) => { if (!Object.is(a, b)) fail(m, "Expected values to be strictly equal: " + inspect(a) + " !== " + inspect(b)); },
    notStrictEqual: (a, b, m) => { if (Object.is(a, b)) fail(m, "Expected values to be not strictly equal"); },
    deepStrictEqual: (a, b, m) => { if (!isDeepStrictEqual(a, b)) fail(m, "Expected values to be strictly deep-equal"); },
    deepEqual: (a, b, m) => { if (!isDeepStrictEqual(a, b)) fail(m, "Expected values to be deep-equal"); },
    throws(fn, _expected, m) { try { fn(); } catch (_) { return; } fail(m, "Missing expected exception."); },
  });
  assert.strict = assert;

  // ---- http, https, http2, net, tls: loadable (libraries such as axios load them at the top
  // and use fetch where they are missing), but every connection they would open throws:
  // actions reach the network through fetch only, to the tenant's allowed hosts.
  const noNetwork = (what) => function () {
    throw new Error(what + " is not available to actions: use fetch (to the tenant's allowed hosts)");
  };
  const noNetworkLike = (what) => function () {
    throw new Error(what + " is not available to actions: there is no file system");
  };
  class Agent extends EventEmitter { constructor(options) { super(); this.options = options || {}; } destroy() {} }
  const STATUS_CODES = { 200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };
  const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
  const httpLike = (name) => ({
    Agent, globalAgent: new Agent(), STATUS_CODES, METHODS,
    request: noNetwork(name + ".request"), get: noNetwork(name + ".get"), createServer: noNetwork(name + ".createServer"),
    ClientRequest: noNetwork(name + ".ClientRequest"), IncomingMessage: function IncomingMessage() {}, ServerResponse: noNetwork(name + ".ServerResponse"),
  });
  const http2 = {
    connect: noNetwork("http2.connect"), createServer: noNetwork("http2.createServer"), createSecureServer: noNetwork("http2.createSecureServer"),
    constants: {
      HTTP2_HEADER_METHOD: ":method", HTTP2_HEADER_PATH: ":path", HTTP2_HEADER_SCHEME: ":scheme", HTTP2_HEADER_AUTHORITY: ":authority",
      HTTP2_HEADER_STATUS: ":status", HTTP2_HEADER_CONTENT_TYPE: "content-type", HTTP2_HEADER_CONTENT_LENGTH: "content-length",
      HTTP2_METHOD_GET: "GET", HTTP2_METHOD_POST: "POST", NGHTTP2_CANCEL: 8,
    },
  };
  const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  const isIPv6 = (s) => { try { return typeof s === "string" && s.includes(":") && new URL("http://[" + s + "]/").hostname.length > 2; } catch (_) { return false; } };
  const net = {
    Socket: noNetwork("net.Socket"), connect: noNetwork("net.connect"), createConnection: noNetwork("net.createConnection"), createServer: noNetwork("net.createServer"),
    isIPv4: (s) => ipv4.test(String(s)), isIPv6, isIP: (s) => (ipv4.test(String(s)) ? 4 : isIPv6(String(s)) ? 6 : 0),
  };
  const tls = { connect: noNetwork("tls.connect"), createSecureContext: noNetwork("tls.createSecureContext"), TLSSocket: noNetwork("tls.TLSSocket"), rootCertificates: [], DEFAULT_MIN_VERSION: "TLSv1.2" };

  // ---- fs: loadable (form-data and others reference it at the top), but there is no file
  // system: every function throws (promises reject), `existsSync` answers false.
  const FS_FUNCS = ["readFile", "readFileSync", "writeFile", "writeFileSync", "appendFile", "appendFileSync", "open", "openSync",
    "readdir", "readdirSync", "stat", "statSync", "lstat", "lstatSync", "mkdir", "mkdirSync", "unlink", "unlinkSync", "rm", "rmSync",
    "createReadStream", "createWriteStream", "access", "accessSync", "realpath", "realpathSync", "copyFile", "copyFileSync",
    "rename", "renameSync", "watch", "exists"];
  const fs = { existsSync: () => false, constants: { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1 }, promises: {} };
  for (const f of FS_FUNCS) {
    fs[f] = noNetworkLike("fs." + f);
    if (!f.endsWith("Sync") && !f.startsWith("create") && f !== "watch" && f !== "exists") {
      fs.promises[f] = (...args) => Promise.reject(new Error("fs.promises." + f + " is not available to actions: there is no file system"));
    }
  }

  // ---- tty and os: what libraries ask to decide how to print
  const tty = { isatty: () => false };
  const os = {
    EOL: "\n", platform: () => "linux", type: () => "Linux", arch: () => "x64", release: () => "", hostname: () => "idpipe-action",
    tmpdir: () => "/tmp", homedir: () => "/", cpus: () => [], totalmem: () => 0, freemem: () => 0, endianness: () => "LE", uptime: () => 0,
    networkInterfaces: () => ({}), userInfo: () => ({ username: "action", uid: -1, gid: -1, shell: null, homedir: "/" }),
  };

  // ---- querystring
  const qsEscape = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const qsUnescape = (s) => { try { return decodeURIComponent(s); } catch (_) { return s; } };
  const querystring = {
    escape: qsEscape,
    unescape: qsUnescape,
    stringify(obj, sep = "&", eq = "=") {
      if (!obj || typeof obj !== "object") return "";
      const str = (v) => (typeof v === "string" ? v : typeof v === "number" && isFinite(v) ? String(v) : typeof v === "boolean" || typeof v === "bigint" ? String(v) : "");
      return Object.keys(obj).map((k) => (Array.isArray(obj[k]) ? obj[k].map((v) => qsEscape(k) + eq + qsEscape(str(v))).join(sep) : qsEscape(k) + eq + qsEscape(str(obj[k])))).filter(Boolean).join(sep);
    },
    parse(s, sep = "&", eq = "=") {
      const out = Object.create(null);
      if (typeof s !== "string" || s.length === 0) return out;
      for (const part of s.split(sep)) {
        if (!part) continue;
        const i = part.indexOf(eq);
        const k = qsUnescape((i < 0 ? part : part.slice(0, i)).replace(/\+/g, " "));
        const v = i < 0 ? "" : qsUnescape(part.slice(i + eq.length).replace(/\+/g, " "));
        if (k in out) out[k] = [].concat(out[k], v); else out[k] = v;
      }
      return out;
    },
  };
  querystring.encode = querystring.stringify;
  querystring.decode = querystring.parse;

  // ---- path (POSIX)
  function normalizeParts(parts, absolute) {
    const out = [];
    for (const p of parts) {
      if (!p || p === ".") continue;
      if (p === "..") { if (out.length && out[out.length - 1] !== "..") out.pop(); else if (!absolute) out.push(".."); } else out.push(p);
    }
    return out;
  }
  const path = {
    sep: "/",
    delimiter: ":",
    normalize(p) {
      if (p === "") return ".";
      const abs = p.startsWith("/"), trailing = p.endsWith("/");
      let s = normalizeParts(p.split("/"), abs).join("/");
      if (!s && !abs) s = ".";
      if (s && trailing) s += "/";
      return (abs ? "/" : "") + s;
    },
    join: (...parts) => path.normalize(parts.filter((x) => x !== "").join("/") || "."),
    resolve: (...parts) => {
      let r = "";
      for (let i = parts.length - 1; i >= 0 && !r.startsWith("/"); i--) r = parts[i] + (r ? "/" + r : "");
      if (!r.startsWith("/")) r = "/" + r;
      const s = "/" + normalizeParts(r.split("/"), true).join("/");
      return s;
    },
    isAbsolute: (p) => p.startsWith("/"),
    dirname(p) { const s = p.replace(/\/+$/, ""); const i = s.lastIndexOf("/"); return i < 0 ? "." : i === 0 ? "/" : s.slice(0, i); },
    basename(p, ext) { const b = p.replace(/\/+$/, "").split("/").pop() || ""; return ext && b.endsWith(ext) && b !== ext ? b.slice(0, -ext.length) : b; },
    extname(p) { const b = path.basename(p); const i = b.lastIndexOf("."); return i <= 0 ? "" : b.slice(i); },
    relative(from, to) {
      const f = path.resolve(from).split("/").filter(Boolean), t = path.resolve(to).split("/").filter(Boolean);
      let i = 0;
      while (i < f.length && i < t.length && f[i] === t[i]) i++;
      return [...Array(f.length - i).fill(".."), ...t.slice(i)].join("/");
    },
    parse(p) { const base = path.basename(p), ext = path.extname(p); return { root: p.startsWith("/") ? "/" : "", dir: path.dirname(p), base, ext, name: ext ? base.slice(0, -ext.length) : base }; },
    format: (o) => (o.dir ? o.dir + "/" : o.root || "") + (o.base || (o.name || "") + (o.ext || "")),
  };
  path.posix = path;

  // ---- string_decoder (UTF-8 across chunk boundaries)
  class StringDecoder {
    constructor(enc = "utf8") { this.encoding = enc; this._rest = new Uint8Array(0); }
    write(buf) {
      const all = Buffer.concat([Buffer.from(this._rest), Buffer.from(buf)]);
      let end = all.length, i = all.length - 1, need = 0;
      for (let back = 0; i >= 0 && back < 4; i--, back++) {
        const c = all[i];
        if ((c & 0xc0) === 0x80) continue;
        need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (all.length - i < need) end = i;
        break;
      }
      this._rest = all.subarray(end);
      return all.subarray(0, end).toString(this.encoding);
    }
    end(buf) { const s = buf ? this.write(buf) : ""; const r = this._rest.length ? Buffer.from(this._rest).toString(this.encoding) : ""; this._rest = new Uint8Array(0); return s + r; }
  }

  // ---- zlib (synchronous forms)
  const bin = (u8) => { let s = ""; for (let i = 0; i < u8.length; i += 8192) s += String.fromCharCode.apply(null, u8.subarray(i, i + 8192)); return s; };
  const zop = (op) => (data) => {
    const input = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
    const out = nodeHost("zlib", op, "", bin(input));
    const b = Buffer.alloc(out.length);
    for (let i = 0; i < out.length; i++) b[i] = out.charCodeAt(i);
    return b;
  };
  const zlib = {
    deflateSync: zop("deflate"), inflateSync: zop("inflate"),
    deflateRawSync: zop("deflate-raw"), inflateRawSync: zop("inflate-raw"),
    gzipSync: zop("gzip"), gunzipSync: zop("gunzip"), unzipSync: zop("unzip"),
    constants: {
      Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_OK: 0, Z_STREAM_END: 1,
      Z_DEFAULT_COMPRESSION: -1, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, BROTLI_OPERATION_FLUSH: 1, ZSTD_e_flush: 1,
    },
  };

  // ---- process
  const process = {
    env: {},
    version: "v22.12.0",
    versions: { node: "22.12.0" },
    platform: "linux",
    arch: "x64",
    argv: [],
    release: { name: "node" },
    nextTick: (fn, ...args) => { Promise.resolve().then(() => fn(...args)); },
    cwd: () => "/",
    hrtime: Object.assign((prev) => {
      const ns = BigInt(Math.round(performance.now() * 1e6));
      const t = [Number(ns / 1000000000n), Number(ns % 1000000000n)];
      return prev ? [t[0] - prev[0] - (t[1] < prev[1] ? 1 : 0), (t[1] - prev[1] + 1e9) % 1e9] : t;
    }, { bigint: () => BigInt(Math.round(performance.now() * 1e6)) }),
    emitWarning: () => {},
    // Output goes to the action's trace, like console.
    stdout: { fd: 1, isTTY: false, write: (s) => { console.log(String(s).replace(/\n$/, "")); return true; } },
    stderr: { fd: 2, isTTY: false, write: (s) => { console.error(String(s).replace(/\n$/, "")); return true; } },
    on() { return process; },
    once() { return process; },
    off() { return process; },
  };
  if (typeof globalThis.performance === "undefined") {
    const t0 = Date.now();
    globalThis.performance = { now: () => Date.now() - t0, timeOrigin: t0 };
  }

  globalThis.process = process;
  globalThis.__idpipe_builtins = Object.freeze(Object.assign({}, B, {
    util: Object.freeze(util), events: EventEmitter, stream: Stream, assert, tty: Object.freeze(tty), os: Object.freeze(os),
    fs: Object.freeze(fs), "fs/promises": Object.freeze(fs.promises),
    http: Object.freeze(httpLike("http")), https: Object.freeze(httpLike("https")), http2: Object.freeze(http2), net: Object.freeze(net), tls: Object.freeze(tls), querystring: Object.freeze(querystring), path: Object.freeze(path),
    string_decoder: Object.freeze({ StringDecoder }), zlib: Object.freeze(zlib), process,
    timers: Object.freeze({ setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate }),
  }));
})(__idpipe_node);
