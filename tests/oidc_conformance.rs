//! The OpenID Foundation's certification plans (Basic OP, Config OP, Form Post OP, RP-Initiated
//! Logout OP) and issue items 7, 8 and 10, line by line, each proven against the running server
//! by an independent relying party: Authlib (OAuth2Session, CodeIDToken validation against the
//! discovered JWKS) in `tests/python/oidc_rp.py`, with PyJWT for the access-token checks.

mod common;

use common::idp::*;
use serde_json::{Value, json};

fn check(idp: &Idp, name: &str) -> Value {
    idp.python(
        "oidc_rp.py",
        json!({
            "check": name,
            "redirect_uri": APP_CALLBACK,
            "client_id": "rp",
            "client_secret": RP_SECRET,
            "web_secret": WEB_SECRET,
            "logout_uri": RP_LOGOUT,
        }),
    )
}

fn run(name: &str) -> (Idp, Value) {
    let idp = Idp::start("");
    let out = check(&idp, name);
    (idp, out)
}

const JOHN: &str = "auth0|6a1b2c3d4e5f60718293a4b5";

// ---- Basic OP ------------------------------------------------------------------------------

#[test]
fn basic_code_flow_signed_id_token_with_kid_in_jwks() {
    let (idp, out) = run("code_flow_signed_id_token_kid_in_jwks");
    assert_eq!(out["state_ok"], true, "{out}");
    assert_eq!(out["alg"], "RS256");
    assert_eq!(out["kid_in_jwks"], true);
    assert_eq!(out["sub"], JOHN);
    // RFC 9207: the authorization response names its issuer.
    assert_eq!(out["iss_param"], format!("{}/", idp.base));
}

#[test]
fn basic_userinfo_by_get_by_post_with_header_and_by_post_with_token_in_body() {
    let (_idp, out) = run("userinfo_three_ways");
    for way in ["get", "post_header", "post_body"] {
        assert_eq!(out[way][0], 200, "{way}: {out}");
        assert_eq!(out[way][1]["sub"], JOHN, "{way}: {out}");
        assert_eq!(out[way][1]["email"], "john.smith@example.com", "{way}");
    }
    assert_eq!(out["no_token"][0], 401);
    assert!(out["no_token"][1].as_str().is_some_and(|h| h.starts_with("Bearer")), "{out}");
    assert_eq!(out["id_token_as_access_token"], 401, "an ID token is not an access token");
}

#[test]
fn basic_no_nonce_is_allowed_for_the_code_flow() {
    let (_idp, out) = run("nonce_not_required");
    assert_eq!(out["has_code"], true, "{out}");
    assert_eq!(out["nonce_in_id_token"], false);
}

#[test]
fn basic_profile_email_address_and_phone_scopes() {
    let (_idp, out) = run("scopes_profile_email_address_phone");
    for doc in [&out["id_token"], &out["userinfo"]] {
        assert_eq!(doc["name"], "John Smith", "{out}");
        assert_eq!(doc["email"], "john.smith@example.com");
        assert_eq!(doc["phone_number"], "+14155550123");
        assert_eq!(doc["phone_number_verified"], true);
        assert_eq!(doc["address"]["locality"], "Springfield", "{out}");
        // OIDC Core 5.1: a number of seconds.
        assert_eq!(doc["updated_at"], 1_767_323_045, "{out}");
    }
    let bare = &out["openid_only_userinfo"];
    assert_eq!(bare.as_object().map(|o| o.len()), Some(1), "only sub without scopes: {out}");
    assert!(out["openid_only_id_token"].get("email").is_none());
}

#[test]
fn basic_display_values_are_accepted() {
    let (_idp, out) = run("display_values");
    for d in ["page", "popup", "touch", "wap"] {
        assert_eq!(out[d], true, "{d}: {out}");
    }
    assert_eq!(out["hologram_error"], "invalid_request");
}

#[test]
fn basic_prompt_login_and_prompt_none_logged_out_and_logged_in() {
    let (_idp, out) = run("prompts_and_max_age");
    assert_eq!(out["prompt_none_logged_in"], true, "{out}");
    assert_eq!(out["prompt_login_shows_login_page"], true, "{out}");
    assert_eq!(out["prompt_none_logged_out"]["error"], "login_required", "{out}");
}

#[test]
fn basic_max_age_forces_a_new_login_and_auth_time() {
    let (_idp, out) = run("prompts_and_max_age");
    assert_eq!(out["max_age_1_shows_login_page"], true, "{out}");
    assert_eq!(out["max_age_auth_time_present"], true);
    assert_eq!(out["max_age_auth_time_newer"], true, "{out}");
}

#[test]
fn basic_code_reuse_is_rejected_and_its_tokens_revoked() {
    let (_idp, out) = run("code_reuse_rejected_tokens_revoked");
    assert_eq!(out["second"][0], 400, "{out}");
    assert_eq!(out["second"][1]["error"], "invalid_grant");
    assert_eq!(out["refresh_after_reuse"][0], 400, "{out}");
    assert_eq!(out["refresh_after_reuse"][1]["error"], "invalid_grant");
}

#[test]
fn basic_unregistered_redirect_uri_is_rejected_without_redirect() {
    let (_idp, out) = run("unregistered_redirect_uri_no_redirect");
    assert_eq!(out["status"], 400, "{out}");
    assert_eq!(out["location"], Value::Null);
    assert_eq!(out["body_mentions"], true);
}

#[test]
fn basic_client_secret_post() {
    let (_idp, out) = run("client_secret_post");
    assert_eq!(out["sub"], JOHN, "{out}");
    assert_eq!(out["wrong_secret"], json!([401, "invalid_client"]));
}

#[test]
fn basic_claims_request_parameter_with_essential() {
    let (_idp, out) = run("claims_essential");
    // scope=openid only: the claims come from the claims parameter.
    assert_eq!(out["id_token"]["email"], "john.smith@example.com", "{out}");
    assert!(out["id_token"].get("name").is_none(), "{out}");
    assert_eq!(
        out["id_token"]["acr"],
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    );
    assert_eq!(out["userinfo"]["name"], "John Smith", "{out}");
    assert_eq!(out["userinfo"]["email"], "john.smith@example.com");
    assert_eq!(out["bad_claims"]["error"], "invalid_request");
}

#[test]
fn basic_refresh_and_pkce_s256() {
    let (_idp, out) = run("refresh_and_pkce");
    assert_eq!(out["wrong_verifier"], json!([400, "invalid_grant"]), "{out}");
    assert_eq!(out["rotated"], true);
    assert_eq!(out["refreshed_sub"], JOHN);
}

// ---- Config OP -----------------------------------------------------------------------------

#[test]
fn config_discovery_document_fields() {
    let (idp, d) = run("discovery_fields");
    let b = &idp.base;
    assert_eq!(d["issuer"], format!("{b}/"));
    for (k, v) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("end_session_endpoint", "/oidc/logout"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("introspection_endpoint", "/oauth/introspect"),
    ] {
        assert_eq!(d[k], format!("{b}{v}"), "{k}");
    }
    let has = |k: &str, v: &str| d[k].as_array().is_some_and(|a| a.iter().any(|x| x == v));
    assert!(has("scopes_supported", "openid"));
    assert!(has("response_types_supported", "code"));
    assert!(has("subject_types_supported", "public"));
    assert!(has("id_token_signing_alg_values_supported", "RS256"));
    assert!(!has("id_token_signing_alg_values_supported", "none"));
    for c in ["sub", "email", "address", "phone_number", "acr"] {
        assert!(has("claims_supported", c), "{c}");
    }
    assert_eq!(d["claims_parameter_supported"], true);
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["request_parameter_supported"], false);
    assert_eq!(d["request_uri_parameter_supported"], false);
}

// ---- Form Post OP --------------------------------------------------------------------------

#[test]
fn form_post_code_flow_and_errors() {
    let (idp, out) = run("form_post_basic");
    assert_eq!(out["action"], APP_CALLBACK, "{out}");
    assert_eq!(out["state_ok"], true);
    assert_eq!(out["iss"], format!("{}/", idp.base));
    assert_eq!(out["sub"], JOHN);
    assert_eq!(out["prompt_none_error"]["error"], "login_required", "{out}");
}

// ---- RP-Initiated Logout OP ----------------------------------------------------------------

#[test]
fn rp_initiated_logout_hint_uri_state_unregistered_modified_and_no_params() {
    let (_idp, out) = run("rp_logout");
    assert_eq!(out["unregistered"][0], 400, "{out}");
    assert_eq!(out["unregistered"][1], Value::Null, "no redirect");
    assert_eq!(out["modified_hint"][0], 400, "{out}");
    assert_eq!(out["modified_hint"][1], Value::Null);
    assert_eq!(out["still_logged_in"], true, "a refused logout changes nothing");
    assert_eq!(out["no_params"], json!([200, null, true]), "{out}");
    assert_eq!(out["only_state"], json!([200, null, true]));
    assert_eq!(
        out["still_logged_in_after_pages"], true,
        "a confirmation page alone logs nobody out"
    );
    assert_eq!(out["valid"][0], 302, "{out}");
    assert_eq!(out["valid"][1], format!("{RP_LOGOUT}&state=xyz"), "its own query kept, state added");
    assert_eq!(out["after_logout"]["error"], "login_required", "{out}");
    assert_eq!(out["forged_confirmation"][1], Value::Null, "a forged confirmation does not log out");
    // The confirmation is a form POST: the browser goes on by a "Continuing" page.
    assert_eq!(out["confirmed"], json!([200, format!("{RP_LOGOUT}&state=c")]), "{out}");
    assert_eq!(out["after_confirmation"]["error"], "login_required");
}

// ---- Items 7, 8, 10 ------------------------------------------------------------------------

#[test]
fn access_tokens_follow_rfc9068_and_responses_carry_rfc9207_iss() {
    let (idp, out) = run("access_token_rfc9068");
    assert_eq!(out["typ"], "at+jwt", "{out}");
    let c = &out["claims"];
    assert_eq!(c["client_id"], "rp");
    assert!(c["jti"].as_str().is_some_and(|j| j.len() == 32), "{out}");
    assert_eq!(out["jti_unique"], true);
    assert_eq!(c["sub"], JOHN);
    assert_eq!(out["iss_param"], format!("{}/", idp.base));
}

#[test]
fn token_revocation_and_introspection() {
    let (_idp, out) = run("revocation_and_introspection");
    assert_eq!(out["access"]["active"], true, "{out}");
    assert_eq!(out["access"]["client_id"], "rp");
    assert_eq!(out["access"]["sub"], JOHN);
    assert_eq!(out["refresh"]["active"], true);
    assert_eq!(out["refresh"]["token_type"], "refresh_token");
    assert_eq!(out["junk"], json!({"active": false}));
    assert_eq!(out["other_client_sees"], json!({"active": false}), "another client learns nothing");
    assert_eq!(out["other_client_revoke_status"], 200);
    assert_eq!(out["still_active"], true, "another client cannot revoke it");
    assert_eq!(out["revoke_access_token"][0], 400);
    assert_eq!(out["revoke_access_token"][1]["error"], "unsupported_token_type");
    assert_eq!(out["revoke_status"], 200);
    assert_eq!(out["after_revoke"], json!({"active": false}));
    assert_eq!(out["refresh_after_revoke"], json!([400, "invalid_grant"]));
    assert_eq!(out["public_client_introspection"], 400, "introspection needs a confidential client");
}

#[test]
fn request_objects_are_refused_with_their_codes() {
    let (_idp, out) = run("request_objects_refused");
    assert_eq!(out["request"]["error"], "request_not_supported", "{out}");
    assert_eq!(out["request_uri"]["error"], "request_uri_not_supported");
}

#[test]
fn authorization_by_post_login_hint_ui_locales_acr_values_and_unknown_parameters() {
    let (_idp, out) = run("post_authorize_login_hint_acr");
    assert_eq!(out["login_hint_prefilled"], true, "{out}");
    assert_eq!(out["code_by_post"], true);
    assert_eq!(
        out["acr"], "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
        "{out}"
    );
}

#[test]
fn alg_none_and_hs256_are_never_accepted() {
    let (_idp, out) = run("alg_none_never_accepted");
    assert_eq!(out["userinfo_none"], 401, "{out}");
    assert_eq!(out["userinfo_hs256"], 401);
    assert_eq!(out["logout_none_hint"], 400);
}

// ---- Item 9: Back-Channel and Front-Channel Logout ----------------------------------------

#[test]
fn back_channel_and_front_channel_logout() {
    let port = free_port();
    let extra = format!(
        r#"[[oidc_clients]]
client_id = "bc"
name = "Channel app"
redirect_uris = ["{APP_CALLBACK}"]
client_secret = "{RP_SECRET}"
allowed_logout_urls = ["{RP_LOGOUT}"]
backchannel_logout_uri = "http://127.0.0.1:{port}/backchannel"
frontchannel_logout_uri = "http://127.0.0.1:{port}/frontchannel?app=bc"
"#
    );
    let idp = Idp::start(&extra);
    let out = idp.python(
        "oidc_logout_channels.py",
        json!({"listen_port": port, "redirect_uri": APP_CALLBACK, "secret": RP_SECRET, "logout_uri": RP_LOGOUT}),
    );
    for k in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(out["discovery"][k], true, "{k}");
    }
    // Back channel: one logout token, verified by PyJWT.
    assert_eq!(out["backchannel_count"], 1, "{out}\n{}", idp.log());
    let bc = &out["backchannel"];
    assert_eq!(bc["path"], "/backchannel");
    assert_eq!(bc["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(bc["typ"], "logout+jwt");
    let c = &bc["claims"];
    assert_eq!(c["sid"], out["sid"], "{out}");
    assert_eq!(c["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert!(c["events"].get("http://schemas.openid.net/event/backchannel-logout").is_some());
    assert!(c.get("nonce").is_none(), "a logout token has no nonce");
    // Front channel: an iframe with iss and sid (the URI's own query kept), then on.
    assert_eq!(out["page_status"], 200, "{out}");
    let frame = &out["frames"][0];
    assert_eq!(frame["path"], "/frontchannel");
    assert_eq!(frame["query"]["app"], json!(["bc"]));
    assert_eq!(frame["query"]["iss"], json!([format!("{}/", idp.base)]));
    assert_eq!(frame["query"]["sid"], json!([out["sid"].clone()]));
    assert!(
        out["csp"]
            .as_str()
            .is_some_and(|c| c.contains(&format!("frame-src http://127.0.0.1:{port}"))),
        "{out}"
    );
    assert_eq!(out["final"], json!([302, format!("{RP_LOGOUT}&state=fc")]), "{out}");
    assert_eq!(out["second_logout_status"], 200, "logged out: nothing left to tell");
}
