//! Single logout across SPs (issue 12 item 2), with python3-saml SPs against the running server
//! (`tests/python/saml_slo.py`).

mod common;

use common::idp::*;
use serde_json::{Value, json};

fn run(check: &str) -> (Idp, Value) {
    let idp = Idp::start("");
    let out = idp.python(
        "saml_slo.py",
        json!({
            "check": check,
            "sp_base": SP_BASE,
            "redirect_uri": APP_CALLBACK,
            "rp_secret": RP_SECRET,
            "logout_uri": RP_LOGOUT,
        }),
    );
    (idp, out)
}

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

#[test]
fn a_logout_at_one_sp_reaches_every_other_sp_before_the_initiator_is_answered() {
    let (idp, out) = run("saml_slo_all_confirm");
    assert_eq!(out["first_step_has_request"], true, "the other SP is told first: {out}");
    let seen = &out["participant_saw"];
    assert_eq!(seen["signature_valid"], true, "idpipe's LogoutRequest is signed: {seen}");
    assert_eq!(seen["name_id"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert_eq!(seen["session_index"], out["session_index"], "{out}");
    assert_eq!(seen["destination"], format!("{SP_BASE}/sls"));
    assert_eq!(seen["issuer"], "urn:e2e");
    let fin = &out["final"];
    assert_eq!(fin["valid"], true, "python3-saml accepts the LogoutResponse: {fin}");
    assert_eq!(fin["codes"], json!([SUCCESS]), "{fin}");
    assert_eq!(fin["relay_state"], "bye");
    assert_eq!(out["still_logged_in"], false, "{out}\n{}", idp.log());
}

#[test]
fn a_participant_that_does_not_confirm_makes_it_a_partial_logout() {
    let (_idp, out) = run("saml_slo_partial");
    let fin = &out["final"];
    assert_eq!(fin["valid"], true, "{fin}");
    assert_eq!(
        fin["codes"],
        json!([SUCCESS, "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"]),
        "{out}"
    );
    assert_eq!(out["still_logged_in"], false, "the IdP session ended anyway");
}

#[test]
fn a_logout_chain_refuses_another_browser_and_a_foreign_in_response_to() {
    let (_idp, out) = run("saml_slo_forged_chain");
    assert_eq!(out["foreign_browser"], 403, "{out}");
    assert_eq!(out["wrong_in_response_to"], 400, "{out}");
}

#[test]
fn an_oidc_logout_tells_the_sessions_saml_sps_then_goes_back_to_the_app() {
    let (_idp, out) = run("oidc_initiated");
    assert_eq!(out["first_step_action"], format!("{SP_BASE}/sls"), "{out}");
    assert_eq!(out["participant_saw"]["signature_valid"], true);
    assert_eq!(out["final"], json!([302, format!("{RP_LOGOUT}&state=z")]), "{out}");
    assert_eq!(out["still_logged_in"], false);
}
