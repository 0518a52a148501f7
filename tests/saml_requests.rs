//! AuthnRequest intake: both bindings, signed and unsigned, and every hardening rule.

mod common;

use std::io::Write;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use common::*;
use idpipe::saml::request::{IntakeRules, RequestError, parse_post, parse_redirect};
use idpipe::store::{ReplayStore, SqliteStore};
use openssl::x509::X509;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn at() -> IntakeRules {
    IntakeRules::at(DateTime::parse_from_rfc3339("2026-11-23T10:01:00Z").expect("t").with_timezone(&Utc))
}

fn sp_cert() -> X509 {
    X509::from_pem(read("certs/sp-test.crt").as_bytes()).expect("cert")
}

fn deflate(xml: &str) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    e.finish().expect("deflate")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Signs a redirect query the way an SP does (RSA-SHA256 over the encoded octets).
fn signed_query(xml: &str, relay: Option<&str>, sig_alg: &str) -> String {
    let mut q = format!("SAMLRequest={}", enc(&B64.encode(deflate(xml))));
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", enc(r)));
    }
    q.push_str(&format!("&SigAlg={}", enc(sig_alg)));
    let key = openssl::pkey::PKey::private_key_from_pem(read("certs/sp-test.key").as_bytes()).expect("key");
    let md = if sig_alg.ends_with("sha1") {
        openssl::hash::MessageDigest::sha1()
    } else {
        openssl::hash::MessageDigest::sha256()
    };
    let mut s = openssl::sign::Signer::new(md, &key).expect("signer");
    s.update(q.as_bytes()).expect("update");
    let sig = s.sign_to_vec().expect("sign");
    format!("{q}&Signature={}", enc(&B64.encode(sig)))
}

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

#[test]
fn unsigned_redirect_and_post_are_parsed() {
    let xml = read("fixtures/saml/authn-request.xml");
    let q = format!("SAMLRequest={}&RelayState={}", enc(&B64.encode(deflate(&xml))), enc("go here"));
    let i = parse_redirect(&q, None, at()).expect("redirect");
    assert_eq!(i.relay_state.as_deref(), Some("go here"));
    let r = i.request;
    assert_eq!(r.id, "_req-4f8a2c91d3");
    assert_eq!(r.issuer.as_deref(), Some("https://sp.example.com/metadata"));
    assert_eq!(r.assertion_consumer_service_url.as_deref(), Some("https://sp.example.com/acs"));
    assert_eq!(
        r.protocol_binding.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    assert_eq!(
        r.name_id_policy_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert!(!r.force_authn && !r.is_passive && !r.signature_verified);
    let p = parse_post(&B64.encode(&xml), Some("rs".into()), None, at()).expect("post");
    assert_eq!(p.request.id, r.id);
}

#[test]
fn signed_post_request_from_xmlsec1_verifies_and_yields_every_field() {
    let xml = read("fixtures/saml/authn-request-signed.xml");
    let i = parse_post(&B64.encode(&xml), None, Some(&sp_cert()), at()).expect("signed POST verifies");
    let r = i.request;
    assert!(r.signature_verified && r.force_authn && !r.is_passive);
    assert_eq!(r.subject.as_deref(), Some("test@samlreq.com"));
    assert_eq!(
        r.requested_authn_context_class_ref.as_deref(),
        Some("http://schemas.openid.net/pape/policies/2007/06/multi-factor")
    );
    assert_eq!(r.destination.as_deref(), Some("http://127.0.0.1:3000/samlp/sp-signed"));
    // The same request through the redirect binding without a query signature: the embedded one counts.
    let q = format!("SAMLRequest={}", enc(&B64.encode(deflate(&xml))));
    assert!(
        parse_redirect(&q, Some(&sp_cert()), at())
            .expect("embedded")
            .request
            .signature_verified
    );
    // Signed by someone else: refused.
    let other = X509::from_pem(read("certs/idp-test.crt").as_bytes()).expect("cert");
    assert!(matches!(
        parse_post(&B64.encode(&xml), None, Some(&other), at()),
        Err(RequestError::BadSignature(_))
    ));
}

#[test]
fn signed_redirect_verifies_over_the_raw_octets() {
    let xml = read("fixtures/saml/authn-request.xml");
    let q = signed_query(&xml, Some("state with spaces & symbols!"), RSA_SHA256);
    let i = parse_redirect(&q, Some(&sp_cert()), at()).expect("verifies");
    assert!(i.request.signature_verified);
    assert_eq!(i.relay_state.as_deref(), Some("state with spaces & symbols!"));
    // rsa-sha1 is still accepted from SPs.
    assert!(
        parse_redirect(
            &signed_query(&xml, None, "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
            Some(&sp_cert()),
            at()
        )
        .is_ok()
    );
    // Altered RelayState.
    let bad = q.replace("RelayState=state", "RelayState=xtate");
    assert!(matches!(
        parse_redirect(&bad, Some(&sp_cert()), at()),
        Err(RequestError::BadSignature(_))
    ));
    // No SigAlg.
    let no_alg: String = q.split('&').filter(|p| !p.starts_with("SigAlg=")).collect::<Vec<_>>().join("&");
    assert_eq!(parse_redirect(&no_alg, Some(&sp_cert()), at()), Err(RequestError::SigAlgMissing));
    // Unknown SigAlg.
    let weird = signed_query(&xml, None, "http://www.w3.org/2001/04/xmldsig-more#rsa-md5");
    assert!(
        matches!(parse_redirect(&weird, Some(&sp_cert()), at()), Err(RequestError::BadSignature(m)) if m.contains("unsupported signature algorithm"))
    );
}

#[test]
fn unsigned_requests_are_refused_when_the_sp_has_a_signing_cert() {
    let xml = read("fixtures/saml/authn-request.xml");
    let q = format!("SAMLRequest={}", enc(&B64.encode(deflate(&xml))));
    let e = parse_redirect(&q, Some(&sp_cert()), at()).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "SAMLRequest message MUST be signed when using an asynchronous binding (POST or Redirect)"
    );
    let s = e.status();
    assert_eq!(s.top, idpipe::saml::TopStatus::Requester);
    assert_eq!(
        s.sub.map(idpipe::saml::SubStatus::uri),
        Some("urn:oasis:names:tc:SAML:2.0:status:RequestDenied")
    );
    assert_eq!(
        parse_post(&B64.encode(&xml), None, Some(&sp_cert()), at()).err(),
        Some(RequestError::Unsigned)
    );
}

#[test]
fn altered_wrapped_and_misreferenced_signatures_are_refused() {
    let signed = read("fixtures/saml/authn-request-signed.xml");
    let body = signed.trim_start_matches("<?xml version=\"1.0\"?>").trim();
    let cert = sp_cert();
    // Altered after signing.
    let altered = signed.replace("https://sp.example.com/acs", "https://evil.example.com/acs");
    assert!(matches!(
        parse_post(&B64.encode(&altered), None, Some(&cert), at()),
        Err(RequestError::BadSignature(_))
    ));
    // Wrapping: an evil root carries the genuinely signed request inside Extensions.
    let wrapped = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_evil\" Version=\"2.0\" IssueInstant=\"2026-11-23T10:00:00Z\" AssertionConsumerServiceURL=\"https://evil.example.com/acs\"><samlp:Extensions>{body}</samlp:Extensions></samlp:AuthnRequest>"
    );
    assert!(matches!(
        parse_post(&B64.encode(&wrapped), None, Some(&cert), at()),
        Err(RequestError::SignatureStructure(_))
    ));
    // The root's signature references another element.
    let misref = signed.replace("URI=\"#_req-signed-7c1e\"", "URI=\"#_elsewhere\"");
    assert!(matches!(
        parse_post(&B64.encode(&misref), None, Some(&cert), at()),
        Err(RequestError::SignatureStructure(_))
    ));
    // Two signatures.
    let sig_start = signed.find("<ds:Signature").expect("sig");
    let sig_end = signed.find("</ds:Signature>").expect("sig end") + "</ds:Signature>".len();
    let twice = format!("{}{}{}", &signed[..sig_end], &signed[sig_start..sig_end], &signed[sig_end..]);
    assert!(matches!(
        parse_post(&B64.encode(&twice), None, Some(&cert), at()),
        Err(RequestError::SignatureStructure(_))
    ));
}

#[test]
fn dtds_entities_and_malformed_xml_are_refused() {
    let xml = read("fixtures/saml/authn-request.xml");
    let dtd = format!(
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        xml.replace("https://sp.example.com/metadata<", "&x;<")
    );
    assert_eq!(parse_post(&B64.encode(&dtd), None, None, at()), Err(RequestError::Dtd));
    let entity = xml.replace("https://sp.example.com/metadata<", "&x;<");
    assert!(matches!(
        parse_post(&B64.encode(&entity), None, None, at()),
        Err(RequestError::Malformed(_))
    ));
    for bad in ["<samlp:AuthnRequest", "not xml at all", "<a><b></a>", ""] {
        assert!(parse_post(&B64.encode(bad), None, None, at()).is_err(), "{bad}");
    }
    let wrong_root = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_1\" Version=\"2.0\"/>";
    assert!(matches!(
        parse_post(&B64.encode(wrong_root), None, None, at()),
        Err(RequestError::Invalid(_))
    ));
    let no_id = xml.replace("ID=\"_req-4f8a2c91d3\"", "");
    assert!(matches!(
        parse_post(&B64.encode(&no_id), None, None, at()),
        Err(RequestError::Invalid(_))
    ));
    assert!(matches!(
        parse_post("%%%not-base64", None, None, at()),
        Err(RequestError::Encoding(_))
    ));
    assert!(matches!(
        parse_redirect("SAMLRequest=AAAA", None, at()),
        Err(RequestError::Encoding(_))
    ));
}

#[test]
fn oversized_requests_and_deflate_bombs_are_refused() {
    let huge = "A".repeat(200_000);
    assert_eq!(parse_post(&huge, None, None, at()), Err(RequestError::TooLarge));
    let bomb = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{}</samlp:AuthnRequest>",
        " ".repeat(5_000_000)
    );
    let q = format!("SAMLRequest={}", enc(&B64.encode(deflate(&bomb))));
    assert!(q.len() < 64 * 1024, "the compressed bomb is small");
    assert_eq!(parse_redirect(&q, None, at()), Err(RequestError::TooLarge));
}

#[test]
fn stale_future_and_replayed_requests_are_refused() {
    let xml = read("fixtures/saml/authn-request.xml");
    let issued = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").expect("t").with_timezone(&Utc);
    let late = IntakeRules::at(issued + Duration::minutes(6));
    assert!(matches!(
        parse_post(&B64.encode(&xml), None, None, late),
        Err(RequestError::Stale(_))
    ));
    let early = IntakeRules::at(issued - Duration::minutes(1));
    assert!(matches!(
        parse_post(&B64.encode(&xml), None, None, early),
        Err(RequestError::Stale(_))
    ));
    let skewed = IntakeRules {
        skew_seconds: 120,
        ..early
    };
    assert!(parse_post(&B64.encode(&xml), None, None, skewed).is_ok());
    // Replays are refused by the store: on disk, so a restart does not forget them.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replay.sqlite");
    let now = issued.timestamp_millis();
    let until = now + 600_000;
    {
        let store = SqliteStore::open(&path).expect("store");
        assert!(store.remember_request_id("sp|_req-4f8a2c91d3", until, now).expect("first use"));
        assert!(!store.remember_request_id("sp|_req-4f8a2c91d3", until, now + 1).expect("replay"));
    }
    let reopened = SqliteStore::open(&path).expect("reopened");
    assert!(
        !reopened
            .remember_request_id("sp|_req-4f8a2c91d3", until, now + 2)
            .expect("after restart"),
        "a restart does not forget a request ID"
    );
    assert!(
        reopened
            .remember_request_id("sp|_req-4f8a2c91d3", until + 600_000, until + 1)
            .expect("after expiry"),
        "an expired ID may be used again"
    );
}
