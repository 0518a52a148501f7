//! The store conformance suite: the behaviour every backend owes the server, written against the
//! store traits only. Each check runs on every backend in [`backends`]: SQLite on disk, and
//! PostgreSQL (a private server started for the check, or `IDPIPE_TEST_DATABASE_URL`).

mod common;

use std::sync::{Arc, Barrier};

use idpipe::pipeline::cache::{ActionCache, StoredRecord};
use idpipe::pipeline::event::User;
use idpipe::store::{
    CodeRedemption, LockoutPolicy, LoginCheck, PgStore, RefreshRecord, RefreshTokenStore, SamlParticipant, SessionRecord, SqliteStore,
    Store, StoreError,
};

/// A backend's name, a fresh empty store, and what keeps its files or server alive.
type Backend = (&'static str, Arc<dyn Store>, Box<dyn std::any::Any>);

/// A fresh, empty store of each backend.
fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tmp");
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("conformance.sqlite")).expect("sqlite"));
    let pg = common::pg::Pg::start();
    let postgres: Arc<dyn Store> = Arc::new(PgStore::open(&pg.url).expect("postgres"));
    vec![("sqlite", sqlite, Box::new(dir)), ("postgres", postgres, Box::new(pg))]
}

fn each(check: impl Fn(&str, &Arc<dyn Store>)) {
    for (name, store, guard) in backends() {
        check(name, &store);
        // The store (its connections) before what it runs on.
        drop(store);
        drop(guard);
    }
}

/// Runs `f` on eight threads at once (released together); how many returned true.
fn concurrently(s: &Arc<dyn Store>, f: impl Fn(&dyn Store) -> bool + Send + Sync + 'static) -> usize {
    let barrier = Arc::new(Barrier::new(8));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (s, barrier, f) = (s.clone(), barrier.clone(), f.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(&*s)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("thread") as usize).sum()
}

fn user(id: &str) -> User {
    let mut u: User = serde_json::from_str(&common::read("fixtures/users/jane.json")).expect("user");
    u.user_id = id.into();
    u
}

fn session(sid: &str, expires_at: i64) -> SessionRecord {
    SessionRecord {
        sid: sid.into(),
        user_id: "auth0|1".into(),
        created_at: 0,
        last_seen: 0,
        expires_at,
        idle_expires_at: expires_at,
        persistent: true,
        metadata: Default::default(),
        methods: vec![],
        clients: vec!["sp".into()],
        saml_participants: vec![SamlParticipant {
            client_id: "sp".into(),
            name_id: "jane@example.com".into(),
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
        }],
    }
}

#[test]
fn users_passwords_lockout_and_conflicts() {
    each(|b, s| {
        s.add_user("jane", "correct horse battery", &user("auth0|jane")).expect("add");
        assert!(matches!(
            s.add_user("jane", "another password", &user("auth0|other")),
            Err(StoreError::Conflict(_))
        ));
        assert!(
            !s.import_user(
                "jane",
                "$argon2id$v=19$m=19456,t=2,p=1$u7ZulVT8WHu3VvFjcGB6Yg$50PtoYUUh40WFs2SnWU9c3Huz6ME8gg9W5doeNTYErA",
                &user("auth0|x")
            )
            .expect("import"),
            "{b}: the DB copy wins"
        );
        let policy = LockoutPolicy {
            max_failures: 2,
            lock_ms: 1_000,
        };
        let before = user("auth0|jane").logins_count.unwrap_or(0);
        assert!(
            matches!(s.login("jane", "correct horse battery", 0, policy).expect("login"), LoginCheck::Ok(u) if u.logins_count == Some(before + 1)),
            "{b}: a login counts"
        );
        // Two failures lock the username, known or not, alike.
        for name in ["jane", "ghost"] {
            assert_eq!(s.login(name, "wrong", 10, policy).expect("login"), LoginCheck::Invalid, "{b}");
            assert_eq!(s.login(name, "wrong", 11, policy).expect("login"), LoginCheck::Invalid, "{b}");
            assert_eq!(
                s.login(name, "correct horse battery", 12, policy).expect("login"),
                LoginCheck::Locked(1_011),
                "{b}: {name}"
            );
        }
        assert!(
            matches!(
                s.login("jane", "correct horse battery", 1_012, policy).expect("login"),
                LoginCheck::Ok(_)
            ),
            "{b}: unlocked"
        );
        assert_eq!(s.user("auth0|jane").expect("user").map(|u| u.user_id), Some("auth0|jane".into()));
        assert_eq!(s.user("auth0|nobody").expect("user"), None);
    });
}

#[test]
fn sessions_by_cookie_hash_and_public_id() {
    each(|b, s| {
        s.put_session("h1", &session("sid1", 5_000)).expect("put");
        assert_eq!(
            s.session("h1", 1_000).expect("get"),
            Some(session("sid1", 5_000)),
            "{b}: stored whole"
        );
        assert_eq!(s.session("h1", 5_000).expect("get"), None, "{b}: expired at its expiry");
        s.put_session("h2", &session("sid2", 9_000)).expect("put");
        let (hash, rec) = s.session_by_sid("sid2", 1_000).expect("by sid").expect("found");
        assert_eq!((hash.as_str(), rec.sid.as_str()), ("h2", "sid2"));
        assert_eq!(s.session_by_sid("sid2", 9_000).expect("by sid"), None, "{b}");
        assert!(s.delete_session_by_sid("sid2").expect("delete"));
        assert!(!s.delete_session_by_sid("sid2").expect("delete"));
        s.put_session("h3", &session("sid3", 9_000)).expect("put");
        s.delete_session("h3").expect("delete");
        assert_eq!(s.session("h3", 1).expect("get"), None);
    });
}

/// A login through a session reads the session, its user and the user's factors at once:
/// the same answers as the three separate reads, expiry included.
#[test]
fn a_session_login_is_the_session_its_user_and_factors() {
    each(|b, s| {
        assert_eq!(s.session_login("none", 1_000).expect("read"), None, "{b}");
        s.put_session("h1", &session("sid1", 5_000)).expect("put");
        // A session whose user is not (or no longer) there: found, without a user.
        let found = s.session_login("h1", 1_000).expect("read").expect("found");
        assert_eq!(
            (found.session, found.user, found.factors),
            (session("sid1", 5_000), None, vec![]),
            "{b}"
        );
        s.add_user("jane", "pw-123456789", &user("auth0|1")).expect("add");
        s.put_factor("auth0|1", "otp", b"s1", 10).expect("factor");
        s.put_factor("auth0|1", "email", b"s2", 20).expect("factor");
        s.put_factor("auth0|2", "phone", b"s3", 5).expect("another user's factor");
        let found = s.session_login("h1", 1_000).expect("read").expect("found");
        assert_eq!(found.user, s.user("auth0|1").expect("user"), "{b}");
        assert!(found.user.is_some(), "{b}");
        assert_eq!(found.factors, s.enrolled_factors("auth0|1").expect("factors"), "{b}");
        assert_eq!(found.factors, vec!["otp".to_string(), "email".to_string()], "{b}: oldest first");
        assert_eq!(s.session_login("h1", 5_000).expect("read"), None, "{b}: expired at its expiry");
    });
}

#[test]
fn flows_are_single_use_and_expire() {
    each(|b, s| {
        s.put_flow("k", "v", 5_000).expect("put");
        assert_eq!(s.flow("k", 1).expect("read").as_deref(), Some("v"), "{b}");
        assert_eq!(s.take_flow("k", 1).expect("take").as_deref(), Some("v"));
        assert_eq!(s.take_flow("k", 1).expect("take"), None, "{b}: single use");
        s.put_flow("e", "v", 5_000).expect("put");
        assert_eq!(s.take_flow("e", 5_000).expect("take"), None, "{b}: expired");
    });
}

#[test]
fn codes_are_redeemed_once_even_concurrently() {
    each(|b, s| {
        s.put_code("c", "{\"x\":1}", 5_000).expect("put");
        s.set_code_family("c", "fam").expect("family");
        assert_eq!(
            s.redeem_code("c", 1).expect("redeem"),
            CodeRedemption::Fresh("{\"x\":1}".into()),
            "{b}"
        );
        assert_eq!(
            s.redeem_code("c", 2).expect("redeem"),
            CodeRedemption::Reused(Some("fam".into())),
            "{b}"
        );
        assert_eq!(s.redeem_code("none", 2).expect("redeem"), CodeRedemption::Unknown);
        s.put_code("old", "{}", 10).expect("put");
        assert_eq!(s.redeem_code("old", 10).expect("redeem"), CodeRedemption::Unknown, "{b}: expired");
        // Eight threads redeem one code at once: exactly one gets it.
        s.put_code("race", "{}", 5_000).expect("put");
        let wins = concurrently(s, |s| matches!(s.redeem_code("race", 3).expect("redeem"), CodeRedemption::Fresh(_)));
        assert_eq!(wins, 1, "{b}");
    });
}

fn refresh_record(hash: &str, family: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: hash.into(),
        family: family.into(),
        user_id: "u".into(),
        client_id: "app".into(),
        scopes: vec!["openid".into()],
        audience: None,
        session_id: Some("sid".into()),
        created_at: 0,
        auth_time: Some(7),
        expires_at: 10_000,
        idle_expires_at: 5_000,
        used: false,
        revoked: false,
    }
}

#[test]
fn refresh_tokens_are_used_once_and_revoked_by_family() {
    each(|b, s| {
        s.insert(refresh_record("t1", "f")).expect("insert");
        s.insert(refresh_record("t2", "f")).expect("insert");
        s.insert(refresh_record("t3", "g")).expect("insert");
        assert_eq!(
            RefreshTokenStore::get(&**s, "t1").expect("get"),
            Some(refresh_record("t1", "f")),
            "{b}: stored whole"
        );
        assert_eq!(RefreshTokenStore::get(&**s, "nope").expect("get"), None);
        let wins = concurrently(s, |s| s.mark_used("t1").expect("mark"));
        assert_eq!(wins, 1, "{b}: exactly one exchange wins");
        s.revoke_family("f").expect("revoke");
        assert!(RefreshTokenStore::get(&**s, "t2").expect("get").is_some_and(|r| r.revoked), "{b}");
        assert!(
            RefreshTokenStore::get(&**s, "t3").expect("get").is_some_and(|r| !r.revoked),
            "{b}: other families untouched"
        );
    });
}

#[test]
fn request_ids_are_accepted_once_until_they_expire() {
    each(|b, s| {
        assert!(s.remember_request_id("sp|_1", 1_000, 0).expect("first"), "{b}");
        assert!(!s.remember_request_id("sp|_1", 1_000, 500).expect("replay"), "{b}");
        assert!(s.remember_request_id("sp|_1", 3_000, 1_000).expect("expired"), "{b}");
        let wins = concurrently(s, |s| s.remember_request_id("sp|_race", 1_000, 0).expect("remember"));
        assert_eq!(wins, 1, "{b}");
    });
}

#[test]
fn persistent_name_ids_are_stable_opaque_per_sp_and_created_only_when_allowed() {
    each(|b, s| {
        assert_eq!(s.persistent_name_id("sp1", "u1", false, 0).expect("read"), None, "{b}: not created");
        let a = s.persistent_name_id("sp1", "u1", true, 0).expect("create").expect("an id");
        assert!(a.len() >= 32 && !a.contains("u1"), "{b}: opaque: {a}");
        assert_eq!(
            s.persistent_name_id("sp1", "u1", false, 1).expect("read").as_deref(),
            Some(a.as_str()),
            "{b}: stable"
        );
        let other_sp = s.persistent_name_id("sp2", "u1", true, 0).expect("create").expect("an id");
        let other_user = s.persistent_name_id("sp1", "u2", true, 0).expect("create").expect("an id");
        assert!(
            other_sp != a && other_user != a && other_sp != other_user,
            "{b}: one per user and SP"
        );
        // Concurrent first logins agree on one identifier.
        let ids = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let seen = ids.clone();
        concurrently(s, move |s| {
            let v = s.persistent_name_id("sp3", "u9", true, 0).expect("create").expect("an id");
            seen.lock().expect("lock").insert(v);
            true
        });
        assert_eq!(ids.lock().expect("lock").len(), 1, "{b}");
    });
}

#[test]
fn the_actions_cache_scopes_and_expires_records() {
    each(|b, s| {
        let rec = |v: &str, exp| StoredRecord {
            value: v.into(),
            expires_at: exp,
        };
        ActionCache::set(&**s, "post-login", "k", rec("v", 1_000), 0).expect("set");
        assert_eq!(
            ActionCache::get(&**s, "post-login", "k", 10).map(|r| r.value),
            Some("v".into()),
            "{b}"
        );
        assert_eq!(ActionCache::get(&**s, "post-challenge", "k", 10), None, "{b}: scoped per trigger");
        assert_eq!(ActionCache::get(&**s, "post-login", "k", 1_000), None, "{b}: expired");
        ActionCache::set(&**s, "post-login", "d", rec("v", 1_000), 0).expect("set");
        ActionCache::delete(&**s, "post-login", "d", 10).expect("delete");
        assert!(
            ActionCache::delete(&**s, "post-login", "d", 10).is_err(),
            "{b}: deleting a missing key says so"
        );
    });
}

#[test]
fn the_sweep_removes_only_what_expired() {
    each(|b, s| {
        s.put_session("old", &session("o", 1_000)).expect("put");
        s.put_session("live", &session("l", i64::MAX / 2)).expect("put");
        s.put_flow("old", "v", 1_000).expect("put");
        s.put_code("old", "{}", 1_000).expect("put");
        assert!(s.remember_request_id("old", 1_000, 0).expect("id"));
        let mut r = refresh_record("old", "f");
        r.expires_at = 1_000;
        s.insert(r).expect("insert");
        // Used codes stay a day after expiry (a replay must still find them).
        let swept = s.sweep_expired(2_000 + 24 * 3600 * 1000).expect("sweep");
        assert!(swept >= 5, "{b}: {swept}");
        assert_eq!(s.sweep_expired(2_000 + 24 * 3600 * 1000).expect("sweep"), 0, "{b}");
        assert!(s.session("live", 2_000).expect("get").is_some(), "{b}");
        assert_eq!(RefreshTokenStore::get(&**s, "old").expect("get"), None, "{b}");
    });
}

#[test]
fn rate_limits_slide_and_hold_under_concurrency() {
    each(|b, s| {
        assert!(s.hit("login:ip", 2, 60_000, 59_000).expect("hit"), "{b}");
        assert!(s.hit("login:ip", 2, 60_000, 60_500).expect("hit"));
        assert!(!s.hit("login:ip", 2, 60_000, 61_000).expect("hit"), "{b}: two in the last minute");
        assert!(s.hit("login:other", 2, 60_000, 61_000).expect("hit"), "{b}: per key");
        assert!(
            s.hit("login:ip", 2, 60_000, 119_001).expect("hit"),
            "{b}: the first left the window"
        );
        assert_eq!(s.count(&["login:ip"], 60_000, 119_001).expect("count"), 2);
        s.record("fail:x", 5).expect("record");
        s.record("fail:x", 6).expect("record");
        s.record("fail:y", 6).expect("record");
        assert_eq!(s.count(&["fail:x"], 60_000, 7).expect("count"), 2, "{b}");
        // Several keys: the most any one of them counted, not their sum.
        assert_eq!(s.count(&["fail:y", "fail:x"], 60_000, 7).expect("count"), 2, "{b}");
        assert_eq!(s.count(&["fail:y", "fail:z"], 60_000, 7).expect("count"), 1, "{b}");
        assert_eq!(s.count(&["fail:z", "fail:w"], 60_000, 7).expect("count"), 0, "{b}");
        assert_eq!(
            s.count(&["fail:x", "fail:y"], 60_000, 60_005).expect("count"),
            1,
            "{b}: the window slides"
        );
        // Eight concurrent hits on a limit of three: exactly three counted.
        let allowed = concurrently(s, |s| s.hit("race", 3, 60_000, 1_000).expect("hit"));
        assert_eq!(allowed, 3, "{b}");
    });
}

#[test]
fn a_count_sees_every_event_in_its_window_whatever_other_keys_recorded() {
    each(|b, s| {
        // Nothing recorded yet, then events of other limiters (`login:`), then of this one.
        assert_eq!(s.count(&["client:c", "client:ip"], 60_000, 1_000).expect("count"), 0, "{b}");
        assert!(s.hit("login:ip", 5, 60_000, 1_000).expect("hit"));
        assert_eq!(s.count(&["client:c"], 60_000, 1_000).expect("count"), 0, "{b}");
        s.record("client:c", 1_000).expect("record");
        assert_eq!(s.count(&["client:c"], 60_000, 1_000).expect("count"), 1, "{b}");
        assert_eq!(s.count(&["client:ip", "client:c"], 60_000, 60_999).expect("count"), 1, "{b}");
        assert_eq!(s.count(&["client:c"], 60_000, 61_000).expect("count"), 0, "{b}: out of the window");
        // A limiter whose prefix starts like another's, and a key with no prefix at all.
        s.record("clientx:c", 61_000).expect("record");
        assert_eq!(s.count(&["client:c"], 60_000, 61_000).expect("count"), 0, "{b}");
        assert_eq!(s.count(&["clientx:c"], 60_000, 61_000).expect("count"), 1, "{b}");
        s.record("plain", 61_000).expect("record");
        assert_eq!(s.count(&["plain"], 60_000, 61_000).expect("count"), 1, "{b}");
        // A clock that went back: the events are still in the (later) window.
        assert_eq!(s.count(&["client:c"], 60_000, 500).expect("count"), 1, "{b}");
    });
}
