//! Verifying a signed request frees everything it parsed: the fuzzer's LeakSanitizer found the
//! removed Signature subtree leaking (libxml2 frees an unlinked subtree for nobody). Here the
//! process's resident memory must stay flat over thousands of verifications.

mod common;

use base64::Engine;
use chrono::{DateTime, Utc};
use idpipe::saml::request::{IntakeRules, parse_post};
use openssl::x509::X509;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("rss");
    pages * 4
}

#[test]
fn verifying_signed_requests_does_not_leak() {
    let cert = X509::from_pem(common::read("certs/sp-test.crt").as_bytes()).expect("cert");
    let b64 = base64::engine::general_purpose::STANDARD.encode(common::read("fixtures/saml/authn-request-signed.xml"));
    let rules = IntakeRules::at(DateTime::parse_from_rfc3339("2026-11-23T10:01:00Z").expect("t").with_timezone(&Utc));
    let run = |n: usize| {
        for _ in 0..n {
            assert!(parse_post(&b64, None, Some(&cert), rules).is_ok());
        }
    };
    run(500);
    let before = rss_kib();
    run(5000);
    let grown = rss_kib().saturating_sub(before);
    // The leak was ~5 KiB per request (25 MiB here).
    assert!(grown < 8 * 1024, "resident memory grew by {grown} KiB over 5000 verifications");
}
