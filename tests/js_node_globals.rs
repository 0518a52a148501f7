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
"#;

fn node_result() -> Value {
    let script = format!("{BODY}\nconsole.log(JSON.stringify(result));");
    let out = std::process::Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node runs (make deps installs nodejs)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json from node")
}

fn idpipe_result() -> Value {
    let src = format!(
        "exports.onExecutePostLogin = async (event, api) => {{\n{BODY}\n  result.digestLen = (await crypto.webcrypto.subtle.digest(\"SHA-256\", new TextEncoder().encode(\"abc\"))).byteLength;\n  api.idToken.setCustomClaim(\"r\", result);\n}};"
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
