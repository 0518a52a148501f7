//! The SQLite store, on disk: migrations, users (argon2), metadata applied once per login,
//! suspended transactions (single use), refresh tokens and the actions cache behind their traits.

mod common;

use std::sync::Arc;

use common::*;
use idpipe::actions::FnAction;
use idpipe::oidc::refresh::{Grant, RefreshLimits, RefreshTokens};
use idpipe::pipeline::cache::ActionCache;
use idpipe::pipeline::event::User;
use idpipe::pipeline::executor::{FixedClock, Status};
use idpipe::pipeline::{Event, Executor, Services, Trigger};
use idpipe::store::{SqliteStore, StoreError, UserStore};
use serde_json::json;

fn jane() -> User {
    serde_json::from_str(&read("fixtures/users/jane.json")).expect("user")
}

#[test]
fn migrations_run_once_and_the_file_persists() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("idpipe.db");
    {
        let s = SqliteStore::open(&path).expect("open");
        assert_eq!(s.schema_version().expect("version"), idpipe::store::SCHEMA_VERSION, "migrations");
        s.add_user("jdoe", "correct horse", &jane()).expect("add");
    }
    let s = SqliteStore::open(&path).expect("reopen");
    assert_eq!(s.schema_version().expect("version"), idpipe::store::SCHEMA_VERSION, "migrations");
    assert_eq!(
        s.user("auth0|5f7c8ec7c33c6c004bbafe82").expect("get").map(|u| u.email),
        Some(Some("jane.doe@example.com".into()))
    );
}

#[test]
fn passwords_are_argon2_hashed_and_verified() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("idpipe.db");
    let s = SqliteStore::open(&path).expect("open");
    s.add_user("jdoe", "correct horse", &jane()).expect("add");
    assert!(matches!(
        s.add_user(
            "jdoe",
            "x",
            &User {
                user_id: "other".into(),
                ..Default::default()
            }
        ),
        Err(StoreError::Conflict("username"))
    ));
    assert!(s.verify_password("jdoe", "correct horse").expect("verify").is_some());
    assert!(s.verify_password("jdoe", "wrong").expect("verify").is_none());
    assert!(s.verify_password("nobody", "correct horse").expect("verify").is_none());
    // The file holds a PHC argon2 string, never the password.
    let raw = std::fs::read(&path).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("idpipe.db-wal")).unwrap_or_default();
    let all = [raw, wal].concat();
    assert!(!all.windows(13).any(|w| w == b"correct horse"), "the password is stored in clear");
    assert!(all.windows(9).any(|w| w == b"$argon2id"), "no argon2id hash found");
}

#[test]
fn metadata_changes_of_a_login_are_applied_once_at_the_end() {
    let s = Arc::new(SqliteStore::in_memory().expect("db"));
    s.add_user("jdoe", "pw", &jane()).expect("add");
    let mut ex = Executor::new(Services::default());
    ex.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("a", |_, api| {
            api.user()
                .set_app_metadata("plan", json!("platinum"))?
                .set_user_metadata("color", json!(null))?;
            Ok(())
        })),
    );
    ex.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("b", |_, api| {
            api.user().set_user_metadata("theme", json!("dark"))?;
            api.access().deny("but still applied");
            Ok(())
        })),
    );
    let user = s.user("auth0|5f7c8ec7c33c6c004bbafe82").expect("get").expect("exists");
    let st = ex.start(
        Trigger::PostLogin,
        Event {
            user,
            ..Default::default()
        },
    );
    assert_eq!(st.status(), Status::Failed);
    s.apply_metadata("auth0|5f7c8ec7c33c6c004bbafe82", &st.outcome).expect("apply");
    let u = s.user("auth0|5f7c8ec7c33c6c004bbafe82").expect("get").expect("exists");
    assert_eq!(u.app_metadata.get("plan"), Some(&json!("platinum")));
    assert_eq!(u.app_metadata.get("roles"), Some(&json!(["admin", "editor"])));
    assert!(u.user_metadata.get("color").is_none());
    assert_eq!(u.user_metadata.get("theme"), Some(&json!("dark")));
}

#[test]
fn refresh_tokens_rotate_with_reuse_detection_on_sqlite() {
    let rt = RefreshTokens {
        store: SqliteStore::in_memory().expect("db"),
        limits: RefreshLimits::default(),
    };
    let scopes = vec!["openid".to_string(), "offline_access".to_string()];
    let grant = Grant {
        user_id: "u1",
        client_id: "c1",
        scopes: &scopes,
        audience: None,
        session_id: None,
        auth_time: None,
    };
    let t1 = rt.issue(&grant, &Default::default(), 1_000).expect("issue");
    let r1 = rt.redeem(&t1, "c1", 2_000).expect("first use");
    let t2 = rt.rotate(&r1, &Default::default(), 2_000).expect("rotate");
    assert!(rt.redeem(&t1, "c1", 3_000).is_err(), "reuse refused");
    let e = rt.redeem(&t2, "c1", 3_000).expect_err("family revoked by the reuse");
    assert!(e.error_description.contains("revoked"), "{e}");
}

#[test]
fn the_actions_cache_works_on_sqlite_through_the_pipeline() {
    let store = Arc::new(SqliteStore::in_memory().expect("db"));
    let clock = Arc::new(FixedClock::new(1_000_000));
    let services = Services {
        cache: store.clone(),
        clock: clock.clone(),
        ..Default::default()
    };
    let mut ex = Executor::new(services);
    ex.add(
        Trigger::PostLogin,
        Arc::new(FnAction::post_login("c", |_, api| {
            let seen = api.cache().get("k").map(|r| r.value);
            api.id_token().set_custom_claim("seen", json!(seen))?;
            api.cache().set("k", &json!("v"), Some(&json!({"ttl": 1000})));
            Ok(())
        })),
    );
    let first = ex.start(Trigger::PostLogin, Event::default());
    assert_eq!(first.outcome.id_token_claims.get("seen"), Some(&json!(null)));
    let second = ex.start(Trigger::PostLogin, Event::default());
    assert_eq!(second.outcome.id_token_claims.get("seen"), Some(&json!("v")));
    clock.advance(1001);
    let third = ex.start(Trigger::PostLogin, Event::default());
    assert_eq!(
        third.outcome.id_token_claims.get("seen"),
        Some(&json!(null)),
        "expired records are never returned"
    );
    assert!(store.delete("post-login", "missing", 0).is_err());
}

#[test]
fn the_cli_adds_users_with_the_password_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("users.db");
    let run = |username: &str, password: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
            .args(["user", "add", "--db"])
            .arg(&db)
            .args(["--username", username, "--profile", "fixtures/users/jane.json"])
            .current_dir(root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write");
        child.wait_with_output().expect("waits")
    };
    let out = run("jdoe", "correct horse battery");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "auth0|5f7c8ec7c33c6c004bbafe82");
    let s = SqliteStore::open(&db).expect("open");
    assert!(s.verify_password("jdoe", "correct horse battery").expect("verify").is_some());
    let short = run("other", "short");
    assert_eq!(short.status.code(), Some(2));
    let dup = run("jdoe", "another long password");
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
}

#[test]
fn sessions_flows_codes_and_the_sweep_of_expired_records() {
    use idpipe::store::{CodeRedemption, CodeStore, FlowStore, Maintenance, SessionRecord, SessionStore};
    let dir = tempfile::tempdir().expect("tmp");
    let s = SqliteStore::open(&dir.path().join("s.sqlite")).expect("open");
    let session = |sid: &str, exp: i64| SessionRecord {
        sid: sid.into(),
        user_id: "auth0|1".into(),
        created_at: 0,
        last_seen: 0,
        expires_at: exp,
        idle_expires_at: exp,
        persistent: true,
        metadata: Default::default(),
        methods: vec![],
        clients: vec![],
        saml_participants: vec![],
    };
    s.put_session("h-old", &session("sid-old", 1_000)).expect("put");
    s.put_session("h-live", &session("sid-live", 9_000)).expect("put");
    assert_eq!(s.session("h-live", 2_000).expect("get").map(|r| r.sid), Some("sid-live".into()));
    assert_eq!(s.session("h-old", 2_000).expect("get"), None, "expired sessions are not returned");
    // Flows: read without consuming, then take once.
    s.put_flow("k", "v", 5_000).expect("flow");
    assert_eq!(s.flow("k", 2_000).expect("flow").as_deref(), Some("v"));
    assert_eq!(s.take_flow("k", 2_000).expect("take").as_deref(), Some("v"));
    assert_eq!(s.take_flow("k", 2_000).expect("take"), None);
    s.put_flow("short", "v", 3_000).expect("flow");
    assert_eq!(s.flow("short", 3_000).expect("flow"), None, "expired at its expiry time");
    assert_eq!(
        s.take_flow("short", 3_001).expect("take"),
        None,
        "an expired flow cannot be resumed"
    );
    // Codes: single use; a replay reports the family to revoke.
    s.put_code("c", "{}", 5_000).expect("code");
    s.set_code_family("c", "fam").expect("family");
    assert_eq!(s.redeem_code("c", 2_000).expect("redeem"), CodeRedemption::Fresh("{}".into()));
    assert_eq!(
        s.redeem_code("c", 2_000).expect("redeem"),
        CodeRedemption::Reused(Some("fam".into()))
    );
    s.put_code("late", "{}", 1_500).expect("code");
    assert_eq!(s.redeem_code("late", 2_000).expect("redeem"), CodeRedemption::Unknown);
    // A session ends by its public id too (SLO's SessionIndex).
    s.put_session("h-slo", &session("sid-slo", 9_000)).expect("put");
    assert!(s.delete_session_by_sid("sid-slo").expect("delete"));
    assert!(!s.delete_session_by_sid("sid-slo").expect("delete"));
    // The sweep removes the expired rows and keeps the live ones.
    s.put_session("h-old2", &session("sid-old2", 1_000)).expect("put");
    s.put_flow("old-flow", "v", 1_000).expect("flow");
    assert!(s.sweep_expired(2_000).expect("sweep") >= 2);
    assert_eq!(s.sweep_expired(2_000).expect("sweep"), 0, "nothing left to sweep");
    assert!(s.session("h-live", 2_000).expect("get").is_some());
}
