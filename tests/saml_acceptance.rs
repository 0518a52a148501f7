//! SAML responses proven by independent verifiers: xmlsec1 (signatures, decryption),
//! libxml2's exclusive C14N (byte-for-byte), and python3-saml as a strict SP.

mod common;

use base64::Engine;
use chrono::Utc;
use common::*;
use idpipe::pipeline::Outcome;
use idpipe::pipeline::outcome::{DigestAlgorithm, SamlOverrides, SignatureAlgorithm};
use idpipe::saml::response::BuiltResponse;
use idpipe::saml::{self, AddonSettings, AuthnRequest};
use serde_json::{Value, json};

const ACS: &str = "https://sp.example.com/acs";
const SP_ENTITY: &str = "https://sp.example.com/metadata";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
const RESPONSE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";

fn request() -> AuthnRequest {
    saml::request::parse_xml(&read("fixtures/saml/authn-request.xml")).expect("fixture request")
}

fn issue_with(addon: Value, ov: SamlOverrides, req: Option<&AuthnRequest>) -> Result<BuiltResponse, saml::SamlError> {
    let addon: AddonSettings = serde_json::from_value(addon).expect("addon");
    let tenant = tenant();
    let outcome = Outcome {
        saml: ov,
        ..Default::default()
    };
    let profile = user();
    saml::issue(&saml::IssueInput {
        tenant: &tenant,
        addon: &addon,
        outcome: &outcome,
        profile: &profile,
        request: req,
        acs_url: ACS,
        client_id: "sp-basic",
        relay_state: Some("rs-123"),
        session_index: "_sess_abc",
        authn_instant: None,
        now: Utc::now(),
        name_id: None,
        authn_context_class_ref: None,
        ids: None,
    })
    .map(|i| i.response)
}

fn issue(addon: Value, ov: SamlOverrides) -> BuiltResponse {
    issue_with(addon, ov, Some(&request())).expect("response builds")
}

fn sp_encrypted_addon() -> Value {
    serde_json::from_str(&read("fixtures/saml/sp-encrypted.json")).expect("fixture")
}

fn digest_of(xml: &str, id: &str) -> String {
    xpath(
        xml,
        &format!("//*[@ID='{id}']/ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue"),
    )
    .pop()
    .unwrap_or_default()
}

/// Our digested bytes equal libxml2's exclusive C14N of the emitted element, and the
/// SignatureValue verifies over libxml2's C14N of SignedInfo.
fn assert_c14n_matches_libxml(xml: &str, id: &str, ours: &str) {
    let theirs = libxml_exc_c14n(xml, id);
    assert_eq!(ours, theirs, "canonical bytes differ from libxml2's exclusive C14N");
    let si = libxml_signed_info_c14n(xml, id);
    let sig = xpath(xml, &format!("//*[@ID='{id}']/ds:Signature/ds:SignatureValue"))
        .pop()
        .expect("signature value");
    let sig = base64::engine::general_purpose::STANDARD.decode(sig).expect("b64");
    let alg = xpath(
        xml,
        &format!("//*[@ID='{id}']/ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm"),
    )
    .pop()
    .unwrap_or_default();
    let md = if alg.ends_with("rsa-sha1") {
        openssl::hash::MessageDigest::sha1()
    } else {
        openssl::hash::MessageDigest::sha256()
    };
    let key = signing_key().cert().public_key().expect("pub");
    let mut v = openssl::sign::Verifier::new(md, &key).expect("verifier");
    v.update(si.as_bytes()).expect("update");
    assert!(
        v.verify(&sig).expect("verify"),
        "SignatureValue does not verify over libxml2's SignedInfo C14N"
    );
    assert!(!digest_of(xml, id).is_empty());
}

#[test]
fn every_signature_variant_verifies_with_xmlsec1_and_matches_libxml2_c14n() {
    for sign_response in [false, true] {
        for (sig, dig) in [
            (SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256),
            (SignatureAlgorithm::RsaSha1, DigestAlgorithm::Sha1),
            (SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha1),
        ] {
            let ov = SamlOverrides {
                sign_response: Some(sign_response),
                signature_algorithm: Some(sig),
                digest_algorithm: Some(dig),
                ..Default::default()
            };
            let r = issue(json!({}), ov);
            let (node, id) = if sign_response {
                (RESPONSE, &r.response_id)
            } else {
                (ASSERTION, &r.assertion_id)
            };
            xmlsec_verify(&r.xml, node).unwrap_or_else(|e| panic!("xmlsec1 rejected {node} {sig:?}/{dig:?}: {e}"));
            assert_c14n_matches_libxml(&r.xml, id, &r.signed_c14n);
            // Exactly one signature, on the right element (signResponse: instead of the assertion).
            assert_eq!(xpath(&r.xml, "//ds:Signature").len(), 1);
            let on_response = xpath(&r.xml, "/samlp:Response/ds:Signature").len() == 1;
            assert_eq!(on_response, sign_response);
            // The signature follows the Issuer.
            let prev = xpath(&r.xml, "//ds:Signature/preceding-sibling::*[1]/self::saml:Issuer");
            assert_eq!(prev.len(), 1, "Signature must follow saml:Issuer");
        }
    }
}

#[test]
fn encrypted_assertions_decrypt_with_xmlsec1_and_the_inner_signature_verifies() {
    for alg in [
        None,
        Some("http://www.w3.org/2001/04/xmlenc#aes256-cbc"),
        Some("http://www.w3.org/2001/04/xmlenc#aes128-cbc"),
    ] {
        for sign_response in [false, true] {
            let mut addon = sp_encrypted_addon();
            if let Some(a) = alg {
                addon["encryptionAlgorithm"] = json!(a);
            }
            let r = issue(
                addon,
                SamlOverrides {
                    sign_response: Some(sign_response),
                    ..Default::default()
                },
            );
            assert!(xpath(&r.xml, "//saml:Assertion").is_empty(), "plaintext assertion leaked");
            let method = xpath(&r.xml, "//xenc:EncryptedData/xenc:EncryptionMethod/@Algorithm")
                .pop()
                .unwrap_or_default();
            assert_eq!(method, alg.unwrap_or("http://www.w3.org/2009/xmlenc11#aes256-gcm"));
            assert_eq!(
                xpath(&r.xml, "//xenc:EncryptedKey/xenc:EncryptionMethod/@Algorithm"),
                vec!["http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"]
            );
            if sign_response {
                xmlsec_verify(&r.xml, RESPONSE).expect("response signature over the EncryptedAssertion");
                assert_c14n_matches_libxml(&r.xml, &r.response_id, &r.signed_c14n);
            }
            let plain = xmlsec_decrypt(&r.xml).unwrap_or_else(|e| panic!("xmlsec1 could not decrypt {alg:?}: {e}"));
            assert_eq!(
                xpath(&plain, "//saml:Assertion/saml:Subject/saml:NameID"),
                vec!["auth0|5f7c8ec7c33c6c004bbafe82"]
            );
            if !sign_response {
                // Signed first, then encrypted: the decrypted assertion carries a valid signature.
                xmlsec_verify(&plain, ASSERTION).expect("inner assertion signature");
                assert_c14n_matches_libxml(&plain, &r.assertion_id, &r.signed_c14n);
            }
        }
    }
}

#[test]
fn insecure_or_half_configured_encryption_is_refused() {
    let mut addon = sp_encrypted_addon();
    addon["encryptionAlgorithm"] = json!("http://www.w3.org/2001/04/xmlenc#tripledes-cbc");
    let e = issue_with(addon, SamlOverrides::default(), None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        e,
        "encryption algorithm http://www.w3.org/2001/04/xmlenc#tripledes-cbc is not secure"
    );
    let mut addon = sp_encrypted_addon();
    addon.as_object_mut().map(|o| o.remove("encryptionPublicKey"));
    let e = issue_with(addon, SamlOverrides::default(), None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("encryptionPublicKey is missing"), "{e}");
    // cert without key
    let ov = SamlOverrides {
        cert: Some(read("certs/sp-test.crt")),
        ..Default::default()
    };
    let e = issue_with(json!({}), ov, None).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("without its private key"), "{e}");
    // a key that does not match the certificate
    let ov = SamlOverrides {
        cert: Some(read("certs/idp-test.crt")),
        key: Some(read("certs/sp-test.key")),
        ..Default::default()
    };
    let e = issue_with(json!({}), ov, None).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("does not match"), "{e}");
}

#[test]
fn a_custom_signing_pair_from_the_action_signs() {
    let ov = SamlOverrides {
        cert: Some(read("certs/sp-test.crt")),
        key: Some(read("certs/sp-test.key")),
        ..Default::default()
    };
    let r = issue(json!({}), ov);
    xmlsec_verify_with(&r.xml, ASSERTION, "certs/sp-test.crt").expect("signed with the action's key");
    assert!(xmlsec_verify(&r.xml, ASSERTION).is_err(), "must not verify with the tenant key");
}

#[test]
fn tampering_after_signing_fails_xmlsec1() {
    for sign_response in [false, true] {
        let r = issue(
            json!({}),
            SamlOverrides {
                sign_response: Some(sign_response),
                ..Default::default()
            },
        );
        let node = if sign_response { RESPONSE } else { ASSERTION };
        xmlsec_verify(&r.xml, node).expect("the untampered response verifies");
        for (from, to) in [(">Jane Doe<", ">Mallory<"), ("jane.doe@example.com<", "mallory@example.com<")] {
            assert!(r.xml.contains(from));
            let bad = r.xml.replacen(from, to, 1);
            assert!(xmlsec_verify(&bad, node).is_err(), "tampered {node} still verifies");
        }
    }
}

fn python_job(r: &BuiltResponse, extra: Value) -> Value {
    let mut job = json!({
        "response_b64": base64::engine::general_purpose::STANDARD.encode(&r.xml),
        "acs_url": ACS,
        "sp_entity_id": SP_ENTITY,
        "idp_entity_id": "urn:demo",
        "idp_cert": read("certs/idp-test.crt"),
        "request_id": "_req-4f8a2c91d3",
    });
    if let (Some(j), Some(e)) = (job.as_object_mut(), extra.as_object()) {
        j.extend(e.clone());
    }
    job
}

#[test]
fn python3_saml_accepts_assertion_signed_response_signed_and_encrypted() {
    let attrs = vec![
        ("https://example.com/roles".to_string(), Some(json!(["admin", "editor"]))),
        ("department".to_string(), Some(json!("R&D"))),
    ];
    let cases = vec![
        (
            "assertion-signed",
            json!({}),
            SamlOverrides::default(),
            json!({"want_assertions_signed": true}),
        ),
        (
            "response-signed",
            json!({}),
            SamlOverrides {
                sign_response: Some(true),
                ..Default::default()
            },
            json!({"want_messages_signed": true}),
        ),
        (
            "encrypted",
            sp_encrypted_addon(),
            SamlOverrides::default(),
            json!({"want_assertions_signed": true, "want_assertions_encrypted": true, "sp_key": read("certs/sp-test.key"), "sp_cert": read("certs/sp-test.crt")}),
        ),
    ];
    for (name, addon, mut ov, extra) in cases {
        ov.attributes = attrs.clone();
        ov.name_identifier_format = Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
        let r = issue(addon, ov);
        let verdict = python_sp(&python_job(&r, extra));
        assert_eq!(verdict["valid"], true, "{name}: {verdict}");
        assert_eq!(verdict["nameid"], "auth0|5f7c8ec7c33c6c004bbafe82", "{name}");
        assert_eq!(
            verdict["attributes"]["https://example.com/roles"],
            json!(["admin", "editor"]),
            "{name}"
        );
        assert_eq!(verdict["attributes"]["department"], json!(["R&D"]), "{name}");
        assert_eq!(
            verdict["attributes"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
            json!(["jane.doe@example.com"])
        );
        assert_eq!(verdict["session_index"], "_sess_abc");
        assert_eq!(verdict["audiences"], json!([SP_ENTITY]));
    }
}

#[test]
fn python3_saml_rejects_wrong_audience_and_wrong_in_response_to() {
    let r = issue(json!({"audience": "urn:someone-else"}), SamlOverrides::default());
    let v = python_sp(&python_job(&r, json!({"want_assertions_signed": true})));
    assert_eq!(v["valid"], false, "{v}");
    let r = issue(json!({}), SamlOverrides::default());
    let v = python_sp(&python_job(&r, json!({"request_id": "_other"})));
    assert_eq!(v["valid"], false, "{v}");
    // A response signed by another key is refused.
    let r = issue(
        json!({}),
        SamlOverrides {
            cert: Some(read("certs/sp-test.crt")),
            key: Some(read("certs/sp-test.key")),
            ..Default::default()
        },
    );
    let v = python_sp(&python_job(&r, json!({"want_assertions_signed": true})));
    assert_eq!(v["valid"], false, "{v}");
}

#[test]
fn error_response_is_signed_schema_shaped_and_verifies() {
    let key = signing_key();
    let err = saml::StatusError::new(
        saml::TopStatus::Responder,
        Some(saml::SubStatus::RequestDenied),
        "Blocked <by> policy & co",
    );
    let xml = saml::build_error_response(
        "urn:demo",
        ACS,
        Some("_req-1"),
        &key,
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
        &err,
        Utc::now(),
    )
    .expect("error response");
    xmlsec_verify(&xml, RESPONSE).expect("error response signature");
    assert_eq!(
        xpath(&xml, "/samlp:Response/samlp:Status/samlp:StatusCode/@Value"),
        vec![saml::ns::STATUS_RESPONDER]
    );
    assert_eq!(
        xpath(&xml, "/samlp:Response/samlp:Status/samlp:StatusCode/samlp:StatusCode/@Value"),
        vec![saml::ns::STATUS_REQUEST_DENIED]
    );
    assert_eq!(
        xpath(&xml, "/samlp:Response/samlp:Status/samlp:StatusMessage"),
        vec!["Blocked <by> policy & co"]
    );
    assert!(xpath(&xml, "//saml:Assertion").is_empty());
    assert_eq!(xpath(&xml, "/samlp:Response/@InResponseTo"), vec!["_req-1"]);
}

#[test]
fn no_name_identifier_fails_with_the_exact_message() {
    let ov = SamlOverrides {
        name_identifier_probes: Some(vec!["id".into(), "email".into()]),
        ..Default::default()
    };
    let e = issue_with(json!({}), ov, None).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(e, "No attribute was found to generate the nameIdentifier. We tried with: id, email");
}

#[test]
fn metadata_lists_endpoints_certs_and_formats() {
    let key = signing_key();
    let next = idpipe::saml::SigningKey::from_files(&root().join("certs/idp-next-test.crt"), &root().join("certs/idp-next-test.key"))
        .expect("next");
    let xml = saml::metadata::metadata_xml(&saml::metadata::MetadataInput {
        entity_id: "urn:demo",
        signing_cert_b64: key.cert_b64(),
        next_cert_b64: Some(next.cert_b64()),
        sso_url: "http://127.0.0.1:3000/samlp/sp-basic",
        slo_url: "http://127.0.0.1:3000/samlp/sp-basic/logout",
        want_authn_requests_signed: true,
    });
    assert_eq!(xpath(&xml, "/md:EntityDescriptor/@entityID"), vec!["urn:demo"]);
    assert_eq!(
        xpath(&xml, "//md:KeyDescriptor[@use='signing']//ds:X509Certificate"),
        vec![key.cert_b64().to_string(), next.cert_b64().to_string()]
    );
    assert_eq!(xpath(&xml, "//md:SingleSignOnService/@Location").len(), 2);
    assert_eq!(
        xpath(&xml, "//md:SingleLogoutService/@Location")[0],
        "http://127.0.0.1:3000/samlp/sp-basic/logout"
    );
    assert!(xpath(&xml, "//md:NameIDFormat").contains(&"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".to_string()));
    assert_eq!(xpath(&xml, "//md:IDPSSODescriptor/@WantAuthnRequestsSigned"), vec!["true"]);
}
