//! The `idpipe serve` process: really started on a port, queried over HTTP, stopped by SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use common::*;

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &str) -> Server {
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("demo.sqlite"))
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim()
        .strip_prefix("idpipe listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    Server { child, base, _dir: dir }
}

fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.get(url).call().expect("request");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn the_demo_tenant_serves_metadata_and_jwks_and_stops_gracefully() {
    let mut s = start("fixtures/tenant/demo.toml");
    assert_eq!(get(&format!("{}/healthz", s.base)), (200, "ok".to_string()));
    let (code, jwks) = get(&format!("{}/.well-known/jwks.json", s.base));
    assert_eq!(code, 200);
    let jwks: serde_json::Value = serde_json::from_str(&jwks).expect("json");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "current and next key");
    let kid = idpipe::oidc::JwtSigner::from_pem(&read("certs/idp-test.key"))
        .expect("key")
        .jwk()
        .kid
        .clone();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    let (code, xml) = get(&format!("{}/samlp/metadata/sp-signed", s.base));
    assert_eq!(code, 200);
    assert_eq!(xpath(&xml, "/md:EntityDescriptor/@entityID"), vec!["urn:demo"]);
    assert_eq!(xpath(&xml, "//md:IDPSSODescriptor/@WantAuthnRequestsSigned"), vec!["true"]);
    assert_eq!(
        xpath(&xml, "//md:SingleSignOnService/@Location")[0],
        "http://127.0.0.1:3000/samlp/sp-signed"
    );
    assert_eq!(
        xpath(&xml, "//md:KeyDescriptor").len(),
        2,
        "the next key is published during a rotation"
    );
    // The demo tenant offers the password reset (its links go by the demo's email settings).
    let (code, page) = get(&format!("{}/u/reset-password?client_id=demo-app", s.base));
    assert_eq!(code, 200);
    assert!(page.contains("id=\"reset-request\""));
    let (code, body) = get(&format!("{}/samlp/metadata/unknown", s.base));
    assert_eq!(code, 404);
    assert!(body.contains("unknown_client"));
    // An oversized body is refused from its Content-Length, before it is read. (A raw socket:
    // an HTTP client still uploading would see the early close as a broken pipe.)
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        sock,
        "POST /healthz HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\naaaa",
        400 * 1024
    )
    .expect("write");
    let mut head = [0u8; 64];
    let n = sock.read(&mut head).expect("read");
    let status_line = String::from_utf8_lossy(&head[..n]).to_string();
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    // SIGTERM: graceful shutdown, exit code 0.
    let pid = s.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = s.child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_wrong_config_fails_at_start_up_with_file_key_and_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        (
            "name = \"x\"\nbase_url = \"ftp://nope\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n",
            "base_url",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/sp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n",
            "signing_key",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\nbogus = 1\n",
            "bogus",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n[[saml_sps]]\nclient_id = \"a\"\nname = \"A\"\ncallbacks = []\n",
            "saml_sps[0].callbacks",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n[actions]\npost-login = [\"fixtures/actions/nope.js\"]\n",
            "actions.post-login",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n[[users]]\nusername = \"a\"\npassword_hash = \"plain-text\"\n",
            "users[0].password_hash",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n[login]\nmax_failed_attempts = 0\n",
            "login.max_failed_attempts",
        ),
        (
            "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n[[oidc_clients]]\nclient_id = \"c\"\nname = \"C\"\nredirect_uris = [\"javascript:alert(1)\"]\n",
            "oidc_clients[0].redirect_uris",
        ),
    ];
    // WebAuthn needs a domain name as its relying party id.
    let webauthn_on_ip = "name = \"x\"\nbase_url = \"http://127.0.0.1:9000\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n[mfa]\nfactors = [\"webauthn-roaming\"]\n";
    let cases: Vec<(&str, &str)> = cases
        .into_iter()
        .chain([(webauthn_on_ip, "an IP address cannot be a WebAuthn relying party")])
        .collect();
    for (i, (toml, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("t{i}.toml"));
        std::fs::write(&path, toml).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_idpipe"))
            .args(["serve", "--config"])
            .arg(&path)
            .current_dir(root())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{toml}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&path.display().to_string()) && err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn wrong_server_and_saml_request_settings_fail_at_start_up() {
    let dir = tempfile::tempdir().expect("tmp");
    let head = "name = \"x\"\nbase_url = \"http://a\"\nsigning_key = \"certs/idp-test.key\"\nsigning_cert = \"certs/idp-test.crt\"\n";
    let cases = [
        ("[server]\nmax_connections = 0\n", "server.max_connections"),
        ("[server]\nheader_read_timeout_seconds = 0\n", "server.header_read_timeout_seconds"),
        ("[server]\nsecret = \"too-short\"\n", "server.secret"),
        (
            "[server]\nsecret = \"0123456789abcdef0123456789abcdef\"\nsecret_file = \"x.secret\"\n",
            "either secret or secret_file",
        ),
        ("[server]\nunknown_limit = 1\n", "unknown_limit"),
        ("[saml_requests]\naccept_sha1 = \"yes\"\n", "accept_sha1"),
        ("[mfa]\nfactors = [\"push-notification\"]\n", "mfa.factors"),
        ("[mfa]\nfactors = [\"email\"]\n", "the email factor needs [mfa.email]"),
        (
            "[mfa]\nfactors = [\"phone\"]\n[mfa.phone]\naction = true\n",
            "no send-phone-message action",
        ),
    ];
    for (i, (section, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("s{i}.toml"));
        std::fs::write(&path, format!("{head}{section}")).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_idpipe"))
            .args(["serve", "--config"])
            .arg(&path)
            .args(["--db"])
            .arg(dir.path().join(format!("s{i}.sqlite")))
            .current_dir(root())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{section}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(
            !dir.path().join(format!("s{i}.sqlite")).exists(),
            "refused before anything is created"
        );
    }
}
