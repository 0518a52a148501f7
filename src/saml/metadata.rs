//! IdP metadata for one SP (the hosted service's layout, plus the `unspecified` NameIDFormat,
//! `WantAuthnRequestsSigned` when the SP signs its requests, and the next key during rotation).

use super::ns;
use super::settings::DEFAULT_MAPPINGS;
use super::xml::XmlWriter;

/// What the metadata document describes.
pub struct MetadataInput<'a> {
    /// entityID (the effective issuer).
    pub entity_id: &'a str,
    /// Base64 DER of the signing certificate in use.
    pub signing_cert_b64: &'a str,
    /// Base64 DER of the next signing certificate, during a key rotation.
    pub next_cert_b64: Option<&'a str>,
    /// SSO endpoint (both bindings), e.g. `https://idp/samlp/<client_id>`.
    pub sso_url: &'a str,
    /// SLO endpoint, e.g. `https://idp/samlp/<client_id>/logout`.
    pub slo_url: &'a str,
    /// Whether the SP must sign its AuthnRequests.
    pub want_authn_requests_signed: bool,
}

/// Friendly names of the default claims.
const FRIENDLY: [(&str, &str); 5] = [
    ("email", "E-Mail Address"),
    ("given_name", "Given Name"),
    ("name", "Name"),
    ("family_name", "Surname"),
    ("user_id", "Name ID"),
];

/// The metadata XML (no declaration; pretty-printed; unsigned, no validity period).
pub fn metadata_xml(m: &MetadataInput<'_>) -> String {
    write(m, &[("xmlns", ns::METADATA), ("entityID", m.entity_id)]).0
}

/// How a metadata document is published: its validity (`validUntil`, `cacheDuration`) and,
/// with a key, an enveloped signature (RSA-SHA256, exclusive C14N) over the EntityDescriptor.
pub struct Publication<'a> {
    /// Signs the document when given.
    pub key: Option<&'a super::SigningKey>,
    /// `validUntil`.
    pub valid_until: chrono::DateTime<chrono::Utc>,
    /// `cacheDuration`, in seconds.
    pub cache_seconds: u64,
}

/// The metadata XML with `validUntil` and `cacheDuration`, signed when the publication has a key.
pub fn published_metadata_xml(m: &MetadataInput<'_>, p: &Publication<'_>) -> Result<String, super::SamlError> {
    let id = super::response::new_id();
    let valid_until = super::response::saml_time(p.valid_until);
    let cache = format!("PT{}S", p.cache_seconds);
    // Exclusive C14N order: namespace declarations, then attributes by name.
    let attrs = [
        ("xmlns", ns::METADATA),
        ("ID", id.as_str()),
        ("cacheDuration", cache.as_str()),
        ("entityID", m.entity_id),
        ("validUntil", valid_until.as_str()),
    ];
    let (doc, after_start) = write(m, &attrs);
    let Some(key) = p.key else {
        return Ok(doc);
    };
    // The document is written in canonical form; the root element ends before the last newline.
    let canonical = doc.trim_end_matches('\n');
    let sig = super::signing::signature_element(
        key,
        crate::pipeline::outcome::SignatureAlgorithm::RsaSha256,
        crate::pipeline::outcome::DigestAlgorithm::Sha256,
        &id,
        canonical.as_bytes(),
    )?;
    // SAML metadata 3.1: the Signature is the EntityDescriptor's first child.
    Ok(format!("{}{sig}{}", &doc[..after_start], &doc[after_start..]))
}

/// Writes the document with the root's attributes; returns it and the offset just after the
/// root's start tag.
fn write(m: &MetadataInput<'_>, root_attrs: &[(&str, &str)]) -> (String, usize) {
    let mut w = XmlWriter::new();
    w.open("EntityDescriptor", root_attrs);
    let after_start = w.out.len();
    w.raw("\n  ");
    let mut idp: Vec<(&str, &str)> = Vec::new();
    if m.want_authn_requests_signed {
        idp.push(("WantAuthnRequestsSigned", "true"));
    }
    idp.push(("protocolSupportEnumeration", ns::PROTOCOL));
    w.open("IDPSSODescriptor", &idp);
    for cert in std::iter::once(m.signing_cert_b64).chain(m.next_cert_b64) {
        w.raw("\n    ");
        w.open("KeyDescriptor", &[("use", "signing")]);
        w.open("KeyInfo", &[("xmlns", ns::DSIG)]);
        w.open("X509Data", &[]);
        w.leaf("X509Certificate", &[], cert);
        w.close("X509Data");
        w.close("KeyInfo");
        w.close("KeyDescriptor");
    }
    for binding in [ns::BINDING_REDIRECT, ns::BINDING_POST] {
        w.raw("\n    ");
        w.leaf("SingleLogoutService", &[("Binding", binding), ("Location", m.slo_url)], "");
    }
    // `unspecified` first: SP libraries that take the first listed format (python3-saml's
    // metadata import) then get the SP settings' NameID, as before NameIDPolicy was honoured.
    for f in [
        ns::NAMEID_UNSPECIFIED,
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    ] {
        w.raw("\n    ");
        w.leaf("NameIDFormat", &[], f);
    }
    for binding in [ns::BINDING_REDIRECT, ns::BINDING_POST] {
        w.raw("\n    ");
        w.leaf("SingleSignOnService", &[("Binding", binding), ("Location", m.sso_url)], "");
    }
    for (field, friendly) in FRIENDLY {
        if let Some((_, uri)) = DEFAULT_MAPPINGS.iter().find(|(f, _)| *f == field) {
            w.raw("\n    ");
            w.leaf(
                "Attribute",
                &[
                    ("xmlns", ns::ASSERTION),
                    ("FriendlyName", friendly),
                    ("Name", uri),
                    ("NameFormat", ns::ATTR_URI),
                ],
                "",
            );
        }
    }
    w.raw("\n  ");
    w.close("IDPSSODescriptor");
    w.raw("\n");
    w.close("EntityDescriptor");
    w.raw("\n");
    (w.out, after_start)
}
