//! The token endpoint's request reader: the first byte picks the Content-Type, the text up to
//! the first newline is the Authorization header, the rest is the body (form or JSON).
#![no_main]

use idpipe::oidc::token_request::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let content_type = match kind % 4 {
        0 => None,
        1 => Some("application/x-www-form-urlencoded"),
        2 => Some("application/json"),
        _ => Some("application/json; charset=utf-8"),
    };
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(0);
    let (auth, body) = rest.split_at(split);
    let auth = std::str::from_utf8(auth).ok().filter(|a| !a.is_empty());
    if let Ok(r) = parse(content_type, auth, body) {
        let _ = r.client_credentials();
    }
});
