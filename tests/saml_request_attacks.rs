//! Attacks on SAML request intake, each as a class with several variants: signature wrapping
//! through parser differentials, remote references and costly transforms inside the signature
//! (SSRF, XSLT), weak or unknown algorithms. Signed inputs are made by xmlsec1 (an independent
//! signer), so acceptance is proven against a real implementation, not only our own.

mod common;

use std::io::Write;
use std::process::Command;

use base64::Engine;
use chrono::{DateTime, Utc};
use common::idp::Trap;
use common::*;
use idpipe::saml::request::{IntakeRules, RequestError, parse_logout_post, parse_post, parse_redirect};
use idpipe::saml::xmldsig::AlgorithmPolicy;
use openssl::x509::X509;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn at() -> IntakeRules {
    IntakeRules::at(DateTime::parse_from_rfc3339("2026-11-23T10:01:00Z").expect("t").with_timezone(&Utc))
}

fn cert() -> X509 {
    X509::from_pem(read("certs/sp-test.crt").as_bytes()).expect("cert")
}

fn post(xml: &str) -> Result<idpipe::saml::request::Intake, RequestError> {
    parse_post(&B64.encode(xml), None, Some(&cert()), at())
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn deflate(xml: &str) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    e.finish().expect("deflate")
}

/// Signs `template` (a request with an empty `ds:Signature` template) with xmlsec1 and the
/// TEST-ONLY SP key.
fn xmlsec_sign(template: &str, root: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let f = dir.path().join("t.xml");
    std::fs::write(&f, template).expect("write");
    let out = Command::new("xmlsec1")
        .args(["--sign", "--privkey-pem"])
        .arg(format!("{},{}", root_path("certs/sp-test.key"), root_path("certs/sp-test.crt")))
        .args(["--id-attr:ID", &format!("urn:oasis:names:tc:SAML:2.0:protocol:{root}")])
        .arg(&f)
        .output()
        .expect("xmlsec1 runs");
    assert!(out.status.success(), "xmlsec1: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn root_path(rel: &str) -> String {
    root().join(rel).display().to_string()
}

/// A signature template: algorithms, where `xmlns:ds` is declared, optional extra transforms
/// and inclusive prefixes.
struct Shape<'a> {
    sig_alg: &'a str,
    digest_alg: &'a str,
    prefixes: Option<&'a str>,
}

fn signature_template(id: &str, s: &Shape) -> String {
    let ec = s
        .prefixes
        .map(|p| format!("<ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{p}\"/>"))
        .unwrap_or_default();
    format!(
        "<ds:Signature xmlns:ds=\"{DS}\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"{sig}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">{ec}</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{dig}\"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>",
        sig = s.sig_alg,
        dig = s.digest_alg,
    )
}

fn authn_template(id: &str, acs: &str, name_id: &str, s: &Shape) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"2026-11-23T10:00:00Z\" AssertionConsumerServiceURL=\"{acs}\"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>{sig}<!-- a comment --><saml:Subject><saml:NameID>{name_id}</saml:NameID></saml:Subject></samlp:AuthnRequest>",
        sig = signature_template(id, s)
    )
}

const SHA256: Shape = Shape {
    sig_alg: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    digest_alg: "http://www.w3.org/2001/04/xmlenc#sha256",
    prefixes: None,
};

/// The genuine, xmlsec1-signed request an attacker captured (an old login of the SP).
fn genuine() -> String {
    read("fixtures/saml/authn-request-signed.xml")
        .trim_start_matches("<?xml version=\"1.0\"?>")
        .trim()
        .to_string()
}

fn fresh_root(inner: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_fresh\" Version=\"2.0\" IssueInstant=\"2026-11-23T10:00:30Z\" AssertionConsumerServiceURL=\"https://sp.example.com/acs2\" ForceAuthn=\"false\"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>{inner}</samlp:AuthnRequest>"
    )
}

/// A junk signature over the fresh root, placed where a real one goes.
fn junk_signature(reference: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{DS}\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"{reference}\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
    )
}

#[test]
fn signature_wrapping_through_a_parser_differential_is_refused() {
    let g = genuine();
    assert!(post(&g).is_ok(), "the captured request itself verifies");
    let hidden = format!("<samlp:Extensions>{g}</samlp:Extensions>");
    let char_ref_ns = hidden.replace(
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"",
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig&#x23;\"",
    );
    assert_ne!(char_ref_ns, hidden);
    let cases: Vec<(&str, String)> = vec![
        // The issue's example: a character reference in the genuine signature's namespace, plus a
        // junk signature over the fresh root.
        (
            "char-ref ns + junk root signature",
            fresh_root(&format!("{}{char_ref_ns}", junk_signature("#_fresh"))),
        ),
        ("char-ref ns alone", fresh_root(&char_ref_ns)),
        ("decimal char-ref ns", fresh_root(&hidden.replace("xmldsig#\"", "xmldsig&#35;\""))),
        (
            "UTF-7 declaration",
            format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{}", fresh_root(&hidden)),
        ),
        (
            "latin-1 declaration",
            format!("<?xml version='1.0' encoding='ISO-8859-1'?>{}", fresh_root(&hidden)),
        ),
        // Only libxml2's error recovery would read this: an unclosed element around the genuine one.
        (
            "needs recovery",
            fresh_root(&format!("<samlp:Extensions><x>{g}</samlp:Extensions>")),
        ),
        (
            "genuine hidden + junk root signature",
            fresh_root(&format!("{}{hidden}", junk_signature("#_fresh"))),
        ),
        ("genuine hidden only", fresh_root(&hidden)),
        ("junk root signature only", fresh_root(&junk_signature("#_fresh"))),
        // The genuine signature moved to the fresh root: it references the old ID.
        (
            "genuine signature moved",
            fresh_root(&g[g.find("<ds:Signature").expect("sig")..g.find("</ds:Signature>").expect("end") + 15]),
        ),
        // The old ID reused on a modified request carrying the genuine signature.
        (
            "old ID, new ACS",
            g.replace("https://sp.example.com/acs", "https://sp.example.com/acs2"),
        ),
        (
            "old ID, NameID comment injection",
            g.replace("test@samlreq.com", "test@samlreq.com<!---->.evil"),
        ),
        ("BOM", format!("\u{feff}{g}")),
        ("processing instruction", format!("<?evil x?>{g}")),
    ];
    for (name, xml) in &cases {
        let r = post(xml);
        assert!(r.is_err(), "{name}: accepted {:?}", r.map(|i| i.request.id));
        // The redirect binding without a query signature uses the embedded one: same refusal.
        let q = format!("SAMLRequest={}", enc(&B64.encode(deflate(xml))));
        assert!(parse_redirect(&q, Some(&cert()), at()).is_err(), "{name} (redirect)");
    }
    // The same class on LogoutRequests.
    let logout = |inner: &str| {
        format!(
            "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lo\" Version=\"2.0\" IssueInstant=\"2026-11-23T10:00:30Z\"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>{inner}<saml:NameID>victim@example.com</saml:NameID></samlp:LogoutRequest>"
        )
    };
    for inner in [
        format!("{}<samlp:Extensions>{g}</samlp:Extensions>", junk_signature("#_lo")),
        format!("<samlp:Extensions>{char_ref_ns}</samlp:Extensions>"),
        junk_signature("#_lo"),
    ] {
        assert!(parse_logout_post(&B64.encode(logout(&inner)), None, Some(&cert()), at()).is_err());
    }
}

#[test]
fn remote_references_and_non_saml_transforms_are_refused_before_any_work() {
    let trap = Trap::new();
    let g = genuine();
    let swap = |from: &str, to: &str| {
        assert!(g.contains(from), "{from}");
        g.replacen(from, to, 1)
    };
    let enveloped = "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";
    let xslt = format!(
        "{enveloped}<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"><xsl:template match=\"/\"><xsl:value-of select=\"document('{}')\"/></xsl:template></xsl:stylesheet></ds:Transform>",
        trap.url
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "remote Reference URI",
            swap("URI=\"#_req-signed-7c1e\"", &format!("URI=\"{}\"", trap.url)),
        ),
        ("xpointer Reference URI", swap("URI=\"#_req-signed-7c1e\"", "URI=\"#xpointer(/)\"")),
        ("whole-document Reference URI", swap("URI=\"#_req-signed-7c1e\"", "URI=\"\"")),
        ("XSLT transform", swap(enveloped, &xslt)),
        (
            "XPath transform",
            swap(
                enveloped,
                &format!(
                    "{enveloped}<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>count(//*)</ds:XPath></ds:Transform>"
                ),
            ),
        ),
        (
            "XPath Filter 2 transform",
            swap(
                enveloped,
                &format!("{enveloped}<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"/>"),
            ),
        ),
        (
            "base64 transform",
            swap(
                enveloped,
                &format!("{enveloped}<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#base64\"/>"),
            ),
        ),
        (
            "inclusive C14N",
            swap(
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
            ),
        ),
        ("no enveloped transform", swap(enveloped, "")),
        (
            "parameters inside a transform",
            swap(
                enveloped,
                "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"><ds:XPath>1</ds:XPath></ds:Transform>",
            ),
        ),
        (
            "two References",
            swap(
                "</ds:SignedInfo>",
                &format!(
                    "<ds:Reference URI=\"{}\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>",
                    trap.url
                ),
            ),
        ),
        ("an Object", swap("</ds:Signature>", "<ds:Object><x/></ds:Object></ds:Signature>")),
        (
            "RSA-MD5 signature",
            swap(
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
            ),
        ),
        (
            "HMAC signature",
            swap(
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
            ),
        ),
        (
            "MD5 digest",
            swap(
                "http://www.w3.org/2001/04/xmlenc#sha256",
                "http://www.w3.org/2001/04/xmldsig-more#md5",
            ),
        ),
        (
            "inclusive C14N of SignedInfo",
            swap(
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
            ),
        ),
    ];
    for (name, xml) in &cases {
        let started = std::time::Instant::now();
        let r = post(xml);
        assert!(r.is_err(), "{name}: accepted");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
    // KeyInfo is never used to find a key (the SP's configured certificate is): a remote
    // RetrievalMethod there is not fetched, and the genuine signature (which does not cover
    // KeyInfo) still verifies.
    let retrieval = swap("<ds:X509Data>", &format!("<ds:RetrievalMethod URI=\"{}\"/><ds:X509Data>", trap.url));
    assert!(post(&retrieval).is_ok(), "KeyInfo is ignored");
    assert_eq!(trap.connections(), 0, "nothing was fetched");
}

#[test]
fn xmlsec1_signatures_of_several_shapes_verify_and_the_algorithm_policy_holds() {
    let shapes = [
        ("sha256", SHA256),
        (
            "sha512",
            Shape {
                sig_alg: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
                digest_alg: "http://www.w3.org/2001/04/xmlenc#sha512",
                prefixes: None,
            },
        ),
        (
            "inclusive prefixes",
            Shape {
                prefixes: Some("saml samlp"),
                ..SHA256
            },
        ),
    ];
    for (name, shape) in &shapes {
        let signed = xmlsec_sign(
            &authn_template("_shape", "https://sp.example.com/acs", "jörg@example.com", shape),
            "AuthnRequest",
        );
        let i = post(&signed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(i.request.signature_verified, "{name}");
        assert_eq!(
            i.request.subject.as_deref(),
            Some("jörg@example.com"),
            "{name}: read from the verified tree"
        );
        let altered = signed.replace("example.com</saml:NameID>", "example.org</saml:NameID>");
        assert_ne!(altered, signed);
        let r = post(&altered);
        assert!(matches!(r, Err(RequestError::BadSignature(_))), "{name}: altered: {r:?}");
    }
    // SHA-1: accepted by default (many SPs still sign requests with it), refused when the tenant
    // says so.
    let sha1 = Shape {
        sig_alg: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        digest_alg: "http://www.w3.org/2000/09/xmldsig#sha1",
        prefixes: None,
    };
    let signed = xmlsec_sign(
        &authn_template("_sha1", "https://sp.example.com/acs", "a@example.com", &sha1),
        "AuthnRequest",
    );
    assert!(post(&signed).is_ok());
    let strict = IntakeRules {
        algorithms: AlgorithmPolicy { allow_sha1: false },
        ..at()
    };
    assert!(matches!(
        parse_post(&B64.encode(&signed), None, Some(&cert()), strict),
        Err(RequestError::BadSignature(m)) if m.contains("unsupported")
    ));
    // A signed LogoutRequest verifies and yields its NameID and SessionIndex.
    let logout = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lo1\" Version=\"2.0\" IssueInstant=\"2026-11-23T10:00:30Z\"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>{}<saml:NameID>jane@example.com</saml:NameID><samlp:SessionIndex>abc123</samlp:SessionIndex></samlp:LogoutRequest>",
        signature_template("_lo1", &SHA256)
    );
    let signed = xmlsec_sign(&logout, "LogoutRequest");
    let i = parse_logout_post(&B64.encode(&signed), None, Some(&cert()), at()).expect("signed logout verifies");
    assert_eq!(i.request.subject.as_deref(), Some("jane@example.com"));
    assert_eq!(i.request.session_index.as_deref(), Some("abc123"));
    let other_user = signed.replace("jane@example.com", "victim@example.com");
    assert!(parse_logout_post(&B64.encode(&other_user), None, Some(&cert()), at()).is_err());
}

#[test]
fn binding_parameters_are_unambiguous_and_relay_state_is_bounded() {
    let xml = read("fixtures/saml/authn-request.xml");
    let saml = enc(&B64.encode(deflate(&xml)));
    let twice = format!("SAMLRequest={saml}&SAMLRequest={saml}");
    assert!(matches!(
        parse_redirect(&twice, None, at()),
        Err(RequestError::DuplicateParameter(_))
    ));
    let rs_twice = format!("SAMLRequest={saml}&RelayState=a&RelayState=b");
    assert!(matches!(
        parse_redirect(&rs_twice, None, at()),
        Err(RequestError::DuplicateParameter(_))
    ));
    let long = "r".repeat(2049);
    let q = format!("SAMLRequest={saml}&RelayState={long}");
    assert_eq!(parse_redirect(&q, None, at()).err(), Some(RequestError::RelayStateTooLong));
    assert_eq!(
        parse_post(&B64.encode(&xml), Some(long), None, at()).err(),
        Some(RequestError::RelayStateTooLong)
    );
    let ok = "r".repeat(2048);
    assert!(parse_redirect(&format!("SAMLRequest={saml}&RelayState={ok}"), None, at()).is_ok());
}

#[test]
fn adversarial_namespace_text_costs_linear_time() {
    // Many `xmlns` without a value, or values never closed: each check looks only at the
    // attribute right after `xmlns`, so the cost stays linear in the request size.
    let cases = [
        format!("<a>{}=\"x</a>", "xmlns".repeat(9000)),
        format!("<a>{}</a>", "xmlns='".repeat(6400)),
        format!("<a>{}</a>", "xmlns:p = \"v\" ".repeat(3000)),
    ];
    for xml in &cases {
        assert!(xml.len() < 48 * 1024);
        let started = std::time::Instant::now();
        assert!(parse_post(&B64.encode(xml), None, None, at()).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(100), "{:?}", started.elapsed());
        let q = format!("SAMLRequest={}", enc(&B64.encode(deflate(&xml.repeat(2)))));
        let started = std::time::Instant::now();
        assert!(parse_redirect(&q, None, at()).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(200), "{:?}", started.elapsed());
    }
}
