//! The server's own flows through a running process: the redirect action round trip via
//! `/continue`, login protection (CSRF, lockout, rate limit), cookies, bad input, and logs.

mod common;

use std::io::Write;

use base64::Engine;
use common::idp::*;
use common::sign_hs256;
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn redirect_action_round_trip_through_continue() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    // sam has not accepted the terms: fixtures/tenant/consent.js sends him to the consent app.
    let page = saml_login(&idp, &mut b, "sp-py", "sam.new@example.com", "sam-demo-password");
    assert_eq!(page.status, 302, "{}", page.body);
    let loc = page.location.clone().expect("location");
    assert!(loc.starts_with("https://consent.example.com/terms?"), "{loc}");
    let q = query(&loc);
    let state = q["state"].clone();
    // The consent app reads the session_token (HS256, shared secret) and checks its state.
    let data = jsonwebtoken::decode::<Value>(
        &q["session_token"],
        &jsonwebtoken::DecodingKey::from_secret(b"s3cr3t-shared-with-consent-app"),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .expect("a valid session_token");
    assert_eq!(data.claims["state"], state.as_str());
    assert_eq!(data.claims["email"], "sam.new@example.com");
    // No session yet: the login is not complete.
    assert!(!b.cookies.contains_key("idpipe_session"));

    // The consent app sends the user back with its own token.
    let consent = sign_hs256(
        json!({"state": state, "accepted": true, "terms": "v3", "exp": now() + 60}),
        "s3cr3t-shared-with-consent-app",
    );
    let done = b.get(&format!("{}/continue?state={state}&consent_token={consent}", idp.base));
    assert_eq!(done.status, 200, "{}", done.body);
    let xml = saml_response(&done);
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"), "{xml}");
    assert!(xml.contains("sam.new@example.com"));
    assert!(
        b.cookies.contains_key("idpipe_session"),
        "the session starts when the pipeline completes"
    );

    // The method the action recorded belongs to the session: an SSO login to an OIDC app in the same
    // browser sees it (ID token amr).
    let p = b.get(&format!(
        "{}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        idp.base
    ));
    let code = query(&p.location.expect("SSO redirect"))["code"].clone();
    let t = redeem_spa_code(&idp.base, &code);
    let tokens: Value = serde_json::from_str(&t.body).expect("json");
    let id_token = tokens["id_token"].as_str().expect("id token");
    let payload = id_token.split('.').nth(1).expect("payload");
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
    assert_eq!(claims["amr"], json!(["pwd", "https://consent.example.com/terms"]), "{claims}");

    // The state is single use.
    let replay = Browser::new().get(&format!("{}/continue?state={state}&consent_token={consent}", idp.base));
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("invalid_state"), "{}", replay.body);

    // The metadata change was applied at flow end: the next login goes straight through.
    let mut b2 = Browser::new();
    let page = saml_login(&idp, &mut b2, "sp-py", "sam.new@example.com", "sam-demo-password");
    assert_eq!(page.status, 200, "no second consent redirect: {:?}", page.location);
    assert!(saml_response(&page).contains("status:Success"));
}

#[test]
fn a_forged_continue_token_fails_the_login() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let page = saml_login(&idp, &mut b, "sp-py", "sam.new@example.com", "sam-demo-password");
    let state = query(&page.location.expect("redirect"))["state"].clone();
    let forged = sign_hs256(
        json!({"state": state, "accepted": true, "terms": "v3", "exp": now() + 60}),
        "not-the-secret",
    );
    let done = b.get(&format!("{}/continue?state={state}&consent_token={forged}", idp.base));
    assert_eq!(done.status, 200, "an error Response is still posted to the SP");
    let xml = saml_response(&done);
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Responder"), "{xml}");
    assert!(!xml.contains("<saml:Assertion"), "{xml}");
    assert!(!b.cookies.contains_key("idpipe_session"));
}

#[test]
fn login_protection_csrf_generic_errors_lockout_and_rate_limit() {
    let idp = Idp::start("[login]\nmax_failed_attempts = 5\nlockout_seconds = 600\nattempts_per_minute_per_ip = 8\n");
    let mut b = Browser::new();
    let (_, page) = b.follow(&idp.base, &format!("{}/samlp/sp-py", idp.base));
    assert_eq!(page.status, 200);
    let state = page.field("state").expect("state");
    assert!(
        page.set_cookies
            .iter()
            .any(|c| c.starts_with("idpipe_csrf=") && c.contains("HttpOnly"))
    );
    // 1: no CSRF token.
    let r = b.post(
        &format!("{}/u/login", idp.base),
        &[
            ("state", &state),
            ("username", "john.smith@example.com"),
            ("password", "john-demo-password"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // 2-6: wrong password five times locks the account.
    for _ in 0..5 {
        let r = b.login(&idp.base, &page, "john.smith@example.com", "wrong-password");
        assert_eq!(r.status, 401);
        assert!(r.body.contains("Wrong username or password."));
    }
    // 7: the right password no longer works.
    let r = b.login(&idp.base, &page, "john.smith@example.com", "john-demo-password");
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("blocked"));
    // 8: an unknown user gets the same message as a wrong password.
    let r = b.login(&idp.base, &page, "nobody@example.com", "whatever-password");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Wrong username or password."));
    // 9: over the per-IP limit.
    let r = b.login(&idp.base, &page, "jane.doe@example.com", "jane-demo-password");
    assert_eq!(r.status, 429);
    assert!(r.body.contains("too_many_attempts"), "{}", r.body);
}

#[test]
fn session_cookie_attributes_and_set_cookie_mode() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let page = saml_login(&idp, &mut b, "sp-py", "jane.doe@example.com", "jane-demo-password");
    let c = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("idpipe_session="))
        .expect("session cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"), "{c}");
    assert!(
        c.contains("Max-Age=604"),
        "persistent by default, for the tenant's absolute lifetime: {c}"
    );
    assert!(!c.contains("Secure"), "http base URL: {c}");
    // fixtures/e2e/session-policy.js: setCookieMode("non-persistent") for sp-kiosk.
    let mut k = Browser::new();
    let page = saml_login(&idp, &mut k, "sp-kiosk", "jane.doe@example.com", "jane-demo-password");
    let c = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("idpipe_session="))
        .expect("session cookie");
    assert!(!c.contains("Max-Age"), "a browser-session cookie: {c}");
}

fn authn_request(id: &str, acs: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" AssertionConsumerServiceURL=\"{acs}\"><saml:Issuer>{SP_BASE}/metadata</saml:Issuer></samlp:AuthnRequest>",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
}

fn redirect_query(xml: &str) -> String {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(xml.as_bytes()).expect("deflate");
    let b64 = B64.encode(enc.finish().expect("deflate"));
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &b64)
        .finish()
}

fn refused(p: &Page, status: u16, needle: &str) {
    assert_eq!(p.status, status, "{}", p.body);
    assert!(p.body.contains(needle), "expected '{needle}' in {}", p.body);
    assert!(p.location.is_none(), "an untrusted request is never redirected");
}

#[test]
fn bad_input_gets_a_clear_error_never_a_500() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut b = Browser::new();
    refused(&b.get(&format!("{base}/samlp/nope")), 404, "unknown_client");
    refused(
        &b.get(&format!("{base}/samlp/sp-py?SAMLRequest=%%%not-base64")),
        400,
        "could not be decoded",
    );
    let malformed = B64.encode("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"");
    refused(
        &b.post(&format!("{base}/samlp/sp-py"), &[("SAMLRequest", &malformed)]),
        400,
        "not well-formed",
    );
    let xxe = B64.encode(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">&x;</samlp:AuthnRequest>",
    );
    refused(&b.post(&format!("{base}/samlp/sp-py"), &[("SAMLRequest", &xxe)]), 400, "DTD");
    let huge = "A".repeat(100 * 1024);
    refused(&b.post(&format!("{base}/samlp/sp-py"), &[("SAMLRequest", &huge)]), 413, "too large");
    // (Bodies over 256 KiB are refused with 413 before they are read: tests/server.rs.)
    // ACS URL not among the SP's callbacks: an error page, no open redirect.
    let evil = redirect_query(&authn_request("_evil1", "https://evil.example.com/acs"));
    refused(&b.get(&format!("{base}/samlp/sp-py?{evil}")), 400, "not an allowed callback URL");
    // A Destination that is not this endpoint.
    let elsewhere =
        authn_request("_dest1", &format!("{SP_BASE}/acs")).replace(" Version=", " Destination=\"https://other.example.com/sso\" Version=");
    refused(
        &b.get(&format!("{base}/samlp/sp-py?{}", redirect_query(&elsewhere))),
        400,
        "Destination",
    );
    // A registered non-default ACS is used.
    let good = redirect_query(&authn_request("_good1", &format!("{SP_BASE}/acs2")));
    let p = b.get(&format!("{base}/samlp/sp-py?{good}"));
    assert_eq!(p.status, 302);
    // The same request ID again is a replay.
    refused(&b.get(&format!("{base}/samlp/sp-py?{good}")), 400, "already used");
    // An unsigned request to an SP that requires signatures.
    let unsigned = redirect_query(&authn_request("_unsigned1", &format!("{SP_BASE}/acs")));
    refused(&b.get(&format!("{base}/samlp/sp-py-signed?{unsigned}")), 403, "MUST be signed");

    // OIDC.
    refused(
        &b.get(&format!("{base}/authorize?client_id=nope&response_type=code")),
        400,
        "unknown_client",
    );
    refused(
        &b.get(&format!(
            "{base}/authorize?client_id=spa&response_type=code&redirect_uri=https://evil.example.com/cb"
        )),
        400,
        "not an allowed callback URL",
    );
    let p = b.get(&format!(
        "{base}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&state=s1"
    ));
    let q = query(&p.location.expect("error redirect to the registered URI"));
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("PKCE"));
    assert_eq!(q["state"], "s1");
    let token = |form: &[(&str, &str)]| Browser::new().post(&format!("{base}/oauth/token"), form);
    let r = token(&[("grant_type", "authorization_code"), ("client_id", "nope"), ("code", "x")]);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("invalid_client"));
    let r = token(&[
        ("grant_type", "client_credentials"),
        ("client_id", "web"),
        ("client_secret", "wrong"),
    ]);
    assert_eq!(r.status, 401);
    let r = token(&[("grant_type", "password"), ("client_id", "spa")]);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("unsupported_grant_type"));
    let r = token(&[("grant_type", "authorization_code"), ("client_id", "spa"), ("code", "made-up")]);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("invalid_grant"));
    let r = token(&[("grant_type", "refresh_token"), ("client_id", "spa"), ("refresh_token", "made-up")]);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("invalid_grant"));
    // client_credentials works for a confidential client and a configured API.
    let r = token(&[
        ("grant_type", "client_credentials"),
        ("client_id", "web"),
        ("client_secret", WEB_SECRET),
        ("audience", "https://api.example.com"),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(Browser::new().get(&format!("{base}/userinfo")).status, 401);

    // Login and continue with made-up states.
    refused(&b.get(&format!("{base}/u/login?state=made-up")), 400, "invalid_state");
    refused(&b.get(&format!("{base}/continue?state=made-up")), 400, "invalid_state");
    refused(&b.get(&format!("{base}/continue")), 400, "state parameter is missing");

    assert!(!idp.log().contains("panicked"), "{}", idp.log());
}

#[test]
fn logs_carry_request_ids_and_never_secrets() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let page = saml_login(&idp, &mut b, "sp-py", "jane.doe@example.com", "jane-demo-password");
    assert_eq!(page.status, 200);
    let response_b64 = page.field("SAMLResponse").expect("response");
    let session = b.cookies["idpipe_session"].clone();
    let csrf = b.cookies["idpipe_csrf"].clone();
    let log = idp.log();
    assert!(log.contains("password login"), "{log}");
    // Structured: every line is a JSON object; request lines carry the request span with its id.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let login = lines
        .iter()
        .find(|l| l["fields"]["message"] == "password login")
        .expect("the password login is logged");
    assert_eq!(login["span"]["path"], "/u/login");
    assert!(login["span"]["id"].as_str().is_some_and(|id| id.len() == 16), "{login}");
    for secret in [
        "jane-demo-password",
        session.as_str(),
        csrf.as_str(),
        &response_b64[..40],
        "s3cr3t-shared-with-consent-app",
    ] {
        assert!(!log.contains(secret), "the log leaks '{secret}'");
    }
}

#[test]
fn prompt_none_sso_and_interaction_required() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut b = Browser::new();
    // RFC 7636 appendix B challenge (public client: PKCE is required).
    let authorize = |extra: &str| {
        format!(
            "{base}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&state=st&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}"
        )
    };
    // No session: prompt=none fails at once.
    let p = b.get(&authorize("&prompt=none&scope=openid"));
    assert_eq!(query(&p.location.expect("redirect"))["error"], "login_required");
    // Log in once.
    let (url, page) = b.follow(base, &authorize("&scope=openid"));
    assert!(url.contains("/u/login"), "{url}");
    let p = b.login(base, &page, "jane.doe@example.com", "jane-demo-password");
    assert!(query(&p.location.expect("redirect")).contains_key("code"));
    // SSO silently.
    let p = b.get(&authorize("&prompt=none&scope=openid"));
    let q = query(&p.location.expect("redirect"));
    assert!(q.contains_key("code"), "{q:?}");
    assert_eq!(q["state"], "st");
    // An action that redirects (fixtures/e2e/step-up.js) under prompt=none: the pipeline refuses the
    // redirect (canRedirect() is false), the app gets interaction_required (OIDC Core 3.1.2.6),
    // the browser never sees the step-up page.
    let p = b.get(&authorize("&prompt=none&scope=openid%20stepup"));
    let q = query(&p.location.expect("redirect"));
    assert_eq!(q["error"], "interaction_required", "{q:?}");
    assert!(q["error_description"].contains("prompt=none"), "{q:?}");
    // Without prompt=none the same request goes to the step-up page.
    let p = b.get(&authorize("&scope=openid%20stepup"));
    assert!(p.location.expect("redirect").starts_with("https://stepup.example.com/check?state="));
    // prompt=login ignores the session; the new password login replaces it (no session fixation).
    let old_session = b.cookies["idpipe_session"].clone();
    let (url, page) = b.follow(base, &authorize("&prompt=login&scope=openid"));
    assert!(url.contains("/u/login?state="), "{url}");
    let p = b.login(base, &page, "jane.doe@example.com", "jane-demo-password");
    assert!(query(&p.location.expect("redirect")).contains_key("code"));
    assert_ne!(b.cookies["idpipe_session"], old_session);
    let mut stale = Browser::new();
    stale.cookies.insert("idpipe_session".into(), old_session);
    let p = stale.get(&authorize("&prompt=none&scope=openid"));
    assert_eq!(
        query(&p.location.expect("redirect"))["error"],
        "login_required",
        "the old session ended"
    );
}

#[test]
fn a_logout_request_without_the_cookie_ends_the_session_named_by_its_session_index() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let page = saml_login(&idp, &mut b, "sp-py", "jane.doe@example.com", "jane-demo-password");
    let xml = saml_response(&page);
    let at = xml.find("SessionIndex=\"").expect("SessionIndex") + "SessionIndex=\"".len();
    let sid = &xml[at..at + xml[at..].find('"').expect("end")];
    // SSO works before the logout.
    assert_eq!(b.get(&format!("{}/samlp/sp-py", idp.base)).status, 200);
    // A cross-site HTTP-POST LogoutRequest: the SameSite=Lax cookie does not come along.
    let lr = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
ID=\"_lo1\" Version=\"2.0\" IssueInstant=\"{}\"><saml:Issuer>{SP_BASE}/metadata</saml:Issuer>\
<saml:NameID>auth0|5f7c8ec7c33c6c004bbafe82</saml:NameID><samlp:SessionIndex>{sid}</samlp:SessionIndex></samlp:LogoutRequest>",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let out = Browser::new().post(
        &format!("{}/samlp/sp-py/logout", idp.base),
        &[("SAMLRequest", &B64.encode(&lr)), ("RelayState", "rs")],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let resp = saml_response(&out);
    assert!(
        resp.starts_with("<samlp:LogoutResponse") && resp.contains("InResponseTo=\"_lo1\""),
        "{resp}"
    );
    assert!(resp.contains("status:Success"));
    assert_eq!(out.field("RelayState").as_deref(), Some("rs"));
    // The browser's session is gone: the next SSO needs the password.
    let next = b.get(&format!("{}/samlp/sp-py", idp.base));
    assert_eq!(next.status, 302);
    assert!(next.location.expect("login").starts_with("/u/login"));
}

#[test]
fn random_garbage_on_every_endpoint_is_never_a_5xx() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = "aZ09%&=+/?#<>\"'; \u{e9}\u{1F600}\\-_.:~[]{}".chars().collect();
    let mut garbage = |n: usize| -> String { (0..n).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect() };
    let paths = [
        "/samlp/sp-py",
        "/samlp/sp-py-signed",
        "/samlp/sp-py/logout",
        "/samlp/metadata/sp-py",
        "/authorize",
        "/oauth/token",
        "/userinfo",
        "/v2/logout",
        "/oidc/logout",
        "/u/login",
        "/continue",
    ];
    let keys = [
        "SAMLRequest",
        "RelayState",
        "SigAlg",
        "Signature",
        "client_id",
        "redirect_uri",
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "state",
        "prompt",
        "grant_type",
        "code",
        "code_verifier",
        "refresh_token",
        "returnTo",
        "id_token_hint",
        "username",
        "password",
        "_csrf",
    ];
    for i in 0..300 {
        // A fresh connection each time: a server that answers before reading a garbage body closes
        // the connection, which a pooled client would only notice on its next request.
        let mut b = Browser::new();
        let path = paths[i % paths.len()];
        let mut pairs: Vec<(String, String)> = Vec::new();
        for k in 0..(i % 5) {
            let len = (i * 7 + k * 13) % 90;
            pairs.push((keys[(i + k * 3) % keys.len()].to_string(), garbage(len)));
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        let p = if i % 2 == 0 {
            b.get(&format!("{base}{path}?{query}"))
        } else {
            let form: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post(&format!("{base}{path}"), &form)
        };
        assert!(p.status < 500, "{path}?{query} -> {}: {}", p.status, p.body);
    }
    assert_eq!(Browser::new().get(&format!("{base}/healthz")).body, "ok");
    assert!(!idp.log().contains("panicked"));
}

/// Logs in to the public OIDC app `spa` and returns its token response.
fn spa_tokens(idp: &Idp, b: &mut Browser) -> Value {
    let base = &idp.base;
    let (url, page) = b.follow(
        base,
        &format!(
            "{base}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid%20email&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ),
    );
    assert!(url.contains("/u/login"), "{url}");
    let p = b.login(base, &page, "john.smith@example.com", "john-demo-password");
    let code = query(&p.location.expect("callback"))["code"].clone();
    let t = Browser::new().post(
        &format!("{base}/oauth/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", APP_CALLBACK),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ],
    );
    assert_eq!(t.status, 200, "{}", t.body);
    serde_json::from_str(&t.body).expect("json")
}

#[test]
fn oidc_logout_with_id_token_hint_and_plain_saml_logout() {
    let idp = Idp::start("");
    let base = &idp.base;
    let mut b = Browser::new();
    let tokens = spa_tokens(&idp, &mut b);
    let hint = tokens["id_token"].as_str().expect("id token");
    // RP-initiated logout: the client is the hint's audience; its allowed URL gets the state back.
    let p = b.get(&format!(
        "{base}/oidc/logout?id_token_hint={hint}&post_logout_redirect_uri=http://127.0.0.1:8092/&state=bye"
    ));
    assert_eq!(p.status, 302);
    assert_eq!(p.location.as_deref(), Some("http://127.0.0.1:8092/?state=bye"));
    assert!(
        p.set_cookies
            .iter()
            .any(|c| c.starts_with("idpipe_session=;") && c.contains("Max-Age=0"))
    );
    // A forged hint names no client: logged out, but no redirect.
    let p = b.get(&format!(
        "{base}/oidc/logout?id_token_hint=x.y.z&post_logout_redirect_uri=http://127.0.0.1:8092/"
    ));
    assert_eq!(p.status, 400);
    assert!(p.location.is_none());
    // The userinfo endpoint still serves the (unexpired) access token.
    let ui = ureq::get(&format!("{base}/userinfo"))
        .header("authorization", &format!("Bearer {}", tokens["access_token"].as_str().expect("at")))
        .call()
        .expect("userinfo")
        .body_mut()
        .read_to_string()
        .expect("body");
    assert!(ui.contains("john.smith@example.com"), "{ui}");

    // SAML: a plain GET logout (no LogoutRequest) ends the session and returns to the SP's callback.
    let mut s = Browser::new();
    let page = saml_login(&idp, &mut s, "sp-py", "jane.doe@example.com", "jane-demo-password");
    assert_eq!(page.status, 200);
    let p = s.get(&format!("{base}/samlp/sp-py/logout?RelayState=home"));
    assert_eq!(p.status, 302);
    assert_eq!(p.location.as_deref(), Some(format!("{SP_BASE}/sls?RelayState=home").as_str()));
    let next = s.get(&format!("{base}/samlp/sp-py"));
    assert!(next.location.expect("login").starts_with("/u/login"), "the session ended");
}
