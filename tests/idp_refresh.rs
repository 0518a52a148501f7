//! A refresh-token exchange is a login without a browser: its actions' metadata changes are
//! committed like a browser login's (a decision where the seeds are silent; README).

mod common;

use common::idp::*;
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[test]
fn metadata_set_during_a_refresh_exchange_is_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let action = dir.path().join("refresh-meta.js");
    std::fs::write(
        &action,
        "exports.onExecutePostLogin = async (event, api) => { if (event.transaction.protocol === 'oauth2-refresh-token') { api.user.setAppMetadata('refresh_seen', 'during-refresh'); api.user.setUserMetadata('theme', 'dark-from-refresh'); } };",
    )
    .expect("write");
    let idp = Idp::start_with_actions(&[action], 5000);
    let base = idp.base.clone();
    let mut b = Browser::new();
    let (_, page) = b.follow(
        &base,
        &format!("{base}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid%20offline_access&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    );
    let done = b.login(&base, &page, "jane.doe@example.com", "jane-demo-password");
    let loc = done.location.expect("callback");
    let code = url::Url::parse(&loc)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .to_string();
    let token = |form: &[(&str, &str)]| -> Value {
        let p = Browser::new().post(&format!("{base}/oauth/token"), form);
        assert_eq!(p.status, 200, "{}", p.body);
        serde_json::from_str(&p.body).expect("json")
    };
    let first = token(&[
        ("grant_type", "authorization_code"),
        ("client_id", "spa"),
        ("code", &code),
        ("redirect_uri", APP_CALLBACK),
        ("code_verifier", VERIFIER),
    ]);
    assert!(!idp.database_text().contains("during-refresh"), "not before a refresh");
    let rt = first["refresh_token"].as_str().expect("refresh token").to_string();
    token(&[("grant_type", "refresh_token"), ("client_id", "spa"), ("refresh_token", &rt)]);
    let stored = idp.database_text();
    assert!(stored.contains("\"refresh_seen\":\"during-refresh\""), "app_metadata committed");
    assert!(stored.contains("\"theme\":\"dark-from-refresh\""), "user_metadata committed");
}
