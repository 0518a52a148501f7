//! The Node and web globals actions get (issue 17), checked against Node itself: the same code
//! runs in an action and in `node`, and both must produce the same JSON.

use std::time::Duration;

use idpipe::actions::js::{JsAction, JsConfig};
use idpipe::pipeline::{Event, Executor, Services, Trigger};
use serde_json::Value;

/// Code that computes `result` (a JSON-able value) with `require` available.
const BODY: &str = r#"
const crypto = require("node:crypto");
const { Buffer: B } = require("buffer");
const { URL: U, URLSearchParams: P } = require("url");
const secret = "s3cr3t";
const token = Buffer.from(JSON.stringify({ sub: "u1", n: "naïve ✓ 😀" })).toString("base64url");
const mac = crypto.createHmac("sha256", secret).update(token).digest("base64url");
const u = new URL("/cb/../callback?a=1&b=two words#frag", "https://App.Example.com:443/base/");
u.searchParams.append("state", "x y&z");
u.hash = "";
const q = new URLSearchParams({ scope: "openid profile", redirect_uri: "https://a.example/cb?x=1" });
q.sort();
const uuid = crypto.randomUUID();
const bytes = crypto.getRandomValues(new Uint8Array(8));
const clone = structuredClone({ d: new Date(0), m: new Map([["k", [1, { x: 2 }]]]), s: new Set([1, 2]) });
const result = {
  b64: Buffer.from("hello, wörld").toString("base64"),
  hex: Buffer.from("ff00a1", "hex").toJSON(),
  latin1: Buffer.from([104, 233, 255]).toString("latin1"),
  utf8: Buffer.from(token, "base64url").toString("utf8"),
  concat: Buffer.concat([Buffer.from("ab"), Buffer.alloc(2, 1), B.from([255])]).toString("hex"),
  isBuffer: [Buffer.isBuffer(Buffer.alloc(1)), Buffer.isBuffer(new Uint8Array(1))],
  byteLength: Buffer.byteLength("😀é"),
  equals: Buffer.from("abc").equals(Buffer.from("abc")),
  sub: Buffer.from("abcdef").subarray(1, 4).toString(),
  u32: Buffer.from([1, 2, 3, 4]).readUInt32BE(0),
  encoded: Array.from(new TextEncoder().encode("é😀")),
  decoded: new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9, 0xff])),
  sha256: crypto.createHash("sha256").update("abc").digest("hex"),
  sha1b64: crypto.createHash("sha1").update(Buffer.from("abc")).digest("base64"),
  md5: crypto.createHash("md5").update("a").update("bc").digest("hex"),
  sha512len: crypto.createHash("sha512").update("").digest().length,
  mac,
  safeEq: [crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(mac)), crypto.timingSafeEqual(Buffer.from("a"), Buffer.from("b"))],
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid),
  random: [bytes.length, crypto.randomBytes(12).length],
  url: [u.href, u.origin, u.host, u.pathname, u.search, u.searchParams.get("b"), u.port],
  urlSet: (() => { const x = new U("http://h.example/p?q=1"); x.pathname = "/a b"; x.port = "8080"; x.search = "?z=%20"; return x.toString(); })(),
  invalid: (() => { try { new URL("not a url"); return "parsed"; } catch (e) { return e instanceof TypeError; } })(),
  canParse: [URL.canParse("https://a"), URL.canParse("nope")],
  query: [q.toString(), q.get("scope"), [...new P("a=1&a=2&b=%zz").getAll("a")], new P("x=1&y=+2").get("y")],
  clone: [clone.d instanceof Date, clone.d.getTime(), clone.m.get("k")[1].x, [...clone.s]],
  cloneFn: (() => { try { structuredClone({ f() {} }); return "cloned"; } catch (e) { return "refused"; } })(),
  digestLen: 0,
};
const util = require("util");
const EventEmitter = require("events");
const qs = require("querystring");
const path = require("node:path");
const zlib = require("zlib");
const { StringDecoder } = require("string_decoder");
const em = new EventEmitter();
const heard = [];
em.on("x", (a, b) => heard.push(["on", a, b]));
em.once("x", (a) => heard.push(["once", a]));
em.emit("x", 1, 2);
em.emit("x", 3);
const dec = new StringDecoder("utf8");
const euro = Buffer.from("€");
const privatePem = __PEM__;
const certPem = __CERT__;
const signingInput = Buffer.from('{"alg":"RS256"}').toString("base64url") + "." + Buffer.from('{"sub":"u1"}').toString("base64url");
const rs256 = crypto.createSign("RSA-SHA256").update(signingInput).sign(privatePem, "base64url");
const pub = crypto.createPublicKey(certPem);
const pubJwk = pub.export({ format: "jwk" });
const fromJwk = crypto.createPublicKey({ key: pubJwk, format: "jwk" });
result.keys = {
  rs256,
  verified: [
    crypto.createVerify("RSA-SHA256").update(signingInput).verify(pub, rs256, "base64url"),
    crypto.verify("sha256", Buffer.from(signingInput), fromJwk, Buffer.from(rs256, "base64url")),
    crypto.createVerify("RSA-SHA256").update(signingInput + "x").verify(pub, rs256, "base64url"),
  ],
  type: [pub.type, pub.asymmetricKeyType, crypto.createPrivateKey(privatePem).type],
  jwkKeys: Object.keys(pubJwk).sort(),
  pemRoundTrip: fromJwk.export({ format: "pem", type: "spki" }) === pub.export({ format: "pem", type: "spki" }),
  secret: crypto.createSecretKey(Buffer.from("k")).export().toString(),
};
async function webcryptoChecks() {
  const subtle = globalThis.crypto.subtle;
  const enc = new TextEncoder();
  const hmacKey = await subtle.importKey("raw", enc.encode("secret"), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
  const mac = Buffer.from(await subtle.sign("HMAC", hmacKey, enc.encode("data"))).toString("base64url");
  const macOk = await subtle.verify("HMAC", hmacKey, Buffer.from(mac, "base64url"), enc.encode("data"));
  const rsaPub = await subtle.importKey("jwk", pubJwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);
  const rsOk = await subtle.verify("RSASSA-PKCS1-v1_5", rsaPub, Buffer.from(rs256, "base64url"), enc.encode(signingInput));
  const rsBad = await subtle.verify("RSASSA-PKCS1-v1_5", rsaPub, Buffer.from(rs256, "base64url"), enc.encode(signingInput + "."));
  const der = crypto.createPrivateKey(privatePem).export({ format: "der", type: "pkcs8" });
  const rsaPriv = await subtle.importKey("pkcs8", der, { name: "RSASSA-PKCS1-v1_5", hash: { name: "SHA-256" } }, false, ["sign"]);
  const rsSig = Buffer.from(await subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, rsaPriv, enc.encode(signingInput))).toString("base64url");
  const pssPriv = await subtle.importKey("pkcs8", der, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
  const pssPub = await subtle.importKey("jwk", pubJwk, { name: "RSA-PSS", hash: "SHA-256" }, false, ["verify"]);
  const pss = await subtle.sign({ name: "RSA-PSS", saltLength: 32 }, pssPriv, enc.encode("m"));
  const pssOk = await subtle.verify({ name: "RSA-PSS", saltLength: 32 }, pssPub, pss, enc.encode("m"));
  const ec = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const ecSig = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ec.privateKey, enc.encode("m"));
  const ecOk = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, ecSig, enc.encode("m"));
  const ecJwk = await subtle.exportKey("jwk", ec.publicKey);
  const ecBack = await subtle.importKey("jwk", ecJwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const ecOk2 = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ecBack, ecSig, enc.encode("m"));
  const exported = await subtle.exportKey("jwk", hmacKey);
  let notExtractable;
  try { await subtle.exportKey("jwk", rsaPriv); notExtractable = "exported"; } catch (e) { notExtractable = /^InvalidAccess/.test(e.name); }
  return {
    mac, macOk, rsOk, rsBad, rsSig: rsSig === rs256, pssLen: pss.byteLength, pssOk,
    ec: [ecSig.byteLength, ecOk, ecOk2, ecJwk.kty, ecJwk.crv, ecJwk.x.length, ec.privateKey.type, ec.publicKey.algorithm.namedCurve],
    hmacJwk: [exported.kty, exported.k, exported.alg], rsaAlg: [rsaPub.algorithm.name, rsaPub.algorithm.hash.name, rsaPub.algorithm.modulusLength, rsaPub.type],
    notExtractable,
  };
}
result.more = {
  format: [util.format("%s=%d %j %%", "a", 42, { k: [1] }), util.format("x", 1, "y"), util.inspect({ a: [1, "s"], b: { c: null } })],
  promisified: typeof util.promisify((cb) => cb(null, 1)),
  deep: [util.isDeepStrictEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), util.isDeepStrictEqual({ a: 1 }, { a: "1" })],
  heard, count: em.listenerCount("x"),
  qs: [qs.stringify({ a: "1 2", b: ["x", "y&z"], c: true }), JSON.stringify(qs.parse("a=1&a=2&b=%20c+d&e"))],
  path: [path.join("/a/b", "../c", "./d.txt"), path.dirname("/a/b/c.js"), path.basename("/a/b/c.js", ".js"), path.extname("x.tar.gz"), path.normalize("a//b/../c/"), path.relative("/a/b/c", "/a/d"), path.resolve("/x", "y", "..", "z")],
  zlib: [zlib.inflateSync(zlib.deflateSync("hello hello hello")).toString(), zlib.gunzipSync(zlib.gzipSync(Buffer.from("g"))).toString(), zlib.inflateRawSync(zlib.deflateRawSync("r")).toString(), zlib.deflateSync("abc").toString("base64")],
  decoder: [dec.write(euro.subarray(0, 1)), dec.write(euro.subarray(1)), dec.end()],
  process: [typeof process.env, typeof process.version, process.version.startsWith("v")],
};
"#;

/// The shared code with the test keys filled in.
fn body() -> String {
    let read = |p: &str| std::fs::read_to_string(format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))).expect("test key");
    BODY.replace("__PEM__", &serde_json::to_string(&read("certs/idp-test.key")).expect("json"))
        .replace("__CERT__", &serde_json::to_string(&read("certs/idp-test.crt")).expect("json"))
}

fn node_result() -> Value {
    let script = format!(
        "{}\n(async () => {{ result.subtle = await webcryptoChecks(); console.log(JSON.stringify(result)); }})();",
        body()
    );
    let out = std::process::Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node runs (make deps installs nodejs)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json from node")
}

fn idpipe_result() -> Value {
    let src = format!(
        "exports.onExecutePostLogin = async (event, api) => {{\n{}\n  result.subtle = await webcryptoChecks();\n  result.digestLen = (await crypto.webcrypto.subtle.digest(\"SHA-256\", new TextEncoder().encode(\"abc\"))).byteLength;\n  api.idToken.setCustomClaim(\"r\", result);\n}};",
        body()
    );
    let action = JsAction::from_source("globals", "globals.js", &src, JsConfig::default()).expect("compiles");
    action.wait_ready(Duration::from_secs(5));
    let mut ex = Executor::new(Services::default());
    ex.add(Trigger::PostLogin, std::sync::Arc::new(action));
    let st = ex.start(Trigger::PostLogin, Event::default());
    assert!(st.outcome.failure.is_none(), "{:?}", st.outcome.failure);
    st.outcome.id_token_claims.get("r").cloned().expect("claim")
}

#[test]
fn buffer_text_url_crypto_and_structured_clone_behave_as_in_node() {
    let mut ours = idpipe_result();
    let theirs = node_result();
    assert_eq!(ours["digestLen"], 32, "crypto.subtle.digest");
    ours["digestLen"] = 0.into();
    let (Value::Object(a), Value::Object(b)) = (&ours, &theirs) else {
        panic!("objects expected: {ours} / {theirs}");
    };
    for (k, v) in b {
        assert_eq!(a.get(k), Some(v), "{k}: idpipe {:?}, node {v}", a.get(k));
    }
    assert_eq!(a.len(), b.len());
}

/// A local HTTP server answering `{"ok":true}` after `delay` (one thread per connection).
fn slow_server(delay: Duration) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                std::thread::sleep(delay);
                let body = "{\"ok\":true}";
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn run_action(src: &str, port: u16, timeout: Duration) -> idpipe::pipeline::TransactionState {
    let config = JsConfig {
        fetch: idpipe::actions::js::FetchPolicy {
            allowed_hosts: vec![format!("127.0.0.1:{port}")],
            ..Default::default()
        },
        pool_size: 1,
        ..JsConfig::default()
    };
    let action = JsAction::from_source("timers", "timers.js", src, config).expect("compiles");
    action.wait_ready(Duration::from_secs(5));
    let mut ex = Executor::new(Services {
        limits: idpipe::pipeline::executor::Limits {
            action_timeout: timeout,
            ..Default::default()
        },
        ..Default::default()
    });
    ex.add(Trigger::PostLogin, std::sync::Arc::new(action));
    let mut ev = Event::default();
    ev.secrets.insert("PORT".into(), port.into());
    ex.start(Trigger::PostLogin, ev)
}

/// Timers run in order within the action's deadline; an AbortController (by hand, or
/// `AbortSignal.timeout`) cancels a `fetch` still in flight; a request that answers in time
/// resolves with a Headers object; a timer past the deadline fails the action at its time limit.
#[test]
fn timers_and_abort_signals_work_with_fetch_within_the_deadline() {
    let port = slow_server(Duration::from_millis(600));
    let src = r#"exports.onExecutePostLogin = async (event, api) => {
  const base = "http://127.0.0.1:" + event.secrets.PORT + "/";
  const order = [];
  await new Promise((resolve) => {
    setTimeout(() => order.push("b"), 20);
    const cancelled = setTimeout(() => order.push("never"), 10);
    clearTimeout(cancelled);
    setTimeout(() => order.push("a"), 5);
    let n = 0;
    const every = setInterval(() => { order.push("i" + ++n); if (n === 3) { clearInterval(every); resolve(); } }, 8);
  });
  const controller = new AbortController();
  const t = setTimeout(() => controller.abort(), 50);
  let aborted;
  try { await fetch(base, { signal: controller.signal }); aborted = "answered"; } catch (e) { aborted = e.name; }
  clearTimeout(t);
  let timedOut;
  try { await fetch(base, { signal: AbortSignal.timeout(30) }); timedOut = "answered"; } catch (e) { timedOut = e.name; }
  const r = await fetch(base, { method: "POST", body: new URLSearchParams({ a: "1" }) });
  const body = await r.json();
  api.idToken.setCustomClaim("t", { order, aborted, timedOut, status: r.status, type: r.headers.get("Content-Type"), body });
};"#;
    let st = run_action(src, port, Duration::from_secs(5));
    assert!(st.outcome.failure.is_none(), "{:?}", st.outcome.failure);
    let t = st.outcome.id_token_claims.get("t").cloned().unwrap_or_default();
    let order: Vec<&str> = t["order"].as_array().expect("order").iter().filter_map(|v| v.as_str()).collect();
    assert!(!order.contains(&"never"), "{order:?}");
    assert_eq!(order.iter().position(|x| *x == "a"), Some(0), "{order:?}");
    assert!(order.contains(&"b") && order.ends_with(&["i3"]), "{order:?}");
    assert_eq!(t["aborted"], "AbortError");
    assert_eq!(t["timedOut"], "TimeoutError");
    assert_eq!(t["status"], 200);
    assert_eq!(t["type"], "application/json");
    assert_eq!(t["body"], serde_json::json!({"ok": true}));

    // A timer that would fire after the deadline: the action stops at its time limit.
    let late = r#"exports.onExecutePostLogin = async (event, api) => {
  await new Promise((resolve) => setTimeout(resolve, 5000));
  api.idToken.setCustomClaim("late", true);
};"#;
    let started = std::time::Instant::now();
    let st = run_action(late, port, Duration::from_millis(300));
    assert!(st.outcome.failure.is_some(), "fails");
    let error = st.outcome.trace[0].error.clone().unwrap_or_default();
    assert!(error.contains("time limit"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "waited past the deadline");
    assert!(st.outcome.id_token_claims.get("late").is_none());
}

/// One invocation cannot open requests without bound (each has a thread): past 16 in flight,
/// `fetch` rejects.
#[test]
fn requests_in_flight_are_bounded() {
    let port = slow_server(Duration::from_millis(300));
    let src = r#"exports.onExecutePostLogin = async (event, api) => {
  const base = "http://127.0.0.1:" + event.secrets.PORT + "/";
  const all = await Promise.allSettled(Array.from({ length: 20 }, () => fetch(base)));
  const refused = all.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  api.idToken.setCustomClaim("f", { ok: all.filter((r) => r.status === "fulfilled").length, refused: refused.length, why: refused[0] });
};"#;
    let st = run_action(src, port, Duration::from_secs(5));
    let f = st.outcome.id_token_claims.get("f").cloned().unwrap_or_default();
    assert_eq!(f["ok"], 16, "{f}");
    assert_eq!(f["refused"], 4, "{f}");
    assert_eq!(f["why"], "fetch failed: more than 16 requests in flight in one action");
}

/// A timer an invocation leaves pending never fires in a later login on the same (warm)
/// sandbox.
#[test]
fn a_timer_left_pending_never_fires_in_another_login() {
    let src = r#"let fired = 0;
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("fired", fired);
  if (event.user.user_id === "first") setTimeout(() => { fired++; api.access.deny("from an earlier login"); }, 150);
  // The first login ends before its timer is due; the next ones run past the time it was due.
  await new Promise((resolve) => setTimeout(resolve, event.user.user_id === "first" ? 10 : 300));
};"#;
    let config = JsConfig {
        pool_size: 1,
        ..JsConfig::default()
    };
    let action = JsAction::from_source("pending", "pending.js", src, config).expect("compiles");
    action.wait_ready(Duration::from_secs(5));
    let mut ex = Executor::new(Services::default());
    ex.add(Trigger::PostLogin, std::sync::Arc::new(action));
    let login = |user: &str| {
        let mut ev = Event::default();
        ev.user.user_id = user.into();
        ex.start(Trigger::PostLogin, ev)
    };
    let first = login("first");
    assert!(first.outcome.failure.is_none(), "{:?}", first.outcome.failure);
    for _ in 0..2 {
        let next = login("next");
        assert!(next.outcome.failure.is_none(), "{:?}", next.outcome.failure);
        assert_eq!(next.outcome.id_token_claims.get("fired"), Some(&serde_json::json!(0)));
    }
}

/// Runs `src` once (modules from `modules`, if any) and returns the ID token claims it set.
fn claims_of(src: &str, modules: Option<std::path::PathBuf>) -> serde_json::Map<String, Value> {
    let config = JsConfig {
        pool_size: 1,
        modules,
        ..JsConfig::default()
    };
    let action = JsAction::from_source("builtins", "builtins.js", src, config).expect("compiles");
    action.wait_ready(Duration::from_secs(5));
    let mut ex = Executor::new(Services::default());
    ex.add(Trigger::PostLogin, std::sync::Arc::new(action));
    let state = ex.start(Trigger::PostLogin, Event::default());
    assert!(state.outcome.failure.is_none(), "{:?}", state.outcome.trace);
    state.outcome.id_token_claims.clone()
}

/// The prelude's list of built-in names is the table node.js and nodelib.js fill: a name
/// missing from the list could not be required, a name only in the list would be a lie.
#[test]
fn the_builtin_names_are_the_builtin_table() {
    let claims = claims_of(
        r#"exports.onExecutePostLogin = async (event, api) => {
          api.idToken.setCustomClaim("listed", [...__idpipe.BUILTIN_NAMES].sort());
          api.idToken.setCustomClaim("table", Object.keys(__idpipe_builtins).sort());
        };"#,
        None,
    );
    assert!(claims["table"].as_array().is_some_and(|t| t.len() > 10), "{claims:?}");
    assert_eq!(claims["listed"], claims["table"]);
}

/// Requiring an action's own module (CommonJS or ES) does not load the Node and web globals
/// (each sandbox would carry them); requiring or importing a built-in does.
#[test]
fn requiring_an_own_module_leaves_the_node_globals_unloaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = dir.path().join("node_modules/plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    std::fs::write(plain.join("index.js"), "module.exports = { answer: 42 };").expect("write");
    for (name, source) in [
        ("esm-plain", "export const answer = 7;"),
        (
            "esm-util",
            "import { format } from \"node:util\";\nexport const kind = typeof format;",
        ),
    ] {
        let d = dir.path().join("node_modules").join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("package.json"), r#"{"type": "module", "exports": "./index.js"}"#).expect("write");
        std::fs::write(d.join("index.js"), source).expect("write");
    }
    let claims = claims_of(
        r#"const plain = require("plain");
        const esm = require("esm-plain");
        exports.onExecutePostLogin = async (event, api) => {
          api.idToken.setCustomClaim("answer", plain.answer + esm.answer);
          api.idToken.setCustomClaim("before", globalThis.__idpipe_loaded === true);
          const util = require("node:util");
          api.idToken.setCustomClaim("after", globalThis.__idpipe_loaded === true);
          api.idToken.setCustomClaim("util", typeof util.format);
          api.idToken.setCustomClaim("esm_util", require("esm-util").kind);
          let refused = null;
          try { require("child_process"); } catch (e) { refused = e.code; }
          api.idToken.setCustomClaim("refused", refused);
        };"#,
        Some(dir.path().to_path_buf()),
    );
    assert_eq!(claims["answer"], 49);
    assert_eq!(claims["before"], false, "{claims:?}");
    assert_eq!(claims["after"], true, "{claims:?}");
    assert_eq!(claims["util"], "function");
    assert_eq!(claims["esm_util"], "function");
    assert_eq!(claims["refused"], "MODULE_NOT_FOUND", "{claims:?}");
}

/// An ES module cannot import what lies outside the action's modules folder: relative paths
/// that climb out of it, absolute paths and `file:` URLs are refused and nothing outside runs.
#[test]
fn an_es_import_cannot_escape_the_action_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = dir.path().join("outside.mjs");
    std::fs::write(&outside, "globalThis.escaped = true; export default 1;").expect("write");
    let mods = dir.path().join("mods");
    let attempts = [
        "../../../outside.mjs".to_string(),
        "../../../../outside.mjs".to_string(),
        outside.display().to_string(),
        format!("file://{}", outside.display()),
    ];
    for (i, target) in attempts.iter().enumerate() {
        let d = mods.join(format!("node_modules/esc{i}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("package.json"), r#"{"type": "module", "exports": "./index.js"}"#).expect("write");
        let source = format!("import x from {};\nexport default x;", Value::from(target.as_str()));
        std::fs::write(d.join("index.js"), source).expect("write");
    }
    let claims = claims_of(
        r#"exports.onExecutePostLogin = async (event, api) => {
          const results = [];
          for (let i = 0; i < 4; i++) {
            try { require("esc" + i); results.push("loaded"); } catch (e) { results.push(String(e.message)); }
          }
          api.idToken.setCustomClaim("results", results);
          api.idToken.setCustomClaim("escaped", globalThis.escaped === true);
        };"#,
        Some(mods),
    );
    assert_eq!(claims["escaped"], false, "{claims:?}");
    let results = claims["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for r in results {
        let r = r.as_str().unwrap_or_default();
        assert!(r != "loaded" && r.contains("outside.mjs"), "{claims:?}");
    }
}
