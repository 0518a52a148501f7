//! AuthnRequest and LogoutRequest, HTTP-POST binding: the input is the XML an attacker sends
//! (base64-encoded here as the binding does), read with and without an SP certificate.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use chrono::{DateTime, Utc};
use idpipe::saml::request::{IntakeRules, parse_logout_post, parse_post, parse_xml};
use libfuzzer_sys::fuzz_target;
use openssl::x509::X509;

fn cert() -> &'static X509 {
    static C: OnceLock<X509> = OnceLock::new();
    C.get_or_init(|| X509::from_pem(include_bytes!("../../certs/sp-test.crt")).expect("test cert"))
}

/// The fixtures' time, so that seed requests pass the freshness check and reach deeper code.
fn rules() -> IntakeRules {
    let now: DateTime<Utc> = "2026-11-23T10:01:00Z".parse().expect("time");
    IntakeRules::at(now)
}

fuzz_target!(|data: &[u8]| {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = parse_post(&b64, Some("rs".into()), Some(cert()), rules());
    let _ = parse_post(&b64, None, None, rules());
    let _ = parse_logout_post(&b64, None, Some(cert()), rules());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_xml(text);
    }
});
