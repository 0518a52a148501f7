//! OIDC tokens from the pipeline outcome, verified by PyJWT against idpipe's JWKS.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::*;
use idpipe::actions::FnAction;
use idpipe::login::RefreshRequest;
use idpipe::oidc::refresh::{Grant, MemoryRefreshStore, RefreshLimits, RefreshTokens};
use idpipe::oidc::{ApiResource, JwtSigner, KeySet, OidcClient, OidcError, TokenContext, issue_tokens};
use idpipe::pipeline::executor::FixedClock;
use idpipe::pipeline::{Event, Executor, Outcome, Services, Trigger};
use serde_json::{Value, json};

const ISS: &str = "http://127.0.0.1:3000/";

fn keys() -> JwtSigner {
    JwtSigner::from_pem(&read("certs/idp-test.key")).expect("key")
}

fn event() -> Event {
    serde_json::from_str(&read("fixtures/events/post-login-typical.json")).expect("event")
}

fn pyjwt(jwks: &Value, tokens: &[(&str, Option<&str>)]) -> Vec<Value> {
    let job = json!({
        "jwks": jwks,
        "issuer": ISS,
        "tokens": tokens.iter().map(|(t, a)| json!({"token": t, "audience": a})).collect::<Vec<_>>(),
    });
    serde_json::from_value(run_python("jwt_check.py", &job, "")).expect("a JSON array")
}

/// A token context at `now` without nonce or session.
fn ctx<'a>(client: &'a OidcClient, api: Option<&'a ApiResource>, scopes: &'a [String], now: i64) -> TokenContext<'a> {
    TokenContext {
        issuer: ISS,
        client,
        api,
        requested_scopes: scopes,
        nonce: None,
        session_id: None,
        auth_time: now,
        now,
        claims: None,
        acr_values: &[],
    }
}

fn run(actions: Vec<FnAction>, ev: Event) -> idpipe::pipeline::TransactionState {
    let mut ex = Executor::new(Services::default());
    for a in actions {
        ex.add(Trigger::PostLogin, Arc::new(a));
    }
    ex.start(Trigger::PostLogin, ev)
}

fn client() -> OidcClient {
    OidcClient {
        client_id: "demo-app".into(),
        id_token_lifetime: 36_000,
    }
}

fn api() -> ApiResource {
    ApiResource {
        identifier: "https://api.example.com".into(),
        token_lifetime: 7200,
    }
}

#[test]
fn id_and_access_tokens_verify_with_pyjwt_and_carry_every_claim() {
    let st = run(
        vec![FnAction::post_login("claims", |ev, api| {
            let roles = ev.user.app_metadata.get("roles").cloned().unwrap_or_default();
            api.id_token()
                .set_custom_claim("https://example.com/roles", roles.clone())?
                .set_custom_claim("https://example.com/n", json!(42))?;
            api.id_token()
                .set_custom_claim("https://example.com/obj", json!({"a": [1, true, null]}))?;
            api.access_token()
                .set_custom_claim("https://example.com/roles", roles)?
                .add_scope("read:reports")?
                .add_scope("read:reports")?;
            api.access_token().remove_scope("email")?;
            Ok(())
        })],
        {
            let mut e = event();
            e.authentication.methods.push(idpipe::pipeline::event::AuthenticationMethod {
                name: "mfa".into(),
                timestamp: "2026-11-23T10:00:01Z".into(),
                method_type: Some("otp".into()),
            });
            e
        },
    );
    let k = keys();
    let scopes: Vec<String> = ["openid", "profile", "email", "phone"].iter().map(|s| s.to_string()).collect();
    let now = chrono::Utc::now().timestamp();
    let ctx = TokenContext {
        issuer: ISS,
        client: &client(),
        api: Some(&api()),
        requested_scopes: &scopes,
        nonce: Some("n-123"),
        session_id: Some("sess_1"),
        auth_time: now - 30,
        now,
        claims: None,
        acr_values: &[],
    };
    let t = issue_tokens(&k, &st.event, &st.outcome, &ctx, None).expect("tokens");
    let jwks = KeySet::new(keys()).jwks();
    let v = pyjwt(
        &jwks,
        &[
            (t.id_token.as_deref().expect("id token"), Some("demo-app")),
            (&t.access_token, Some("https://api.example.com")),
        ],
    );
    assert_eq!(v[0]["ok"], true, "{}", v[0]);
    assert_eq!(v[1]["ok"], true, "{}", v[1]);
    let (idh, id) = (&v[0]["header"], &v[0]["claims"]);
    assert_eq!(idh["kid"], k.jwk().kid.as_str());
    assert_eq!(idh["alg"], "RS256");
    assert_eq!(id["iss"], ISS);
    assert_eq!(id["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert_eq!(id["aud"], "demo-app");
    assert_eq!(id["exp"].as_i64().unwrap_or(0) - id["iat"].as_i64().unwrap_or(0), 36_000);
    assert_eq!(id["nonce"], "n-123");
    assert_eq!(id["auth_time"], now - 30);
    assert_eq!(id["sid"], "sess_1");
    assert_eq!(id["amr"], json!(["pwd", "mfa", "otp"]), "RFC 8176 adds the factor: {id}");
    assert_eq!(id["name"], "Jane Doe");
    assert_eq!(id["email"], "jane.doe@example.com");
    assert_eq!(id["email_verified"], true);
    assert!(id.get("phone_number").is_none(), "the fixture has no phone number");
    assert_eq!(id["https://example.com/roles"], json!(["admin", "editor"]));
    assert_eq!(id["https://example.com/n"], json!(42));
    assert_eq!(id["https://example.com/obj"], json!({"a": [1, true, null]}));
    let at = &v[1]["claims"];
    assert_eq!(at["aud"], json!(["https://api.example.com", "http://127.0.0.1:3000/userinfo"]));
    assert_eq!(at["azp"], "demo-app");
    assert_eq!(at["exp"].as_i64().unwrap_or(0) - at["iat"].as_i64().unwrap_or(0), 7200);
    assert_eq!(at["scope"], "openid profile phone read:reports");
    assert_eq!(at["https://example.com/roles"], json!(["admin", "editor"]));
    assert!(
        at.get("https://example.com/n").is_none(),
        "ID-token claims stay out of the access token"
    );
    // A wrong audience is rejected by PyJWT (the test can fail).
    let v = pyjwt(&jwks, &[(&t.access_token, Some("https://other.example.com"))]);
    assert_eq!(v[0]["ok"], false);
}

#[test]
fn reserved_claims_cannot_be_overridden_and_the_attempt_is_traced() {
    let st = run(
        vec![FnAction::post_login("sneaky", |_, api| {
            api.id_token()
                .set_custom_claim("sub", json!("admin"))?
                .set_custom_claim("nonce", json!("x"))?;
            api.access_token()
                .set_custom_claim("aud", json!("https://evil"))?
                .set_custom_claim("scope", json!("admin"))?;
            api.id_token().set_custom_claim("ok", json!(1))?;
            Ok(())
        })],
        event(),
    );
    assert!(st.outcome.failure.is_none(), "ignored, not failed");
    let errors: Vec<_> = st.outcome.trace[0].commands.iter().filter_map(|c| c.error.clone()).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("'sub' is a reserved claim"));
    let scopes: Vec<String> = vec!["openid".into()];
    let now = chrono::Utc::now().timestamp();
    let c = client();
    let a = api();
    let ctx = ctx(&c, Some(&a), &scopes, now);
    let t = issue_tokens(&keys(), &st.event, &st.outcome, &ctx, None).expect("tokens");
    let v = pyjwt(
        &KeySet::new(keys()).jwks(),
        &[
            (t.id_token.as_deref().unwrap_or_default(), Some("demo-app")),
            (&t.access_token, Some("https://api.example.com")),
        ],
    );
    assert_eq!(v[0]["claims"]["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert!(v[0]["claims"].get("nonce").is_none());
    assert_eq!(v[0]["claims"]["ok"], 1);
    assert_eq!(v[1]["claims"]["scope"], "openid");
}

#[test]
fn set_primary_user_changes_sub_and_expired_tokens_are_rejected() {
    let o = Outcome {
        primary_user_id: Some("google-oauth2|primary".into()),
        ..Default::default()
    };
    let scopes: Vec<String> = vec!["openid".into()];
    let now = chrono::Utc::now().timestamp();
    let past = now - 200_000;
    let c = client();
    let ctx = ctx(&c, None, &scopes, now);
    let t = issue_tokens(&keys(), &event(), &o, &ctx, None).expect("tokens");
    let old = issue_tokens(
        &keys(),
        &event(),
        &o,
        &TokenContext {
            now: past,
            auth_time: past,
            ..ctx.clone()
        },
        None,
    )
    .expect("tokens");
    let v = pyjwt(
        &KeySet::new(keys()).jwks(),
        &[
            (t.id_token.as_deref().unwrap_or_default(), Some("demo-app")),
            (old.id_token.as_deref().unwrap_or_default(), Some("demo-app")),
        ],
    );
    assert_eq!(v[0]["claims"]["sub"], "google-oauth2|primary");
    assert_eq!(v[1]["ok"], false);
    assert!(v[1]["error"].as_str().unwrap_or_default().contains("Expired"), "{}", v[1]);
}

#[test]
fn denied_and_validation_errors_are_oauth_errors() {
    let scopes: Vec<String> = vec!["openid".into()];
    let now = chrono::Utc::now().timestamp();
    let c = client();
    let ctx = ctx(&c, None, &scopes, now);
    let st = run(
        vec![FnAction::post_login("d", |_, api| {
            api.access().deny("Your account is suspended");
            Ok(())
        })],
        event(),
    );
    match issue_tokens(&keys(), &st.event, &st.outcome, &ctx, None) {
        Err(OidcError::Denied(e)) => assert_eq!(
            (e.error.as_str(), e.error_description.as_str()),
            ("access_denied", "Your account is suspended")
        ),
        other => panic!("{other:?}"),
    }
    let st = run(
        vec![FnAction::post_login("v", |_, api| {
            api.validation().error("invalid_email_domain", "Use your work email");
            Ok(())
        })],
        event(),
    );
    match issue_tokens(&keys(), &st.event, &st.outcome, &ctx, None) {
        Err(OidcError::Denied(e)) => assert_eq!(
            (e.error.as_str(), e.error_description.as_str()),
            ("invalid_email_domain", "Use your work email")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn key_rotation_publishes_next_and_keeps_retired_keys() {
    let next_pem = read("certs/idp-next-test.key");
    let set = KeySet::new(keys()).with_next(&JwtSigner::from_pem(&next_pem).expect("next"));
    let jwks_before = set.jwks();
    assert_eq!(jwks_before["keys"].as_array().map(Vec::len), Some(2));
    let scopes: Vec<String> = vec!["openid".into()];
    let now = chrono::Utc::now().timestamp();
    let c = client();
    let ctx = ctx(&c, None, &scopes, now);
    let old = issue_tokens(&set.current, &event(), &Outcome::default(), &ctx, None).expect("tokens");
    let old_kid = set.current.jwk().kid.clone();
    let set = set.rotate(JwtSigner::from_pem(&next_pem).expect("next"));
    let new = issue_tokens(&set.current, &event(), &Outcome::default(), &ctx, None).expect("tokens");
    let jwks = set.jwks();
    let v = pyjwt(
        &jwks,
        &[
            (old.id_token.as_deref().unwrap_or_default(), Some("demo-app")),
            (new.id_token.as_deref().unwrap_or_default(), Some("demo-app")),
        ],
    );
    assert_eq!(v[0]["ok"], true, "a token of the retired key still verifies: {}", v[0]);
    assert_eq!(v[1]["ok"], true, "{}", v[1]);
    assert_eq!(v[0]["header"]["kid"], old_kid.as_str());
    assert_ne!(v[1]["header"]["kid"], old_kid.as_str());
    // kid is the RFC 7638 thumbprint: stable across parses of the same key.
    assert_eq!(keys().jwk().kid, old_kid);
    // idpipe itself (id_token_hint, /userinfo) verifies tokens of the current and retired keys,
    // and nothing else: a token whose kid names the retired key but is signed by another key,
    // or alg none, is refused.
    let old_id = old.id_token.as_deref().unwrap_or_default();
    let new_id = new.id_token.as_deref().unwrap_or_default();
    assert_eq!(set.verify(old_id).and_then(|c| c.get("aud").cloned()), Some("demo-app".into()));
    assert!(set.verify(new_id).is_some());
    assert!(
        set.current.verify(old_id).is_none(),
        "the current key alone does not verify old tokens"
    );
    let mut parts: Vec<&str> = old_id.split('.').collect();
    let new_sig = new_id.rsplit('.').next().unwrap_or_default();
    parts[2] = new_sig;
    assert!(set.verify(&parts.join(".")).is_none(), "retired kid, another key's signature");
    let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v);
    let none = format!(
        "{}.{}.",
        b64(&format!("{{\"alg\":\"none\",\"kid\":\"{old_kid}\"}}")),
        old_id.split('.').nth(1).unwrap_or_default()
    );
    assert!(set.verify(&none).is_none(), "alg none");
}

const NOW_MS: i64 = 1_795_428_000_000;

fn refresh_setup(actions: Vec<FnAction>, limits: RefreshLimits) -> (Executor, RefreshTokens<MemoryRefreshStore>, String) {
    let mut ex = Executor::new(Services {
        clock: Arc::new(FixedClock::new(NOW_MS)),
        ..Default::default()
    });
    for a in actions {
        ex.add(Trigger::PostLogin, Arc::new(a));
    }
    let rt = RefreshTokens {
        store: MemoryRefreshStore::default(),
        limits,
    };
    let scopes: Vec<String> = vec!["openid".into(), "offline_access".into()];
    let grant = Grant {
        user_id: "auth0|5f7c8ec7c33c6c004bbafe82",
        client_id: "demo-app",
        scopes: &scopes,
        audience: None,
        session_id: Some("sess_1"),
        auth_time: None,
    };
    let first = rt.issue(&grant, &Default::default(), NOW_MS).expect("issue");
    (ex, rt, first)
}

/// One refresh-token exchange through `refresh_grant` with the test key and user directory.
fn exchange(
    ex: &Executor,
    rt: &RefreshTokens<MemoryRefreshStore>,
    token: &str,
    client: &OidcClient,
    now_ms: i64,
) -> Result<idpipe::login::RefreshResult, idpipe::oidc::OAuthError> {
    idpipe::login::refresh_grant(
        ex,
        &keys(),
        rt,
        &RefreshRequest {
            token,
            client,
            api_for: &|_| None,
            issuer: ISS,
            now_ms,
        },
        &load_user,
        &|_, _| Ok(()),
    )
}

fn load_user(id: &str) -> Option<idpipe::pipeline::event::User> {
    (id == "auth0|5f7c8ec7c33c6c004bbafe82").then(|| event().user)
}

#[test]
fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let (ex, rt, first) = refresh_setup(
        vec![FnAction::post_login("p", |ev, api| {
            api.id_token().set_custom_claim("protocol", json!(ev.transaction.protocol))?;
            Ok(())
        })],
        RefreshLimits::default(),
    );
    let c = client();
    let req = |token: &'static str, now_ms| RefreshRequest {
        token,
        client: &c,
        api_for: &|_| None,
        issuer: ISS,
        now_ms,
    };
    let first: &'static str = Box::leak(first.into_boxed_str());
    let r1 =
        idpipe::login::refresh_grant(&ex, &keys(), &rt, &req(first, NOW_MS + 1000), &load_user, &|_, _| Ok(())).expect("first exchange");
    assert_eq!(r1.tokens.id_claims.get("protocol"), Some(&json!("oauth2-refresh-token")));
    assert_ne!(r1.refresh_token, first);
    let second: &'static str = Box::leak(r1.refresh_token.into_boxed_str());
    // Reusing the first token: refused, and the whole family (including the second) is revoked.
    let e = idpipe::login::refresh_grant(&ex, &keys(), &rt, &req(first, NOW_MS + 2000), &load_user, &|_, _| Ok(()))
        .err()
        .expect("reuse refused");
    assert_eq!(e.error.as_str(), "invalid_grant");
    assert!(e.error_description.contains("reuse"));
    let e = idpipe::login::refresh_grant(&ex, &keys(), &rt, &req(second, NOW_MS + 3000), &load_user, &|_, _| Ok(()))
        .err()
        .expect("family revoked");
    assert!(e.error_description.contains("revoked"), "{e}");
    // Wrong client, unknown token.
    let (ex, rt, first) = refresh_setup(vec![], RefreshLimits::default());
    let other = OidcClient {
        client_id: "other".into(),
        id_token_lifetime: 1,
    };
    let e = exchange(&ex, &rt, &first, &other, NOW_MS).err().expect("other client");
    assert!(e.error_description.contains("another client"));
    let e = exchange(&ex, &rt, "nope", &c, NOW_MS).err().expect("unknown");
    assert_eq!(e.error.as_str(), "invalid_grant");
}

#[test]
fn refresh_expiry_absolute_idle_and_lowered_by_actions() {
    let limits = RefreshLimits {
        absolute_ms: 10_000_000,
        idle_ms: 1_000_000,
    };
    let c = client();
    // Idle expiry.
    let (ex, rt, t) = refresh_setup(vec![], limits);
    let e = exchange(&ex, &rt, &t, &c, NOW_MS + 1_000_001).err().expect("idle");
    assert!(e.error_description.contains("inactivity"), "{e}");
    // Absolute expiry even when used regularly.
    let (ex, rt, mut t) = refresh_setup(vec![], limits);
    let mut now = NOW_MS;
    for _ in 0..10 {
        now += 999_000;
        t = exchange(&ex, &rt, &t, &c, now).expect("within limits").refresh_token;
    }
    now += 20_000; // past the 10,000,000 ms absolute lifetime, well within the idle one
    let e = exchange(&ex, &rt, &t, &c, now).err().expect("absolute");
    assert!(e.error_description.contains("expired"), "{e}");
    // An action lowers the idle expiry of the rotated token.
    let (ex, rt, t) = refresh_setup(
        vec![FnAction::post_login("short", |_, api| {
            api.refresh_token().set_idle_expires_at((NOW_MS + 60_000) as f64)?;
            Ok(())
        })],
        limits,
    );
    let t2 = exchange(&ex, &rt, &t, &c, NOW_MS + 1).expect("ok").refresh_token;
    let e = exchange(&ex, &rt, &t2, &c, NOW_MS + 60_001).err().expect("lowered idle");
    assert!(e.error_description.contains("inactivity"), "{e}");
}

#[test]
fn refresh_revoke_and_mfa_in_a_refresh_exchange_fail_clearly() {
    let c = client();
    let (ex, rt, t) = refresh_setup(
        vec![FnAction::post_login("revoke", |_, api| {
            api.refresh_token().revoke("device lost")?;
            Ok(())
        })],
        RefreshLimits::default(),
    );
    let e = exchange(&ex, &rt, &t, &c, NOW_MS).err().expect("revoked");
    assert_eq!((e.error.as_str(), e.error_description.as_str()), ("invalid_grant", "device lost"));
    let (ex, rt, t) = refresh_setup(
        vec![FnAction::post_login("mfa", |_, api| {
            let _ = api.authentication().challenge_with(idpipe::pipeline::api::Factor::new("otp"), None);
            Ok(())
        })],
        RefreshLimits::default(),
    );
    let e = exchange(&ex, &rt, &t, &c, NOW_MS).err().expect("mfa impossible");
    assert!(e.error_description.contains("cannot interact"), "{e}");
}

#[test]
fn cli_tokens_verify_against_cli_jwks() {
    let bin = env!("CARGO_BIN_EXE_idpipe");
    let out = Command::new(bin)
        .args([
            "oidc",
            "tokens",
            "--user",
            "fixtures/users/jane.json",
            "--client",
            "fixtures/clients/demo-app.json",
            "--audience",
            "https://api.example.com",
            "--scope",
            "openid profile email offline_access",
            "--nonce",
            "abc",
        ])
        .current_dir(root())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokens: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 86400);
    assert!(tokens["refresh_token"].as_str().is_some_and(|s| s.len() >= 40));
    let jwks: Value = serde_json::from_slice(
        &Command::new(bin)
            .args(["oidc", "jwks"])
            .current_dir(root())
            .output()
            .expect("jwks")
            .stdout,
    )
    .expect("json");
    let v = pyjwt(
        &jwks,
        &[
            (tokens["id_token"].as_str().unwrap_or_default(), Some("demo-app")),
            (tokens["access_token"].as_str().unwrap_or_default(), Some("https://api.example.com")),
        ],
    );
    assert_eq!(v[0]["ok"], true, "{}", v[0]);
    assert_eq!(v[0]["claims"]["nonce"], "abc");
    assert_eq!(v[1]["claims"]["scope"], "openid profile email offline_access");
    let bad = Command::new(bin)
        .args([
            "oidc",
            "tokens",
            "--user",
            "fixtures/users/jane.json",
            "--client",
            "fixtures/users/jane.json",
        ])
        .current_dir(root())
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}

/// A refresh-token store whose `mark_used` fails while `down` is set (a database outage).
#[derive(Default)]
struct FlakyStore {
    inner: MemoryRefreshStore,
    down: std::sync::atomic::AtomicBool,
}

impl idpipe::store::RefreshTokenStore for FlakyStore {
    fn insert(&self, record: idpipe::store::RefreshRecord) -> Result<(), idpipe::store::StoreError> {
        self.inner.insert(record)
    }
    fn get(&self, token_hash: &str) -> Result<Option<idpipe::store::RefreshRecord>, idpipe::store::StoreError> {
        self.inner.get(token_hash)
    }
    fn mark_used(&self, token_hash: &str) -> Result<bool, idpipe::store::StoreError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(idpipe::store::StoreError::Unavailable("database is locked".into()));
        }
        self.inner.mark_used(token_hash)
    }
    fn revoke_family(&self, family: &str) -> Result<(), idpipe::store::StoreError> {
        self.inner.revoke_family(family)
    }
}

#[test]
fn a_store_outage_during_a_refresh_is_retryable_and_never_reads_as_reuse() {
    use idpipe::store::RefreshTokenStore;
    let rt = RefreshTokens {
        store: FlakyStore::default(),
        limits: RefreshLimits {
            absolute_ms: 3_600_000,
            idle_ms: 3_600_000,
        },
    };
    let scopes = vec!["openid".to_string(), "offline_access".to_string()];
    let grant = Grant {
        user_id: "u1",
        client_id: "app",
        scopes: &scopes,
        audience: None,
        session_id: None,
        auth_time: Some(1_000),
    };
    let token = rt.issue(&grant, &Default::default(), 0).expect("issued");
    rt.store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let e = rt.redeem(&token, "app", 1).expect_err("outage");
    assert_eq!(e.error.as_str(), "temporarily_unavailable", "{e:?}");
    let family = rt.family_of(&token).expect("store").expect("family");
    let rec = rt.store.get(&hex_sha256(&token)).expect("get").expect("record");
    assert!(!rec.revoked && !rec.used, "nothing was decided during the outage");
    rt.store.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let rec = rt.redeem(&token, "app", 2).expect("the retry succeeds");
    assert_eq!(rec.family, family);
    assert_eq!(rec.auth_time, Some(1_000));
    // A real reuse still revokes the family.
    assert_eq!(rt.redeem(&token, "app", 3).expect_err("reuse").error.as_str(), "invalid_grant");
}

fn hex_sha256(s: &str) -> String {
    hex::encode(openssl::sha::sha256(s.as_bytes()))
}

#[test]
fn an_id_token_signed_beside_the_access_token_is_the_one_signed_in_line() {
    let k = keys();
    let scopes: Vec<String> = vec!["openid".into(), "email".into()];
    let now = chrono::Utc::now().timestamp();
    let (c, a) = (client(), api());
    let ctx = ctx(&c, Some(&a), &scopes, now);
    let (ev, outcome) = (event(), Outcome::default());
    let in_line = issue_tokens(&k, &ev, &outcome, &ctx, None).expect("tokens");

    // On another thread: RS256 (PKCS#1 v1.5) is deterministic, so the same claims give the same
    // token byte for byte.
    let started = std::sync::atomic::AtomicUsize::new(0);
    let on_a_thread = |job: Box<dyn FnOnce() + Send>| {
        started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::spawn(job);
        true
    };
    let beside = issue_tokens(&k, &ev, &outcome, &ctx, Some(&on_a_thread)).expect("tokens");
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(beside.id_token, in_line.id_token);
    assert_eq!(beside.id_claims, in_line.id_claims);

    // Declined (no idle core): signed here. Started but dropped unrun: signed here too.
    let declined = |_job: Box<dyn FnOnce() + Send>| false;
    let dropped = |job: Box<dyn FnOnce() + Send>| {
        drop(job);
        true
    };
    let t1 = issue_tokens(&k, &ev, &outcome, &ctx, Some(&declined)).expect("tokens");
    let t2 = issue_tokens(&k, &ev, &outcome, &ctx, Some(&dropped)).expect("tokens");
    assert_eq!(t1.id_token, in_line.id_token);
    assert_eq!(t2.id_token, in_line.id_token);

    // Without openid there is no ID token and nothing is started.
    let no_openid: Vec<String> = vec!["email".into()];
    let ctx2 = ctx_with_scopes(&ctx, &no_openid);
    let t3 = issue_tokens(&k, &ev, &outcome, &ctx2, Some(&on_a_thread)).expect("tokens");
    assert!(t3.id_token.is_none());
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 1);

    let v = pyjwt(
        &KeySet::new(keys()).jwks(),
        &[
            (beside.id_token.as_deref().expect("id token"), Some("demo-app")),
            (&beside.access_token, Some("https://api.example.com")),
            (&t2.access_token, Some("https://api.example.com")),
        ],
    );
    for r in &v {
        assert_eq!(r["ok"], true, "{r}");
    }
}

fn ctx_with_scopes<'a>(ctx: &TokenContext<'a>, scopes: &'a [String]) -> TokenContext<'a> {
    TokenContext {
        requested_scopes: scopes,
        ..ctx.clone()
    }
}
