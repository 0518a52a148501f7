//! Custom prompts (`api.prompt.render`, issue 14) through HTTP: a progressive-profiling prompt
//! in post-login whose fields land in `api.user.setUserMetadata`, invalid submissions, CSRF and
//! browser binding, single use (`tests/python/mfa_flow.py`, `fixtures/e2e/profile.js`).

mod common;

use common::idp::*;
use common::root;
use serde_json::json;

const PROMPTS: &str = r#"
[[prompts]]
id = "profile"
title = "Welcome {{name}}"
text = "Tell us a little more."
submit = "Save"
[[prompts.fields]]
name = "favorite_color"
label = "Favourite colour"
type = "select"
options = ["red", "green", "blue"]
required = true
[[prompts.fields]]
name = "age"
label = "Age"
type = "number"
[[prompts.fields]]
name = "city"
label = "City"
pattern = "[A-Za-z ]+"
[[prompts.fields]]
name = "terms"
label = "I accept the terms"
type = "checkbox"
required = true
[[prompts.fields]]
name = "source"
type = "hidden"
default = "web"
"#;

#[test]
fn a_progressive_profiling_prompt_validates_its_fields_and_its_answers_reach_the_user_metadata() {
    let actions = [root().join("fixtures/e2e/profile.js"), root().join("fixtures/e2e/mfa-seen.js")];
    let idp = Idp::start_with_actions_and(&actions, PROMPTS);
    let out = idp.python(
        "mfa_flow.py",
        json!({"check": "profile_prompt", "smtp_port": free_port(), "redirect_uri": APP_CALLBACK}),
    );
    assert_eq!(out["page"], "prompt", "{out}\n{}", idp.log());
    assert_eq!(out["title"], "Welcome Jane", "vars fill the placeholders");
    assert_eq!(out["city_default"], "Paris", "render options give field defaults");
    assert_eq!(out["hidden_not_shown"], true);
    assert_eq!(out["foreign_get"], 403, "bound to the browser");
    assert_eq!(out["no_csrf"], 403);
    assert_eq!(out["invalid_status"], 400);
    assert_eq!(out["invalid_fields"], json!(["age", "city", "favorite_color", "terms"]), "{out}");
    assert_eq!(out["kept_input"], "123", "what the user typed is shown again");
    assert_eq!(out["completed"], true, "{out}");
    assert_eq!(
        out["prompt_claim"],
        json!({"id": "profile", "fields": {"favorite_color": "blue", "age": 42, "city": "Lyon", "terms": true, "source": "web"}}),
        "event.prompt in onContinuePostLogin; the hidden field keeps its own value"
    );
    assert_ne!(out["replayed_status"], 200, "a submission resumes the login once: {out}");
    assert_eq!(out["second_login"], "callback", "the metadata was saved: no prompt the next time");
    assert_eq!(out["undefined"]["error"], "access_denied");
    assert_eq!(
        out["undefined"]["error_description"],
        "The prompt 'no-such-prompt' is not defined in the tenant's [[prompts]]."
    );
    assert_eq!(out["with_redirect"]["error"], "access_denied", "{out}");
}
