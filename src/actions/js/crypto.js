// Keys, signatures and verification for actions (issue 17): WebCrypto's crypto.subtle
// (importKey/exportKey for raw, jwk, spki, pkcs8; sign/verify for HMAC, RSASSA-PKCS1-v1_5,
// RSA-PSS and ECDSA P-256/384/521; generateKey) and node:crypto's KeyObject, createPublicKey,
// createPrivateKey, createSecretKey, createSign/createVerify and sign/verify. OpenSSL does
// the work on the host; scripts hold keys as opaque objects.
(function (host) {
  "use strict";
  const B = globalThis.__idpipe_builtins;
  const { Buffer } = B.buffer;
  const bin = (u8) => { let s = ""; for (let i = 0; i < u8.length; i += 8192) s += String.fromCharCode.apply(null, u8.subarray(i, i + 8192)); return s; };
  const unbin = (s) => { const b = Buffer.alloc(s.length); for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i); return b; };
  const bytesOf = (d, enc) => {
    if (typeof d === "string") return Buffer.from(d, enc);
    if (d instanceof ArrayBuffer) return new Uint8Array(d);
    if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    throw new TypeError("The data must be a BufferSource");
  };
  const arrayBuffer = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const domError = (e) => {
    const m = String(e && e.message ? e.message : e);
    const i = m.indexOf(": ");
    const name = /^[A-Z][A-Za-z]+Error$/.test(m.slice(0, i)) ? m.slice(0, i) : "OperationError";
    return new DOMException(i > 0 && name !== "OperationError" ? m.slice(i + 2) : m, name);
  };
  const NAMES = { hmac: "HMAC", "rsassa-pkcs1-v1_5": "RSASSA-PKCS1-v1_5", "rsa-pss": "RSA-PSS", ecdsa: "ECDSA", "sha-1": "SHA-1", "sha-256": "SHA-256", "sha-384": "SHA-384", "sha-512": "SHA-512" };
  const norm = (a) => {
    const o = typeof a === "string" ? { name: a } : Object.assign({}, a);
    o.name = NAMES[String(o.name).toLowerCase()] || o.name;
    if (o.hash !== undefined) o.hash = NAMES[String(typeof o.hash === "string" ? o.hash : o.hash.name).toLowerCase()] || o.hash;
    return o;
  };
  const wrap = (f) => new Promise((resolve, reject) => { try { resolve(f()); } catch (e) { reject(domError(e)); } });

  class CryptoKey {
    constructor(handle, algorithm, extractable, usages) {
      Object.defineProperty(this, "_h", { value: handle });
      this.type = handle.type;
      this.algorithm = algorithm;
      this.extractable = extractable;
      this.usages = usages;
    }
  }
  function keyAlgorithm(alg, h) {
    const a = { name: alg.name };
    if (alg.hash) a.hash = { name: alg.hash };
    if (alg.name === "HMAC") a.length = h.length;
    if (h.modulusLength) { a.modulusLength = h.modulusLength; a.publicExponent = new Uint8Array([1, 0, 1]); }
    if (alg.name === "ECDSA") {
      if (alg.namedCurve && h.namedCurve !== alg.namedCurve) throw new Error("DataError: the key is not on " + alg.namedCurve);
      a.namedCurve = h.namedCurve;
    }
    return a;
  }
  function importHandle(format, data) {
    const raw = format === "jwk" ? JSON.stringify(data) : bin(bytesOf(data));
    return JSON.parse(host("key-import", format, "", raw));
  }
  const subtle = globalThis.crypto.subtle;
  Object.assign(subtle, {
    importKey: (format, data, algorithm, extractable, usages) => wrap(() => {
      const alg = norm(algorithm);
      const h = importHandle(format, data);
      if ((alg.name === "HMAC") !== (h.type === "secret")) throw new Error("DataError: the key does not fit " + alg.name);
      return new CryptoKey(h, keyAlgorithm(alg, h), !!extractable, usages || []);
    }),
    exportKey: (format, key) => wrap(() => {
      if (!key.extractable) throw new Error("InvalidAccessError: the key is not extractable");
      const out = host("key-export", format, JSON.stringify(key._h), "");
      if (format !== "jwk") return arrayBuffer(unbin(out));
      const jwk = JSON.parse(out);
      const hash = key.algorithm.hash && key.algorithm.hash.name.replace("SHA-", "");
      const alg = { HMAC: "HS" + hash, "RSASSA-PKCS1-v1_5": "RS" + hash, "RSA-PSS": "PS" + hash }[key.algorithm.name];
      return Object.assign({ key_ops: key.usages, ext: key.extractable }, jwk, alg ? { alg } : {});
    }),
    sign: (algorithm, key, data) => wrap(() => {
      const a = norm(algorithm);
      const hash = a.name === "ECDSA" ? a.hash : key.algorithm.hash && key.algorithm.hash.name;
      const out = host("sign", JSON.stringify({ alg: { name: a.name, hash, saltLength: a.saltLength }, key: key._h }), "", bin(bytesOf(data)));
      return arrayBuffer(unbin(out));
    }),
    verify: (algorithm, key, signature, data) => wrap(() => {
      const a = norm(algorithm);
      const hash = a.name === "ECDSA" ? a.hash : key.algorithm.hash && key.algorithm.hash.name;
      return host("verify", JSON.stringify({ alg: { name: a.name, hash, saltLength: a.saltLength }, key: key._h }), bin(bytesOf(signature)), bin(bytesOf(data))) === "true";
    }),
    generateKey: (algorithm, extractable, usages) => wrap(() => {
      const alg = norm(algorithm);
      const h = JSON.parse(host("key-generate", JSON.stringify(alg), "", ""));
      if (h.type === "secret") return new CryptoKey(h, keyAlgorithm(alg, h), !!extractable, usages || []);
      const pub = importHandle("spki", unbin(host("key-export", "spki", JSON.stringify(h), "")));
      const a = keyAlgorithm(alg, h);
      return {
        privateKey: new CryptoKey(h, a, !!extractable, (usages || []).filter((u) => u === "sign")),
        publicKey: new CryptoKey(pub, a, true, (usages || []).filter((u) => u === "verify")),
      };
    }),
  });

  // ---- node:crypto keys
  class KeyObject {
    constructor(handle) { Object.defineProperty(this, "_h", { value: handle }); this.type = handle.type; }
    get asymmetricKeyType() { return this._h.kty === "RSA" ? "rsa" : this._h.kty === "EC" ? "ec" : undefined; }
    get symmetricKeySize() { return this.type === "secret" ? this._h.length / 8 : undefined; }
    export(options) {
      const o = options || {};
      const format = o.format || (this.type === "secret" ? "buffer" : "pem");
      if (format === "jwk") return JSON.parse(host("key-export", "jwk", JSON.stringify(this._h), ""));
      if (this.type === "secret") return unbin(host("key-export", "raw", JSON.stringify(this._h), ""));
      const der = format === "der";
      const out = host("key-export", der ? (this.type === "public" ? "spki" : "pkcs8") : "pem", JSON.stringify(this._h), "");
      return der ? unbin(out) : out;
    }
    equals(other) { return other instanceof KeyObject && this._h.der === other._h.der; }
    static from(key) { return new KeyObject(key._h); }
  }
  function keyOf(input) {
    if (input instanceof KeyObject) return input;
    if (input instanceof CryptoKey) return new KeyObject(input._h);
    if (typeof input === "string" || ArrayBuffer.isView(input)) return new KeyObject(importHandle("pem", Buffer.from(input)));
    if (input && typeof input === "object") {
      if (input.format === "jwk") return new KeyObject(importHandle("jwk", input.key));
      if (input.format === "der") return new KeyObject(importHandle(input.type === "pkcs8" ? "pkcs8" : "spki", input.key));
      if (input.key !== undefined) return keyOf(input.key);
    }
    throw new TypeError("The \"key\" argument must be a string, Buffer, KeyObject or an object with a key");
  }
  function createPublicKey(input) {
    const k = keyOf(input);
    if (k.type === "secret") throw new TypeError("Invalid key object type secret, expected private or public.");
    return k.type === "public" ? k : new KeyObject(importHandle("spki", unbin(host("key-export", "spki", JSON.stringify(k._h), ""))));
  }
  function createPrivateKey(input) {
    const k = keyOf(input);
    if (k.type !== "private") throw new TypeError("Invalid key object type " + k.type + ", expected private.");
    return k;
  }
  const createSecretKey = (key, enc) => new KeyObject(importHandle("raw", bytesOf(key, enc)));
  const nodeAlg = (alg, key) => ({ name: "node", hash: alg, dsaEncoding: key && key.dsaEncoding });
  class Verify {
    constructor(alg) { this._alg = alg; this._parts = []; }
    update(d, enc) { this._parts.push(bytesOf(d, enc)); return this; }
    verify(key, sig, enc) {
      const k = keyOf(key);
      const s = typeof sig === "string" ? Buffer.from(sig, enc) : bytesOf(sig);
      return host("verify", JSON.stringify({ alg: nodeAlg(this._alg, key), key: k._h }), bin(s), bin(Buffer.concat(this._parts))) === "true";
    }
  }
  class Sign {
    constructor(alg) { this._alg = alg; this._parts = []; }
    update(d, enc) { this._parts.push(bytesOf(d, enc)); return this; }
    sign(key, enc) {
      const k = keyOf(key);
      const out = unbin(host("sign", JSON.stringify({ alg: nodeAlg(this._alg, key), key: k._h }), "", bin(Buffer.concat(this._parts))));
      return enc ? out.toString(enc) : out;
    }
  }
  const crypto = Object.assign({}, B.crypto, {
    KeyObject, createPublicKey, createPrivateKey, createSecretKey,
    createSign: (alg) => new Sign(alg),
    createVerify: (alg) => new Verify(alg),
    sign: (alg, data, key) => new Sign(alg || "sha256").update(data).sign(key),
    verify: (alg, data, key, sig) => new Verify(alg || "sha256").update(data).verify(key, sig),
    webcrypto: globalThis.crypto,
    subtle,
  });
  globalThis.CryptoKey = CryptoKey;
  globalThis.__idpipe_builtins = Object.freeze(Object.assign({}, B, { crypto: Object.freeze(crypto) }));
})(__idpipe_node);
