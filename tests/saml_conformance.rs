//! The SAML IdP features enterprise SPs expect (issue items 1, 3, 4, 5, 6), each against the
//! running server with independent tooling: python3-saml validates every Response in strict
//! mode (both signatures when asked), xmlsec1 verifies the signed metadata
//! (`tests/python/saml_sp_conformance.py`).

mod common;

use common::idp::*;
use common::root;
use serde_json::{Value, json};

fn check(idp: &Idp, name: &str, extra: Value) -> Value {
    let mut job = json!({
        "check": name,
        "sp_base": SP_BASE,
        "idp_cert_path": root().join("certs/idp-test.crt").display().to_string(),
    });
    if let (Some(j), Value::Object(e)) = (job.as_object_mut(), extra) {
        j.extend(e);
    }
    idp.python("saml_sp_conformance.py", job)
}

const JANE: &str = "auth0|5f7c8ec7c33c6c004bbafe82";
const INVALID_NAME_ID_POLICY: &str = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";

fn ok(r: &Value) {
    assert_eq!(r["valid"], true, "python3-saml refused it: {r}");
}

fn refused_with(r: &Value, second: &str) {
    assert_eq!(r["codes"][0], "urn:oasis:names:tc:SAML:2.0:status:Responder", "{r}");
    assert_eq!(r["codes"][1], second, "{r}");
    assert_eq!(r["response_signature_valid"], true, "the error Response is signed: {r}");
}

#[test]
fn name_id_policy_email_persistent_transient_allow_create_and_unsupported_formats() {
    let idp = Idp::start("");
    let out = check(&idp, "name_id_policy", json!({}));
    let email = &out["email"];
    ok(email);
    assert_eq!(email["nameid"], "jane.doe@example.com");
    assert_eq!(email["nameid_format"], "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");

    let (p1, p2) = (&out["persistent_1"], &out["persistent_2"]);
    ok(p1);
    ok(p2);
    assert_eq!(p1["nameid_format"], "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
    let id = p1["nameid"].as_str().unwrap_or_default();
    assert!(id.len() >= 32 && !id.contains("5f7c8ec7"), "opaque, never the user id: {id}");
    assert_eq!(p2["nameid"], p1["nameid"], "stable; AllowCreate=false finds the existing one");
    ok(&out["persistent_other_sp"]);
    assert_ne!(out["persistent_other_sp"]["nameid"], p1["nameid"], "one identifier per SP");

    let (t1, t2, t3) = (&out["transient_1"], &out["transient_2"], &out["transient_new_session"]);
    ok(t1);
    ok(t3);
    assert_eq!(t1["nameid_format"], "urn:oasis:names:tc:SAML:2.0:nameid-format:transient");
    assert_eq!(t2["nameid"], t1["nameid"], "one per session and SP");
    assert_ne!(t3["nameid"], t1["nameid"], "a new session, a new identifier");
    assert_ne!(t1["nameid"], JANE);

    ok(&out["unspecified"]);
    assert_eq!(out["unspecified"]["nameid"], JANE, "unspecified: the SP settings' NameID");
    refused_with(&out["unsupported"], INVALID_NAME_ID_POLICY);
    refused_with(&out["no_create"], INVALID_NAME_ID_POLICY);
    // The SP settings fix a format: they win over the request's policy.
    ok(&out["settings_fixed"]);
    assert_eq!(
        out["settings_fixed"]["nameid_format"],
        "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    );
    assert_eq!(out["settings_fixed"]["nameid"], JANE);
}

#[test]
fn sign_response_and_assertion_satisfies_an_sp_that_wants_both() {
    let idp = Idp::start("");
    let out = check(&idp, "sign_both", json!({}));
    let both = &out["both"];
    ok(both);
    assert_eq!(both["assertion_signed"], true, "{both}");
    assert_eq!(both["response_signed"], true);
    // An SP whose settings sign only the assertion is refused by a library that wants both.
    assert_eq!(out["assertion_only_sp_wanting_both"]["valid"], false);
    assert_eq!(out["assertion_only_sp_wanting_both"]["response_signed"], false);
}

#[test]
fn requested_authn_context_reaches_actions_and_the_response_or_no_authn_context() {
    let idp = Idp::start("");
    let out = check(&idp, "requested_authn_context", json!({}));
    const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
    const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
    let ppt = &out["ppt_exact"];
    ok(ppt);
    assert_eq!(ppt["authn_context"], json!([PPT]), "{ppt}");
    // fixtures/e2e/acr-attribute.js saw event.transaction.acr_values.
    assert_eq!(ppt["attributes"]["http://idpipe.dev/claims/acr_values"], json!([PPT]), "{ppt}");
    ok(&out["password_exact"]);
    assert_eq!(out["password_exact"]["authn_context"], json!([PASSWORD]));
    ok(&out["password_minimum"]);
    assert_eq!(out["password_minimum"]["authn_context"], json!([PPT]));
    refused_with(&out["mfa_exact"], "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext");
    refused_with(&out["ppt_better"], "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext");
    ok(&out["none"]);
    assert_eq!(
        out["none"]["authn_context"],
        json!(["urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"])
    );
    assert!(out["none"]["attributes"].get("http://idpipe.dev/claims/acr_values").is_none());
}

#[test]
fn not_before_allows_sixty_seconds_of_clock_skew_by_default_and_is_configurable() {
    let idp = Idp::start("");
    let r = check(&idp, "not_before_skew", json!({}));
    ok(&r);
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(r[k].as_str().unwrap_or_default()).expect(k);
    assert_eq!((t("issue_instant") - t("not_before")).num_seconds(), 60, "{r}");
    let idp = Idp::start("[saml]\nclock_skew_seconds = 5\n");
    let r = check(&idp, "not_before_skew", json!({}));
    ok(&r);
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(r[k].as_str().unwrap_or_default()).expect(k);
    assert_eq!((t("issue_instant") - t("not_before")).num_seconds(), 5, "{r}");
}

#[test]
fn metadata_is_signed_with_valid_until_and_cache_duration() {
    let idp = Idp::start("");
    let out = check(&idp, "metadata", json!({}));
    assert_eq!(out["xmlsec1_ok"], true, "{out}");
    assert_eq!(out["tampered_rejected"], true, "{out}");
    assert_eq!(out["signature_first_child"], true);
    assert_eq!(out["cache_duration"], "PT86400S");
    let until = chrono::DateTime::parse_from_rfc3339(out["valid_until"].as_str().unwrap_or_default()).expect("validUntil");
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "seven days: {out}");
    assert_eq!(out["python3_saml_sso_url"], format!("{}/samlp/sp-py", idp.base));
    assert_eq!(out["content_type"], "application/samlmetadata+xml");
}

#[test]
fn sp_import_reads_metadata_and_assertion_consumer_service_index_is_honoured() {
    let dir = tempfile::tempdir().expect("tmp");
    let settings = dir.path().join("imported.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(["sp", "import", "--metadata"])
        .arg(root().join("fixtures/saml/sp-metadata.xml"))
        .args(["--client-id", "imported", "--settings-out"])
        .arg(&settings)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let toml = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        toml.contains(r#"callbacks = ["http://127.0.0.1:8091/acs", "http://127.0.0.1:8091/acs2"]"#),
        "{toml}"
    );
    assert!(!toml.contains("artifact"), "only HTTP-POST endpoints: {toml}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&settings).expect("settings")).expect("json");
    assert_eq!(json["audience"], "http://127.0.0.1:8091/metadata");
    assert_eq!(json["logout"]["callback"], "http://127.0.0.1:8091/sls");
    assert!(
        json.get("signingCert").is_none(),
        "AuthnRequestsSigned=false: requests need no signature"
    );

    let idp = Idp::start(&toml);
    let out = check(
        &idp,
        "acs_index",
        json!({"acs_2": format!("{SP_BASE}/acs2"), "sp_key_path": root().join("certs/sp-test.key").display().to_string()}),
    );
    let r = &out["by_index"];
    ok(r);
    assert_eq!(r["encrypted"], true, "the imported encryption certificate is used: {r}");
    assert_eq!(r["action"], format!("{SP_BASE}/acs2"), "{r}");
    assert_eq!(out["unknown_index"]["stage"], "no_response", "{out}");
    assert_eq!(out["unknown_index"]["status"], 400);
}
