//! A real browser: headless Chromium (Debian's, driven by playwright-core) goes from an
//! SP-initiated login at a python3-saml test SP to idpipe's login page, submits the password,
//! and lands on the SP's ACS page showing the NameID python3-saml validated. The login page's
//! screenshot is kept in `test-artifacts/login-page.png`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::idp::*;
use common::root;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn chromium_sp_initiated_login_lands_on_the_sp_with_the_validated_name_id() {
    let sp_port = free_port();
    let sp_base = format!("http://127.0.0.1:{sp_port}");
    let idp = Idp::start_with("", &sp_base);
    let mut sp = Killed(
        Command::new("python3")
            .arg(root().join("tests/python/test_sp.py"))
            .arg(format!("{}/samlp/metadata/sp-py", idp.base))
            .arg(sp_port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the test SP starts"),
    );
    let mut line = String::new();
    BufReader::new(sp.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert_eq!(line.trim(), "ready");
    // The SP's login URL must start at the SP with the name `sp-py` configured at idpipe.
    let artifacts = root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let shot = artifacts.join("login-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new("node")
        .arg(root().join("tests/browser/login.mjs"))
        .arg(format!("{sp_base}/login"))
        .args(["jane.doe@example.com", "jane-demo-password"])
        .arg(&shot)
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(report.get("error").is_none(), "{report}\nserver log:\n{}", idp.log());
    assert!(
        report["loginUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{}/u/login?state=", idp.base))),
        "{report}"
    );
    assert_eq!(report["loginTitle"], "Log in");
    assert_eq!(report["finalUrl"], format!("{sp_base}/acs"));
    assert_eq!(report["nameid"], "auth0|5f7c8ec7c33c6c004bbafe82", "{report}");
    assert_eq!(report["relay"], "browser-test");
    assert!(
        report["body"]
            .as_str()
            .is_some_and(|b| b.contains("http://schemas.example.com/claims/plan: gold")),
        "{report}"
    );
    let session = report["cookies"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "idpipe_session").cloned());
    let session = session.expect("the browser holds the session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    let png = std::fs::read(&shot).expect("screenshot kept");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "a real screenshot");
}

/// The MFA pages in Chromium, with the keyboard; a screenshot of each kept in `test-artifacts/`.
#[test]
fn chromium_walks_the_mfa_pages_with_the_keyboard() {
    let dir = tempfile::tempdir().expect("tmp");
    let actions = [root().join("fixtures/e2e/mfa.js")];
    let extra = format!(
        "[mfa]\nfactors = [\"otp\", \"email\", \"phone\", \"recovery-code\"]\n[mfa.email]\nfrom = \"idpipe <no-reply@example.com>\"\noutbox = \"{}\"\n[mfa.phone]\noutbox = \"{}\"\n",
        dir.path().join("outbox").display(),
        dir.path().join("phone").display()
    );
    let idp = Idp::start_with_actions_and(&actions, &extra);
    let report = drive("mfa.mjs", &idp, &[]);
    let artifacts = root().join("test-artifacts");
    assert_eq!(report["codeLabelled"], true);
    assert_eq!(report["enrolled"], true);
    assert_eq!(report["emailHint"], "We sent a code to j***@example.com.");
    assert_eq!(report["pickedWithKeyboard"], true);
    assert_eq!(report["phoneLabelled"], true);
    for name in [
        "mfa-enroll-phone",
        "mfa-enroll-otp",
        "mfa-recovery-code",
        "mfa-challenge-otp",
        "mfa-challenge-email",
        "mfa-picker",
    ] {
        let png = std::fs::read(artifacts.join(format!("{name}.png"))).expect(name);
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2000, "{name}");
    }
    // Development mode: the email code went to the outbox as a message.
    let mails = std::fs::read_dir(dir.path().join("outbox")).expect("outbox").count();
    assert_eq!(mails, 1);
}

/// WebAuthn in Chromium with CDP virtual authenticators (`tests/browser/webauthn.mjs`): this
/// device registered with user verification and used, the attacks a browser can make refused,
/// a security key registered and used; screenshots kept in `test-artifacts/`.
#[test]
fn chromium_registers_and_uses_webauthn_authenticators_and_attacks_are_refused() {
    let actions = [root().join("fixtures/e2e/mfa.js"), root().join("fixtures/e2e/mfa-seen.js")];
    let extra = "[mfa]\nfactors = [\"webauthn-platform\", \"webauthn-roaming\", \"recovery-code\"]\n";
    let idp = Idp::start_on_localhost_with_actions_and(&actions, extra);
    let report = drive("webauthn.mjs", &idp, &[]);
    let artifacts = root().join("test-artifacts");
    let sel = &report["registerOptions"];
    assert_eq!(
        sel["userVerification"], "required",
        "platform: user verification required: {report}"
    );
    assert_eq!(sel["authenticatorAttachment"], "platform");
    assert_eq!(report["registered"], 1, "the virtual authenticator holds the new credential");
    assert_eq!(report["registerAmr"], serde_json::json!(["pwd", "mfa", "swk"]), "{report}");
    assert_eq!(report["challengeAmr"], serde_json::json!(["pwd", "mfa", "swk"]));
    assert_eq!(
        report["methodsSeen"][1],
        serde_json::json!({"name": "mfa", "type": "webauthn-platform"})
    );
    let refused = "Your authenticator's answer was not accepted. Try again.";
    assert_eq!(report["replay"], refused, "an answer to another login's challenge: {report}");
    assert_eq!(report["garbage"], refused);
    assert_eq!(report["uvDowngrade"], refused, "user verification lowered by the client");
    assert_eq!(report["uvDowngradeStillOnPage"], 1);
    assert_eq!(report["afterAttacks"], true);
    assert_eq!(report["roamingOptions"]["authenticatorAttachment"], "cross-platform");
    assert_eq!(report["keyRegistered"], 1);
    assert_eq!(report["keyAmr"], serde_json::json!(["pwd", "mfa", "hwk"]), "{report}");
    let log = idp.log();
    assert!(log.contains("WebAuthn answer refused"), "refusals are logged");
    for name in [
        "mfa-webauthn-register",
        "mfa-webauthn-challenge",
        "mfa-webauthn-register-key",
        "mfa-webauthn-challenge-key",
    ] {
        let png = std::fs::read(artifacts.join(format!("{name}.png"))).expect(name);
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2000, "{name}");
    }
}

/// A custom prompt and a password reset in Chromium (`tests/browser/reset.mjs`): the link read
/// from the development outbox; screenshots of each page kept in `test-artifacts/`.
#[test]
fn chromium_answers_a_prompt_and_resets_a_password_from_the_login_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let outbox = dir.path().join("outbox");
    let actions = [root().join("fixtures/e2e/profile.js")];
    let extra = format!(
        "[mfa.email]\nfrom = \"idpipe <no-reply@example.com>\"\noutbox = \"{}\"\n\
[[prompts]]\nid = \"profile\"\ntitle = \"Welcome {{{{name}}}}\"\ntext = \"Tell us a little more.\"\nsubmit = \"Save\"\n\
[[prompts.fields]]\nname = \"favorite_color\"\nlabel = \"Favourite colour\"\ntype = \"select\"\noptions = [\"red\", \"green\", \"blue\"]\nrequired = true\n\
[[prompts.fields]]\nname = \"terms\"\nlabel = \"I accept the terms\"\ntype = \"checkbox\"\nrequired = true\n",
        outbox.display()
    );
    let idp = Idp::start_with_actions_and(&actions, &extra);
    let report = drive("reset.mjs", &idp, &[&outbox]);
    let artifacts = root().join("test-artifacts");
    assert_eq!(report["promptTitle"], "Welcome Jane");
    assert_eq!(report["promptDone"], true);
    assert_eq!(report["link"], true);
    assert!(
        report["weakRefused"].as_str().is_some_and(|m| m.contains("too easy to guess")),
        "{report}"
    );
    assert_eq!(report["backLink"], "http://127.0.0.1:8092/");
    assert_eq!(report["loggedInWithNewPassword"], true);
    for name in [
        "prompt-profile",
        "reset-request",
        "reset-sent",
        "reset-link",
        "reset-new-password",
        "reset-changed",
    ] {
        let png = std::fs::read(artifacts.join(format!("{name}.png"))).expect(name);
        assert!(png.starts_with(b"\x89PNG") && png.len() > 2000, "{name}");
    }
}

/// Runs a Chromium driver of `tests/browser` on the server with the app's callback, the
/// artifacts folder and `extra` arguments; its JSON report, checked free of errors.
fn drive(script: &str, idp: &Idp, extra: &[&std::path::Path]) -> serde_json::Value {
    let artifacts = root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let out = Command::new("node")
        .arg(root().join("tests/browser").join(script))
        .args([idp.base.as_str(), APP_CALLBACK])
        .arg(&artifacts)
        .args(extra)
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(report.get("error").is_none(), "{report}\nserver log:\n{}", idp.log());
    report
}
