//! The documented semantics of the post-login `api`, driven through the real executor.

mod common;

use std::sync::Arc;

use common::sign_hs256;
use idpipe::actions::FnAction;
use idpipe::pipeline::api::{CacheWriteResult, Factor};
use idpipe::pipeline::cache::MemoryCache;
use idpipe::pipeline::executor::{FixedClock, Limits, Status, Suspension, UserDirectory};
use idpipe::pipeline::outcome::{CookieMode, FailureKind, ScopeChange, SignatureAlgorithm};
use idpipe::pipeline::{Action, ActionError, Event, Executor, Resume, Services, Trigger};
use serde_json::{Value, json};

/// 2026-11-23T10:00:00Z
const NOW: i64 = 1_795_428_000_000;

fn event() -> Event {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events/post-login-typical.json")).expect("fixture");
    serde_json::from_str(&raw).expect("fixture parses")
}

fn services(clock: Arc<FixedClock>) -> Services {
    Services {
        clock,
        cache: Arc::new(MemoryCache::new()),
        ..Default::default()
    }
}

fn executor(actions: Vec<FnAction>) -> (Executor, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    let mut ex = Executor::new(services(clock.clone()));
    for a in actions {
        ex.add(Trigger::PostLogin, Arc::new(a));
    }
    (ex, clock)
}

fn ran(state: &idpipe::pipeline::TransactionState) -> Vec<String> {
    state.outcome.trace.iter().map(|t| t.action.clone()).collect()
}

#[test]
fn deny_stops_after_the_action_but_keeps_metadata_changes() {
    let (ex, _) = executor(vec![
        FnAction::post_login("a1", |_, api| {
            api.user().set_user_metadata("seen", json!(true))?;
            Ok(())
        }),
        FnAction::post_login("a2", |_, api| {
            api.access().deny("Blocked by policy");
            // Calls after deny in the same action still count.
            api.user().set_app_metadata("blocked_at", json!("now"))?;
            Ok(())
        }),
        FnAction::post_login("a3", |_, api| {
            api.id_token().set_custom_claim("never", json!(1))?;
            Ok(())
        }),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Failed);
    assert_eq!(ran(&st), vec!["a1", "a2"]);
    let f = st.outcome.failure.as_ref().expect("failure");
    assert_eq!(
        (f.kind, f.code.as_str(), f.description.as_str()),
        (FailureKind::AccessDenied, "access_denied", "Blocked by policy")
    );
    assert_eq!(f.action.as_deref(), Some("a2"));
    assert_eq!(st.outcome.user_metadata_changes.get("seen"), Some(&json!(true)));
    assert_eq!(st.outcome.app_metadata_changes.get("blocked_at"), Some(&json!("now")));
    assert!(st.outcome.id_token_claims.is_empty());
}

#[test]
fn validation_error_and_revokes_stop_the_pipeline() {
    type Stop = fn(&mut idpipe::pipeline::PostLoginApi<'_>);
    let cases: Vec<(Stop, FailureKind, &str, &str)> = vec![
        (
            |api| {
                api.validation().error("invalid_email", "Use a work email");
            },
            FailureKind::Validation,
            "invalid_email",
            "Use a work email",
        ),
        (
            |api| {
                api.session().revoke("stolen", Some(&json!({"preserveRefreshTokens": true})));
            },
            FailureKind::SessionRevoked,
            "access_denied",
            "stolen",
        ),
    ];
    for (stop, kind, code, desc) in cases {
        let (ex, _) = executor(vec![
            FnAction::post_login("stopper", move |_, api| {
                stop(api);
                Ok(())
            }),
            FnAction::post_login("after", |_, _| Ok(())),
        ]);
        let st = ex.start(Trigger::PostLogin, event());
        assert_eq!(ran(&st), vec!["stopper"]);
        let f = st.outcome.failure.expect("failure");
        assert_eq!((f.kind, f.code.as_str(), f.description.as_str()), (kind, code, desc));
    }
    // session.revoke records the preserveRefreshTokens option.
    let (ex, _) = executor(vec![FnAction::post_login("r", |_, api| {
        api.session().revoke("bye", Some(&json!({"preserveRefreshTokens": true})));
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    assert!(st.outcome.session.revoke.expect("revoke").preserve_refresh_tokens);

    // refreshToken.revoke only during a refresh-token exchange.
    let (ex, _) = executor(vec![
        FnAction::post_login("rt", |_, api| {
            api.refresh_token().revoke("compromised")?;
            Ok(())
        }),
        FnAction::post_login("after", |_, _| Ok(())),
    ]);
    let mut ev = event();
    ev.transaction.protocol = "oauth2-refresh-token".into();
    let st = ex.start(Trigger::PostLogin, ev);
    assert_eq!(ran(&st), vec!["rt"]);
    assert_eq!(st.outcome.failure.as_ref().map(|f| f.kind), Some(FailureKind::RefreshTokenRevoked));
    assert_eq!(st.outcome.refresh_token.revoke.as_deref(), Some("compromised"));
    let st = ex.start(Trigger::PostLogin, event());
    let f = st.outcome.failure.expect("refused outside refresh flow");
    assert_eq!(f.kind, FailureKind::InvalidApiCall);
    assert!(f.description.contains("oauth2-refresh-token"), "{}", f.description);
}

#[test]
fn user_metadata_is_aggregated_across_actions_and_null_removes() {
    let (ex, _) = executor(vec![
        FnAction::post_login("a", |_, api| {
            api.user()
                .set_user_metadata("color", json!("red"))?
                .set_user_metadata("size", json!("L"))?;
            api.user().set_app_metadata("plan", json!(null))?;
            Ok(())
        }),
        FnAction::post_login("b", |_, api| {
            api.user()
                .set_user_metadata("color", json!(null))?
                .set_user_metadata("shoe", json!({"eu": 42}))?;
            Ok(())
        }),
    ]);
    let ev = event();
    let st = ex.start(Trigger::PostLogin, ev.clone());
    assert_eq!(st.status(), Status::Completed);
    let (mut app, mut user) = (ev.user.app_metadata.clone(), ev.user.user_metadata.clone());
    st.outcome.apply_user_metadata(&mut app, &mut user);
    assert_eq!(Value::Object(user), json!({"size": "L", "shoe": {"eu": 42}}));
    assert_eq!(Value::Object(app), json!({"roles": ["admin", "editor"]}));
    // Nothing was applied to the event itself: changes are applied once at the end.
    assert_eq!(st.event.user.user_metadata.get("color"), Some(&json!("blue")));
}

#[test]
fn transaction_metadata_is_visible_to_the_next_action_at_once() {
    let (ex, _) = executor(vec![
        FnAction::post_login("writer", |_, api| {
            api.transaction().set_metadata("risk", json!(7))?.set_metadata("tag", json!("x"))?;
            assert!(api.transaction().set_metadata("obj", json!({"a": 1})).is_err());
            Ok(())
        }),
        FnAction::post_login("reader", |ev, api| {
            let risk = ev.transaction.metadata.get("risk").cloned().unwrap_or(Value::Null);
            api.id_token().set_custom_claim("risk", risk)?;
            api.transaction().set_metadata("tag", json!(null))?;
            Ok(())
        }),
        FnAction::post_login("third", |ev, api| {
            api.id_token()
                .set_custom_claim("keys", json!(ev.transaction.metadata.keys().collect::<Vec<_>>()))?;
            Ok(())
        }),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    // The object value was refused, and a refused setter fails the login.
    assert_eq!(st.outcome.failure.as_ref().map(|f| f.kind), Some(FailureKind::InvalidApiCall));

    let (ex, _) = executor(vec![
        FnAction::post_login("writer", |_, api| {
            api.transaction().set_metadata("risk", json!(7))?.set_metadata("tag", json!("x"))?;
            Ok(())
        }),
        FnAction::post_login("reader", |ev, api| {
            let risk = ev.transaction.metadata.get("risk").cloned().unwrap_or(Value::Null);
            api.id_token().set_custom_claim("risk", risk)?;
            api.transaction().set_metadata("tag", json!(null))?;
            Ok(())
        }),
        FnAction::post_login("third", |ev, api| {
            api.id_token()
                .set_custom_claim("keys", json!(ev.transaction.metadata.keys().collect::<Vec<_>>()))?;
            Ok(())
        }),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Completed);
    assert_eq!(st.outcome.id_token_claims.get("risk"), Some(&json!(7)));
    assert_eq!(st.outcome.id_token_claims.get("keys"), Some(&json!(["risk"])));
}

#[test]
fn cache_semantics() {
    let clock = Arc::new(FixedClock::new(NOW));
    let cache = Arc::new(MemoryCache::new());
    let svc = Services {
        clock: clock.clone(),
        cache: cache.clone(),
        ..Default::default()
    };
    let mut ex = Executor::new(svc.clone());
    ex.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("cache", |_, api| {
            let c = &mut api.cache();
            assert_eq!(c.set("k", &json!("v"), None), CacheWriteResult::Success);
            assert_eq!(
                c.get("k").map(|r| (r.value, r.expires_at)),
                Some(("v".to_string(), NOW + 15 * 60 * 1000))
            );
            // Strings only.
            assert_eq!(
                c.set("n", &json!(5), None),
                CacheWriteResult::Error {
                    code: "INVALID_VALUE".into()
                }
            );
            // Both ttl and expires_at: the earlier wins.
            c.set("both", &json!("x"), Some(&json!({"ttl": 60_000, "expires_at": NOW + 30_000})));
            assert_eq!(c.get("both").map(|r| r.expires_at), Some(NOW + 30_000));
            c.set("both2", &json!("x"), Some(&json!({"ttl": 10_000, "expires_at": NOW + 30_000})));
            assert_eq!(c.get("both2").map(|r| r.expires_at), Some(NOW + 10_000));
            // Never beyond 24 hours.
            c.set("long", &json!("x"), Some(&json!({"ttl": 1_000_000_000_i64})));
            assert_eq!(c.get("long").map(|r| r.expires_at), Some(NOW + 24 * 3600 * 1000));
            // Size limits.
            assert_eq!(
                c.set("big", &json!("x".repeat(5000)), None),
                CacheWriteResult::Error {
                    code: "VALUE_TOO_LARGE".into()
                }
            );
            assert_eq!(
                c.set("", &json!("x"), None),
                CacheWriteResult::Error {
                    code: "INVALID_KEY".into()
                }
            );
            assert_eq!(c.delete("long"), CacheWriteResult::Success);
            assert_eq!(c.delete("long"), CacheWriteResult::Error { code: "NOT_FOUND".into() });
            assert!(c.get("long").is_none());
            Ok(())
        })),
    );
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
    // Expired records are never returned.
    clock.advance(31_000);
    let mut ex2 = Executor::new(svc.clone());
    ex2.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("later", |_, api| {
            assert!(api.cache().get("both").is_none());
            assert!(api.cache().get("k").is_some());
            Ok(())
        })),
    );
    let st = ex2.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
    // Scoped per trigger: the post-challenge trigger does not see post-login records.
    let mut ex3 = Executor::new(svc);
    ex3.add(
        Trigger::PostChallenge,
        Arc::new(FnAction::post_challenge("pc", |_, api| {
            if api.cache().get("k").is_some() {
                return Err(ActionError::new("post-login record leaked into post-challenge"));
            }
            Ok(())
        })),
    );
    let st = ex3.start(Trigger::PostChallenge, event());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
}

#[test]
fn session_and_refresh_expiry_earliest_wins_and_is_capped() {
    let clock = Arc::new(FixedClock::new(NOW));
    let limits = Limits {
        session_max_lifetime_ms: 3_600_000,
        refresh_token_max_lifetime_ms: 7_200_000,
        ..Default::default()
    };
    let mut ex = Executor::new(Services {
        clock,
        limits,
        ..Default::default()
    });
    ex.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("exp", |_, api| {
            api.session()
                .set_expires_at((NOW + 1_800_000) as f64)?
                .set_expires_at((NOW + 900_000) as f64)?
                .set_expires_at((NOW + 1_000_000) as f64)?;
            // Far beyond the maximum: capped at session start + 1 h.
            api.session().set_idle_expires_at((NOW + 99_000_000) as f64)?;
            api.refresh_token()
                .set_expires_at((NOW + 99_000_000) as f64)?
                .set_idle_expires_at((NOW + 60_000) as f64)?;
            api.session().set_cookie_mode("non-persistent")?;
            Ok(())
        })),
    );
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
    // The fixture's session was created at NOW.
    assert_eq!(st.outcome.session.expires_at, Some(NOW + 900_000));
    assert_eq!(st.outcome.session.idle_expires_at, Some(NOW + 3_600_000));
    assert_eq!(st.outcome.refresh_token.expires_at, Some(NOW + 7_200_000));
    assert_eq!(st.outcome.refresh_token.idle_expires_at, Some(NOW + 60_000));
    assert_eq!(st.outcome.session.cookie_mode, Some(CookieMode::NonPersistent));
}

#[test]
fn session_metadata_ops_apply_in_order() {
    let (ex, _) = executor(vec![FnAction::post_login("s", |_, api| {
        api.session().set_metadata("a", json!(1))?.set_metadata("b", json!("x"))?;
        api.session()
            .evict_metadata()
            .set_metadata("c", json!(true))?
            .set_metadata("d", json!(2))?;
        api.session()
            .delete_metadata("d")
            .set_metadata("c", json!(null))?
            .set_metadata("e", json!("kept"))?;
        assert!(api.session().set_metadata("bad", json!([1])).is_err());
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    let mut meta = serde_json::Map::new();
    meta.insert("old".into(), json!(1));
    st.outcome.session.apply_metadata(&mut meta);
    assert_eq!(Value::Object(meta), json!({"e": "kept"}));
    assert_eq!(st.outcome.failure.map(|f| f.kind), Some(FailureKind::InvalidApiCall));
}

fn consent_action() -> FnAction {
    FnAction::post_login("consent", |ev, api| {
        let secret = ev
            .secrets
            .get("CONSENT_SECRET")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let token = api
            .redirect()
            .encode_token(&json!({"secret": secret, "payload": {"email": ev.user.email}}))?;
        api.redirect().send_user_to(
            "https://consent.example.com/ask",
            Some(&json!({"query": {"session_token": token, "n": 1}})),
        )?;
        Ok(())
    })
    .on_continue(|ev, api| {
        let secret = ev
            .secrets
            .get("CONSENT_SECRET")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let payload = api.redirect().validate_token(&json!({"secret": secret}))?;
        api.id_token()
            .set_custom_claim("consented", payload.get("consented").cloned().unwrap_or(json!(false)))?;
        api.authentication().record_method("https://consent.example.com")?;
        Ok(())
    })
}

#[test]
fn redirect_suspends_and_continue_resumes_with_validate_token() {
    let (ex, _) = executor(vec![
        consent_action(),
        FnAction::post_login("after", |_, api| {
            api.access_token().add_scope("consented")?;
            Ok(())
        }),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Suspended);
    let Some(Suspension::Redirect { url, action_index: 0 }) = st.suspension.clone() else {
        panic!("expected a redirect: {:?}", st.suspension)
    };
    let u = url::Url::parse(&url).expect("url");
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q.get("state"), Some(&st.resume_state));
    assert_eq!(q.get("n").map(String::as_str), Some("1"));
    // The token from encodeToken is HS256 with the payload, iat, exp = iat + 900, sub and state.
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<Value>(
        &q["session_token"],
        &jsonwebtoken::DecodingKey::from_secret(b"s3cr3t-shared-with-consent-app"),
        &v,
    )
    .expect("valid HS256");
    assert_eq!(data.claims["email"], "jane.doe@example.com");
    assert_eq!(
        data.claims["exp"].as_i64().unwrap_or(0) - data.claims["iat"].as_i64().unwrap_or(0),
        900
    );
    assert_eq!(data.claims["state"].as_str(), Some(st.resume_state.as_str()));
    assert!(ran(&st).len() == 1);

    // Persist and reload the state between requests.
    let stored = serde_json::to_string(&st).expect("serializable");
    let st: idpipe::pipeline::TransactionState = serde_json::from_str(&stored).expect("deserializable");
    let state_param = st.resume_state.clone();

    // The consent app answers with its own token bound to the same state.
    let answer = sign_hs256(
        json!({"state": state_param, "consented": true, "exp": NOW / 1000 + 60}),
        "s3cr3t-shared-with-consent-app",
    );
    let mut params = serde_json::Map::new();
    params.insert("session_token".into(), json!(answer));
    let done = ex
        .resume(
            st.clone(),
            Resume::Continue {
                state: state_param.clone(),
                params: params.clone(),
            },
        )
        .expect("resumes");
    assert_eq!(done.status(), Status::Completed, "{:?}", done.outcome.trace);
    assert_eq!(done.outcome.id_token_claims.get("consented"), Some(&json!(true)));
    assert_eq!(done.outcome.scope_changes, vec![ScopeChange::Add("consented".into())]);
    assert_eq!(done.outcome.recorded_methods, vec!["https://consent.example.com"]);
    assert_eq!(ran(&done), vec!["consent", "consent", "after"]);
    assert_eq!(done.outcome.trace[1].handler, "onContinuePostLogin");
    // The state rotated: replaying the old one on the stored state fails.
    assert_ne!(done.resume_state, state_param);
    assert!(
        ex.resume(
            done,
            Resume::Continue {
                state: state_param.clone(),
                params: params.clone()
            }
        )
        .is_err()
    );
    // A wrong state is refused.
    assert!(
        ex.resume(
            st.clone(),
            Resume::Continue {
                state: "nope".into(),
                params: params.clone()
            }
        )
        .is_err()
    );
}

#[test]
fn validate_token_rejects_bad_tokens_and_the_action_decides() {
    type Make = fn(&str) -> String;
    let bad_cases: Vec<(&str, Make)> = vec![
        ("wrong secret", |state: &str| {
            sign_hs256(json!({"state": state, "exp": NOW / 1000 + 60}), "other-secret")
        }),
        ("expired", |state: &str| {
            sign_hs256(json!({"state": state, "exp": NOW / 1000 - 1}), "s3cr3t-shared-with-consent-app")
        }),
        ("other transaction", |_: &str| {
            sign_hs256(
                json!({"state": "another", "exp": NOW / 1000 + 60}),
                "s3cr3t-shared-with-consent-app",
            )
        }),
    ];
    for (name, make) in bad_cases {
        let (ex, _) = executor(vec![consent_action()]);
        let st = ex.start(Trigger::PostLogin, event());
        let mut params = serde_json::Map::new();
        params.insert("session_token".into(), json!(make(&st.resume_state)));
        let state = st.resume_state.clone();
        let done = ex.resume(st, Resume::Continue { state, params }).expect("resumes");
        // The action let the error escape: the login fails, the trace has the reason.
        assert_eq!(done.status(), Status::Failed, "{name}");
        let t = &done.outcome.trace[1];
        let err = t
            .commands
            .iter()
            .find(|c| c.method == "redirect.validateToken")
            .and_then(|c| c.error.clone())
            .unwrap_or_default();
        assert!(err.starts_with("redirect.validateToken: "), "{name}: {err}");
        assert_eq!(done.outcome.failure.as_ref().map(|f| f.kind), Some(FailureKind::ActionError));
    }
}

#[test]
fn can_redirect_is_false_for_non_interactive_protocols_and_prompt_none() {
    for (protocol, prompt, expected) in [
        ("oidc-basic-profile", None, true),
        ("samlp", None, true),
        ("oauth2-resource-owner", None, false),
        ("oauth2-refresh-token", None, false),
        ("oidc-basic-profile", Some("none"), false),
    ] {
        let (ex, _) = executor(vec![FnAction::post_login("c", move |_, api| {
            let can = api.redirect().can_redirect();
            api.id_token().set_custom_claim("can", json!(can))?;
            if !can {
                // sendUserTo is refused where a redirect is impossible, and fails the login.
                assert!(api.redirect().send_user_to("https://x.example.com", None).is_err());
            }
            Ok(())
        })]);
        let mut ev = event();
        ev.transaction.protocol = protocol.into();
        ev.transaction.prompt = prompt.map(str::to_string);
        let st = ex.start(Trigger::PostLogin, ev);
        assert_eq!(
            st.outcome.id_token_claims.get("can"),
            Some(&json!(expected)),
            "{protocol} {prompt:?}"
        );
        assert_eq!(st.status() == Status::Failed, !expected);
    }
}

#[test]
fn record_method_only_in_continue() {
    let (ex, _) = executor(vec![FnAction::post_login("r", |_, api| {
        let e = api
            .authentication()
            .record_method("https://mfa.example.com")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("onContinuePostLogin"), "{e}");
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.outcome.failure.map(|f| f.kind), Some(FailureKind::InvalidApiCall));
    assert!(st.outcome.recorded_methods.is_empty());
}

struct Directory;
impl UserDirectory for Directory {
    fn identities_of(&self, user_id: &str) -> Option<Vec<idpipe::pipeline::event::Identity>> {
        let id = |p: &str, u: &str| idpipe::pipeline::event::Identity {
            provider: p.into(),
            user_id: json!(u),
            ..Default::default()
        };
        match user_id {
            "google-oauth2|primary" => Some(vec![id("google-oauth2", "primary"), id("auth0", "5f7c8ec7c33c6c004bbafe82")]),
            "github|other" => Some(vec![id("github", "other")]),
            _ => None,
        }
    }
}

#[test]
fn set_primary_user_requires_the_current_identity_to_be_linked() {
    for (target, ok) in [("google-oauth2|primary", true), ("github|other", false), ("nobody|x", false)] {
        let clock = Arc::new(FixedClock::new(NOW));
        let mut ex = Executor::new(Services {
            clock,
            users: Some(Arc::new(Directory)),
            ..Default::default()
        });
        ex.add(
            Trigger::PostLogin,
            Arc::new(FnAction::post_login("link", move |_, api| {
                let _ = api.authentication().set_primary_user(target);
                Ok(())
            })),
        );
        let st = ex.start(Trigger::PostLogin, event());
        if ok {
            assert_eq!(st.status(), Status::Completed);
            assert_eq!(st.outcome.primary_user_id.as_deref(), Some(target));
        } else {
            assert_eq!(
                st.outcome.failure.as_ref().map(|f| f.kind),
                Some(FailureKind::PrimaryUserMismatch),
                "{target}"
            );
            assert!(st.outcome.primary_user_id.is_none());
        }
    }
}

#[test]
fn mfa_challenge_suspends_and_the_next_action_sees_the_method() {
    let (ex, _) = executor(vec![
        FnAction::post_login("mfa", |_, api| {
            api.authentication().challenge_with(
                Factor::new("otp"),
                Some(json!({"additionalFactors": [{"type": "email"}, {"type": "webauthn-roaming"}]})),
            )?;
            Ok(())
        }),
        FnAction::post_login("next", |ev, api| {
            let types: Vec<String> = ev
                .authentication
                .methods
                .iter()
                .filter(|m| m.name == "mfa")
                .filter_map(|m| m.method_type.clone())
                .collect();
            api.id_token().set_custom_claim("mfa_types", json!(types))?;
            Ok(())
        }),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Suspended);
    let Some(Suspension::Mfa {
        requirement,
        action_index: 0,
    }) = st.suspension.clone()
    else {
        panic!("{:?}", st.suspension)
    };
    // otp is enrolled, email is usable because it is verified, webauthn-roaming is not enrolled.
    let usable: Vec<_> = requirement.usable.iter().map(|f| f.factor_type.as_str()).collect();
    assert_eq!(usable, vec!["otp", "email"]);
    assert_eq!(st.outcome.trace[0].warnings.len(), 1);
    assert!(st.outcome.trace[0].warnings[0].contains("webauthn-roaming"));
    assert_eq!(ran(&st), vec!["mfa"]);
    // A factor outside the requirement does not resume.
    assert!(
        ex.resume(
            st.clone(),
            Resume::MfaCompleted {
                factor: "webauthn-roaming".into()
            }
        )
        .is_err()
    );
    let done = ex.resume(st, Resume::MfaCompleted { factor: "otp".into() }).expect("resumes");
    assert_eq!(done.status(), Status::Completed);
    assert_eq!(done.outcome.id_token_claims.get("mfa_types"), Some(&json!(["otp"])));
    assert_eq!(done.outcome.completed_mfa, vec!["otp"]);
}

#[test]
fn mfa_with_no_usable_factor_fails_with_mfar() {
    let (ex, _) = executor(vec![FnAction::post_login("mfa", |_, api| {
        api.authentication()
            .challenge_with_any(vec![Factor::new("push-notification"), Factor::new("webauthn-platform")])?;
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    let f = st.outcome.failure.expect("failure");
    assert_eq!((f.kind, f.code.as_str()), (FailureKind::MfaUnavailable, "mfar"));
    assert!(
        f.description
            .starts_with("An MFA challenge is used in a PostLogin action but the requested factors are not properly set up.")
    );
    // enrollWith ignores enrolled factors; all enrolled -> fails; an unknown type is refused.
    let (ex, _) = executor(vec![FnAction::post_login("enroll", |_, api| {
        api.authentication()
            .enroll_with(Factor::new("otp"), Some(json!({"additionalFactors": [{"type": "phone"}]})))?;
        Ok(())
    })]);
    assert_eq!(
        ex.start(Trigger::PostLogin, event()).outcome.failure.map(|f| f.code),
        Some("mfar".to_string())
    );
    let (ex, _) = executor(vec![FnAction::post_login("enroll", |_, api| {
        api.authentication()
            .enroll_with_any(vec![Factor::new("otp"), Factor::new("webauthn-roaming")])?;
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    let Some(Suspension::Mfa { requirement, .. }) = st.suspension else {
        panic!("suspends")
    };
    assert_eq!(requirement.usable, vec![Factor::new("webauthn-roaming")]);
    assert!(!requirement.picker, "a single usable factor skips the picker");
    let (ex, _) = executor(vec![FnAction::post_login("bad", |_, api| {
        let e = api
            .authentication()
            .enroll_with(Factor::new("email"), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("unsupported factor type 'email'"), "{e}");
        Ok(())
    })]);
    assert_eq!(
        ex.start(Trigger::PostLogin, event()).outcome.failure.map(|f| f.kind),
        Some(FailureKind::InvalidApiCall)
    );
    // MFA is impossible in a refresh-token exchange.
    let (ex, _) = executor(vec![FnAction::post_login("mfa", |_, api| {
        let _ = api.authentication().challenge_with(Factor::new("otp"), None);
        Ok(())
    })]);
    let mut ev = event();
    ev.transaction.protocol = "oauth2-refresh-token".into();
    let f = ex.start(Trigger::PostLogin, ev).outcome.failure.expect("fails");
    assert!(f.description.contains("oauth2-refresh-token"), "{}", f.description);
}

#[test]
fn multifactor_enable_validates_the_provider() {
    let (ex, _) = executor(vec![FnAction::post_login("m", |_, api| {
        api.multifactor().enable(
            "duo",
            Some(json!({"allowRememberBrowser": true, "providerOptions": {"host": "h", "ikey": "i", "skey": "SECRET"}})),
        )?;
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    let m = st.outcome.multifactor.clone().expect("recorded");
    assert_eq!((m.provider.as_str(), m.allow_remember_browser), ("duo", true));
    assert!(
        !serde_json::to_string(&st.outcome.trace).unwrap_or_default().contains("SECRET"),
        "duo skey leaked into the trace"
    );
    let (ex, _) = executor(vec![FnAction::post_login("m", |_, api| {
        let _ = api.multifactor().enable("sms-magic", None);
        Ok(())
    })]);
    assert_eq!(
        ex.start(Trigger::PostLogin, event()).outcome.failure.map(|f| f.kind),
        Some(FailureKind::InvalidApiCall)
    );
}

#[test]
fn tokens_claims_and_scopes_are_recorded_in_order() {
    let (ex, _) = executor(vec![FnAction::post_login("t", |ev, api| {
        let roles = ev.user.app_metadata.get("roles").cloned().unwrap_or(json!([]));
        api.id_token().set_custom_claim("https://example.com/roles", roles.clone())?;
        api.access_token()
            .set_custom_claim("https://example.com/roles", roles)?
            .add_scope("read:reports")?
            .remove_scope("email")?;
        assert!(api.access_token().add_scope("two words").is_err());
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(
        st.outcome.id_token_claims.get("https://example.com/roles"),
        Some(&json!(["admin", "editor"]))
    );
    let scopes = st.outcome.access_token_scopes(&st.event.transaction.requested_scopes);
    assert_eq!(scopes, vec!["openid", "profile", "read:reports"]);
    let methods: Vec<_> = st.outcome.trace[0].commands.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        vec![
            "idToken.setCustomClaim",
            "accessToken.setCustomClaim",
            "accessToken.addScope",
            "accessToken.removeScope",
            "accessToken.addScope"
        ]
    );
    assert!(st.outcome.trace[0].commands[4].error.is_some());
}

#[test]
fn rules_was_executed_reads_the_event() {
    let (ex, _) = executor(vec![FnAction::post_login("r", |_, api| {
        let a = api.rules().was_executed("rul_1");
        let b = api.rules().was_executed("rul_2");
        api.id_token().set_custom_claim("r", json!([a, b]))?;
        Ok(())
    })]);
    let mut ev = event();
    ev.executed_rules = vec!["rul_1".into()];
    assert_eq!(
        ex.start(Trigger::PostLogin, ev).outcome.id_token_claims.get("r"),
        Some(&json!([true, false]))
    );
}

#[test]
fn prompt_render_suspends_and_submission_runs_continue() {
    let (ex, _) = executor(vec![
        FnAction::post_login("p", |_, api| {
            api.prompt().render("consent-form", json!({"vars": {"x": 1}}))?;
            Ok(())
        })
        .on_continue(|ev, api| {
            let answer = ev
                .prompt
                .as_ref()
                .and_then(|p| p.pointer("/fields/answer"))
                .cloned()
                .unwrap_or(Value::Null);
            api.id_token().set_custom_claim("answer", answer)?;
            Ok(())
        }),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    assert!(matches!(st.suspension, Some(Suspension::Prompt { ref prompt_id, .. }) if prompt_id == "consent-form"));
    let mut fields = serde_json::Map::new();
    fields.insert("answer".into(), json!("yes"));
    let state = st.resume_state.clone();
    // A prompt waits for a submission, not for an MFA completion.
    assert!(ex.resume(st.clone(), Resume::MfaCompleted { factor: "otp".into() }).is_err());
    let done = ex.resume(st, Resume::PromptSubmitted { state, fields }).expect("resumes");
    assert_eq!(done.outcome.id_token_claims.get("answer"), Some(&json!("yes")));
}

#[test]
fn an_action_error_fails_with_a_generic_message_and_the_trace_keeps_the_detail() {
    let (ex, _) = executor(vec![
        FnAction::post_login("boom", |_, _| {
            Err(ActionError::new("TypeError: cannot read property 'x' of undefined"))
        }),
        FnAction::post_login("after", |_, _| Ok(())),
    ]);
    let st = ex.start(Trigger::PostLogin, event());
    let f = st.outcome.failure.clone().expect("fails");
    assert_eq!(f.kind, FailureKind::ActionError);
    assert!(!f.description.contains("TypeError"));
    assert_eq!(
        st.outcome.trace[0].error.as_deref(),
        Some("TypeError: cannot read property 'x' of undefined")
    );
    assert_eq!(ran(&st), vec!["boom"]);
}

#[test]
fn an_action_over_its_time_limit_fails_the_login() {
    let clock = Arc::new(FixedClock::new(NOW));
    let limits = Limits {
        action_timeout: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let mut ex = Executor::new(Services {
        clock,
        limits,
        ..Default::default()
    });
    ex.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("slow", |_, api| {
            // A native action sees its deadline; a script runtime interrupts at it.
            while std::time::Instant::now() < api.core.deadline() + std::time::Duration::from_millis(5) {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Ok(())
        })),
    );
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.outcome.failure.map(|f| f.kind), Some(FailureKind::Timeout));
    assert!(st.outcome.trace[0].error.as_deref().unwrap_or_default().contains("time limit"));
}

#[test]
fn saml_setters_store_valid_values_and_refuse_invalid_ones() {
    let cert = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/idp-test.crt")).expect("cert");
    let key = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/idp-test.key")).expect("key");
    let sp_cert = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/sp-test.crt")).expect("sp cert");
    let (c2, k2, s2) = (cert.clone(), key.clone(), sp_cert.clone());
    let (ex, _) = executor(vec![FnAction::post_login("saml", move |_, api| {
        let s = &mut api.saml_response();
        s.set_attribute("http://schemas.example.com/roles", json!(["a", "b"]))?
            .set_attribute("dept", "eng")?
            .set_attribute("dept", Value::Null)?
            .set_audience("urn:sp")?
            .set_issuer("urn:idp")?
            .set_recipient("https://sp/acs")?
            .set_destination("https://sp/acs")?
            .set_relay_state("rs")?
            .set_lifetime_in_seconds(600)?
            .set_sign_response(true)?
            .set_name_identifier_format("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")?
            .set_name_identifier_probes(json!(["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"]))?
            .set_authn_context_class_ref("urn:oasis:names:tc:SAML:2.0:ac:classes:Password")?
            .set_signing_cert(s2.as_str())?
            .set_include_attribute_name_format(false)?
            .set_typed_attributes(false)?
            .set_encryption_cert(s2.as_str())?
            .set_encryption_public_key(s2.as_str())?
            .set_cert(c2.as_str())?
            .set_key(k2.as_str())?
            .set_signature_algorithm("rsa-sha1")?
            .set_digest_algorithm("sha1")?
            .set_create_upn_claim(false)?
            .set_passthrough_claims_with_no_mapping(false)?
            .set_map_unknown_claims_as_is(true)?
            .set_map_identities(false)?;
        Ok(())
    })]);
    let st = ex.start(Trigger::PostLogin, event());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
    let s = &st.outcome.saml;
    assert_eq!(s.attributes.len(), 3);
    assert_eq!(s.attributes[2], ("dept".to_string(), None));
    assert_eq!(s.lifetime_in_seconds, Some(600));
    assert_eq!(s.signature_algorithm, Some(SignatureAlgorithm::RsaSha1));
    assert_eq!(s.map_identities, Some(false));
    assert!(s.key.is_some() && s.cert.is_some() && s.encryption_public_key.is_some());
    // Every one of the 24 setters was recorded; the key is redacted in the trace.
    let methods: std::collections::HashSet<_> = st.outcome.trace[0].commands.iter().map(|c| c.method.clone()).collect();
    for m in idpipe::pipeline::api::SAML_SETTERS {
        assert!(methods.contains(*m), "{m} not recorded");
    }
    let trace_text = serde_json::to_string(&st.outcome.trace).unwrap_or_default();
    assert!(!trace_text.contains("PRIVATE KEY"), "the private key leaked into the trace");

    type Bad = fn(&mut idpipe::pipeline::api::SamlResponseApi<'_, '_>) -> bool;
    let bad: Vec<(&str, Bad)> = vec![
        ("lifetime 0", |s| s.set_lifetime_in_seconds(0).is_err()),
        ("lifetime -5", |s| s.set_lifetime_in_seconds(-5).is_err()),
        ("lifetime 1.5", |s| s.set_lifetime_in_seconds(1.5).is_err()),
        ("lifetime string", |s| s.set_lifetime_in_seconds("600").is_err()),
        ("sig alg", |s| s.set_signature_algorithm("rsa-sha512").is_err()),
        ("digest alg", |s| s.set_digest_algorithm("md5").is_err()),
        ("object attr", |s| s.set_attribute("x", json!({"a": 1})).is_err()),
        ("nested array", |s| s.set_attribute("x", json!([[1]])).is_err()),
        ("control char", |s| s.set_attribute("x", "a\u{1}b").is_err()),
        ("bool as string", |s| s.set_sign_response("true").is_err()),
        ("bad cert", |s| {
            s.set_cert("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----").is_err()
        }),
        ("bad key", |s| s.set_key("not a key").is_err()),
        ("probes", |s| s.set_name_identifier_probes(json!([1])).is_err()),
        ("empty audience", |s| s.set_audience("").is_err()),
    ];
    for (name, f) in bad {
        let (ex, _) = executor(vec![FnAction::post_login("bad", move |_, api| {
            assert!(f(&mut api.saml_response()), "{name} was accepted");
            Ok(())
        })]);
        let st = ex.start(Trigger::PostLogin, event());
        let fail = st.outcome.failure.expect(name);
        assert_eq!(fail.kind, FailureKind::InvalidApiCall, "{name}");
        assert!(fail.description.starts_with("samlResponse.set"), "{name}: {}", fail.description);
    }
}

#[test]
fn post_challenge_api_has_only_its_namespaces() {
    let clock = Arc::new(FixedClock::new(NOW));
    let mut ex = Executor::new(Services {
        clock,
        ..Default::default()
    });
    ex.add(
        Trigger::PostChallenge,
        Arc::new(FnAction::post_challenge("pc", |_, api| {
            assert!(api.prompt().is_none(), "api.prompt is undefined in post-challenge");
            api.transaction()
                .set_result_url("https://app.example.com/done", Some(&json!({"query": {"ok": true}})))?;
            Ok(())
        })),
    );
    let st = ex.start(Trigger::PostChallenge, event());
    assert_eq!(st.status(), Status::Completed, "{:?}", st.outcome.trace);
    assert_eq!(st.outcome.result_url.as_deref(), Some("https://app.example.com/done?ok=true"));
    let mut ex = Executor::new(Services::default());
    ex.add(
        Trigger::PasswordResetPostChallenge,
        Arc::new(FnAction::post_challenge("pr", |_, api| {
            api.prompt()
                .ok_or_else(|| ActionError::new("prompt missing"))?
                .render("p", Value::Null)?;
            Ok(())
        })),
    );
    let st = ex.start(Trigger::PasswordResetPostChallenge, event());
    assert_eq!(st.status(), Status::Suspended, "{:?}", st.outcome.trace);
    assert_eq!(st.outcome.trace[0].handler, "onExecutePostChallenge");
}

#[test]
fn a_native_action_is_usable_as_a_trait_object() {
    struct Deny;
    impl Action for Deny {
        fn name(&self) -> &str {
            "deny-all"
        }
        fn on_execute_post_login(&self, _: &Event, api: &mut idpipe::pipeline::PostLoginApi<'_>) -> Result<(), ActionError> {
            api.access().deny("no");
            Ok(())
        }
    }
    let mut ex = Executor::new(Services::default());
    ex.add(Trigger::PostLogin, Arc::new(Deny));
    assert_eq!(
        ex.start(Trigger::PostLogin, event()).outcome.failure.map(|f| f.description),
        Some("no".to_string())
    );
}
