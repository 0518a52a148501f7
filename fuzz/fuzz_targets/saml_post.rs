//! AuthnRequest and LogoutRequest, HTTP-POST binding: the input is the XML an attacker sends
//! (base64-encoded here as the binding does), read with and without an SP certificate.
#![no_main]

mod common;

use base64::Engine;
use common::{cert, rules};
use idpipe::saml::request::{parse_logout_post, parse_post, parse_xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = parse_post(&b64, Some("rs".into()), Some(cert()), rules());
    let _ = parse_post(&b64, None, None, rules());
    let _ = parse_logout_post(&b64, None, Some(cert()), rules());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_xml(text);
    }
});
