//! Reading an SP's metadata (SAML Metadata 2.4.4) into what a tenant entry needs: entity ID,
//! ACS URLs with their bindings and indexes, the SLO URL, and the signing and encryption
//! certificates. Parsed with the same strict parser as requests (no DTD, no entities, no
//! network).

use libxml::tree::Node;

use super::ns;
use super::request::RequestError;
use super::xmldsig::{is, parse_strict};

/// One `AssertionConsumerService`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsEndpoint {
    /// `index`.
    pub index: u32,
    /// `Binding`.
    pub binding: String,
    /// `Location`.
    pub location: String,
    /// `isDefault="true"`.
    pub is_default: bool,
}

/// What an SP's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// Every ACS endpoint.
    pub acs: Vec<AcsEndpoint>,
    /// The first `SingleLogoutService` with the HTTP-Redirect or HTTP-POST binding.
    pub slo_url: Option<String>,
    /// The signing certificate (PEM), if any (`use="signing"` or no `use`).
    pub signing_cert: Option<String>,
    /// The encryption certificate (PEM), if any (`use="encryption"` or no `use`).
    pub encryption_cert: Option<String>,
    /// `AuthnRequestsSigned="true"`.
    pub authn_requests_signed: bool,
    /// `WantAssertionsSigned="true"`.
    pub want_assertions_signed: bool,
}

impl SpMetadata {
    /// The HTTP-POST ACS URLs (the binding idpipe answers with), the default one first.
    pub fn post_acs(&self) -> Vec<&AcsEndpoint> {
        let mut v: Vec<&AcsEndpoint> = self.acs.iter().filter(|a| a.binding == ns::BINDING_POST).collect();
        v.sort_by_key(|a| (!a.is_default, a.index));
        v
    }
}

fn children<'a>(n: &'a Node, local: &'a str) -> impl Iterator<Item = Node> + 'a {
    n.get_child_elements().into_iter().filter(move |c| is(c, ns::METADATA, local))
}

fn pem(b64: &str) -> String {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let lines: Vec<&str> = clean.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

fn certificate(key_descriptor: &Node) -> Option<String> {
    let key_info = key_descriptor
        .get_child_elements()
        .into_iter()
        .find(|c| is(c, ns::DSIG, "KeyInfo"))?;
    let data = key_info.get_child_elements().into_iter().find(|c| is(c, ns::DSIG, "X509Data"))?;
    let cert = data.get_child_elements().into_iter().find(|c| is(c, ns::DSIG, "X509Certificate"))?;
    let text = cert.get_content();
    let pem = pem(&text);
    // Refuse what is not a certificate now, not at the first login.
    openssl::x509::X509::from_pem(pem.as_bytes()).ok().map(|_| pem)
}

/// Parses an SP's metadata document (an `EntityDescriptor` with an `SPSSODescriptor`).
pub fn parse(xml: &str) -> Result<SpMetadata, RequestError> {
    let doc = parse_strict(xml)?;
    let root = doc
        .get_root_element()
        .ok_or_else(|| RequestError::Malformed("no root element".into()))?;
    if !is(&root, ns::METADATA, "EntityDescriptor") {
        return Err(RequestError::Invalid("the root element is not md:EntityDescriptor".into()));
    }
    let entity_id = root
        .get_attribute_no_ns("entityID")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| RequestError::Invalid("entityID is missing".into()))?;
    let sp = children(&root, "SPSSODescriptor")
        .next()
        .ok_or_else(|| RequestError::Invalid("there is no SPSSODescriptor".into()))?;
    let flag = |n: &str| sp.get_attribute_no_ns(n).is_some_and(|v| v == "true" || v == "1");
    let mut acs = Vec::new();
    for (i, a) in children(&sp, "AssertionConsumerService").enumerate() {
        let location = a
            .get_attribute_no_ns("Location")
            .ok_or_else(|| RequestError::Invalid("an AssertionConsumerService has no Location".into()))?;
        url::Url::parse(&location).map_err(|e| RequestError::Invalid(format!("ACS Location '{location}': {e}")))?;
        acs.push(AcsEndpoint {
            index: a.get_attribute_no_ns("index").and_then(|v| v.parse().ok()).unwrap_or(i as u32),
            binding: a.get_attribute_no_ns("Binding").unwrap_or_default(),
            location,
            is_default: a.get_attribute_no_ns("isDefault").is_some_and(|v| v == "true" || v == "1"),
        });
    }
    let slo_url = children(&sp, "SingleLogoutService")
        .filter(|s| {
            s.get_attribute_no_ns("Binding")
                .is_some_and(|b| b == ns::BINDING_POST || b == ns::BINDING_REDIRECT)
        })
        .find_map(|s| s.get_attribute_no_ns("Location"));
    let mut signing_cert = None;
    let mut encryption_cert = None;
    for kd in children(&sp, "KeyDescriptor") {
        let usage = kd.get_attribute_no_ns("use");
        let cert = certificate(&kd);
        if usage.as_deref() != Some("encryption") && signing_cert.is_none() {
            signing_cert = cert.clone();
        }
        if usage.as_deref() != Some("signing") && encryption_cert.is_none() {
            encryption_cert = cert;
        }
    }
    Ok(SpMetadata {
        entity_id,
        acs,
        slo_url,
        signing_cert,
        encryption_cert,
        authn_requests_signed: flag("AuthnRequestsSigned"),
        want_assertions_signed: flag("WantAssertionsSigned"),
    })
}
