//! The IdP's own LogoutRequest, sent to each other participant of a session during single
//! logout (SAML Core 3.7.1), signed like every message idpipe sends.

use chrono::{DateTime, Utc};

use super::response::{new_id, saml_time};
use super::signing::{SigningKey, signature_element};
use super::xml::XmlWriter;
use super::{SamlError, ns};
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};

/// What a LogoutRequest names.
pub struct LogoutRequestParts<'a> {
    /// The IdP's entity ID for this SP.
    pub issuer: &'a str,
    /// The SP's single-logout URL.
    pub destination: &'a str,
    /// The NameID the SP received.
    pub name_id: &'a str,
    /// Its format, if known.
    pub name_id_format: Option<&'a str>,
    /// The session's SessionIndex.
    pub session_index: &'a str,
}

/// A signed LogoutRequest (RSA-SHA256, enveloped, exclusive C14N): its ID and XML.
pub fn build_logout_request(p: &LogoutRequestParts<'_>, key: &SigningKey, now: DateTime<Utc>) -> Result<(String, String), SamlError> {
    for (what, v) in [
        ("the NameID", p.name_id),
        ("the SessionIndex", p.session_index),
        ("the issuer", p.issuer),
    ] {
        if !crate::util::is_xml_text(v) {
            return Err(SamlError::Value(format!("{what} contains characters not allowed in XML")));
        }
    }
    let id = new_id();
    let now = saml_time(now);
    // Canonical form: each saml: element declares its own namespace (exclusive C14N renders it
    // there, not on the root that does not use it).
    let mut w = XmlWriter::new();
    w.open(
        "samlp:LogoutRequest",
        &[
            ("xmlns:samlp", ns::PROTOCOL),
            ("Destination", p.destination),
            ("ID", &id),
            ("IssueInstant", &now),
            ("Version", "2.0"),
        ],
    );
    w.leaf("saml:Issuer", &[("xmlns:saml", ns::ASSERTION)], p.issuer);
    let after_issuer = w.out.len();
    let mut name_attrs: Vec<(&str, &str)> = vec![("xmlns:saml", ns::ASSERTION)];
    if let Some(f) = p.name_id_format {
        name_attrs.push(("Format", f));
    }
    w.leaf("saml:NameID", &name_attrs, p.name_id);
    w.leaf("samlp:SessionIndex", &[], p.session_index);
    w.close("samlp:LogoutRequest");
    let sig = signature_element(key, SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256, &id, w.out.as_bytes())?;
    let xml = format!("{}{sig}{}", &w.out[..after_issuer], &w.out[after_issuer..]);
    Ok((id, xml))
}
