//! Two `idpipe serve` processes on one configuration and one database (a SQLite file, and
//! PostgreSQL), as two nodes behind a load balancer: nothing a login needs lives in only one
//! process (pending logins, the CSRF key, the browser binding, suspended pipelines, replay IDs,
//! rate-limit counters).

mod common;

use base64::Engine;
use common::idp::*;
use common::sign_hs256;
use serde_json::json;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[test]
fn a_login_begun_on_one_node_finishes_on_the_other() {
    login_across(Idp::start(""));
}

#[test]
fn a_login_begun_on_one_node_finishes_on_the_other_on_postgres() {
    let pg = common::pg::Pg::start();
    login_across(Idp::start_on_postgres(&pg.url, ""));
}

fn login_across(a: Idp) {
    let b = a.start_peer();
    let mut browser = Browser::new();
    // Login page from A, password to B (the CSRF token made by A verifies on B).
    let (_, page) = browser.follow(&a.base, &format!("{}/samlp/sp-py?RelayState=two", a.base));
    let done = browser.login(&b.base, &page, "jane.doe@example.com", "jane-demo-password");
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(saml_response(&done).contains("status:Success"));
    // The session made on B serves SSO on A.
    assert_eq!(browser.get(&format!("{}/samlp/sp-py", a.base)).status, 200);

    // A redirect action suspended on B, resumed on A.
    let mut sam = Browser::new();
    let (_, page) = sam.follow(&b.base, &format!("{}/samlp/sp-py", b.base));
    let redirected = sam.login(&b.base, &page, "sam.new@example.com", "sam-demo-password");
    let loc = redirected.location.expect("consent redirect");
    let state = url::Url::parse(&loc)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1
        .to_string();
    let consent = sign_hs256(
        json!({"state": state, "accepted": true, "terms": "v3", "exp": chrono::Utc::now().timestamp() + 60}),
        "s3cr3t-shared-with-consent-app",
    );
    let done = sam.get(&format!("{}/continue?state={state}&consent_token={consent}", a.base));
    assert!(saml_response(&done).contains("status:Success"), "{}", done.body);
}

#[test]
fn replays_and_rate_limits_are_counted_across_nodes() {
    replays_and_rate_limits_across(Idp::start(RATE_LIMIT));
}

#[test]
fn replays_and_rate_limits_are_counted_across_nodes_on_postgres() {
    let pg = common::pg::Pg::start();
    replays_and_rate_limits_across(Idp::start_on_postgres(&pg.url, RATE_LIMIT));
}

const RATE_LIMIT: &str = "[login]\nattempts_per_minute_per_ip = 4\n";

fn replays_and_rate_limits_across(a: Idp) {
    let b = a.start_peer();
    // An AuthnRequest accepted by A is a replay on B.
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_two-nodes\" Version=\"2.0\" IssueInstant=\"{}\" AssertionConsumerServiceURL=\"{SP_BASE}/acs\"/>",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let post = |base: &str| Browser::new().post(&format!("{base}/samlp/sp-py"), &[("SAMLRequest", &B64.encode(&xml))]);
    assert_eq!(post(&a.base).status, 302);
    let replay = post(&b.base);
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("already used"));
    // Login submissions from one IP: two on A and two on B exhaust the shared budget of four.
    let mut browser = Browser::new();
    let (_, page) = browser.follow(&a.base, &format!("{}/samlp/sp-py", a.base));
    let statuses: Vec<u16> = [&a.base, &b.base, &a.base, &b.base, &a.base]
        .iter()
        .map(|base| browser.login(base, &page, "john.smith@example.com", "wrong-password").status)
        .collect();
    assert_eq!(statuses, [401, 401, 401, 401, 429], "one budget for both nodes");
}

/// Behind a trusted reverse proxy the per-IP budget is the client's, from `X-Forwarded-For`;
/// from anyone else the header changes nothing (a client cannot pick a fresh budget).
#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let wrong = |idp: &Idp, forwarded: &str| {
        let mut browser = Browser::new();
        browser.forwarded_for = Some(forwarded.to_string());
        let (_, page) = browser.follow(&idp.base, &format!("{}/samlp/sp-py", idp.base));
        browser.login(&idp.base, &page, "john.smith@example.com", "wrong-password").status
    };
    let behind = Idp::start("[login]\nattempts_per_minute_per_ip = 2\n\n[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n");
    let first: Vec<u16> = (0..3).map(|_| wrong(&behind, "6.6.6.6, 198.51.100.1")).collect();
    assert_eq!(first, [401, 401, 429], "the client's own budget");
    assert_eq!(wrong(&behind, "198.51.100.2"), 401, "another client has its own");
    assert_eq!(
        wrong(&behind, "9.9.9.9, 198.51.100.1"),
        429,
        "a client cannot escape its budget with forged entries left of its address"
    );

    let direct = Idp::start("[login]\nattempts_per_minute_per_ip = 2\n");
    let spoofed: Vec<u16> = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .map(|f| wrong(&direct, f))
        .collect();
    assert_eq!(spoofed, [401, 401, 429], "without trusted proxies the header is ignored");
}

/// SIGTERM to a node in the middle of a login: the login finishes (its response is the SAML
/// answer), new connections are refused at once (the load balancer moves on), an idle
/// keep-alive connection does not hold the node up, and the session it made serves SSO on the
/// other node.
#[test]
fn a_stopping_node_finishes_its_in_flight_logins_and_refuses_new_connections() {
    let mut a = Idp::start_with_actions_and(&[common::root().join("fixtures/e2e/slow.js")], "");
    let b = a.start_peer();
    let mut idle = Browser::new();
    assert_eq!(idle.get(&format!("{}/healthz", a.base)).status, 200, "a kept-alive connection");
    let mut browser = Browser::new();
    let (_, page) = browser.follow(&a.base, &format!("{}/samlp/sp-py", a.base));
    let base = a.base.clone();
    let in_flight = std::thread::spawn(move || {
        let done = browser.login(&base, &page, "jane.doe@example.com", "jane-demo-password");
        (browser, done)
    });
    // The action takes about a second: stop the node while it runs.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let pid = a.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let addr = a.base.trim_start_matches("http://").to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "a stopping node accepts no new connection"
    );

    let (mut browser, done) = in_flight.join().expect("the login thread");
    assert_eq!(done.status, 200, "{}\n{}", done.body, a.log());
    let response = saml_response(&done);
    assert!(response.contains("status:Success") && response.contains(">done<"), "{response}");
    let stopped = std::time::Instant::now();
    let status = loop {
        if let Some(status) = a.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < std::time::Duration::from_secs(15),
            "the node did not stop (an idle connection held it?)\n{}",
            a.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", a.log());
    assert!(a.log().contains("finishing in-flight requests"), "{}", a.log());
    assert_eq!(browser.get(&format!("{}/samlp/sp-py", b.base)).status, 200, "its session lives on");
    drop(idle);
}
