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

#[test]
fn saml_response_prints_a_response_that_xmlsec1_verifies() {
    let (code, out, _) = idpipe(&[
        "saml",
        "response",
        "--user",
        "fixtures/users/jane.json",
        "--settings",
        "fixtures/saml/sp-basic.json",
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
    ]);
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
    let args = |req: &'static str| {
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/jane.json",
            "--settings",
            "fixtures/saml/sp-signed.json",
            "--request",
            req,
        ]
    };
    let (code, _, err) = idpipe(&args("fixtures/saml/authn-request.xml"));
    assert_eq!(code, 2);
    assert!(err.contains("Signature check errors"), "{err}");
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
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/missing.json",
            "--settings",
            "fixtures/saml/sp-basic.json",
            "--acs",
            "https://sp/acs",
        ],
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/jane.json",
            "--settings",
            "fixtures/saml/authn-request.xml",
            "--acs",
            "https://sp/acs",
        ],
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/jane.json",
            "--settings",
            bad.as_str(),
            "--acs",
            "https://sp/acs",
        ],
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/jane.json",
            "--settings",
            "fixtures/saml/sp-basic.json",
        ],
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/jane.json",
            "--settings",
            "fixtures/saml/sp-basic.json",
            "--acs",
            "https://sp/acs",
            "--now",
            "yesterday",
        ],
        vec![
            "saml",
            "response",
            "--user",
            "fixtures/users/jane.json",
            "--settings",
            "fixtures/saml/sp-basic.json",
            "--acs",
            "https://sp/acs",
            "--cert",
            "certs/idp-test.crt",
            "--key",
            "certs/sp-test.key",
        ],
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
