//! AuthnRequest and LogoutRequest, HTTP-Redirect binding: the input is the raw query string
//! (SAMLRequest, RelayState, SigAlg, Signature as received); a second pass deflates the input
//! as the XML of a query, so the XML reader behind the binding is reached too.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use base64::Engine;
use chrono::{DateTime, Utc};
use idpipe::saml::request::{IntakeRules, parse_logout_redirect, parse_redirect};
use libfuzzer_sys::fuzz_target;
use openssl::x509::X509;

fn cert() -> &'static X509 {
    static C: OnceLock<X509> = OnceLock::new();
    C.get_or_init(|| X509::from_pem(include_bytes!("../../certs/sp-test.crt")).expect("test cert"))
}

fn rules() -> IntakeRules {
    let now: DateTime<Utc> = "2026-11-23T10:01:00Z".parse().expect("time");
    IntakeRules::at(now)
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let _ = parse_redirect(&query, Some(cert()), rules());
    let _ = parse_redirect(&query, None, rules());
    let _ = parse_logout_redirect(&query, Some(cert()), rules());
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    if e.write_all(data).is_ok()
        && let Ok(deflated) = e.finish()
    {
        let b64 = base64::engine::general_purpose::STANDARD.encode(deflated);
        let q: String = url::form_urlencoded::byte_serialize(b64.as_bytes()).collect();
        let _ = parse_redirect(&format!("SAMLRequest={q}&RelayState=r"), None, rules());
        let _ = parse_logout_redirect(&format!("SAMLRequest={q}"), Some(cert()), rules());
    }
});
