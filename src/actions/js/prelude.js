// idpipe's JavaScript side of the `api`: each method forwards to the Rust core as JSON.
// Namespaces and methods exist exactly where the hosted service has them; everything else is
// `undefined`. "api" = returns the api (chainable, where the seeds say so), "value" = returns the
// host's answer, "none" = returns undefined.
(function (host) {
  "use strict";
  // The api reuse check (native, see makeApi), kept here and taken off the global object.
  const untouched = globalThis.__idpipe_untouched;
  delete globalThis.__idpipe_untouched;
  const SAML = {};
  for (const m of ["setAttribute", "setAudience", "setIssuer", "setEncryptionPublicKey", "setRecipient", "setCreateUpnClaim",
    "setPassthroughClaimsWithNoMapping", "setMapUnknownClaimsAsIs", "setMapIdentities", "setDestination", "setRelayState",
    "setLifetimeInSeconds", "setSignResponse", "setNameIdentifierFormat", "setNameIdentifierProbes", "setAuthnContextClassRef",
    "setSigningCert", "setIncludeAttributeNameFormat", "setTypedAttributes", "setEncryptionCert", "setCert", "setKey",
    "setSignatureAlgorithm", "setDigestAlgorithm"]) SAML[m] = "none";
  const CACHE = { get: "value", set: "value", delete: "value" };
  const REDIRECT = { encodeToken: "value", sendUserTo: "api", validateToken: "value", canRedirect: "value" };
  const CHALLENGE_ONLY = { challengeWith: "none", challengeWithAny: "none" };
  const POST_CHALLENGE = {
    access: { deny: "api" },
    authentication: CHALLENGE_ONLY,
    cache: CACHE,
    redirect: REDIRECT,
    transaction: { setResultUrl: "api" },
  };
  const SPECS = {
    "post-login": {
      access: { deny: "api" },
      accessToken: { setCustomClaim: "api", addScope: "api", removeScope: "api" },
      authentication: { challengeWith: "none", challengeWithAny: "none", enrollWith: "none", enrollWithAny: "none", recordMethod: "api", setPrimaryUser: "none" },
      cache: CACHE,
      idToken: { setCustomClaim: "api" },
      multifactor: { enable: "api" },
      prompt: { render: "none" },
      redirect: REDIRECT,
      refreshToken: { revoke: "api", setExpiresAt: "api", setIdleExpiresAt: "api" },
      rules: { wasExecuted: "value" },
      samlResponse: SAML,
      session: { revoke: "api", setCookieMode: "api", setExpiresAt: "api", setIdleExpiresAt: "api", setMetadata: "none", deleteMetadata: "none", evictMetadata: "none" },
      transaction: { setMetadata: "none" },
      user: { setAppMetadata: "api", setUserMetadata: "api" },
      validation: { error: "none" },
    },
    "post-challenge": POST_CHALLENGE,
    "password-reset-post-challenge": Object.assign({ prompt: { render: "none" } }, POST_CHALLENGE),
    "send-phone-message": { cache: CACHE },
  };

  function call(method, args) {
    const raw = host(method, JSON.stringify(args));
    if (raw === "") return undefined; // the host's short form of {"value": null}
    const answer = JSON.parse(raw);
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.value === null ? undefined : answer.value;
  }

  // An api is plain, extensible objects (action code attaches helpers: `api.noop = api.noop ||
  // function () {}`), made fresh for every invocation from a template built once per sandbox, so
  // nothing one login puts on its api reaches the next. The host's methods are shared, frozen
  // functions; the chainable ones return the api of the invocation in progress (a sandbox runs
  // one invocation at a time, and one that leaves work pending is never reused).
  function makeApi(trigger) {
    const spec = SPECS[trigger];
    const current = { api: undefined };
    const fns = [];
    const namespaces = [];
    for (const ns of Object.keys(spec)) {
      const fields = [];
      for (const m of Object.keys(spec[ns])) {
        const kind = spec[ns][m];
        const name = ns + "." + m;
        fields.push(JSON.stringify(m) + ": F[" + fns.length + "]");
        fns.push(Object.freeze(function (...args) {
          const v = call(name, args);
          return kind === "api" ? current.api : kind === "value" ? v : undefined;
        }));
      }
      namespaces.push(JSON.stringify(ns) + ": {" + fields.join(", ") + "}");
    }
    // One object literal per api: QuickJS builds it from compiled shapes, several times faster
    // than assigning the ~50 methods one by one (this runs for every invocation whose previous
    // api cannot be handed out again, below).
    const literal = Function("F", "C", "return function freshApi() { return (C.api = {" + namespaces.join(", ") + "}); };");
    const freshApi = literal(fns, current);
    // The template: an api never handed to any code, the layout an untouched api has. Its
    // shapes (see `shapes`) are kept for the sandbox's life.
    const template = freshApi();
    const kept = shapes(template);
    current.api = undefined;
    // The previous invocation's api is handed out again only when no code can tell it from a
    // fresh one: referenced from nowhere but `current`, the template's shape (nothing added,
    // removed, redefined, frozen or re-prototyped) down to its namespaces, the template's very
    // methods (`ffi::api_untouched`). Otherwise (an action attached a helper, kept a reference
    // to the api or a namespace) a fresh one is made.
    return function () {
      void kept;
      if (untouched(current, template)) return current.api;
      return freshApi();
    };
  }

  // Objects holding every shape a value's objects pass through as their properties are added
  // in order: {a}, {a, b}, {a, b, c} for {a, b, c}, recursively, with every value null.
  // QuickJS shares an object's shape only with a live object that has the same keys in the same
  // order; the shapes in between are made, grown and freed for every new object otherwise.
  // While these holders live, building an object of the same layout (JSON.parse, an object
  // literal) finds each next shape instead of making it. They keep key names, never values.
  function shapes(value) {
    const out = [];
    const walk = (v) => {
      if (Array.isArray(v)) {
        for (const e of v) walk(e);
        return;
      }
      if (v === null || typeof v !== "object") return;
      const keys = Object.keys(v);
      for (let n = 1; n <= keys.length; n++) {
        const o = {};
        for (let i = 0; i < n; i++) o[keys[i]] = null;
        out.push(o);
      }
      for (const k of keys) walk(v[k]);
    };
    walk(value);
    return out;
  }

  function show(v) {
    if (typeof v === "string") return v;
    if (v instanceof Error) return v.stack ? v.name + ": " + v.message + "\n" + v.stack : String(v);
    try { const s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch (_) { return String(v); }
  }
  const consoleObj = {};
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    consoleObj[level] = function (...args) { host("console." + level, JSON.stringify([args.map(show).join(" ")])); };
  }
  globalThis.console = Object.freeze(consoleObj);

  // Node's built-ins idpipe provides (node.js and nodelib.js fill the table), with or without
  // `node:`. Their names are listed here too (a test keeps the list and the table equal), so
  // that requiring anything else (an action's own modules) does not load the lazy globals.
  const BUILTIN_NAMES = Object.freeze(["assert", "buffer", "crypto", "events", "fs", "fs/promises", "http", "http2", "https",
    "net", "os", "path", "process", "querystring", "stream", "string_decoder", "timers", "tls", "tty", "url", "util", "zlib"]);
  const builtinNames = new Set(BUILTIN_NAMES);
  const builtin = (spec) => {
    const name = typeof spec === "string" && spec.startsWith("node:") ? spec.slice(5) : spec;
    if (!builtinNames.has(name)) return undefined;
    const table = globalThis.__idpipe_builtins;
    return table && Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  };
  globalThis.require = function (name) {
    const b = builtin(name);
    if (b) return b;
    const e = new Error("Cannot find module '" + name + "': this action declares no dependencies ([action_dependencies] in the tenant file)");
    e.code = "MODULE_NOT_FOUND";
    throw e;
  };

  // Node's CommonJS loader over the action's installed modules (host functions: resolve a
  // name from a folder, load a module's function, read a JSON module). One cache per sandbox.
  function makeRequire(resolve, load, source, isEsm, requireEsm) {
    const cache = Object.create(null);
    const dirname = (id) => { const i = id.lastIndexOf("/"); return i < 0 ? "" : id.slice(0, i); };
    function requireFrom(dir) {
      const require = function (spec) {
        if (typeof spec !== "string") throw new TypeError('The "id" argument must be of type string');
        const b = builtin(spec);
        if (b) return b;
        let id;
        try {
          id = resolve(dir, spec);
        } catch (e) {
          const err = new Error(e && e.message ? e.message : String(e));
          err.code = "MODULE_NOT_FOUND";
          throw err;
        }
        const cached = cache[id];
        if (cached) return cached.exports;
        const module = { id: "/" + id, filename: "/" + id, exports: {}, loaded: false, children: [], paths: [] };
        module.require = requireFrom(dirname(id));
        cache[id] = module;
        try {
          if (id.endsWith(".json")) module.exports = JSON.parse(source(id));
          else if (isEsm(id)) module.exports = requireEsm(id);
          else load(id).call(module.exports, module.exports, module.require, module, "/" + id, "/" + dirname(id));
        } catch (e) {
          delete cache[id];
          throw e;
        }
        module.loaded = true;
        return module.exports;
      };
      require.resolve = (spec) => "/" + resolve(dir, String(spec));
      require.cache = cache;
      return require;
    }
    return requireFrom("");
  }

  // Engine guard: QuickJS runs the generic Array methods as C loops over `length` that do not
  // check the CPU-time interrupt, so `Array(1e9).join("x")` would run for many seconds past the
  // deadline. No real array gets near this length under the memory limit (a dense array of
  // 2^24 elements needs 256 MiB), so a longer `length` can only be a sparse or fake one: refused.
  const MAX_LENGTH = 16777216;
  const lengthOf = (o) => (o === null || o === undefined ? 0 : Number(Object(o).length) || 0);
  const guard = (target, names, checkArgs) => {
    for (const name of names) {
      const d = Object.getOwnPropertyDescriptor(target, name);
      if (!d || typeof d.value !== "function") continue;
      const original = d.value;
      const wrapped = {
        [name](...args) {
          if (lengthOf(this) > MAX_LENGTH || (checkArgs && args.some((a) => typeof a === "object" && lengthOf(a) > MAX_LENGTH))) {
            throw new RangeError("Array." + name + ": length over " + MAX_LENGTH + " is not supported in actions");
          }
          return Reflect.apply(original, this, args);
        },
      }[name];
      Object.defineProperty(target, name, { value: wrapped, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable });
    }
  };
  guard(Array.prototype, ["concat"], true);
  guard(Array.prototype, ["copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex", "flat",
    "flatMap", "forEach", "includes", "indexOf", "join", "lastIndexOf", "map", "reduce", "reduceRight", "reverse", "slice",
    "some", "sort", "splice", "toLocaleString", "toReversed", "toSorted", "toSpliced", "toString", "unshift", "with", "shift",
    "push", "pop", "at"], false);
  guard(Array, ["from"], true);

  globalThis.__idpipe = Object.freeze({ makeApi, makeRequire, shapes, BUILTIN_NAMES });

  // The Node and web globals (node.js, web.js, nodelib.js, crypto.js) load on first use: most
  // actions use none of them, and each sandbox would otherwise carry them all. Reading any of
  // these names (or `require` of a built-in) loads them all; assigning one first just defines it.
  const LAZY = ["Buffer", "TextEncoder", "TextDecoder", "URL", "URLSearchParams", "structuredClone", "crypto", "CryptoKey",
    "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate", "queueMicrotask",
    "DOMException", "Event", "EventTarget", "AbortSignal", "AbortController", "Headers", "FormData", "fetch", "process",
    "performance", "__idpipe_builtins", "__idpipe_loop"].filter((name) => !(name in globalThis));
  const loadBuiltins = __idpipe_load_builtins;
  const unlazy = () => { for (const name of LAZY) { const d = Object.getOwnPropertyDescriptor(globalThis, name); if (d && d.get && d.get.lazy) delete globalThis[name]; } };
  for (const name of LAZY) {
    const get = function () { unlazy(); loadBuiltins(); return globalThis[name]; };
    get.lazy = true;
    Object.defineProperty(globalThis, name, {
      get,
      set(value) { delete globalThis[name]; Object.defineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true }); },
      enumerable: false,
      configurable: true,
    });
  }
})(__idpipe_host);
