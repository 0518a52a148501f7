//! npm dependencies of actions (issue 17), installed for real from the npm registry by
//! `idpipe actions install`, then required by actions in the hosted style.

use std::path::Path;
use std::process::Command;

use idpipe::pipeline::{Event, Trigger};
use serde_json::json;

fn idpipe(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A tenant in `dir` with the given action scripts (file name, source) and dependencies.
fn tenant(dir: &Path, actions: &[(&str, &str)], deps: &[(&str, &[&str])]) -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let d = dir.display();
    let mut scripts = Vec::new();
    for (name, src) in actions {
        std::fs::write(dir.join(name), src).expect("write action");
        scripts.push(format!("\"{d}/{name}\""));
    }
    let mut declared = String::new();
    for (script, list) in deps {
        let quoted: Vec<String> = list.iter().map(|d| format!("\"{d}\"")).collect();
        declared.push_str(&format!("\"{d}/{script}\" = [{}]\n", quoted.join(", ")));
    }
    let toml = format!(
        "name = \"t\"\nbase_url = \"http://127.0.0.1:3999\"\nsigning_key = \"{root}/certs/idp-test.key\"\nsigning_cert = \"{root}/certs/idp-test.crt\"\ndatabase = \"{d}/db.sqlite\"\naction_modules = \"{d}/action_modules\"\n\n[actions]\npost-login = [{}]\n\n[action_dependencies]\n{declared}",
        scripts.join(", ")
    );
    let path = dir.join("tenant.toml");
    std::fs::write(&path, toml).expect("write tenant");
    path
}

const IP: &str = r#"const ipaddr = require("ipaddr.js");
exports.onExecutePostLogin = async (event, api) => {
  const addr = ipaddr.parse(event.request.ip);
  api.idToken.setCustomClaim("corp", addr.kind() === "ipv4" && addr.match(ipaddr.parseCIDR("10.0.0.0/8")));
  api.idToken.setCustomClaim("ipKind", addr.kind());
};"#;

const XML: &str = r#"const { DOMParser } = require("@xmldom/xmldom");
const xpath = require("xpath");
exports.onExecutePostLogin = async (event, api) => {
  const doc = new DOMParser().parseFromString(event.user.app_metadata.groups_xml, "text/xml");
  const groups = xpath.select("//group[@active='true']/@name", doc).map((a) => a.value);
  api.idToken.setCustomClaim("groups", groups);
};"#;

fn login(dir: &Path, ip: &str) -> idpipe::pipeline::TransactionState {
    let tenant = idpipe::config::load(&dir.join("tenant.toml")).expect("the tenant loads");
    let mut event: Event = serde_json::from_value(json!({
        "user": {"user_id": "u1", "app_metadata": {"groups_xml": "<groups><group name='admins' active='true'/><group name='old' active='false'/><group name='ops' active='true'/></groups>"}},
        "request": {"ip": ip}
    }))
    .expect("event");
    event.user.user_id = "u1".into();
    tenant.executor.start(Trigger::PostLogin, event)
}

#[test]
fn dependencies_install_from_npm_and_actions_require_them() {
    let dir = tempfile::tempdir().expect("tmp");
    tenant(
        dir.path(),
        &[("ip.js", IP), ("xml.js", XML)],
        &[("ip.js", &["ipaddr.js@2.2.0"]), ("xml.js", &["@xmldom/xmldom@^0.8.10", "xpath"])],
    );
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(ok, "{out}");
    assert!(
        out.contains("ipaddr.js@2.2.0") && out.contains("@xmldom/xmldom@0.8.") && out.contains("xpath@"),
        "{out}"
    );
    let st = login(dir.path(), "10.1.2.3");
    assert!(st.outcome.failure.is_none(), "{:?}", st.outcome.failure);
    assert_eq!(st.outcome.id_token_claims.get("corp"), Some(&json!(true)));
    assert_eq!(st.outcome.id_token_claims.get("groups"), Some(&json!(["admins", "ops"])));
    let st = login(dir.path(), "2001:db8::1");
    assert_eq!(st.outcome.id_token_claims.get("corp"), Some(&json!(false)));
    assert_eq!(st.outcome.id_token_claims.get("ipKind"), Some(&json!("ipv6")));
}

/// Like `npm ci`: a second install takes the lock file's versions; a lock whose integrity does
/// not match the registry's tarball is refused and the installed modules stay as they were.
#[test]
fn the_lock_file_pins_versions_and_integrity() {
    let dir = tempfile::tempdir().expect("tmp");
    tenant(dir.path(), &[("ip.js", IP)], &[("ip.js", &["ipaddr.js@^2.0.0"])]);
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(ok && out.contains("(resolved)"), "{out}");
    let (ok, again) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(ok && again.contains("(from the lock file)"), "{again}");
    let lock_path = dir.path().join("action_modules/idpipe-actions.lock.json");
    let lock = std::fs::read_to_string(&lock_path).expect("lock");
    let v: serde_json::Value = serde_json::from_str(&lock).expect("json");
    let integrity =
        v["actions"].as_object().and_then(|a| a.values().next()).expect("entry")["packages"]["node_modules/ipaddr.js"]["integrity"]
            .as_str()
            .expect("integrity")
            .to_string();
    assert!(integrity.starts_with("sha512-"), "{integrity}");
    // One changed character of the hash.
    let forged = format!("sha512-A{}", &integrity[8..]);
    std::fs::write(&lock_path, lock.replace(&integrity, &forged)).expect("write");
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("integrity check failed") && out.contains("ipaddr.js@"), "{out}");
    assert_eq!(
        login(dir.path(), "10.0.0.1").outcome.id_token_claims.get("corp"),
        Some(&json!(true)),
        "still installed"
    );
    // A lock whose install path climbs out of the folder is refused before anything is written.
    std::fs::write(
        &lock_path,
        lock.replace("\"node_modules/ipaddr.js\"", "\"node_modules/../../../escaped\""),
    )
    .expect("write");
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(!ok && out.contains("the lock file names 'node_modules/../../../escaped'"), "{out}");
    assert!(!dir.path().join("escaped").exists() && !dir.path().parent().expect("parent").join("escaped").exists());
}

/// Nothing is fetched at start-up: a declared module that is not installed stops `idpipe
/// serve`, naming the module and the command that installs it.
#[test]
fn a_missing_dependency_stops_the_start_up() {
    let dir = tempfile::tempdir().expect("tmp");
    tenant(dir.path(), &[("ip.js", IP)], &[("ip.js", &["ipaddr.js@2.2.0"])]);
    let (ok, out) = idpipe(&["serve", "--config", "tenant.toml", "--listen", "127.0.0.1:0"], dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("'ipaddr.js'") && out.contains("idpipe actions install"), "{out}");
    // Installed, then the declaration changes: refused again until installed again.
    assert!(idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path()).0);
    tenant(dir.path(), &[("ip.js", IP)], &[("ip.js", &["ipaddr.js@2.1.0"])]);
    let err = idpipe::config::load(&dir.path().join("tenant.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("'ipaddr.js'") && err.contains("changed"), "{err}");
}

/// Modules with native addons are refused at install, with the module named; nothing is
/// written to the lock file.
#[test]
fn native_addons_are_refused_at_install() {
    let dir = tempfile::tempdir().expect("tmp");
    tenant(dir.path(), &[("ip.js", IP)], &[("ip.js", &["bcrypt@5.1.1"])]);
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("'bcrypt' is a native addon"), "{out}");
    assert!(!dir.path().join("action_modules/idpipe-actions.lock.json").exists());
}

/// What is not declared is not found (with Node's error code), Node's process and thread
/// built-ins say they are not available, `fs` loads but reads nothing, and a dependency cannot
/// reach outside its folder.
#[test]
fn undeclared_builtin_and_escaping_requires_fail_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let probe = r#"const ipaddr = require("ipaddr.js");
const attempt = (name) => { try { require(name); return "loaded"; } catch (e) { return (e.code || "") + " " + e.message; } };
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("r", {
    undeclared: attempt("left-pad"), fs: (() => { try { require("fs").readFileSync("/etc/passwd"); return "read"; } catch (e) { return e.message; } })(),
    nodeFs: require("node:fs").existsSync("/etc/passwd"), cp: attempt("child_process"), worker: attempt("node:worker_threads"),
    escape: attempt("../../tenant.toml"), resolved: require.resolve("ipaddr.js"), cached: require("ipaddr.js") === ipaddr,
  });
};"#;
    tenant(dir.path(), &[("probe.js", probe)], &[("probe.js", &["ipaddr.js@2.2.0"])]);
    assert!(idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path()).0);
    let st = login(dir.path(), "10.0.0.1");
    let r = st.outcome.id_token_claims.get("r").cloned().unwrap_or_default();
    assert!(
        r["undeclared"]
            .as_str()
            .unwrap_or_default()
            .starts_with("MODULE_NOT_FOUND Cannot find module 'left-pad'"),
        "{r}"
    );
    assert_eq!(
        r["fs"], "fs.readFileSync is not available to actions: there is no file system",
        "{r}"
    );
    assert_eq!(r["nodeFs"], false, "no file exists for an action");
    assert!(
        r["cp"]
            .as_str()
            .unwrap_or_default()
            .contains("built-in 'child_process' is not available"),
        "{r}"
    );
    assert!(
        r["worker"]
            .as_str()
            .unwrap_or_default()
            .contains("built-in 'worker_threads' is not available"),
        "{r}"
    );
    assert!(r["escape"].as_str().unwrap_or_default().starts_with("MODULE_NOT_FOUND"), "{r}");
    assert_eq!(r["resolved"], "/node_modules/ipaddr.js/lib/ipaddr.js");
    assert_eq!(r["cached"], true);
}

const JOSE: &str = r#"const jose = require("jose");
exports.onExecutePostLogin = async (event, api) => {
  // HS256 with a shared secret.
  const secret = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
  const hs = await new jose.SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject(event.user.user_id)
    .setIssuer("https://idp.example.com").setAudience("api").setIssuedAt().setExpirationTime("2h").sign(secret);
  const verified = await jose.jwtVerify(hs, secret, { issuer: "https://idp.example.com", audience: "api" });
  // ES256 and RS256 keys, verified through a JWKS.
  const es = await jose.generateKeyPair("ES256");
  const rs = await jose.generateKeyPair("RS256");
  const esJwk = { ...(await jose.exportJWK(es.publicKey)), kid: "es", alg: "ES256" };
  const rsJwk = { ...(await jose.exportJWK(rs.publicKey)), kid: "rs", alg: "RS256" };
  const jwks = jose.createLocalJWKSet({ keys: [esJwk, rsJwk] });
  const viaJwks = [];
  for (const [alg, kid, key] of [["ES256", "es", es.privateKey], ["RS256", "rs", rs.privateKey]]) {
    const t = await new jose.SignJWT({ n: kid }).setProtectedHeader({ alg, kid }).setExpirationTime("5m").sign(key);
    viaJwks.push((await jose.jwtVerify(t, jwks)).payload.n);
  }
  let tampered;
  try { await jose.jwtVerify(hs.slice(0, -2) + "AA", secret); tampered = "accepted"; } catch (e) { tampered = e.code; }
  let expired;
  const old = await new jose.SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(secret);
  try { await jose.jwtVerify(old, secret); expired = "accepted"; } catch (e) { expired = e.code; }
  api.idToken.setCustomClaim("jose", { role: verified.payload.role, sub: verified.payload.sub, viaJwks, tampered, expired });
};"#;

/// An ESM-only package (jose 6, which Node 22 lets `require` load): SignJWT and jwtVerify with
/// a shared secret and with a JWKS of ES256 and RS256 keys, a tampered and an expired token
/// refused with jose's own error codes.
#[test]
fn jose_signs_and_verifies_through_a_jwks() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = tenant(dir.path(), &[("jose.js", JOSE)], &[("jose.js", &["jose@6"])]);
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(ok, "{out}");
    // A fresh sandbox per login: after the first, each loads the modules' cached bytecode.
    let text = std::fs::read_to_string(&path).expect("tenant");
    std::fs::write(&path, text.replace("\n\n[actions]", "\naction_sandbox = \"fresh\"\n\n[actions]")).expect("write");
    let tenant = idpipe::config::load(&path).expect("the tenant loads");
    for _ in 0..4 {
        let mut event = Event::default();
        event.user.user_id = "u1".into();
        let st = tenant.executor.start(Trigger::PostLogin, event);
        assert!(st.outcome.failure.is_none(), "{:?} {:?}", st.outcome.failure, st.outcome.trace);
        assert_eq!(
            st.outcome.id_token_claims.get("jose"),
            Some(
                &json!({"role": "admin", "sub": "u1", "viaJwks": ["es", "rs"], "tampered": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "expired": "ERR_JWT_EXPIRED"})
            )
        );
    }
}

const JWT: &str = r#"const jwt = require("jsonwebtoken");
const debug = require("debug")("action");
const validator = require("validator");
exports.onExecutePostLogin = async (event, api) => {
  debug("signing for %s", event.user.user_id);
  const token = jwt.sign({ sub: event.user.user_id, role: "admin" }, "a-shared-secret-of-some-length", { expiresIn: "5m", issuer: "idp" });
  const decoded = jwt.verify(token, "a-shared-secret-of-some-length", { issuer: "idp" });
  let wrong;
  try { jwt.verify(token, "another-secret"); wrong = "accepted"; } catch (e) { wrong = e.name + ": " + e.message; }
  api.idToken.setCustomClaim("jwt", { sub: decoded.sub, role: decoded.role, wrong, email: validator.isEmail("jane@example.com"), bad: validator.isEmail("jane@") });
};"#;

/// Popular CommonJS modules that lean on Node's built-ins: jsonwebtoken (crypto, buffer, util),
/// debug (tty, util, process.env) and validator.
#[test]
fn jsonwebtoken_debug_and_validator_work() {
    let dir = tempfile::tempdir().expect("tmp");
    tenant(
        dir.path(),
        &[("jwt.js", JWT)],
        &[("jwt.js", &["jsonwebtoken@9", "debug@4", "validator@13"])],
    );
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(ok, "{out}");
    let st = login(dir.path(), "10.0.0.1");
    assert!(st.outcome.failure.is_none(), "{:?} {:?}", st.outcome.failure, st.outcome.trace);
    assert_eq!(
        st.outcome.id_token_claims.get("jwt"),
        Some(&json!({"sub": "u1", "role": "admin", "wrong": "JsonWebTokenError: invalid signature", "email": true, "bad": false}))
    );
}

/// A local JSON service: answers `{"method", "path", "body", "auth"}` of each request.
fn echo_server() -> u16 {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or_default().to_string(),
                    parts.next().unwrap_or_default().to_string(),
                );
                let (mut length, mut auth) = (0usize, String::new());
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("authorization:") {
                        auth = h["authorization:".len()..].trim().to_string();
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let answer = json!({"method": method, "path": path, "body": String::from_utf8_lossy(&body), "auth": auth}).to_string();
                let mut conn = conn;
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            });
        }
    });
    port
}

const AXIOS: &str = r#"const axios = require("axios");
exports.onExecutePostLogin = async (event, api) => {
  const client = axios.create({ baseURL: event.secrets.BASE, timeout: 2000, headers: { Authorization: "Bearer t0k" } });
  const got = await client.get("/users/" + event.user.user_id, { params: { fields: "roles" } });
  const posted = await client.post("/audit", { event: "login", user: event.user.user_id });
  let refused;
  try { await axios.get("http://203.0.113.1/"); refused = "reached"; } catch (e) { refused = e.code || e.message; }
  api.idToken.setCustomClaim("axios", {
    status: got.status, path: got.data.path, auth: got.data.auth, type: got.headers["content-type"],
    posted: [posted.data.method, JSON.parse(posted.data.body)], refused,
  });
};"#;

/// axios from the registry against a local service on the allow-list (through fetch: Node's
/// http is not available), and refused for a host that is not.
#[test]
fn axios_reaches_an_allowed_service() {
    let port = echo_server();
    let dir = tempfile::tempdir().expect("tmp");
    let path = tenant(dir.path(), &[("ax.js", AXIOS)], &[("ax.js", &["axios@1"])]);
    let text = std::fs::read_to_string(&path).expect("tenant").replace(
        "\n\n[actions]",
        &format!("\nfetch_allowed_hosts = [\"127.0.0.1:{port}\"]\n\n[secrets]\nBASE = \"http://127.0.0.1:{port}\"\n\n[actions]"),
    );
    std::fs::write(&path, text).expect("write");
    let (ok, out) = idpipe(&["actions", "install", "--config", "tenant.toml"], dir.path());
    assert!(ok, "{out}");
    let tenant = idpipe::config::load(&path).expect("the tenant loads");
    let mut event = Event::default();
    event.user.user_id = "u1".into();
    event.secrets.insert("BASE".into(), json!(format!("http://127.0.0.1:{port}")));
    let st = tenant.executor.start(Trigger::PostLogin, event);
    assert!(st.outcome.failure.is_none(), "{:?} {:?}", st.outcome.failure, st.outcome.trace);
    assert_eq!(
        st.outcome.id_token_claims.get("axios"),
        Some(&json!({
            "status": 200, "path": "/users/u1?fields=roles", "auth": "Bearer t0k", "type": "application/json",
            "posted": ["POST", {"event": "login", "user": "u1"}], "refused": "ERR_NETWORK"
        }))
    );
}
