//! `idpipe serve` on PostgreSQL (a private server started by the test): several nodes on one
//! database, as behind a load balancer (the two-node login tests of `idp_two_nodes.rs` run on
//! PostgreSQL too).

mod common;

use common::idp::*;
use common::pg::Pg;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// An authorization code from `node` for a browser with a session.
fn code_from(browser: &mut Browser, node: &str) -> String {
    let p = browser.get(&format!(
        "{node}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid%20offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    ));
    query(&p.location.expect("redirect with a code"))["code"].clone()
}

fn redeem(node: &str, code: &str) -> (u16, serde_json::Value) {
    let r = Browser::new().post(
        &format!("{node}/oauth/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code),
            ("redirect_uri", APP_CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    );
    (r.status, serde_json::from_str(&r.body).unwrap_or_default())
}

#[test]
fn codes_and_refresh_tokens_are_single_use_across_nodes_on_postgres() {
    let pg = Pg::start();
    let a = Idp::start_on_postgres(&pg.url, "");
    let b = a.start_peer();
    let mut browser = Browser::new();
    let (_, page) = browser.follow(&a.base, &format!("{}/samlp/sp-py", a.base));
    let done = browser.login(&a.base, &page, "jane.doe@example.com", "jane-demo-password");
    assert_eq!(done.status, 200, "{}", done.body);

    // Issued on A, redeemed on B.
    let code = code_from(&mut browser, &a.base);
    let (status, tokens) = redeem(&b.base, &code);
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");

    // One code redeemed on A and B at once, many times over: exactly one success each time.
    for _ in 0..5 {
        let code = code_from(&mut browser, &b.base);
        let (ab, bb) = (a.base.clone(), b.base.clone());
        let (c1, c2) = (code.clone(), code.clone());
        let t1 = std::thread::spawn(move || redeem(&ab, &c1).0);
        let t2 = std::thread::spawn(move || redeem(&bb, &c2).0);
        let mut got = [t1.join().expect("a"), t2.join().expect("b")];
        got.sort_unstable();
        assert_eq!(got, [200, 400], "one success, one invalid_grant");
    }

    // Refresh rotation across nodes, and reuse detected by the other node.
    let refresh = |node: &str, token: &str| {
        let r = Browser::new().post(
            &format!("{node}/oauth/token"),
            &[("grant_type", "refresh_token"), ("client_id", "spa"), ("refresh_token", token)],
        );
        (r.status, serde_json::from_str::<serde_json::Value>(&r.body).unwrap_or_default())
    };
    let first = tokens["refresh_token"].as_str().expect("refresh token").to_string();
    let (status, rotated) = refresh(&a.base, &first);
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().expect("rotated").to_string();
    let (status, reuse) = refresh(&b.base, &first);
    assert_eq!(status, 400, "a used refresh token is refused on the other node: {reuse}");
    let (status, after) = refresh(&a.base, &second);
    assert_eq!(status, 400, "reuse revoked the family: {after}");
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

#[test]
fn nodes_migrating_at_once_migrate_once_and_readiness_follows_the_database() {
    let pg = Pg::start();
    // Three `idpipe migrate` at once on an empty database: all succeed, one schema.
    let runs: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
                .args(["migrate", "--config", "fixtures/tenant/demo.toml"])
                .env("IDPIPE_DATABASE_URL", &pg.url)
                .current_dir(common::root())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("migrate")
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().expect("migrate ends");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(&format!("schema version {}", idpipe::store::PG_SCHEMA_VERSION)),
            "{said}"
        );
    }
    let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).expect("connect");
    let applied: i64 = c.query_one("SELECT COUNT(*) FROM idpipe_migrations", &[]).expect("count").get(0);
    assert_eq!(applied, idpipe::store::PG_SCHEMA_VERSION, "each migration applied once");
    drop(c);

    // A node on it is ready while the database answers, and says so when it stops answering.
    let idp = Idp::start_on_postgres(&pg.url, "");
    let mut browser = Browser::new();
    assert_eq!(browser.get(&format!("{}/readyz", idp.base)).status, 200);
    drop(pg);
    let asked = std::time::Instant::now();
    let down = browser.get(&format!("{}/readyz", idp.base));
    assert_eq!(down.status, 503, "{}", down.body);
    // The probe has its own deadline (2 s), shorter than the pool's connect timeout (10 s):
    // a load balancer's health check gets its answer before it gives up.
    assert!(asked.elapsed() < std::time::Duration::from_secs(6), "{:?}", asked.elapsed());
    assert_eq!(
        browser.get(&format!("{}/healthz", idp.base)).status,
        200,
        "liveness is not readiness"
    );
}
