//! The README's "Running several nodes" example (`fixtures/nodes/tenant.toml`), run as written:
//! two `idpipe serve` processes on that one file, the database URL given by
//! `IDPIPE_DATABASE_URL` (a private PostgreSQL), the test acting as the load balancer.

mod common;

use std::process::{Child, Command, Stdio};

use common::idp::{Browser, Page, free_port, query, saml_response, spawn_serve_with};
use common::pg::Pg;

const EXAMPLE: &str = "fixtures/nodes/tenant.toml";

/// A node started from a tenant file on `url`; killed on drop.
struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(config: &str, url: &str) -> Node {
    let port = free_port();
    let (child, line) = spawn_serve_with(std::path::Path::new(config), port, Stdio::null(), &[("IDPIPE_DATABASE_URL", url)]);
    assert!(line.starts_with("idpipe listening on"), "{line}");
    Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The path and query of a location (the tenant's `base_url` is the load balancer's).
fn path_of(url: &str) -> String {
    url::Url::parse(url).map_or_else(
        |_| url.to_string(),
        |u| format!("{}{}", u.path(), u.query().map(|q| format!("?{q}")).unwrap_or_default()),
    )
}

/// The load balancer: each request to the next node.
struct Balancer<'a> {
    nodes: [&'a Node; 2],
    next: usize,
    browser: Browser,
}

impl Balancer<'_> {
    fn base(&mut self) -> String {
        self.next += 1;
        self.nodes[self.next % 2].base.clone()
    }

    fn get(&mut self, location: &str) -> Page {
        let url = format!("{}{}", self.base(), path_of(location));
        self.browser.get(&url)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.base());
        self.browser.post(&url, form)
    }
}

#[test]
fn the_example_configuration_serves_a_login_across_two_nodes_on_postgres() {
    let pg = Pg::start();
    let (a, b) = (node(EXAMPLE, &pg.url), node(EXAMPLE, &pg.url));
    for n in [&a, &b] {
        assert_eq!(Browser::new().get(&format!("{}/readyz", n.base)).status, 200);
    }
    let mut lb = Balancer {
        nodes: [&a, &b],
        next: 0,
        browser: Browser::new(),
    };
    // SAML, IdP-initiated: the login page from one node, the password to the other.
    let mut page = lb.get("/samlp/sp-basic?RelayState=example");
    while let (302, Some(loc)) = (page.status, page.location.clone()) {
        page = lb.get(&loc);
    }
    let state = page.field("state").expect("the login page");
    let csrf = page.field("_csrf").expect("its CSRF token");
    let done = lb.post(
        "/u/login",
        &[
            ("state", &state),
            ("_csrf", &csrf),
            ("username", "jane.doe@example.com"),
            ("password", "jane-demo-password"),
        ],
    );
    assert!(saml_response(&done).contains("status:Success"), "{}", done.body);

    // OIDC with the session: the code from one node, redeemed on the other.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let authorized = lb.get(&format!(
        "/authorize?client_id=demo-app&response_type=code&redirect_uri=http://127.0.0.1:8080/callback&scope=openid&code_challenge={challenge}&code_challenge_method=S256"
    ));
    let code = query(&authorized.location.expect("a redirect with the code"))["code"].clone();
    let tokens = lb.post(
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-app"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8080/callback"),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ],
    );
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(tokens.body.contains("\"id_token\""));
}

#[test]
fn a_node_on_postgres_never_creates_the_shared_secret_file() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("secret");
    let text = std::fs::read_to_string(common::root().join(EXAMPLE))
        .expect("the example")
        .replace("certs/nodes-test.secret", &missing.display().to_string());
    let cfg = dir.path().join("tenant.toml");
    std::fs::write(&cfg, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .env("IDPIPE_DATABASE_URL", &pg.url)
        .current_dir(common::root())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist") && err.contains("every node"), "{err}");
    assert!(!missing.exists(), "each node would make its own secret");
}
