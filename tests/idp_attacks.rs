//! Attacks against the running server, each class with several variants: a login state used by
//! another browser, forged and replayed LogoutRequests, account enumeration through the lockout,
//! client-secret brute force, unbounded pending logins, slow clients, missing page protections,
//! SSRF through signature processing, and forged log records.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine;
use common::idp::*;
use common::sign_hs256;
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s.find(start).unwrap_or_else(|| panic!("{start} in {s}")) + start.len();
    &s[i..i + s[i..].find(end).expect("end")]
}

fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
fn a_login_state_works_only_in_the_browser_that_started_it() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut owner = Browser::new();
    // The login page's state, stolen from the owner's URL.
    let (_, login_page) = owner.follow(base, &format!("{base}/samlp/sp-py"));
    let login_state = login_page.field("state").expect("state");
    assert!(
        owner.cookies.contains_key("idpipe_tx"),
        "the browser is bound when the login starts"
    );
    let mut thief = Browser::new();
    let p = thief.get(&format!("{base}/u/login?state={login_state}"));
    assert_eq!(p.status, 403, "another browser cannot open the login page: {}", p.body);
    // Even with a transaction cookie of its own (it started a login too).
    thief.follow(base, &format!("{base}/samlp/sp-py"));
    assert!(thief.cookies.contains_key("idpipe_tx"));
    assert_eq!(thief.get(&format!("{base}/u/login?state={login_state}")).status, 403);

    // sam is sent to the consent app: the state travels in that URL.
    let page = owner.login(base, &login_page, "sam.new@example.com", "sam-demo-password");
    let state = query(&page.location.clone().expect("redirect"))["state"].clone();
    let consent = sign_hs256(
        json!({"state": state, "accepted": true, "terms": "v3", "exp": chrono::Utc::now().timestamp() + 60}),
        "s3cr3t-shared-with-consent-app",
    );
    let url = format!("{base}/continue?state={state}&consent_token={consent}");
    for (name, mut b) in [("no cookie", Browser::new()), ("own transaction cookie", thief)] {
        let p = b.get(&url);
        assert_eq!(p.status, 403, "{name}: {}", p.body);
        assert!(!p.body.contains("SAMLResponse"), "{name}");
        assert!(!b.cookies.contains_key("idpipe_session"), "{name}: no session for the thief");
        let p = b.post(
            &format!("{base}/continue"),
            &[("state", state.as_str()), ("consent_token", consent.as_str())],
        );
        assert_eq!(p.status, 403, "{name} (POST)");
    }
    let mut forged = Browser::new();
    forged.cookies.insert("idpipe_tx".into(), "0".repeat(32));
    assert_eq!(forged.get(&url).status, 403, "a guessed cookie value");
    // The refusals did not consume the state: the owner finishes the login.
    let done = owner.get(&url);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(saml_response(&done).contains("status:Success"));
    assert!(owner.cookies.contains_key("idpipe_session"));
}

fn logout_request(id: &str, name_id: &str, sid: &str, destination: Option<&str>) -> String {
    let dest = destination.map(|d| format!(" Destination=\"{d}\"")).unwrap_or_default();
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\"{dest}><saml:Issuer>{SP_BASE}/metadata</saml:Issuer>\
<saml:NameID>{name_id}</saml:NameID><samlp:SessionIndex>{sid}</samlp:SessionIndex></samlp:LogoutRequest>",
        now_iso()
    )
}

#[test]
fn logout_requests_are_checked_like_authn_requests_and_end_only_the_named_session() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut victim = Browser::new();
    let xml = saml_response(&saml_login(
        &idp,
        &mut victim,
        "sp-py",
        "jane.doe@example.com",
        "jane-demo-password",
    ));
    let sid = between(&xml, "SessionIndex=\"", "\"").to_string();
    let name_el = between(&xml, "<saml:NameID", "</saml:NameID>");
    let name_id = name_el[name_el.find('>').expect("tag end") + 1..].to_string();
    assert!(!name_id.is_empty());
    let alive = |b: &mut Browser| b.get(&format!("{base}/samlp/sp-py")).status == 200;
    assert!(alive(&mut victim));
    let post = |client: &str, lr: &str| {
        Browser::new().post(
            &format!("{base}/samlp/{client}/logout"),
            &[("SAMLRequest", &B64.encode(lr)), ("RelayState", "rs")],
        )
    };
    // An SP the session never used.
    let p = post("sp-deny", &logout_request("_f1", &name_id, &sid, None));
    assert!(!saml_response(&p).contains("status:Success"), "{}", p.body);
    assert!(alive(&mut victim), "another SP cannot end the session");
    // The right SP, another user's NameID.
    let p = post("sp-py", &logout_request("_f2", "someone-else@example.com", &sid, None));
    assert!(saml_response(&p).contains("RequestDenied"));
    assert!(alive(&mut victim), "a foreign NameID cannot end the session");
    // A foreign Destination.
    let p = post(
        "sp-py",
        &logout_request("_f3", &name_id, &sid, Some("https://other-idp.example.com/slo")),
    );
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(alive(&mut victim));
    // An SP that signs its requests: an unsigned one is refused.
    let p = post("sp-py-signed", &logout_request("_f4", &name_id, &sid, None));
    assert_eq!(p.status, 403, "{}", p.body);
    // Stale.
    let stale = logout_request("_f5", &name_id, &sid, None).replace(&now_iso()[..4], "2020");
    assert_eq!(post("sp-py", &stale).status, 400);
    assert!(alive(&mut victim));
    // The genuine request ends the session...
    let genuine = logout_request("_ok", &name_id, &sid, Some(&format!("{base}/samlp/sp-py/logout")));
    let p = post("sp-py", &genuine);
    assert!(saml_response(&p).contains("status:Success"), "{}", p.body);
    assert!(!alive(&mut victim), "the named session ended");
    // ...once: a replay of its ID is refused.
    let p = post("sp-py", &genuine);
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("already used"), "{}", p.body);
}

#[test]
fn a_signed_authn_request_replayed_after_a_restart_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("shared.sqlite");
    // Two server lifetimes on one database file: the replay ID survives the restart.
    let lr = logout_request("_restart", "nobody", "none", None);
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let idp = Idp::start_on(&db);
        let p = Browser::new().post(&format!("{}/samlp/sp-py/logout", idp.base), &[("SAMLRequest", &B64.encode(&lr))]);
        statuses.push(p.status);
        let authn = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_restart-authn\" Version=\"2.0\" IssueInstant=\"{}\" AssertionConsumerServiceURL=\"{SP_BASE}/acs\"/>",
            now_iso()
        );
        let p = Browser::new().post(&format!("{}/samlp/sp-py", idp.base), &[("SAMLRequest", &B64.encode(&authn))]);
        statuses.push(p.status);
    }
    assert_eq!(statuses[..2], [200, 302], "first use accepted");
    assert_eq!(statuses[2..], [400, 400], "replays refused by the restarted server");
}

#[test]
fn the_lockout_answers_unknown_usernames_like_real_ones() {
    let idp = Idp::start("[login]\nmax_failed_attempts = 5\nlockout_seconds = 600\nattempts_per_minute_per_ip = 100\n");
    let mut b = Browser::new();
    let (_, page) = b.follow(&idp.base, &format!("{}/samlp/sp-py", idp.base));
    let mut seen: Vec<Vec<(u16, bool)>> = Vec::new();
    for user in ["john.smith@example.com", "nobody@example.com", "Nobody@Example.com"] {
        let mut answers = Vec::new();
        for _ in 0..7 {
            let r = b.login(&idp.base, &page, user, "wrong-password");
            answers.push((r.status, r.body.contains("blocked")));
        }
        seen.push(answers);
    }
    assert_eq!(seen[0][5], (429, true), "the real account is blocked after five failures");
    assert_eq!(seen[0], seen[1], "an unknown username is answered exactly alike");
    assert_eq!(seen[0], seen[2]);
}

#[test]
fn client_secret_guessing_is_throttled_per_client_and_per_ip() {
    let idp = Idp::start("[server]\nclient_auth_failures_per_minute = 5\n");
    let token = |id: &str, secret: &str| {
        Browser::new().post(
            &format!("{}/oauth/token", idp.base),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("audience", "https://api.example.com"),
            ],
        )
    };
    assert_eq!(token("web", WEB_SECRET).status, 200, "the right secret works");
    let statuses: Vec<u16> = (0..8).map(|i| token("web", &format!("guess-{i}")).status).collect();
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429; 3], "{statuses:?}");
    let p = token("web", WEB_SECRET);
    assert_eq!(p.status, 429, "throttled before the secret is compared");
    assert!(p.body.contains("too_many_requests"));
    // Unknown clients count against the IP too.
    assert_eq!(token("no-such-client", "x").status, 429);
}

#[test]
fn pending_logins_are_bounded_in_size_and_number() {
    let idp = Idp::start("[server]\npending_logins_per_minute_per_ip = 20\n");
    let db = idp.dir.path().join("idp.sqlite");
    let size = || {
        ["", "-wal"]
            .iter()
            .map(|s| std::fs::metadata(format!("{}{s}", db.display())).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    let before = size();
    let big = "x".repeat(200_000);
    for _ in 0..15 {
        let p = Browser::new().post(&format!("{}/samlp/sp-py", idp.base), &[("RelayState", &big)]);
        assert_eq!(p.status, 413, "an oversized RelayState is refused before anything is stored");
        let p = Browser::new().get(&format!("{}/samlp/sp-py?RelayState={}", idp.base, "y".repeat(3000)));
        assert_eq!(p.status, 413);
    }
    assert!(size() - before < 100_000, "nothing was stored: {} -> {}", before, size());
    let started: Vec<u16> = (0..22)
        .map(|_| Browser::new().get(&format!("{}/samlp/sp-py?RelayState=ok", idp.base)).status)
        .collect();
    assert!(started[..20].iter().all(|s| *s == 302), "{started:?}");
    assert_eq!(started[20..], [429, 429], "logins started per IP are limited");
}

#[test]
fn slow_clients_are_cut_off_and_connections_are_limited() {
    let idp = Idp::start("[server]\nheader_read_timeout_seconds = 1\nmax_connections = 3\n");
    let addr = idp.base.trim_start_matches("http://").to_string();
    let slow = || {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").expect("write");
        s
    };
    let mut holders: Vec<TcpStream> = (0..3).map(|_| slow()).collect();
    std::thread::sleep(Duration::from_millis(200));
    // A fourth connection while three are open: closed without an answer.
    let mut extra = TcpStream::connect(&addr).expect("connect");
    extra.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 64];
    assert!(matches!(extra.read(&mut buf), Ok(0) | Err(_)), "over the connection limit");
    // The slow ones are cut after the header timeout...
    let started = Instant::now();
    for h in &mut holders {
        h.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut out = Vec::new();
        let _ = h.read_to_end(&mut out);
        assert!(
            !String::from_utf8_lossy(&out).contains(" 200 "),
            "no answer to an unfinished header"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed by the server: {:?}",
        started.elapsed()
    );
    // ...and the server serves again.
    assert_eq!(Browser::new().get(&format!("{}/healthz", idp.base)).status, 200);
}

fn csp_of(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(k, _)| k == "content-security-policy")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn raw_get(url: &str, form: Option<&[(&str, &str)]>, cookie: &str) -> (Page, Vec<(String, String)>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut r = match form {
        Some(f) => agent.post(url).header("cookie", cookie).send_form(f.iter().copied()),
        None => agent.get(url).header("cookie", cookie).call(),
    }
    .expect("request");
    let headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let page = Page {
        status: r.status().as_u16(),
        location: None,
        set_cookies: vec![],
        body: r.body_mut().read_to_string().unwrap_or_default(),
    };
    (page, headers)
}

#[test]
fn every_page_and_token_response_carries_the_protection_headers() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut b = Browser::new();
    let (login_url, _) = b.follow(base, &format!("{base}/samlp/sp-py"));
    let cookie: String = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let auto_post = saml_login(&idp, &mut b, "sp-py", "jane.doe@example.com", "jane-demo-password");
    assert!(auto_post.body.contains("SAMLResponse"));
    let session_cookie: String = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let form_post_url = format!(
        "{base}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid&response_mode=form_post&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let html_pages = [
        ("login page", raw_get(&login_url, None, &cookie)),
        ("error page", raw_get(&format!("{base}/u/login?state=nope"), None, "")),
        ("SAML auto-post", raw_get(&format!("{base}/samlp/sp-py"), None, &session_cookie)),
        ("form_post", raw_get(&form_post_url, None, &session_cookie)),
        ("unknown client", raw_get(&format!("{base}/samlp/no-such-sp"), None, "")),
    ];
    for (name, (page, headers)) in &html_pages {
        let h = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or("");
        assert_eq!(h("x-content-type-options"), "nosniff", "{name}");
        assert_eq!(h("cache-control"), "no-store", "{name}");
        let csp = csp_of(headers);
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{name}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{name}: {csp}");
        if page.body.contains("<script>") {
            assert!(
                csp.contains("script-src 'sha256-"),
                "{name}: the auto-submit script is allowed by hash"
            );
        } else {
            assert!(csp.contains("form-action 'self'"), "{name}: {csp}");
        }
    }
    let (_, headers) = &html_pages[2].1;
    let csp = headers.iter().find(|(k, _)| k == "content-security-policy").expect("csp").1.clone();
    assert!(
        csp.contains(&format!("form-action {SP_BASE}")),
        "posts only to the ACS origin: {csp}"
    );
    // JSON: token errors and successes, userinfo, discovery.
    let json_responses = [
        raw_get(
            &format!("{base}/oauth/token"),
            Some(&[
                ("grant_type", "client_credentials"),
                ("client_id", "web"),
                ("client_secret", WEB_SECRET),
                ("audience", "https://api.example.com"),
            ]),
            "",
        ),
        raw_get(&format!("{base}/oauth/token"), Some(&[("grant_type", "password")]), ""),
        raw_get(&format!("{base}/userinfo"), None, ""),
        raw_get(&format!("{base}/.well-known/openid-configuration"), None, ""),
    ];
    for (i, (page, headers)) in json_responses.iter().enumerate() {
        let h = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or("");
        assert_eq!(h("x-content-type-options"), "nosniff", "{}", page.body);
        // Discovery may be cached; token and userinfo answers never.
        if i < 3 {
            assert!(h("cache-control").contains("no-store"), "{}: {}", page.status, page.body);
        }
    }
    assert_eq!(json_responses[0].0.status, 200);
}

#[test]
fn signature_processing_fetches_nothing_and_never_stalls_the_server() {
    let idp = Idp::start("");
    let trap = Trap::new();
    let signed = common::read("fixtures/saml/authn-request-signed.xml");
    let remote = signed.replace("URI=\"#_req-signed-7c1e\"", &format!("URI=\"{}\"", trap.url));
    let xslt = signed.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        &format!("<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"><xsl:template match=\"/\"><xsl:value-of select=\"document('{}')\"/></xsl:template></xsl:stylesheet></ds:Transform>", trap.url),
    );
    let base = idp.base.clone();
    let senders: Vec<_> = [remote.clone(), xslt, remote]
        .into_iter()
        .map(|xml| {
            let url = format!("{base}/samlp/sp-py-signed");
            std::thread::spawn(move || Browser::new().post(&url, &[("SAMLRequest", &B64.encode(xml))]).status)
        })
        .collect();
    let started = Instant::now();
    assert_eq!(Browser::new().get(&format!("{base}/healthz")).status, 200);
    assert!(started.elapsed() < Duration::from_secs(1), "healthz answered at once");
    for s in senders {
        assert_eq!(s.join().expect("sender"), 403, "refused");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(trap.connections(), 0, "nothing was fetched");
}

#[test]
fn attacker_text_never_forges_log_records() {
    let idp = Idp::start("");
    let forged = "\n{\"timestamp\":\"2026-01-01T00:00:00Z\",\"level\":\"ERROR\",\"fields\":{\"message\":\"FORGED\"}}\n";
    let bodies = [
        format!("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_x\"><{forged}"),
        format!("<a xmlns=\"rel{forged}ative\"><b/></a>"),
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:x=\"{forged}\" ID=\"_y\" Version=\"2.0\"/>"
        ),
        format!("<?xml version=\"1.0\" encoding=\"{forged}\"?><a/>"),
        "<a>&undefined;</a>".to_string(),
        format!("<a><![CDATA[{forged}</a>"),
    ];
    for body in &bodies {
        for client in ["sp-py", "sp-py-signed"] {
            let p = Browser::new().post(&format!("{}/samlp/{client}", idp.base), &[("SAMLRequest", &B64.encode(body))]);
            assert!((400..500).contains(&p.status), "{}", p.body);
        }
        let q = url::form_urlencoded::byte_serialize(B64.encode(body).as_bytes()).collect::<String>();
        Browser::new().get(&format!("{}/samlp/sp-py?SAMLRequest={q}", idp.base));
        Browser::new().get(&format!("{}/samlp/sp-py/logout?SAMLRequest={q}", idp.base));
    }
    Browser::new().get(&format!("{}/healthz", idp.base));
    let log = idp.log();
    assert!(!log.is_empty());
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON record ({e}): {line:?}"));
        assert_ne!(v["fields"]["message"], "FORGED", "{line}");
        assert!(
            v["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("idpipe") || t.starts_with("tower_http")),
            "{line}"
        );
    }
}

#[test]
fn a_runaway_action_is_abandoned_at_its_deadline_and_other_logins_go_on() {
    let dir = tempfile::tempdir().expect("dir");
    let action = dir.path().join("runaway.js");
    // For john only: C loops that outlast the 100 ms deadline by far (no interrupt check inside).
    std::fs::write(
        &action,
        "exports.onExecutePostLogin = async (event, api) => { if (event.user.email === 'john.smith@example.com') { for (let i = 0; i < 6; i++) Array(16000000).join(''); api.user.setAppMetadata('late', true); } };",
    )
    .expect("write");
    let idp = Idp::start_with_actions(&[action], 100);
    let base = idp.base.clone();
    let mut john = Browser::new();
    let (_, page) = john.follow(&base, &format!("{base}/samlp/sp-py"));
    let started = Instant::now();
    let done = john.login(&base, &page, "john.smith@example.com", "john-demo-password");
    let took = started.elapsed();
    let xml = saml_response(&done);
    assert!(xml.contains("status:Responder") && !xml.contains("<saml:Assertion"), "{xml}");
    assert!(
        took < Duration::from_millis(1500),
        "answered at the deadline, not after the loop: {took:?}"
    );
    assert!(idp.log().contains("did not stop"), "{}", idp.log());
    // Other logins are served meanwhile.
    let mut jane = Browser::new();
    let p = saml_login(&idp, &mut jane, "sp-py", "jane.doe@example.com", "jane-demo-password");
    assert!(saml_response(&p).contains("status:Success"));
    assert!(!john.cookies.contains_key("idpipe_session"), "no session for the abandoned login");
    // When the runaway thread ends at last, what its pipeline decided is not stored.
    let waited = Instant::now();
    while !idp.log().contains("nothing it decided is stored") {
        assert!(waited.elapsed() < Duration::from_secs(60), "the runaway never ended: {}", idp.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !idp.database_text().contains("\"late\""),
        "the abandoned pipeline's metadata was stored"
    );
}

#[test]
fn action_secrets_are_never_persisted_with_a_login() {
    let idp = Idp::start("");
    let secret = "s3cr3t-shared-with-consent-app";
    // A pipeline suspended by the consent redirect is stored without the tenant's secrets...
    let mut sam = Browser::new();
    let page = saml_login(&idp, &mut sam, "sp-py", "sam.new@example.com", "sam-demo-password");
    let state = query(&page.location.expect("redirect"))["state"].clone();
    let stored = idp.database_text();
    assert!(
        stored.contains(&state) || stored.contains("continue:"),
        "the suspended login is stored"
    );
    assert!(!stored.contains(secret), "a secret was persisted");
    // ...and the actions get them back on resume (validateToken needs the shared secret).
    let consent = sign_hs256(
        json!({"state": state, "accepted": true, "terms": "v3", "exp": chrono::Utc::now().timestamp() + 60}),
        secret,
    );
    let done = sam.get(&format!("{}/continue?state={state}&consent_token={consent}", idp.base));
    assert!(saml_response(&done).contains("status:Success"), "{}", done.body);
    // An authorization code's record has no secrets either.
    let mut jane = Browser::new();
    let (_, login) = jane.follow(
        &idp.base,
        &format!(
            "{}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            idp.base
        ),
    );
    let p = jane.login(&idp.base, &login, "jane.doe@example.com", "jane-demo-password");
    assert!(p.location.is_some_and(|l| l.contains("code=")));
    assert!(!idp.database_text().contains(secret), "a secret was persisted with the code");
}
