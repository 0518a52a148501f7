//! What the SAML targets share: the TEST-ONLY SP certificate and the fixtures' time.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use idpipe::saml::request::IntakeRules;
use openssl::x509::X509;

/// The SP certificate requests are verified with.
pub fn cert() -> &'static X509 {
    static C: OnceLock<X509> = OnceLock::new();
    C.get_or_init(|| X509::from_pem(include_bytes!("../../../certs/sp-test.crt")).expect("test cert"))
}

/// The fixtures' time, so that seed requests pass the freshness check and reach deeper code.
pub fn rules() -> IntakeRules {
    let now: DateTime<Utc> = "2026-11-23T10:01:00Z".parse().expect("time");
    IntakeRules::at(now)
}
