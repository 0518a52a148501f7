//! The `idpipe` binary: stable flags, output that independent tools accept, exit code 2 on bad input.

mod common;

use std::process::Command;

use common::*;

fn idpipe(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idpipe"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `idpipe saml response --user USER --settings SETTINGS` followed by `rest`.
fn saml_response<'a>(user: &'a str, settings: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["saml", "response", "--user", user, "--settings", settings];
    a.extend_from_slice(rest);
    a
}

const JANE: &str = "fixtures/users/jane.json";
const BASIC: &str = "fixtures/saml/sp-basic.json";

#[test]
fn saml_response_prints_a_response_that_xmlsec1_verifies() {
    let (code, out, _) = idpipe(&saml_response(
        JANE,
        BASIC,
        &[
            "--request",
            "fixtures/saml/authn-request.xml",
            "--relay-state",
            "x",
            "--cert",
            "certs/idp-test.crt",
            "--key",
            "certs/idp-test.key",
            "--now",
            "2026-11-23T10:00:05Z",
        ],
    ));
    assert_eq!(code, 0);
    xmlsec_verify(&out, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion").expect("verifies");
    assert_eq!(xpath(&out, "//saml:Assertion/@IssueInstant"), vec!["2026-11-23T10:00:05.000Z"]);
    assert_eq!(xpath(&out, "//saml:NameID"), vec!["jane.doe@example.com"]);
    assert_eq!(
        xpath(
            &out,
            "//saml:Attribute[@Name='http://schemas.example.com/claims/color']/saml:AttributeValue"
        ),
        vec!["blue"]
    );
}

#[test]
fn saml_response_enforces_signed_requests_from_the_settings() {
    let args = |req: &'static str| saml_response(JANE, "fixtures/saml/sp-signed.json", &["--request", req]);
    let (code, _, err) = idpipe(&args("fixtures/saml/authn-request.xml"));
    assert_eq!(code, 2);
    assert!(err.contains("MUST be signed"), "{err}");
    let (code, out, err) = idpipe(&args("fixtures/saml/authn-request-signed.xml"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(xpath(&out, "/samlp:Response/@InResponseTo"), vec!["_req-signed-7c1e"]);
}

#[test]
fn bad_input_is_a_one_line_error_and_exit_2() {
    let bad_settings = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(bad_settings.path(), "{\"lifetimeInSeconds\": 0}").expect("write");
    let bad = bad_settings.path().to_str().expect("path").to_string();
    for args in [
        saml_response("fixtures/users/missing.json", BASIC, &["--acs", "https://sp/acs"]),
        saml_response(JANE, "fixtures/saml/authn-request.xml", &["--acs", "https://sp/acs"]),
        saml_response(JANE, bad.as_str(), &["--acs", "https://sp/acs"]),
        saml_response(JANE, BASIC, &[]),
        saml_response(JANE, BASIC, &["--acs", "https://sp/acs", "--now", "yesterday"]),
        saml_response(
            JANE,
            BASIC,
            &[
                "--acs",
                "https://sp/acs",
                "--cert",
                "certs/idp-test.crt",
                "--key",
                "certs/sp-test.key",
            ],
        ),
    ] {
        let (code, out, err) = idpipe(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        let lines: Vec<&str> = err.lines().filter(|l| !l.contains("TEST-ONLY")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].starts_with("idpipe: "), "{err}");
    }
}

#[test]
fn saml_metadata_prints_the_effective_issuer_and_cert() {
    let (code, out, _) = idpipe(&["saml", "metadata", "--settings", "fixtures/saml/sp-signed.json", "--tenant", "demo"]);
    assert_eq!(code, 0);
    assert_eq!(xpath(&out, "/md:EntityDescriptor/@entityID"), vec!["urn:demo"]);
    assert_eq!(xpath(&out, "//ds:X509Certificate"), vec![signing_key().cert_b64().to_string()]);
    assert_eq!(xpath(&out, "//md:IDPSSODescriptor/@WantAuthnRequestsSigned"), vec!["true"]);
}

#[test]
fn run_prints_the_outcome_as_json() {
    let (code, out, err) = idpipe(&[
        "run",
        "--trigger",
        "post-login",
        "--event",
        "fixtures/events/post-login-typical.json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["status"], "completed");
    let (code, _, err) = idpipe(&["run", "--trigger", "nope", "--event", "fixtures/events/post-login-typical.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown trigger"));
}

#[test]
fn actions_drive_the_saml_cli() {
    // An action attribute lands in the signed assertion.
    let (code, out, err) = idpipe(&saml_response(
        JANE,
        BASIC,
        &[
            "--request",
            "fixtures/saml/authn-request.xml",
            "--action",
            "fixtures/cli-actions/saml-attributes.js",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    xmlsec_verify(&out, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion").expect("verifies");
    assert_eq!(
        xpath(
            &out,
            "//saml:Attribute[@Name='http://schemas.example.com/claims/plan']/saml:AttributeValue"
        ),
        vec!["gold"]
    );
    // An action's setSigningCert makes the unsigned request unacceptable...
    let cert = format!("SP_CERT={}", read("certs/sp-test.crt"));
    let (code, _, err) = idpipe(&saml_response(
        JANE,
        BASIC,
        &[
            "--request",
            "fixtures/saml/authn-request.xml",
            "--action",
            "fixtures/cli-actions/require-signed-requests.js",
            "--secret",
            &cert,
        ],
    ));
    assert_eq!(code, 2);
    assert!(err.contains("MUST be signed"), "{err}");
    // ...and the signed one acceptable.
    let (code, _, err) = idpipe(&saml_response(
        JANE,
        BASIC,
        &[
            "--request",
            "fixtures/saml/authn-request-signed.xml",
            "--action",
            "fixtures/cli-actions/require-signed-requests.js",
            "--secret",
            &cert,
        ],
    ));
    assert_eq!(code, 0, "{err}");
    // A denied login is a signed SAML error Response, exit code 1.
    let (code, out, _) = idpipe(&saml_response(
        JANE,
        BASIC,
        &[
            "--request",
            "fixtures/saml/authn-request.xml",
            "--action",
            "fixtures/cli-actions/deny-contractors.js",
        ],
    ));
    assert_eq!(code, 1);
    xmlsec_verify(&out, "urn:oasis:names:tc:SAML:2.0:protocol:Response").expect("error response verifies");
    assert_eq!(
        xpath(&out, "/samlp:Response/samlp:Status/samlp:StatusCode/@Value"),
        vec!["urn:oasis:names:tc:SAML:2.0:status:Responder"]
    );
    assert_eq!(
        xpath(&out, "//samlp:StatusCode/samlp:StatusCode/@Value"),
        vec!["urn:oasis:names:tc:SAML:2.0:status:RequestDenied"]
    );
    assert_eq!(
        xpath(&out, "//samlp:StatusMessage"),
        vec!["Admins must use the break-glass account for this SP."]
    );
    assert_eq!(xpath(&out, "/samlp:Response/@InResponseTo"), vec!["_req-4f8a2c91d3"]);
}

#[test]
fn actions_drive_run_and_oidc_cli() {
    let (code, out, _) = idpipe(&[
        "run",
        "--event",
        "fixtures/events/post-login-typical.json",
        "--action",
        "fixtures/cli-actions/deny-contractors.js",
    ]);
    assert_eq!(code, 1, "a failing login exits non-zero");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["status"], "failed");
    assert_eq!(v["outcome"]["trace"][0]["commands"][0]["method"], "access.deny");
    let (code, out, err) = idpipe(&[
        "oidc",
        "tokens",
        "--user",
        "fixtures/users/jane.json",
        "--client",
        "fixtures/clients/demo-app.json",
        "--action",
        "fixtures/cli-actions/saml-attributes.js",
    ]);
    assert_eq!(code, 0, "{err}");
    let tokens: serde_json::Value = serde_json::from_str(&out).expect("json");
    let payload = tokens["id_token"]
        .as_str()
        .unwrap_or_default()
        .split('.')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("b64"))
            .expect("json");
    assert_eq!(claims["https://my-app.example.com/plan"], "gold");
    let (code, _, err) = idpipe(&[
        "run",
        "--event",
        "fixtures/events/post-login-typical.json",
        "--action",
        "fixtures/cli-actions/missing.js",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.js"), "{err}");
}
