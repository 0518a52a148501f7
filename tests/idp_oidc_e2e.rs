//! OIDC end to end through a running server, driven by an independent client (requests +
//! PyJWT verifying against the discovered JWKS).

mod common;

use common::idp::*;
use serde_json::{Value, json};

fn job(extra: Value) -> Value {
    let mut j = json!({
        "redirect_uri": APP_CALLBACK,
        "username": "jane.doe@example.com",
        "password": "jane-demo-password",
    });
    if let (Some(j), Value::Object(e)) = (j.as_object_mut(), extra) {
        j.extend(e);
    }
    j
}

#[test]
fn code_flow_with_pkce_refresh_rotation_and_reuse_detection() {
    let idp = Idp::start("");
    let out = idp.python("oidc_e2e.py", job(json!({"refresh": true, "audience": "https://api.example.com"})));
    assert_eq!(out["issuer"], format!("{}/", idp.base));
    assert_eq!(out["state_matches"], true, "{out}");
    assert_eq!(out["token_status"], 200, "{out}");
    assert_eq!(out["nonce_matches"], true);
    let id = &out["id_token"];
    assert_eq!(id["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert_eq!(id["email"], "jane.doe@example.com");
    assert_eq!(id["name"], "Jane Doe");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert!(id["sid"].as_str().is_some_and(|s| s.len() == 32), "{id}");
    // Claims from the tenant's actions (role-claims.js, saml-attributes.js).
    assert_eq!(id["https://my-app.example.com/roles"], json!(["admin", "editor"]));
    assert_eq!(id["https://my-app.example.com/plan"], "gold");
    let at = &out["access_token"];
    assert_eq!(at["aud"], json!(["https://api.example.com", format!("{}/userinfo", idp.base)]));
    assert_eq!(at["https://my-app.example.com/roles"], json!(["admin", "editor"]));
    assert_eq!(out["userinfo"]["status"], 200);
    assert_eq!(out["userinfo"]["body"]["email"], "jane.doe@example.com");
    assert_eq!(out["userinfo"]["body"]["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
    // Code replay: refused, and the refresh token it produced is revoked.
    assert_eq!(out["code_reuse"][0], 400);
    assert_eq!(out["code_reuse"][1]["error"], "invalid_grant");
    assert_eq!(out["has_refresh_token"], true);
    assert_eq!(out["revoked_by_code_reuse"][0], 400, "{out}");
    assert_eq!(out["sso_without_password"], true, "{out}");
    assert_eq!(out["refresh"]["status"], 200, "{out}");
    assert_eq!(out["refresh"]["rotated"], true);
    assert_eq!(out["refresh"]["roles"], json!(["admin", "editor"]), "the pipeline ran again");
    assert_eq!(out["reuse"][1]["error"], "invalid_grant");
    assert!(
        out["reuse"][1]["error_description"].as_str().unwrap_or_default().contains("reuse"),
        "{out}"
    );
    assert_eq!(out["after_reuse"][0], 400, "the whole family is revoked: {out}");
    assert_eq!(out["after_reuse"][1]["error_description"], "the refresh token was revoked");
}

#[test]
fn a_wrong_pkce_verifier_is_refused() {
    let idp = Idp::start("");
    let out = idp.python("oidc_e2e.py", job(json!({"wrong_verifier": true})));
    assert_eq!(out["wrong_verifier"][0], 400, "{out}");
    assert_eq!(out["wrong_verifier"][1]["error"], "invalid_grant");
    assert!(
        out["wrong_verifier"][1]["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("code_verifier")
    );
}

#[test]
fn confidential_client_with_form_post_and_logout() {
    let idp = Idp::start("");
    let out = idp.python(
        "oidc_e2e.py",
        job(
            json!({"client_id": "web", "client_secret": WEB_SECRET, "response_mode": "form_post",
                   "scope": "openid email", "logout": "http://127.0.0.1:8092/"}),
        ),
    );
    assert_eq!(out["form_post_action"], APP_CALLBACK, "{out}");
    assert_eq!(out["token_status"], 200, "{out}");
    assert_eq!(out["scope"], "openid email");
    assert_eq!(out["has_refresh_token"], false, "no offline_access");
    assert_eq!(out["id_token"]["aud"], "web");
    assert!(out["id_token"].get("name").is_none(), "no profile scope: {out}");
    // Logout goes back only to an allowed URL... (the spa lists it; web lists none)
    assert_eq!(out["logout"]["status"], 400, "{out}");
    // ...but the session is ended anyway: prompt=none now fails with login_required.
    assert_eq!(out["prompt_none_after_logout"]["error"], json!(["login_required"]), "{out}");
}

#[test]
fn public_client_logout_returns_to_an_allowed_url() {
    let idp = Idp::start("");
    let out = idp.python("oidc_e2e.py", job(json!({"logout": "http://127.0.0.1:8092/"})));
    assert_eq!(out["logout"]["status"], 302, "{out}");
    assert_eq!(out["logout"]["location"], "http://127.0.0.1:8092/");
    assert_eq!(out["prompt_none_after_logout"]["error"], json!(["login_required"]));
}

#[test]
fn an_action_denial_reaches_the_app_as_access_denied() {
    let idp = Idp::start("");
    let out = idp.python("oidc_e2e.py", job(json!({"client_id": "web-deny", "client_secret": WEB_SECRET})));
    assert_eq!(out["callback"]["error"], "access_denied", "{out}");
    assert_eq!(out["callback"]["error_description"], "This application is closed for maintenance.");
    assert_eq!(out["state_matches"], true);
}

/// With every thread of the blocking pool busy (more logins waiting in a slow action than the
/// pool has threads), a code exchange still completes: it takes the pool's queue instead of
/// handing the async worker over (`LoginContext::in_place`), and the server keeps answering.
#[test]
fn the_code_exchange_completes_while_every_pool_thread_is_busy() {
    let dir = tempfile::tempdir().expect("tmp");
    let action = write_action(
        dir.path(),
        "slow.js",
        "exports.onExecutePostLogin = async (event, api) => {\n  if (event.request.query.slow) await new Promise((r) => setTimeout(r, 1500));\n};\n",
    );
    let idp = Idp::start_with_actions_and(&[action], "");
    let mut browser = Browser::new();
    let (_, page) = browser.follow(&idp.base, &format!("{}/samlp/sp-py", idp.base));
    let done = browser.login(&idp.base, &page, "jane.doe@example.com", "jane-demo-password");
    assert_eq!(done.status, 200, "{}", done.body);
    let authorize = |extra: &str| {
        format!(
            "{}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}",
            idp.base
        )
    };
    let code = query(&browser.get(&authorize("")).location.expect("a code"))["code"].clone();

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let slow: Vec<_> = (0..idpipe::login::pool::max_threads(cores) + 2)
        .map(|_| {
            let mut b = Browser::new();
            b.cookies = browser.cookies.clone();
            let url = authorize("&slow=1");
            std::thread::spawn(move || b.get(&url).location.unwrap_or_default())
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let started = std::time::Instant::now();
    let health = Browser::new().get(&format!("{}/healthz", idp.base));
    assert_eq!(health.status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    let r = redeem_spa_code(&idp.base, &code);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"id_token\""), "{}", r.body);
    for t in slow {
        let location = t.join().expect("thread");
        assert!(location.contains("code="), "a slow login ends with a code: {location}");
    }
}
