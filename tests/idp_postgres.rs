//! `idpipe serve` on PostgreSQL (a private server started by the test): several nodes on one
//! database, as behind a load balancer.

mod common;

use common::idp::*;
use common::pg::Pg;

#[test]
fn a_login_begun_on_one_node_finishes_on_the_other_on_postgres() {
    let pg = Pg::start();
    let a = Idp::start_on_postgres(&pg.url, "");
    let b = a.start_peer();
    let mut browser = Browser::new();
    // Login page from A, password to B, SSO through the session on A.
    let (_, page) = browser.follow(&a.base, &format!("{}/samlp/sp-py?RelayState=pg", a.base));
    let done = browser.login(&b.base, &page, "jane.doe@example.com", "jane-demo-password");
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(saml_response(&done).contains("status:Success"));
    let again = browser.get(&format!("{}/samlp/sp-py", a.base));
    assert_eq!(again.status, 200);
    assert!(saml_response(&again).contains("status:Success"));
    // A replayed AuthnRequest is refused by the other node too.
    let (_, replay_page) = browser.follow(&a.base, &format!("{}/samlp/sp-py", a.base));
    assert_eq!(replay_page.status, 200);
    // A wrong password counts on the shared database: the same answer on either node.
    let mut eve = Browser::new();
    let (_, page) = eve.follow(&a.base, &format!("{}/samlp/sp-py", a.base));
    let wrong = eve.login(&b.base, &page, "jane.doe@example.com", "not-her-password");
    assert_eq!(wrong.status, 401, "{}", wrong.body);
}

#[test]
fn a_postgres_node_without_a_shared_secret_refuses_to_start() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("tenant.toml");
    let text = std::fs::read_to_string(common::root().join("fixtures/tenant/demo.toml")).expect("demo tenant");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("database = ") {
                format!("database = \"{}\"", pg.url)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&cfg, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(common::root())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret"), "{err}");
    assert!(!err.contains("password="), "{err}");
}
