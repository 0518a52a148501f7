// Node and web globals for actions (issue 17), and the built-in modules `require` serves:
// TextEncoder/TextDecoder, Buffer (`buffer`), URL/URLSearchParams (`url`), structuredClone,
// crypto.getRandomValues/randomUUID/subtle.digest and `crypto`/`node:crypto` (createHash,
// createHmac, randomBytes, randomUUID, timingSafeEqual). Hashing, HMAC, randomness and URL
// parsing are the host's (OpenSSL, the url crate); bytes cross as binary strings.
(function (host) {
  "use strict";
  const toBinary = (u8) => {
    let s = "";
    for (let i = 0; i < u8.length; i += 8192) s += String.fromCharCode.apply(null, u8.subarray(i, i + 8192));
    return s;
  };
  const fromBinary = (s) => {
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  };

  function utf8Encode(str) {
    const out = [];
    for (let i = 0; i < str.length; i++) {
      let c = str.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        const d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  }
  function utf8Decode(b) {
    let s = "";
    for (let i = 0; i < b.length;) {
      const c = b[i];
      let cp = 0xfffd, n = 1;
      if (c < 0x80) cp = c;
      else if (c >= 0xc2 && c < 0xe0 && (b[i + 1] & 0xc0) === 0x80) { cp = ((c & 31) << 6) | (b[i + 1] & 63); n = 2; }
      else if (c >= 0xe0 && c < 0xf0 && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
        cp = ((c & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); n = 3;
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) { cp = 0xfffd; n = 1; }
      } else if (c >= 0xf0 && c < 0xf5 && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
        cp = ((c & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); n = 4;
        if (cp < 0x10000 || cp > 0x10ffff) { cp = 0xfffd; n = 1; }
      }
      s += String.fromCodePoint(cp);
      i += n;
    }
    return s;
  }

  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(s = "") { return utf8Encode(String(s)); }
  }
  class TextDecoder {
    constructor(label = "utf-8") {
      const l = String(label).toLowerCase();
      if (l !== "utf-8" && l !== "utf8") throw new RangeError("The \"" + label + "\" encoding is not supported");
    }
    get encoding() { return "utf-8"; }
    decode(input) {
      if (input === undefined) return "";
      const b = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      return utf8Decode(b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b);
    }
  }

  const HEX = "0123456789abcdef";
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function toBase64(b, url) {
    let s = "";
    for (let i = 0; i < b.length; i += 3) {
      const n = (b[i] << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0);
      s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < b.length ? B64[n & 63] : "=");
    }
    return url ? s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") : s;
  }
  function fromBase64(s) {
    const clean = String(s).replace(/[^A-Za-z0-9+/\-_]/g, "").replace(/-/g, "+").replace(/_/g, "/");
    const out = [];
    let bits = 0, acc = 0;
    for (const ch of clean) {
      acc = (acc << 6) | B64.indexOf(ch);
      bits += 6;
      if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); }
    }
    return new Uint8Array(out);
  }
  function normEnc(enc) {
    const e = String(enc || "utf8").toLowerCase();
    if (e === "utf8" || e === "utf-8") return "utf8";
    if (e === "binary" || e === "latin1") return "latin1";
    if (["hex", "base64", "base64url", "ascii"].includes(e)) return e;
    throw new TypeError("Unknown encoding: " + enc);
  }
  function encode(str, enc) {
    switch (normEnc(enc)) {
      case "utf8": return utf8Encode(str);
      case "hex": {
        const n = Math.floor(str.length / 2), out = new Uint8Array(n);
        for (let i = 0; i < n; i++) { const v = parseInt(str.substr(i * 2, 2), 16); if (Number.isNaN(v)) return out.subarray(0, i); out[i] = v; }
        return out;
      }
      case "base64": case "base64url": return fromBase64(str);
      default: { const out = new Uint8Array(str.length); for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i) & 255; return out; }
    }
  }
  function decode(b, enc) {
    switch (normEnc(enc)) {
      case "utf8": return utf8Decode(b);
      case "hex": { let s = ""; for (const x of b) s += HEX[x >> 4] + HEX[x & 15]; return s; }
      case "base64": return toBase64(b, false);
      case "base64url": return toBase64(b, true);
      case "ascii": { let s = ""; for (const x of b) s += String.fromCharCode(x & 127); return s; }
      default: return toBinary(b);
    }
  }

  class FastBuffer extends Uint8Array {
    static from(value, encOrOffset, length) {
      if (typeof value === "string") return FastBuffer.fromView(encode(value, encOrOffset));
      if (value instanceof ArrayBuffer) return new FastBuffer(value, encOrOffset || 0, length === undefined ? value.byteLength - (encOrOffset || 0) : length);
      if (ArrayBuffer.isView(value)) return FastBuffer.fromView(new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice());
      if (value && value.type === "Buffer" && Array.isArray(value.data)) return FastBuffer.fromView(Uint8Array.from(value.data));
      if (Array.isArray(value) || (value && typeof value.length === "number")) return FastBuffer.fromView(Uint8Array.from(value, (x) => x & 255));
      throw new TypeError("The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.");
    }
    static fromView(u8) { return new FastBuffer(u8.buffer, u8.byteOffset, u8.byteLength); }
    static alloc(n, fill, enc) { const b = new FastBuffer(n); if (fill !== undefined) b.fill(typeof fill === "string" ? encode(fill, enc)[0] || 0 : fill); return b; }
    static allocUnsafe(n) { return new FastBuffer(n); }
    static isBuffer(b) { return b instanceof FastBuffer; }
    static isEncoding(e) { try { normEnc(e); return true; } catch (_) { return false; } }
    static byteLength(v, enc) { return typeof v === "string" ? encode(v, enc).length : v.byteLength; }
    static concat(list, total) {
      const n = total === undefined ? list.reduce((a, b) => a + b.length, 0) : total;
      const out = FastBuffer.alloc(n);
      let at = 0;
      for (const b of list) { if (at >= n) break; out.set(b.subarray(0, n - at), at); at += b.length; }
      return out;
    }
    static compare(a, b) { return a.compare(b); }
    toString(enc, start = 0, end = this.length) { return decode(this.subarray(start, end), enc); }
    toJSON() { return { type: "Buffer", data: Array.from(this) }; }
    equals(other) { return this.compare(other) === 0; }
    compare(other) {
      const n = Math.min(this.length, other.length);
      for (let i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    }
    subarray(s, e) { const u = Uint8Array.prototype.subarray.call(this, s, e); return new FastBuffer(u.buffer, u.byteOffset, u.length); }
    slice(s, e) { return this.subarray(s, e); }
    write(str, offset = 0, enc) { const b = encode(str, typeof offset === "string" ? offset : enc); const at = typeof offset === "number" ? offset : 0; const n = Math.min(b.length, this.length - at); this.set(b.subarray(0, n), at); return n; }
    copy(target, ts = 0, ss = 0, se = this.length) { const part = this.subarray(ss, se); target.set(part.subarray(0, target.length - ts), ts); return Math.min(part.length, target.length - ts); }
    readUInt8(o = 0) { return this[o]; }
    readUInt16BE(o = 0) { return (this[o] << 8) | this[o + 1]; }
    readUInt32BE(o = 0) { return ((this[o] << 24) >>> 0) + ((this[o + 1] << 16) | (this[o + 2] << 8) | this[o + 3]); }
    writeUInt32BE(v, o = 0) { this[o] = v >>> 24; this[o + 1] = v >>> 16; this[o + 2] = v >>> 8; this[o + 3] = v; return o + 4; }
  }

  // Node's Buffer is also callable without `new` (the deprecated `Buffer(x)` that older
  // packages such as safe-buffer still use).
  function Buffer(arg, encOrOffset, length) {
    return typeof arg === "number" ? FastBuffer.alloc(arg) : FastBuffer.from(arg, encOrOffset, length);
  }
  Object.setPrototypeOf(Buffer, FastBuffer);
  Buffer.prototype = FastBuffer.prototype;
  // Own, enumerable statics, as in Node (copyProps-style shims copy them).
  for (const k of ["from", "alloc", "allocUnsafe", "isBuffer", "isEncoding", "byteLength", "concat", "compare"]) Buffer[k] = FastBuffer[k];
  Buffer.allocUnsafeSlow = FastBuffer.allocUnsafe;
  Buffer.poolSize = 8192;
  Object.defineProperty(FastBuffer.prototype, "constructor", { value: Buffer, writable: true, configurable: true });

  function bytesOf(data, enc) {
    if (typeof data === "string") return encode(data, enc);
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError("The \"data\" argument must be of type string or an instance of Buffer, TypedArray, or DataView.");
  }
  const ALGS = { sha1: "sha1", sha256: "sha256", sha384: "sha384", sha512: "sha512", md5: "md5", "sha-1": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512" };
  const algOf = (a) => { const x = ALGS[String(a).toLowerCase()]; if (!x) throw new Error("Digest method not supported"); return x; };
  class Hash {
    constructor(alg, key) { this.alg = algOf(alg); this.key = key; this.parts = []; this.done = false; }
    update(data, enc) { if (this.done) throw new Error("Digest already called"); this.parts.push(bytesOf(data, enc)); return this; }
    digest(enc) {
      if (this.done) throw new Error("Digest already called");
      this.done = true;
      const data = toBinary(Buffer.concat(this.parts));
      const out = Buffer.fromView(fromBinary(this.key === undefined ? host("hash", this.alg, "", data) : host("hmac", this.alg, toBinary(this.key), data)));
      return enc === undefined ? out : out.toString(enc);
    }
  }
  const randomBytes = (n, cb) => {
    if (!(n >= 0 && n <= 65536)) throw new RangeError("The value of \"size\" is out of range.");
    const b = Buffer.fromView(fromBinary(host("random", String(n), "", "")));
    if (typeof cb === "function") { Promise.resolve().then(() => cb(null, b)); return undefined; }
    return b;
  };
  const randomUUID = () => {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString("hex");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  };
  const webcrypto = {
    getRandomValues(view) {
      if (!ArrayBuffer.isView(view) || view instanceof Float32Array || view instanceof Float64Array) throw new TypeError("The data argument must be an integer-type TypedArray");
      if (view.byteLength > 65536) throw new RangeError("The ArrayBufferView's byte length exceeds the number of bytes of entropy available (65536)");
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(randomBytes(view.byteLength));
      return view;
    },
    randomUUID,
    subtle: {
      digest(alg, data) {
        return new Promise((resolve) => {
          const name = typeof alg === "string" ? alg : alg.name;
          const out = new Hash(name).update(bytesOf(data)).digest();
          resolve(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
        });
      },
    },
  };
  const cryptoModule = {
    createHash: (alg) => new Hash(alg),
    // A secret KeyObject (createSecretKey) is accepted too, as in Node.
    createHmac: (alg, key) => new Hash(alg, key && typeof key === "object" && key._h && key.type === "secret" ? fromBase64(key._h.der) : bytesOf(key)),
    randomBytes,
    randomUUID,
    getRandomValues: (v) => webcrypto.getRandomValues(v),
    timingSafeEqual(a, b) {
      const x = bytesOf(a), y = bytesOf(b);
      if (x.length !== y.length) throw new RangeError("Input buffers must have the same byte length");
      let d = 0;
      for (let i = 0; i < x.length; i++) d |= x[i] ^ y[i];
      return d === 0;
    },
    getHashes: () => ["md5", "sha1", "sha256", "sha384", "sha512"],
    webcrypto,
  };

  // URL: parsed and serialized by the host (WHATWG rules, the url crate).
  const URL_PARTS = ["href", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];
  class URLSearchParams {
    constructor(init) {
      this._list = [];
      this._url = null;
      if (typeof init === "string") this._parse(init);
      else if (init instanceof URLSearchParams) this._list = init._list.map((p) => p.slice());
      else if (Array.isArray(init)) for (const [k, v] of init) this._list.push([String(k), String(v)]);
      else if (init && typeof init === "object") for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
    }
    _parse(s) {
      this._list = [];
      for (const part of s.replace(/^\?/, "").split("&")) {
        if (!part) continue;
        const i = part.indexOf("=");
        const dec = (x) => { try { return decodeURIComponent(x.replace(/\+/g, " ")); } catch (_) { return x; } };
        this._list.push(i < 0 ? [dec(part), ""] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
      }
    }
    _changed() { if (this._url) { const s = this.toString(); this._url._set("search", s ? "?" + s : ""); } }
    append(k, v) { this._list.push([String(k), String(v)]); this._changed(); }
    delete(k) { this._list = this._list.filter((p) => p[0] !== String(k)); this._changed(); }
    get(k) { const p = this._list.find((x) => x[0] === String(k)); return p ? p[1] : null; }
    getAll(k) { return this._list.filter((x) => x[0] === String(k)).map((x) => x[1]); }
    has(k) { return this._list.some((x) => x[0] === String(k)); }
    set(k, v) {
      const key = String(k); let seen = false;
      this._list = this._list.filter((p) => { if (p[0] !== key) return true; if (seen) return false; seen = true; p[1] = String(v); return true; });
      if (!seen) this._list.push([key, String(v)]);
      this._changed();
    }
    sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._changed(); }
    forEach(f, self) { for (const [k, v] of this._list) f.call(self, v, k, this); }
    keys() { return this._list.map((p) => p[0])[Symbol.iterator](); }
    values() { return this._list.map((p) => p[1])[Symbol.iterator](); }
    entries() { return this._list.map((p) => [p[0], p[1]])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get size() { return this._list.length; }
    toString() {
      const enc = (s) => encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
      return this._list.map(([k, v]) => enc(k) + "=" + enc(v)).join("&");
    }
  }
  class URL {
    constructor(input, base) {
      const parts = JSON.parse(host("url", String(input), base === undefined ? "" : String(base), base === undefined ? "" : "base"));
      if (parts.error) throw new TypeError("Invalid URL: " + String(input));
      this._parts = parts;
      this._params = new URLSearchParams(parts.search);
      this._params._url = this;
    }
    _set(part, value) {
      const parts = JSON.parse(host("url-set", this._parts.href, part, String(value)));
      if (!parts.error) { this._parts = parts; if (part !== "search") { this._params._list = new URLSearchParams(parts.search)._list; } }
    }
    get origin() { return this._parts.origin; }
    get searchParams() { return this._params; }
    toString() { return this._parts.href; }
    toJSON() { return this._parts.href; }
    static canParse(input, base) { try { new URL(input, base); return true; } catch (_) { return false; } }
  }
  for (const p of URL_PARTS) {
    Object.defineProperty(URL.prototype, p, {
      get() { return this._parts[p]; },
      set(v) { this._set(p, v); if (p === "search") this._params._list = new URLSearchParams(this._parts.search)._list; },
      enumerable: true, configurable: true,
    });
  }

  function structuredClone(value) {
    const seen = new Map();
    const clone = (v) => {
      if (v === null || typeof v !== "object") {
        if (typeof v === "function" || typeof v === "symbol") throw new Error("DataCloneError: " + String(v) + " could not be cloned.");
        return v;
      }
      if (seen.has(v)) return seen.get(v);
      let out;
      if (v instanceof Date) out = new Date(v.getTime());
      else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
      else if (v instanceof ArrayBuffer) out = v.slice(0);
      else if (ArrayBuffer.isView(v)) out = new v.constructor(v);
      else if (v instanceof Map) { out = new Map(); seen.set(v, out); for (const [k, x] of v) out.set(clone(k), clone(x)); return out; }
      else if (v instanceof Set) { out = new Set(); seen.set(v, out); for (const x of v) out.add(clone(x)); return out; }
      else if (v instanceof Error) out = new v.constructor(v.message);
      else if (Array.isArray(v)) { out = []; seen.set(v, out); for (let i = 0; i < v.length; i++) out[i] = clone(v[i]); return out; }
      else { out = {}; seen.set(v, out); for (const k of Object.keys(v)) out[k] = clone(v[k]); return out; }
      seen.set(v, out);
      return out;
    };
    return clone(value);
  }

  Object.assign(globalThis, { TextEncoder, TextDecoder, Buffer, URL, URLSearchParams, structuredClone, crypto: webcrypto });
  globalThis.__idpipe_builtins = Object.freeze({
    buffer: Object.freeze({ Buffer, SlowBuffer: Buffer, kMaxLength: 2147483647, constants: Object.freeze({ MAX_LENGTH: 2147483647 }) }),
    crypto: Object.freeze(cryptoModule),
    url: Object.freeze({ URL, URLSearchParams }),
  });
})(__idpipe_node);
