//! A real idpipe server for end-to-end tests: a generated tenant (fixture SPs, OIDC apps,
//! demo users, actions), a fresh SQLite file, a free port; and a tiny cookie-keeping client.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::{read, root};

/// SP base URL used by the python3-saml SP (never contacted: the test client posts for it).
pub const SP_BASE: &str = "http://127.0.0.1:8091";
/// Redirect URI of the OIDC test apps.
pub const APP_CALLBACK: &str = "http://127.0.0.1:8092/callback";
/// Secret of the confidential OIDC app `web`.
pub const WEB_SECRET: &str = "web-app-secret-for-tests-only";
/// Secret of the confidential OIDC app `rp` (the conformance relying party).
pub const RP_SECRET: &str = "rp-secret-for-tests-only";
/// The registered logout URL of `rp` (with a query of its own, which must be kept).
pub const RP_LOGOUT: &str = "http://127.0.0.1:8092/logged-out?from=idp";

thread_local! {
    /// `timeout|"a.js", "b.js"` for the next start (see `start_with_actions`).
    static ACTIONS: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// Top-level TOML keys and more `[actions]` lines for the next start.
    static TOP: std::cell::RefCell<(String, String)> = const { std::cell::RefCell::new((String::new(), String::new())) };
    /// A PostgreSQL URL for the next start's database (instead of a SQLite file).
    static DATABASE_URL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// The host name of the next start's `base_url` (`127.0.0.1` unless set).
    static HOST: std::cell::RefCell<&'static str> = const { std::cell::RefCell::new("127.0.0.1") };
}

/// Starts `idpipe serve` on a configuration and port (JSON logs to `log`); returns the process
/// and its first stdout line.
fn spawn_serve(cfg: &std::path::Path, port: u16, log: std::fs::File) -> (Child, String) {
    spawn_serve_with(cfg, port, log.into(), &[])
}

/// As `spawn_serve`, with the logs to `stderr` and more environment variables.
pub fn spawn_serve_with(cfg: &std::path::Path, port: u16, stderr: Stdio, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["serve", "--config"])
        .arg(cfg)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("IDPIPE_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    (child, line)
}

/// The `[server]` table of nodes on PostgreSQL: the secret every node shares.
const NODE_SECRET: &str = "[server]\nsecret = \"a-test-secret-shared-by-every-node-0123456789\"\n";

/// A running server; killed on drop.
pub struct Idp {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn p(rel: &str) -> String {
    root().join(rel).display().to_string()
}

fn sp_settings(sp_base: &str, extra: &str) -> String {
    format!("{{\"audience\": \"{sp_base}/metadata\", \"logout\": {{\"callback\": \"{sp_base}/sls\", \"slo_enabled\": true}}{extra}}}")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Idp {
    /// Starts a server; `extra` is appended to the tenant TOML (e.g. a `[login]` table).
    pub fn start(extra: &str) -> Idp {
        Self::start_with(extra, SP_BASE)
    }

    /// Starts a server whose SAML SPs live at `sp_base` (ACS `{sp_base}/acs`).
    pub fn start_with(extra: &str, sp_base: &str) -> Idp {
        Self::start_full(extra, sp_base, None)
    }

    /// Starts a server on a PostgreSQL database (`url`), with the shared server secret nodes
    /// need; `extra` as in [`Idp::start`].
    #[allow(dead_code)]
    pub fn start_on_postgres(url: &str, extra: &str) -> Idp {
        DATABASE_URL.with(|u| *u.borrow_mut() = Some(url.to_string()));
        Self::start(&format!("{NODE_SECRET}\n{extra}"))
    }

    /// As [`Idp::start_with_actions_and`], on a PostgreSQL database (`url`) with the shared
    /// server secret nodes need.
    #[allow(dead_code)]
    pub fn start_with_actions_on_postgres(actions: &[std::path::PathBuf], url: &str, extra: &str) -> Idp {
        DATABASE_URL.with(|u| *u.borrow_mut() = Some(url.to_string()));
        Self::start_with_actions_and(actions, &format!("{NODE_SECRET}\n{extra}"))
    }

    /// Starts a server on an existing database file (e.g. to restart on the same data).
    #[allow(dead_code)]
    pub fn start_on(db: &std::path::Path) -> Idp {
        Self::start_full("", SP_BASE, Some(db))
    }

    /// Starts a server with only the given post-login action files and action time limit.
    #[allow(dead_code)]
    pub fn start_with_actions(actions: &[std::path::PathBuf], action_timeout_ms: u64) -> Idp {
        let list: Vec<String> = actions.iter().map(|a| format!("\"{}\"", a.display())).collect();
        let spec = format!("{action_timeout_ms}|{}", list.join(", "));
        ACTIONS.with(|a| *a.borrow_mut() = Some(spec));
        let idp = Self::start_full("", SP_BASE, None);
        ACTIONS.with(|a| a.borrow_mut().take());
        idp
    }

    /// Starts a server with only the given post-login actions (5 s limit) and `extra` TOML.
    #[allow(dead_code)]
    pub fn start_with_actions_and(actions: &[std::path::PathBuf], extra: &str) -> Idp {
        let list: Vec<String> = actions.iter().map(|a| format!("\"{}\"", a.display())).collect();
        ACTIONS.with(|a| *a.borrow_mut() = Some(format!("5000|{}", list.join(", "))));
        let idp = Self::start_full(extra, SP_BASE, None);
        ACTIONS.with(|a| a.borrow_mut().take());
        idp
    }

    /// As [`Idp::start_with_actions_and`], with `base_url` on `http://localhost:PORT` (WebAuthn
    /// needs a domain name as its relying party; the server still listens on 127.0.0.1).
    #[allow(dead_code)]
    pub fn start_on_localhost_with_actions_and(actions: &[std::path::PathBuf], extra: &str) -> Idp {
        HOST.with(|h| *h.borrow_mut() = "localhost");
        let idp = Self::start_with_actions_and(actions, extra);
        HOST.with(|h| *h.borrow_mut() = "127.0.0.1");
        idp
    }

    /// As [`Idp::start_with_actions_and`], with top-level keys (`top`, e.g. `fetch_allowed_hosts`)
    /// and more lines of the `[actions]` table (`more_actions`, e.g. another trigger's actions).
    #[allow(dead_code)]
    pub fn start_with_actions_top_and(actions: &[std::path::PathBuf], top: &str, more_actions: &str, extra: &str) -> Idp {
        TOP.with(|t| *t.borrow_mut() = (top.to_string(), more_actions.to_string()));
        let idp = Self::start_with_actions_and(actions, extra);
        TOP.with(|t| *t.borrow_mut() = (String::new(), String::new()));
        idp
    }

    fn start_full(extra: &str, sp_base: &str, db: Option<&std::path::Path>) -> Idp {
        let dir = tempfile::tempdir().expect("tmp");
        let port = free_port();
        let base = format!("http://{}:{port}", HOST.with(|h| *h.borrow()));
        let cert_json = serde_json::to_string(&read("certs/sp-test.crt")).expect("json");
        let pub_json = serde_json::to_string(&read("certs/sp-test.pub")).expect("json");
        let settings = [
            ("sp-py", sp_settings(sp_base, "")),
            ("sp-py-signed", sp_settings(sp_base, &format!(", \"signingCert\": {cert_json}"))),
            (
                "sp-py-enc",
                sp_settings(
                    sp_base,
                    &format!(", \"encryptionCert\": {cert_json}, \"encryptionPublicKey\": {pub_json}"),
                ),
            ),
            ("sp-deny", sp_settings(sp_base, "")),
            ("sp-both", sp_settings(sp_base, ", \"signResponseAndAssertion\": true")),
            ("sp-two", sp_settings(sp_base, "")),
            (
                "sp-fixed",
                sp_settings(
                    sp_base,
                    ", \"nameIdentifierFormat\": \"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\"",
                ),
            ),
            ("sp-kiosk", sp_settings(sp_base, "")),
        ];
        let mut sps = String::new();
        for (id, json) in settings {
            let f = dir.path().join(format!("{id}.json"));
            std::fs::write(&f, json).expect("write settings");
            sps.push_str(&format!(
                "[[saml_sps]]\nclient_id = \"{id}\"\nname = \"{id}\"\ncallbacks = [\"{sp_base}/acs\", \"{sp_base}/acs2\"]\nsettings = \"{}\"\n\n",
                f.display()
            ));
        }
        let custom: Option<(String, String)> = ACTIONS
            .with(|a| a.borrow().clone())
            .and_then(|s| s.split_once('|').map(|(t, a)| (t.to_string(), a.to_string())));
        let default_actions = [
            "fixtures/actions/role-claims.js",
            "fixtures/cli-actions/saml-attributes.js",
            "fixtures/tenant/consent.js",
            "fixtures/e2e/deny-client.js",
            "fixtures/e2e/session-policy.js",
            "fixtures/e2e/step-up.js",
            "fixtures/e2e/acr-attribute.js",
        ]
        .iter()
        .map(|a| format!("\"{}\"", p(a)))
        .collect::<Vec<_>>()
        .join(", ");
        let toml = format!(
            r#"name = "e2e"
base_url = "{base}"
signing_key = "{key}"
signing_cert = "{cert}"
database = "{db}"
users_file = "{users}"
action_timeout_ms = {timeout}
{top}
[actions]
post-login = [{actions}]
{more_actions}

[secrets]
CONSENT_SECRET = "s3cr3t-shared-with-consent-app"
CONSENT_URL = "https://consent.example.com/terms"

{sps}
[[oidc_clients]]
client_id = "spa"
name = "Single-page app"
redirect_uris = ["{APP_CALLBACK}"]
allowed_logout_urls = ["http://127.0.0.1:8092/"]

[[oidc_clients]]
client_id = "web"
name = "Web app"
redirect_uris = ["{APP_CALLBACK}"]
client_secret = "{WEB_SECRET}"

[[oidc_clients]]
client_id = "rp"
name = "Conformance RP"
redirect_uris = ["{APP_CALLBACK}"]
client_secret = "{RP_SECRET}"
allowed_logout_urls = ["{RP_LOGOUT}"]

[[oidc_clients]]
client_id = "web-deny"
name = "Closed app"
redirect_uris = ["{APP_CALLBACK}"]
client_secret = "{WEB_SECRET}"

[[apis]]
identifier = "https://api.example.com"
token_lifetime_seconds = 600

{extra}
"#,
            key = p("certs/idp-test.key"),
            cert = p("certs/idp-test.crt"),
            db = DATABASE_URL.with(|u| u.borrow_mut().take()).unwrap_or_else(|| {
                db.map_or_else(|| dir.path().join("idp.sqlite"), std::path::Path::to_path_buf)
                    .display()
                    .to_string()
            }),
            users = p("fixtures/tenant/users.toml"),
            timeout = custom.as_ref().map_or("5000", |(t, _)| t.as_str()),
            top = TOP.with(|t| t.borrow().0.clone()),
            more_actions = TOP.with(|t| t.borrow().1.clone()),
            actions = custom.as_ref().map_or(default_actions, |(_, a)| a.clone()),
        );
        let cfg = dir.path().join("tenant.toml");
        std::fs::write(&cfg, toml).expect("write tenant");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let (child, line) = spawn_serve(&cfg, port, log);
        let idp = Idp { child, base, dir };
        assert!(
            line.starts_with("idpipe listening on"),
            "unexpected first line: {line}\n{}",
            idp.log()
        );
        idp
    }

    /// A second process on this one's configuration and database (another node behind a load
    /// balancer), on its own port; its log is `server-peer.log` in this server's folder.
    #[allow(dead_code)]
    pub fn start_peer(&self) -> Peer {
        let port = free_port();
        let log = std::fs::File::create(self.dir.path().join("server-peer.log")).expect("log file");
        let (child, line) = spawn_serve(&self.dir.path().join("tenant.toml"), port, log);
        assert!(line.starts_with("idpipe listening on"), "unexpected first line: {line}");
        Peer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Every text value of every table of the server's database (to check what is persisted).
    #[allow(dead_code)]
    pub fn database_text(&self) -> String {
        let c = rusqlite::Connection::open(self.dir.path().join("idp.sqlite")).expect("open");
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .expect("tables")
            .query_map([], |r| r.get(0))
            .expect("query")
            .map(|r| r.expect("name"))
            .collect();
        let mut all = String::new();
        for t in tables {
            let mut stmt = c.prepare(&format!("SELECT * FROM {t}")).expect("select");
            let n = stmt.column_count();
            let mut rows = stmt.query([]).expect("rows");
            while let Some(row) = rows.next().expect("row") {
                for i in 0..n {
                    if let Ok(s) = row.get::<_, String>(i) {
                        all.push_str(&s);
                        all.push('\n');
                    }
                }
            }
        }
        all
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs a python driver with a JSON job (the IdP base URL added); returns its JSON output.
    pub fn python(&self, script: &str, mut job: Value) -> Value {
        job["idp_base"] = self.base.clone().into();
        super::run_python(script, &job, &format!("server log:\n{}", self.log()))
    }
}

/// A second server process on the same configuration and database; killed on drop.
#[allow(dead_code)]
pub struct Peer {
    pub child: Child,
    pub base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The `value` of the hidden/input field `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&needle)? + needle.len();
        let end = self.body[start..].find('"')? + start;
        Some(
            self.body[start..end]
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        )
    }
}

/// A browser-like client that keeps cookies and does not follow redirects.
pub struct Browser {
    agent: ureq::Agent,
    pub cookies: HashMap<String, String>,
    /// An `X-Forwarded-For` value sent with every request (as if behind a proxy).
    pub forwarded_for: Option<String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Browser {
            agent,
            cookies: HashMap::new(),
            forwarded_for: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn finish(&mut self, mut r: ureq::http::Response<ureq::Body>) -> Page {
        let set_cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &set_cookies {
            if let Some((kv, _)) = c.split_once(';').or(Some((c.as_str(), "")))
                && let Some((k, v)) = kv.split_once('=')
            {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let mut page = Page {
            status: r.status().as_u16(),
            location: r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string),
            set_cookies,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        };
        // A "Continuing" page (idpipe's answer to a form POST whose next stop is another origin)
        // navigates by script as soon as it loads: the browser goes on as after a redirect.
        if page.status == 200 && page.body.contains("<title>Continuing</title>") {
            let next = page.body.split("<a id=\"next\" href=\"").nth(1).and_then(|r| r.split('"').next());
            if let Some(href) = next {
                page.location = Some(href.replace("&amp;", "&").replace("&#x27;", "'").replace("&quot;", "\""));
                page.status = 302;
            }
        }
        page
    }

    pub fn get(&mut self, url: &str) -> Page {
        self.try_get(url).expect("GET")
    }

    pub fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        self.try_post(url, form).expect("POST")
    }

    /// A GET that reports a transport error (e.g. the server is gone) instead of panicking.
    pub fn try_get(&mut self, url: &str) -> Result<Page, ureq::Error> {
        let mut req = self.agent.get(url).header("cookie", &self.cookie_header());
        if let Some(f) = &self.forwarded_for {
            req = req.header("x-forwarded-for", f);
        }
        Ok(self.finish(req.call()?))
    }

    /// A form POST that reports a transport error instead of panicking.
    pub fn try_post(&mut self, url: &str, form: &[(&str, &str)]) -> Result<Page, ureq::Error> {
        let mut req = self.agent.post(url).header("cookie", &self.cookie_header());
        if let Some(f) = &self.forwarded_for {
            req = req.header("x-forwarded-for", f);
        }
        Ok(self.finish(req.send_form(form.iter().copied())?))
    }

    /// Follows redirects (GET) from `url` until a non-redirect page; relative locations resolve against `base`.
    pub fn follow(&mut self, base: &str, url: &str) -> (String, Page) {
        let mut url = url.to_string();
        for _ in 0..10 {
            let page = self.get(&url);
            match page.location.clone() {
                Some(l) if (300..400).contains(&page.status) => {
                    url = if l.starts_with('/') { format!("{base}{l}") } else { l };
                    if !url.starts_with(base) {
                        return (url, page);
                    }
                }
                _ => return (url, page),
            }
        }
        panic!("too many redirects");
    }

    /// Submits the login form on `page` (a `/u/login` page).
    pub fn login(&mut self, base: &str, page: &Page, username: &str, password: &str) -> Page {
        let state = page.field("state").expect("state field");
        let csrf = page.field("_csrf").expect("csrf field");
        self.post(
            &format!("{base}/u/login"),
            &[("state", &state), ("_csrf", &csrf), ("username", username), ("password", password)],
        )
    }
}

/// The decoded SAML Response (or LogoutResponse) an auto-POST page carries.
#[allow(dead_code)]
pub fn saml_response(page: &Page) -> String {
    use base64::Engine;
    let b64 = page
        .field("SAMLResponse")
        .unwrap_or_else(|| panic!("no SAMLResponse in {}", page.body));
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("base64")).expect("utf8")
}

/// The query parameters of a URL.
#[allow(dead_code)]
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).expect("url").query_pairs().into_owned().collect()
}

/// The PKCE verifier of the S256 challenge the tests send (RFC 7636 appendix B).
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Redeems an authorization code of the public app `spa` (PKCE with [`PKCE_VERIFIER`]).
#[allow(dead_code)]
pub fn redeem_spa_code(base: &str, code: &str) -> Page {
    Browser::new().post(
        &format!("{base}/oauth/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code),
            ("redirect_uri", APP_CALLBACK),
            ("code_verifier", PKCE_VERIFIER),
        ],
    )
}

/// Writes an action script `name` with `source` into `dir` and returns its path.
#[allow(dead_code)]
pub fn write_action(dir: &std::path::Path, name: &str, source: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, source).expect("write the action");
    path
}

/// Logs in through an IdP-initiated SAML login and returns the page after the password.
#[allow(dead_code)]
pub fn saml_login(idp: &Idp, b: &mut Browser, client: &str, user: &str, password: &str) -> Page {
    let (url, page) = b.follow(&idp.base, &format!("{}/samlp/{client}?RelayState=r1", idp.base));
    assert!(url.contains("/u/login"), "{url}");
    b.login(&idp.base, &page, user, password)
}

/// A local listener that counts connections: a URL an attacker wants fetched.
#[allow(dead_code)]
pub struct Trap {
    listener: std::net::TcpListener,
    /// Its URL.
    pub url: String,
}

#[allow(dead_code)]
impl Trap {
    /// A trap on a free port.
    pub fn new() -> Trap {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}/payload", listener.local_addr().expect("addr"));
        Trap { listener, url }
    }

    /// How many connections reached it.
    pub fn connections(&self) -> usize {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::iter::from_fn(|| self.listener.accept().ok()).count()
    }
}
