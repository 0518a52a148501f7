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

/// The metadata XML (no declaration; pretty-printed).
pub fn metadata_xml(m: &MetadataInput<'_>) -> String {
    let mut w = XmlWriter::new();
    w.open("EntityDescriptor", &[("xmlns", ns::METADATA), ("entityID", m.entity_id)]);
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
    for f in [
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        ns::NAMEID_UNSPECIFIED,
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
    w.out
}
