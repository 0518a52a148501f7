//! AuthnRequest and LogoutRequest, HTTP-Redirect binding: the input is the raw query string
//! (SAMLRequest, RelayState, SigAlg, Signature as received); a second pass deflates the input
//! as the XML of a query, so the XML reader behind the binding is reached too.
#![no_main]

mod common;

use std::io::Write;

use base64::Engine;
use common::{cert, rules};
use idpipe::saml::request::{parse_logout_redirect, parse_redirect};
use libfuzzer_sys::fuzz_target;

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
