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
    try_redeem(node, code).expect("the token endpoint answers")
}

fn try_redeem(node: &str, code: &str) -> Result<(u16, serde_json::Value), ureq::Error> {
    let r = Browser::new().try_post(
        &format!("{node}/oauth/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code),
            ("redirect_uri", APP_CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )?;
    Ok((r.status, serde_json::from_str(&r.body).unwrap_or_default()))
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

/// The path and query of a URL on either node (a load balancer's single public host stands
/// in front of both; the tenant's `base_url` is node A's).
fn path_of(url: &str) -> String {
    match url.find("://").and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j)) {
        Some(i) => url[i..].to_string(),
        None => url.to_string(),
    }
}

/// A request on `node`, or on `fallback` when `node` no longer answers (the load balancer's
/// retry on another node); `true` with the page when it moved.
fn on_node(node: &str, fallback: &str, mut send: impl FnMut(&str) -> Result<Page, ureq::Error>) -> (Page, bool) {
    match send(node) {
        Ok(page) => (page, false),
        Err(_) => (send(fallback).expect("the surviving node answers"), true),
    }
}

/// What one finished login left: its browser (with the session cookie), its refresh token, and
/// a code it did not redeem (every third login).
struct Finished {
    browser: Browser,
    refresh_token: String,
    unredeemed_code: Option<String>,
}

/// One whole OIDC login (authorize, password, code, token) preferring `node`, each step moving
/// to `fallback` when `node` is gone; a step whose state the dead node had already consumed
/// starts the login again. Returns the result and how many steps moved.
fn one_login(node: &str, fallback: &str, keep_code: bool) -> (Finished, usize) {
    let mut moved = 0;
    for _attempt in 0..3 {
        let mut browser = Browser::new();
        let mut node = node.to_string();
        let mut step = |browser: &mut Browser, node: &mut String, f: &dyn Fn(&mut Browser, &str) -> Result<Page, ureq::Error>| {
            let (page, m) = on_node(&node.clone(), fallback, |n| f(browser, n));
            if m {
                moved += 1;
                *node = fallback.to_string();
            }
            page
        };
        let authorize = format!(
            "/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid%20offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        );
        let mut page = step(&mut browser, &mut node, &|b, n| b.try_get(&format!("{n}{authorize}")));
        while let Some(loc) = page
            .location
            .clone()
            .filter(|l| !l.starts_with(APP_CALLBACK) && (300..400).contains(&page.status))
        {
            page = step(&mut browser, &mut node, &|b, n| b.try_get(&format!("{n}{}", path_of(&loc))));
        }
        let (Some(state), Some(csrf)) = (page.field("state"), page.field("_csrf")) else {
            continue;
        };
        let form = [
            ("state", state.as_str()),
            ("_csrf", csrf.as_str()),
            ("username", "jane.doe@example.com"),
            ("password", "jane-demo-password"),
        ];
        let done = step(&mut browser, &mut node, &|b, n| b.try_post(&format!("{n}/u/login"), &form));
        let Some(code) = done
            .location
            .as_deref()
            .filter(|l| l.starts_with(APP_CALLBACK))
            .and_then(|l| query(l).get("code").cloned())
        else {
            continue; // the dead node had consumed the login state: start again
        };
        let (code_for_later, code_now) = if keep_code {
            // A second code from the same session: one kept for later, one redeemed now.
            let again = step(&mut browser, &mut node, &|b, n| b.try_get(&format!("{n}{authorize}")));
            let Some(later) = again.location.as_deref().and_then(|l| query(l).get("code").cloned()) else {
                continue;
            };
            (Some(later), code)
        } else {
            (None, code)
        };
        let (status, tokens) = match try_redeem(&node, &code_now) {
            Ok(r) => r,
            Err(_) => {
                moved += 1;
                redeem(fallback, &code_now)
            }
        };
        if status != 200 {
            continue; // redeemed by the dead node just before it died: start again
        }
        let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
        return (
            Finished {
                browser,
                refresh_token,
                unredeemed_code: code_for_later,
            },
            moved,
        );
    }
    panic!("a login did not finish in three attempts");
}

/// `kill -9` of one node while four clients log in over both: nothing either node answered is
/// lost (every session, refresh token and unredeemed code works on the survivor), a login page
/// shown by the dead node is submitted to the survivor, and a pipeline suspended on the dead
/// node (a redirect action) resumes on the survivor.
#[test]
fn a_node_killed_during_load_loses_nothing_and_its_logins_go_on_elsewhere_on_postgres() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let pg = Pg::start();
    let mut a = Idp::start_on_postgres(&pg.url, "[login]\nattempts_per_minute_per_ip = 100000\n");
    let b = a.start_peer();

    // In flight on A when it dies: a login page waiting for the password, and a pipeline
    // suspended by a redirect action.
    let mut waiting = Browser::new();
    let (_, login_page) = waiting.follow(&a.base, &format!("{}/samlp/sp-py?RelayState=held", a.base));
    let mut suspended = Browser::new();
    let (_, page) = suspended.follow(&a.base, &format!("{}/samlp/sp-py", a.base));
    let redirected = suspended.login(&a.base, &page, "sam.new@example.com", "sam-demo-password");
    let consent_state = query(&redirected.location.expect("consent redirect"))["state"].clone();

    let stop = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(Mutex::new(Vec::new()));
    let moved = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (a, b) = (a.base.clone(), b.base.clone());
            let (stop, finished, moved) = (stop.clone(), finished.clone(), moved.clone());
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    // Alternate nodes; B, the survivor, is every step's fallback.
                    let node = if i % 2 == 0 { &a } else { &b };
                    let (done, m) = one_login(node, &b, i % 3 == 0);
                    moved.fetch_add(m, Ordering::Relaxed);
                    finished.lock().expect("lock").push(done);
                    i += 1;
                }
            })
        })
        .collect();
    // Load on both nodes for at least a second and until a few logins finished, then SIGKILL A.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(1) || finished.lock().expect("lock").len() < 4 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "no login finished");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    a.child.kill().expect("SIGKILL");
    let before = finished.lock().expect("lock").len();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("a worker");
    }
    let mut finished = std::mem::take(&mut *finished.lock().expect("lock"));
    assert!(
        before >= 4 && finished.len() > before,
        "load on both nodes, then on B: {before} then {}",
        finished.len()
    );

    // Everything answered by either node is in the database.
    for f in &mut finished {
        let code = code_from(&mut f.browser, &b.base);
        assert_eq!(redeem(&b.base, &code).0, 200, "the session works on the survivor");
        let r = Browser::new().post(
            &format!("{}/oauth/token", b.base),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "spa"),
                ("refresh_token", &f.refresh_token),
            ],
        );
        assert_eq!(r.status, 200, "the refresh token works on the survivor: {}", r.body);
        if let Some(code) = &f.unredeemed_code {
            assert_eq!(redeem(&b.base, code).0, 200, "an unredeemed code is redeemed on the survivor");
        }
    }
    assert!(finished.iter().any(|f| f.unredeemed_code.is_some()));

    // The login page shown by the dead node, submitted to the survivor.
    let done = waiting.login(&b.base, &login_page, "jane.doe@example.com", "jane-demo-password");
    assert!(saml_response(&done).contains("status:Success"), "{}", done.body);
    // The suspended pipeline, resumed on the survivor.
    let consent = common::sign_hs256(
        serde_json::json!({"state": consent_state, "accepted": true, "terms": "v3", "exp": chrono::Utc::now().timestamp() + 60}),
        "s3cr3t-shared-with-consent-app",
    );
    let done = suspended.get(&format!("{}/continue?state={consent_state}&consent_token={consent}", b.base));
    assert!(saml_response(&done).contains("status:Success"), "{}", done.body);
    eprintln!(
        "{} logins finished ({before} before the kill), {} steps moved to the survivor",
        finished.len(),
        moved.load(Ordering::Relaxed)
    );
}
