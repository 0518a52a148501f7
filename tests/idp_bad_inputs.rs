//! Bad input on this session's endpoints (MFA step, logout chain, revocation, introspection,
//! authorize, metadata, SP import): each gets a clear error status, never a panic, and changes
//! nothing.

mod common;

use common::idp::*;
use common::root;

fn post_form(url: &str, body: &str, basic: Option<(&str, &str)>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.post(url).header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let token = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{secret}"));
        req = req.header("authorization", &format!("Basic {token}"));
    }
    let mut r = req.send(body.to_string()).expect("POST");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn the_mfa_step_refuses_missing_foreign_forged_and_oversized_input() {
    let idp = Idp::start("[mfa]\nfactors = [\"otp\"]\n");
    let mut b = Browser::new();
    let base = &idp.base;
    for url in [
        format!("{base}/u/mfa"),
        format!("{base}/u/mfa?state="),
        format!("{base}/u/mfa?state={}", "a".repeat(200)),
        format!("{base}/u/mfa?state=made-up"),
    ] {
        let p = b.get(&url);
        assert_eq!(p.status, 400, "{url}: {}", p.body);
        assert!(p.body.contains("invalid_state"), "{url}");
    }
    // A POST without a CSRF token, with junk, with an unknown action: refused before anything.
    for form in [
        vec![("state", "made-up")],
        vec![("state", "made-up"), ("_csrf", "x"), ("action", "verify"), ("code", "123456")],
        vec![("state", "made-up"), ("_csrf", &"z".repeat(5000)), ("action", "explode")],
    ] {
        let p = b.post(&format!("{base}/u/mfa"), &form);
        assert_eq!(p.status, 403, "{form:?}: {}", p.body);
    }
    assert!(!idp.log().contains("panicked"), "{}", idp.log());
}

#[test]
fn revocation_and_introspection_refuse_bad_clients_and_bad_requests() {
    let idp = Idp::start("");
    let base = &idp.base;
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, u16);
    let cases: Vec<Case<'_>> = vec![
        ("oauth/revoke", "token=x", Some(("web", "wrong")), 401),
        ("oauth/revoke", "token=x", Some(("nobody", "x")), 401),
        ("oauth/revoke", "", Some(("web", WEB_SECRET)), 400),
        ("oauth/introspect", "token=x", None, 401),
        ("oauth/introspect", "", Some(("web", WEB_SECRET)), 400),
        ("oauth/introspect", "token=x&client_id=spa", None, 400),
        ("oauth/revoke", "token=x", Some(("web", WEB_SECRET)), 200),
    ];
    for (path, body, auth, status) in cases {
        let (got, text) = post_form(&format!("{base}/{path}"), body, auth);
        assert_eq!(got, status, "{path} {body} {auth:?}: {text}");
        assert!(text.starts_with('{'), "a JSON answer: {text}");
    }
    // A token far too long is refused as a bad request, not read.
    let (got, _) = post_form(
        &format!("{base}/oauth/introspect"),
        &format!("token={}", "a".repeat(9000)),
        Some(("web", WEB_SECRET)),
    );
    assert_eq!(got, 400);
    assert!(!idp.log().contains("panicked"));
}

#[test]
fn logout_chain_and_saml_logout_responses_refuse_junk() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let base = &idp.base;
    for url in [
        format!("{base}/logout/continue"),
        format!("{base}/logout/continue?state=made-up"),
        format!("{base}/samlp/sp-py/logout?SAMLResponse=%%%"),
        format!("{base}/samlp/sp-py/logout?SAMLResponse=PHg%2BPC94Pg%3D%3D"),
    ] {
        let p = b.get(&url);
        assert_eq!(p.status, 400, "{url}: {}", p.body);
    }
    // A LogoutResponse to an SP that signs its messages must be signed.
    let unsigned = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!(
            r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="{}" InResponseTo="_x"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        ),
    );
    let p = b.post(
        &format!("{base}/samlp/sp-py-signed/logout"),
        &[("SAMLResponse", unsigned.as_str()), ("RelayState", "made-up")],
    );
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(!idp.log().contains("panicked"));
}

#[test]
fn authorize_refuses_malformed_claims_display_and_request_objects_on_the_redirect_uri() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let common = format!(
        "{}/authorize?client_id=web&response_type=code&redirect_uri={}&state=s",
        idp.base,
        url::form_urlencoded::byte_serialize(APP_CALLBACK.as_bytes()).collect::<String>()
    );
    for (extra, code) in [
        ("&claims=%7B", "invalid_request"),
        ("&claims=%5B1%5D", "invalid_request"),
        ("&claims=%7B%22id_token%22%3A5%7D", "invalid_request"),
        ("&display=hologram", "invalid_request"),
        ("&request=e30", "request_not_supported"),
        ("&request_uri=https%3A%2F%2Fevil.example%2Fr", "request_uri_not_supported"),
    ] {
        let p = b.get(&format!("{common}{extra}"));
        let q = query(p.location.as_deref().unwrap_or_default());
        assert_eq!(q.get("error").map(String::as_str), Some(code), "{extra}: {q:?}");
        assert_eq!(q.get("iss"), Some(&format!("{}/", idp.base)), "RFC 9207 on errors too");
    }
}

#[test]
fn sp_import_refuses_metadata_it_cannot_use() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("not xml", "not-xml.xml"),
        (
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"&e;\"/>",
            "xxe.xml",
        ),
        (
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>",
            "no-sp.xml",
        ),
        (
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"><md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\" Location=\"https://sp/a\" index=\"0\"/></md:SPSSODescriptor></md:EntityDescriptor>",
            "no-post.xml",
        ),
    ];
    for (xml, name) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, xml).expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idpipe"))
            .args(["sp", "import", "--client-id", "x", "--metadata"])
            .arg(&f)
            .arg("--settings-out")
            .arg(dir.path().join("out.json"))
            .current_dir(root())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{name}: {}", String::from_utf8_lossy(&out.stdout));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}: the error names the file: {err}");
        assert!(!dir.path().join("out.json").exists(), "{name}: nothing written");
    }
}
