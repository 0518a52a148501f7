//! MFA driven by actions, through HTTP (issue 13): pyotp is the authenticator app, aiosmtpd the
//! SMTP server that receives the email codes, PyJWT checks the ID token
//! (`tests/python/mfa_flow.py`; the actions are fixtures/e2e/mfa.js and mfa-seen.js).

mod common;

use common::idp::*;
use common::root;
use serde_json::{Value, json};

fn actions() -> [std::path::PathBuf; 3] {
    [
        root().join("fixtures/e2e/mfa.js"),
        root().join("fixtures/e2e/mfa-again.js"),
        root().join("fixtures/e2e/mfa-seen.js"),
    ]
}

fn mfa_settings(smtp: u16) -> String {
    format!(
        "[mfa]\nfactors = [\"otp\", \"email\", \"recovery-code\"]\n[mfa.email]\nfrom = \"idpipe <no-reply@example.com>\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp}\n"
    )
}

fn start() -> (Idp, u16) {
    let smtp = free_port();
    (Idp::start_with_actions_and(&actions(), &mfa_settings(smtp)), smtp)
}

fn check(idp: &Idp, smtp: u16, check: &str) -> Value {
    idp.python(
        "mfa_flow.py",
        json!({"check": check, "smtp_port": smtp, "redirect_uri": APP_CALLBACK}),
    )
}

fn run(name: &str) -> (Idp, Value) {
    let (idp, smtp) = start();
    let out = check(&idp, smtp, name);
    (idp, out)
}

/// Two nodes on one PostgreSQL database (issue 16): an enrolment shown by one node is confirmed
/// on the other, a challenge shown by one is answered on the other, a TOTP code used on one is
/// refused on the other, and an email code sent by one node is accepted by the other.
#[test]
fn an_mfa_challenge_begun_on_one_node_finishes_on_the_other_on_postgres() {
    let pg = common::pg::Pg::start();
    let smtp = free_port();
    let a = Idp::start_with_actions_on_postgres(&actions(), &pg.url, &mfa_settings(smtp));
    let b = a.start_peer();
    let out = a.python(
        "mfa_flow.py",
        json!({"check": "across_nodes", "smtp_port": smtp, "redirect_uri": APP_CALLBACK, "peer_base": b.base}),
    );
    assert_eq!(out["enroll_page"], "qr", "{out}\n{}", a.log());
    assert_eq!(out["enrolled_on_b"], "recovery-code", "{out}");
    assert_eq!(out["enrol_login_ok"], true, "{out}");
    assert_eq!(out["amr"], json!(["pwd", "mfa", "otp"]));
    assert_eq!(out["challenge_page_on_b"], "verify", "{out}");
    assert_eq!(out["challenge_answered_on_a"], true, "{out}");
    assert_eq!(out["amr_b"], json!(["pwd", "mfa", "otp"]));
    assert_eq!(out["replayed_on_other_node"], 401, "a TOTP code works once on all nodes");
    assert_eq!(out["email_page_on_b"], "verify", "{out}");
    assert_eq!(out["email_code_accepted_on_a"], true, "{out}");
}

#[test]
fn an_operator_lists_and_resets_a_users_factors() {
    let (idp, smtp) = start();
    assert_eq!(check(&idp, smtp, "enrol_only")["done"], true);
    let cli = |what: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
            .args(["user", "mfa", what, "--username", "jane.doe@example.com", "--db"])
            .arg(idp.dir.path().join("idp.sqlite"))
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let listed: Value = serde_json::from_str(&cli("list")).expect("json");
    assert_eq!(listed["factors"], json!(["otp", "recovery-code"]), "{listed}");
    assert!(cli("reset").starts_with("2 factor(s) removed"));
    assert_eq!(check(&idp, smtp, "otp_page")["page"], "qr", "after a reset the user enrols again");
}

#[test]
fn otp_enrolment_with_qr_then_challenge_single_use_codes_and_recovery_codes() {
    let (idp, out) = run("enroll_and_challenge_otp");
    assert_eq!(out["enroll_page"], "qr", "{out}\n{}", idp.log());
    assert_eq!(out["qr_is_svg"], true);
    // pyotp reads the otpauth:// URI the page offers (the QR code encodes the same URI).
    assert_eq!(
        out["otpauth_parsed"],
        json!({"issuer": "e2e", "name": "jane.doe@example.com", "same_secret": true, "digits": 6, "interval": 30}),
        "{out}"
    );
    assert_eq!(out["wrong_status"], 401);
    assert_eq!(out["after_enroll"], "recovery-code", "the first enrolment shows a recovery code");
    assert_eq!(out["recovery_code"].as_str().map(str::len), Some(29), "{out}");
    assert_eq!(out["amr"], json!(["pwd", "mfa", "otp"]));
    assert_eq!(
        out["methods_seen"],
        json!([{"name": "pwd", "type": null}, {"name": "mfa", "type": "otp"}]),
        "seed 004: the next action sees the factor"
    );
    assert_eq!(out["acr"], "http://schemas.openid.net/pape/policies/2007/06/multi-factor");
    assert_eq!(out["challenge_page"], "verify");
    assert_eq!(out["challenge_ok"], true, "{out}");
    assert_eq!(out["replayed_code_status"], 401, "a TOTP code works once");
    assert_eq!(out["recovery_used"], "recovery-code", "a new recovery code after use");
    assert_ne!(out["new_recovery_code"], out["recovery_code"]);
    assert_eq!(out["recovery_login_ok"], true);
    assert_eq!(out["old_recovery_code_again"], 401, "single use");
    // Secrets are not in the store in clear.
    let db = idp.database_text();
    assert!(
        !db.contains(out["recovery_code"].as_str().unwrap_or("-")),
        "recovery codes are stored hashed"
    );
}

#[test]
fn email_codes_arrive_by_smtp_and_complete_the_challenge() {
    let (_idp, out) = run("email_challenge");
    assert_eq!(out["page"], "verify", "{out}");
    assert_eq!(out["hint"], "We sent a code to j***@example.com.");
    assert_eq!(out["to"], json!(["jane.doe@example.com"]));
    assert_eq!(out["wrong_status"], 401);
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["methods_seen"][1], json!({"name": "mfa", "type": "email"}));
    assert_eq!(out["amr"], json!(["pwd", "mfa"]));
}

#[test]
fn challenge_with_any_shows_a_picker_and_challenge_with_offers_its_additional_factors() {
    let (_idp, out) = run("picker_and_alternatives");
    assert_eq!(out["one_usable_skips_picker"], "verify", "only email usable: no picker (seed 004)");
    assert_eq!(out["any_page"], "picker", "{out}");
    assert_eq!(out["choices"], json!(["otp", "email", "recovery-code"]));
    assert_eq!(out["chosen_page"], "verify");
    assert_eq!(out["ok"], true);
    // challengeWith(otp, {additionalFactors: [email]}): the default, with "try another method".
    assert_eq!(out["default_then_others"], json!(["verify", ["email", "recovery-code"]]), "{out}");
    assert_eq!(out["not_offered"], 400, "a factor the action did not offer cannot be chosen");
}

#[test]
fn a_recovery_code_is_offered_as_another_method_once_the_user_has_one() {
    let (_idp, out) = run("recovery_code_as_another_method");
    assert_eq!(out["before"], json!([]), "no recovery code yet, none offered: {out}");
    assert_eq!(out["offered"], json!(["recovery-code"]), "{out}");
    assert_eq!(out["chosen_page"], "verify");
    assert_eq!(out["after_use"], "recovery-code", "a used recovery code is replaced by a new one");
    assert_eq!(out["new_code_differs"], true);
    assert_eq!(
        out["methods_seen"],
        json!([{"name": "pwd", "type": null}, {"name": "mfa", "type": "recovery-code"}]),
        "{out}"
    );
    assert_eq!(
        out["any_single"],
        json!(["verify", ["recovery-code"]]),
        "one usable factor: no picker"
    );
}

#[test]
fn enroll_with_any_shows_a_picker_of_factors_not_yet_enrolled_and_enrolled_ones_are_ignored() {
    let (idp, out) = run("enrolment_rules");
    assert_eq!(out["any_page"], "picker", "{out}\n{}", idp.log());
    assert_eq!(out["choices"], json!(["otp", "recovery-code"]));
    assert_eq!(
        out["recovery_enrol_page"], "recovery-code",
        "a recovery code is enrolled by showing it once"
    );
    assert_eq!(
        out["methods_seen"],
        json!([{"name": "pwd", "type": null}, {"name": "mfa", "type": "recovery-code"}])
    );
    assert_eq!(out["recovery_works"], "recovery-code", "accepted, and a new one shown");
    assert_eq!(out["one_left"], "qr", "one factor left to enrol: no picker");
    assert_eq!(
        out["no_second_recovery_code"], "callback",
        "the user already has a recovery code: {out}"
    );
    assert_eq!(out["already_enrolled"]["error"], "mfar", "{out}");
}

#[test]
fn a_factor_satisfied_in_the_login_is_not_asked_again_and_redirect_with_mfa_is_refused() {
    let (idp, out) = run("satisfied_once_and_redirect_with_mfa");
    assert_eq!(out["one_challenge"], true, "{out}\n{}", idp.log());
    assert_eq!(out["emails"], 1);
    assert_eq!(
        out["methods_seen"],
        json!([{"name": "pwd", "type": null}, {"name": "mfa", "type": "email"}]),
        "the second action's challenge was ignored"
    );
    // Seed 004: an action cannot both redirect and challenge (the login fails, saying why).
    assert_eq!(out["redirect_and_mfa"]["error"], "access_denied", "{out}");
    assert_eq!(
        out["redirect_and_mfa"]["error_description"],
        "authentication.challengeWith is not allowed here: a redirect, a prompt and an MFA request must be in separate actions"
    );
}

#[test]
fn five_wrong_codes_fail_the_login() {
    let (_idp, out) = run("too_many_wrong_codes");
    // The fifth: the login ends (a "Continuing" page back to the app with the error).
    assert_eq!(out["statuses"], json!([401, 401, 401, 401, 200]), "{out}");
    assert_eq!(out["callback"]["error"], "access_denied", "{out}");
}

#[test]
fn no_usable_factor_fails_with_mfar_and_the_seeds_message() {
    let (idp, out) = run("mfar_and_warning");
    assert_eq!(out["phone"]["error"], "mfar", "{out}");
    assert_eq!(
        out["phone"]["error_description"],
        "An MFA challenge is used in a PostLogin action but the requested factors are not properly set up. To perform MFA, enable the requested factors and ensure the user is enrolled with them."
    );
    assert_eq!(out["some_unusable_page"], "verify", "email is usable; phone only warns");
    assert!(
        idp.log()
            .contains("w: An MFA challenge is used in a PostLogin action, but the requested factor phone is not properly set up."),
        "the seed's warning is logged"
    );
}

#[test]
fn multifactor_enable_challenges_at_the_end_unless_an_action_already_did() {
    let (_idp, out) = run("multifactor_enable");
    assert_eq!(out["page"], "verify", "{out}");
    assert_eq!(out["email_sent_without_choice"], true);
    assert_eq!(out["both_page"], "verify");
    assert_eq!(out["both_ok_without_second_challenge"], true, "{out}");
}

#[test]
fn mfa_is_never_shown_to_prompt_none_and_its_state_is_bound_to_the_browser() {
    let (_idp, out) = run("passive_and_foreign");
    assert_eq!(out["prompt_none_not_logged_in"]["error"], "login_required", "{out}");
    assert_eq!(out["prompt_none_with_session"]["error"], "interaction_required", "{out}");
    assert_eq!(out["foreign_get"], 403);
    assert_eq!(out["no_csrf"], 403);
}

#[test]
fn phone_enrolment_and_challenge_through_the_webhook() {
    let (smtp, phone) = (free_port(), free_port());
    let actions = [root().join("fixtures/e2e/mfa.js"), root().join("fixtures/e2e/mfa-seen.js")];
    let extra = format!("[mfa]\nfactors = [\"phone\", \"recovery-code\"]\n[mfa.phone]\nwebhook = \"http://127.0.0.1:{phone}/sms\"\n");
    let idp = Idp::start_with_actions_and(&actions, &extra);
    let out = idp.python(
        "mfa_flow.py",
        json!({"check": "phone_enrolment_and_challenge", "smtp_port": smtp, "phone_port": phone, "redirect_uri": APP_CALLBACK}),
    );
    assert_eq!(out["page"], "phone", "{out}\n{}", idp.log());
    assert_eq!(out["bad_number"], 400);
    assert_eq!(out["code_page"], "verify");
    assert_eq!(out["hint"], "We sent a code to **********23.");
    let hook = &out["webhook"];
    assert_eq!(hook["path"], "/sms");
    assert_eq!(hook["type"], "application/json");
    assert_eq!(hook["body"]["to"], "+14155550123");
    assert_eq!(hook["body"]["method"], "voice");
    assert_eq!(out["after"], "recovery-code");
    assert_eq!(out["enrolled"], true);
    assert_eq!(out["challenge_page"], "verify");
    assert_eq!(out["challenge_ok"], true, "{out}");
    assert_eq!(
        out["options"],
        json!({"preferredMethod": "voice"}),
        "enrolledFactors carries the phone's options"
    );
}

#[test]
fn allow_remember_browser_skips_multifactor_enable_for_that_user_and_browser_only() {
    let (_idp, out) = run("remember_browser");
    assert_eq!(out["first"], true, "{out}");
    assert_eq!(out["cookie"], true);
    assert_eq!(out["remembered"], true, "{out}");
    assert_eq!(out["enable_without_option"], "verify");
    assert_eq!(out["other_browser"], "verify");
    assert_eq!(
        out["forged_cookies"],
        json!(["verify", "verify", "verify", "verify"]),
        "a forged, truncated, extended or oversized cookie is no remembered browser"
    );
    assert_eq!(out["control_real_cookie"], "callback", "the harness does send the cookie: {out}");
    assert_eq!(out["other_user"], "verify", "{out}");
}

/// The tenant's own phone provider: `[mfa.phone] action = true` runs the send-phone-message
/// actions with `event.message_options` (the hosted service's trigger) on the same JS runtime.
#[test]
fn send_phone_message_actions_deliver_the_phone_codes() {
    let (smtp, phone) = (free_port(), free_port());
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("send-phone.js");
    std::fs::write(
        &script,
        format!(
            r#"/** The tenant's SMS provider, called by idpipe with the hosted service's event. */
exports.onExecuteSendPhoneMessage = async (event, api) => {{
  const o = event.message_options;
  if (o.recipient === "+15550000000") throw new Error("the provider refused the number");
  const sent = api.cache.get("sent");
  const r = await fetch("http://127.0.0.1:{phone}/provider", {{
    method: "POST",
    headers: {{ "content-type": "application/json" }},
    body: JSON.stringify({{ to: o.recipient, method: o.message_type, code: o.code, message: o.text, action: o.action,
      user: event.user.email, client: event.client.client_id, before: sent ? sent.value : null,
      api: Object.keys(api) }}),
  }});
  if (!r.ok) throw new Error("provider answered " + r.status);
  api.cache.set("sent", "yes");
}};
"#
        ),
    )
    .expect("write action");
    let actions = [root().join("fixtures/e2e/mfa.js"), root().join("fixtures/e2e/mfa-seen.js")];
    let top = format!("fetch_allowed_hosts = [\"127.0.0.1:{phone}\"]\n");
    let more = format!("send-phone-message = [\"{}\"]\n", script.display());
    let extra = "[mfa]\nfactors = [\"phone\", \"recovery-code\"]\n[mfa.phone]\naction = true\n";
    let idp = Idp::start_with_actions_top_and(&actions, &top, &more, extra);
    let job = |check: &str| json!({"check": check, "smtp_port": smtp, "phone_port": phone, "redirect_uri": APP_CALLBACK});
    let out = idp.python("mfa_flow.py", job("phone_enrolment_and_challenge"));
    let hook = &out["webhook"]["body"];
    assert_eq!(out["webhook"]["path"], "/provider", "{out}\n{}", idp.log());
    assert_eq!(hook["to"], "+14155550123");
    assert_eq!(hook["method"], "voice");
    assert_eq!(hook["action"], "enrollment");
    assert_eq!(hook["user"], "jane.doe@example.com");
    assert_eq!(hook["client"], "spa");
    assert_eq!(hook["api"], json!(["cache"]), "the trigger's api is api.cache only");
    assert!(
        hook["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(hook["code"].as_str().unwrap_or("-")))
    );
    assert_eq!(out["enrolled"], true, "{out}");
    let challenge = &out["challenge_webhook"]["body"];
    assert_eq!(challenge["action"], "second-factor-authentication");
    assert_eq!(challenge["before"], "yes", "api.cache persists between invocations");
    assert_eq!(out["challenge_ok"], true, "{out}");
    // An action that throws: the code is not sent, the user is told, the log says why.
    let mut fails = job("phone_delivery_fails");
    fails["username"] = "john.smith@example.com".into();
    fails["password"] = "john-demo-password".into();
    let failed = idp.python("mfa_flow.py", fails);
    assert_eq!(failed["status"], 502, "{failed}");
    assert_eq!(failed["says"], true);
    assert_eq!(failed["sent"], 0);
    assert!(idp.log().contains("the provider refused the number"));
}
