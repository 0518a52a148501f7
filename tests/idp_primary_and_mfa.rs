//! What the pipeline asks for is never silently dropped by the server: `setPrimaryUser` reaches
//! the SAML subject (and the OIDC `sub`), `multifactor.enable` stops a login the server cannot
//! finish with MFA yet.

mod common;

use common::idp::*;

fn login(idp: &Idp, client: &str, user: &str, password: &str) -> (Browser, Page) {
    let mut b = Browser::new();
    let (_, page) = b.follow(&idp.base, &format!("{}/samlp/{client}", idp.base));
    let done = b.login(&idp.base, &page, user, password);
    (b, done)
}

#[test]
fn set_primary_user_reaches_the_saml_subject_and_a_foreign_target_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let action = write_action(
        dir.path(),
        "primary.js",
        "exports.onExecutePostLogin = async (event, api) => { if (event.user.email === 'jane.doe@example.com') api.authentication.setPrimaryUser('auth0|primary-account'); if (event.user.email === 'john.smith@example.com') api.authentication.setPrimaryUser('auth0|5f7c8ec7c33c6c004bbafe82'); };",
    );
    let idp = Idp::start_with_actions(&[action], 5000);
    // The primary account owns jane's database identity.
    let profile = dir.path().join("primary.json");
    std::fs::write(
        &profile,
        r#"{"user_id":"auth0|primary-account","email":"primary@example.com","identities":[{"provider":"auth0","connection":"Username-Password-Authentication","user_id":"5f7c8ec7c33c6c004bbafe82","isSocial":false}]}"#,
    )
    .expect("write");
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["user", "add", "--db"])
        .arg(idp.dir.path().join("idp.sqlite"))
        .args(["--username", "primary@example.com", "--profile"])
        .arg(&profile)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("idpipe user add");
    use std::io::Write;
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"primary-account-password\n")
        .expect("password");
    assert!(add.wait().expect("exit").success());
    let (_, done) = login(&idp, "sp-py", "jane.doe@example.com", "jane-demo-password");
    let xml = saml_response(&done);
    assert!(xml.contains("status:Success"), "{xml}");
    assert!(xml.contains(">auth0|primary-account<"), "the primary user is the subject: {xml}");
    assert!(!xml.contains(">auth0|5f7c8ec7c33c6c004bbafe82<"), "{xml}");
    // john's identity is not linked to jane's account: refused, no assertion.
    let (_, done) = login(&idp, "sp-py", "john.smith@example.com", "john-demo-password");
    let xml = saml_response(&done);
    assert!(!xml.contains("<saml:Assertion") && xml.contains("AuthnFailed"), "{xml}");
}

#[test]
fn multifactor_enable_is_never_silently_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    let action = dir.path().join("mfa.js");
    std::fs::write(
        &action,
        "exports.onExecutePostLogin = async (event, api) => { api.multifactor.enable(event.user.email === 'jane.doe@example.com' ? 'any' : 'none'); };",
    )
    .expect("write");
    let idp = Idp::start_with_actions(&[action], 5000);
    let (b, done) = login(&idp, "sp-py", "jane.doe@example.com", "jane-demo-password");
    let xml = saml_response(&done);
    assert!(!xml.contains("<saml:Assertion") && xml.contains("AuthnFailed"), "{xml}");
    assert!(!b.cookies.contains_key("idpipe_session"), "no session without the MFA it asked for");
    // `none` switches it off: the login completes.
    let (_, done) = login(&idp, "sp-py", "john.smith@example.com", "john-demo-password");
    assert!(saml_response(&done).contains("status:Success"));
}
