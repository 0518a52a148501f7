//! Password reset (issue 14) through HTTP: the link read from a real SMTP sink (aiosmtpd), the
//! password-reset post-challenge actions under both trigger names (deny, an MFA challenge, a
//! redirect with `/continue`, a prompt, `setResultUrl`), the password policy, sessions revoked,
//! expired / reused / superseded links, and the same answer for unknown accounts
//! (`tests/python/mfa_flow.py`, `fixtures/e2e/reset.js`, `reset-second.js`).

mod common;

use common::idp::*;
use common::root;
use serde_json::{Value, json};

fn start(smtp: u16, rate: u32) -> Idp {
    let actions = [root().join("fixtures/e2e/mfa.js")];
    let more = format!(
        "password-reset-post-challenge = [\"{}\"]\npost-challenge = [\"{}\"]\n",
        root().join("fixtures/e2e/reset.js").display(),
        root().join("fixtures/e2e/reset-second.js").display()
    );
    let extra = format!(
        "[mfa]\nfactors = [\"email\"]\n[mfa.email]\nfrom = \"idpipe <no-reply@example.com>\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp}\n\
[password_reset]\nrequests_per_minute = {rate}\n[login]\nmax_failed_attempts = 3\n\
[[prompts]]\nid = \"why\"\ntitle = \"Why a new password, {{{{name}}}}?\"\n[[prompts.fields]]\nname = \"reason\"\nlabel = \"Reason\"\nrequired = true\n"
    );
    Idp::start_with_actions_top_and(&actions, "", &more, &extra)
}

fn run(idp: &Idp, smtp: u16, check: &str) -> Value {
    let db = idp.dir.path().join("idp.sqlite");
    idp.python(
        "mfa_flow.py",
        json!({"check": check, "smtp_port": smtp, "redirect_uri": APP_CALLBACK, "db": db.display().to_string()}),
    )
}

#[test]
fn a_password_reset_runs_its_actions_and_changes_the_password_once() {
    let smtp = free_port();
    let idp = start(smtp, 100);
    let out = run(&idp, smtp, "password_reset");
    let log = idp.log();
    assert_eq!(out["logged_in_before"], true, "{out}\n{log}");
    assert_eq!(
        out["locked_before"], "other:429",
        "locked: even the right password is refused: {out}"
    );
    assert_eq!(out["same_answer"], json!([true, true, "sent"]), "no account enumeration: {out}");
    assert_eq!(out["mails_sent"], 1, "a mail for the known account only");
    assert_eq!(out["mail_to"], json!(["jane.doe@example.com"]));
    assert_eq!(out["superseded"], 400, "a newer request supersedes the earlier link");
    assert_eq!(out["new_password_page"], "new-password", "{out}");
    assert_eq!(out["foreign_new_page"], 403, "the step is bound to the browser");
    let refusals = out["refusals"].as_array().cloned().unwrap_or_default();
    assert_eq!(refusals.len(), 4);
    assert!(refusals.iter().all(|r| r[0] == 400), "{out}");
    assert!(
        refusals[0][1]
            .as_str()
            .is_some_and(|m| m.starts_with("This password is too easy to guess.")),
        "{out}"
    );
    assert_eq!(refusals[1][1], "The two passwords do not match.");
    assert_eq!(refusals[2][1], "Do not use your username or email address.");
    assert_eq!(refusals[3][1], "Use at least 8 characters.");
    assert_eq!(out["changed"], "changed", "{out}");
    assert_eq!(out["back_link"], "http://127.0.0.1:8092/", "a link back to the application");
    assert_eq!(out["reused_link"], 400, "a link works once");
    assert_eq!(out["reused_link_post"], 400);
    assert_eq!(
        out["old_session_after"]["error"], "login_required",
        "sessions end with the reset: {out}"
    );
    assert_eq!(out["old_password"], "other:401", "the old password no longer works");
    assert_eq!(out["new_password_login"], true, "the reset cleared the lockout");
    assert_eq!(out["expired"], 400);
    assert_eq!(out["deny"], json!([403, true]), "the user sees the deny reason");
    assert_eq!(out["result_url"], "http://127.0.0.1:8092/callback?from=reset", "{out}");
    assert_eq!(out["result_url_refused"], "changed", "a result URL not allowed is ignored");
    assert!(log.contains("transaction.setResultUrl: the URL is not allowed"), "and logged");
    assert_eq!(out["post_challenge_name"], "http://127.0.0.1:8091/acs?by=post-challenge");
    assert_eq!(out["mfa_page"], "verify", "{out}");
    assert_eq!(out["after_mfa"], "new-password", "{out}");
    assert_eq!(out["redirected_to"], "https://consent.example.com/terms");
    assert_eq!(out["after_continue"], "new-password", "{out}");
    assert_eq!(out["prompt_page"], "prompt");
    assert_eq!(out["prompt_title"], "Why a new password, Jane?");
    assert_eq!(out["after_prompt"], "new-password", "{out}");
    // Nothing secret persisted in clear: no link token in the database.
    assert!(!idp.database_text().contains("ticket="));
}

#[test]
fn reset_requests_are_rate_limited_per_address() {
    let smtp = free_port();
    let idp = start(smtp, 2);
    let out = run(&idp, smtp, "reset_throttled");
    assert_eq!(out["statuses"], json!([200, 200, 429, 429]), "{out}");
}

#[test]
fn forged_oversized_and_cross_browser_reset_inputs_are_refused_and_use_nothing_up() {
    let smtp = free_port();
    let idp = start(smtp, 100);
    let out = run(&idp, smtp, "reset_attacks");
    assert_eq!(out["request_no_csrf"], 403, "{out}");
    assert_eq!(out["request_forged_csrf"], 403);
    assert_eq!(out["request_oversized"], 400);
    assert_eq!(out["mails_after_refusals"], 0, "a refused request sends nothing");
    assert_eq!(out["ticket_not_hex"], 400);
    assert_eq!(out["ticket_unknown"], 400);
    assert_eq!(out["ticket_oversized"], 400);
    assert_eq!(out["confirm_no_csrf"], 403);
    assert_eq!(out["confirm_other_browser"], 403);
    assert_eq!(out["link_still_works"], 200, "refused attempts did not use the link up");
    assert_eq!(out["new_no_csrf"], 403);
    assert_eq!(out["new_other_browser"], 403);
    assert_eq!(out["new_oversized"], json!([400, "Use at most 128 characters."]));
    assert_eq!(out["still_new_password_page"], "new-password", "nothing was changed: {out}");
}
