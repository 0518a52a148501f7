//! Builds the SAML Response: Assertion -> sign (default) -> encrypt (optional) -> Response ->
//! sign (signResponse, instead of the Assertion). Elements are written by `XmlWriter` in both
//! document and exclusive-C14N form; the canonical form is what gets digested.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::encryption::{encrypt_assertion, write_encrypted_assertion};
use super::mapping::{Claim, choose_name_id, map_claims, name_format, value_text, xsi_type};
use super::settings::ResolvedSettings;
use super::signing::{SigningKey, signature_element};
use super::status::StatusError;
use super::xml::XmlWriter;
use super::{SamlError, ns};
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};

/// Per-response facts that do not come from settings.
#[derive(Debug, Clone)]
pub struct ResponseContext {
    /// `InResponseTo` (the AuthnRequest's ID); `None` for IdP-initiated logins.
    pub in_response_to: Option<String>,
    /// `AuthnStatement/@SessionIndex` (always emitted).
    pub session_index: String,
    /// Issue instant.
    pub now: DateTime<Utc>,
    /// When the user authenticated (defaults to `now`).
    pub authn_instant: Option<DateTime<Utc>>,
    /// The NameID value decided by the request's policy; `None`: chosen by the probes.
    pub name_id: Option<String>,
    /// Fixed (assertion, response) IDs, for reproducible test fixtures; `None`: random.
    pub ids: Option<(String, String)>,
}

/// A built response.
#[derive(Debug, Clone)]
pub struct BuiltResponse {
    /// The Response XML (UTF-8, no declaration).
    pub xml: String,
    /// The Response's ID.
    pub response_id: String,
    /// The Assertion's ID.
    pub assertion_id: String,
    /// The NameID chosen.
    pub name_id: String,
    /// The attributes emitted, in order.
    pub claims: Vec<Claim>,
    /// The exclusive-C14N bytes that were digested for the signature (the Assertion's, or the
    /// Response's when signResponse), kept so tests can compare them with libxml2's.
    pub signed_c14n: String,
}

/// `_` + 128 random bits, hex.
pub fn new_id() -> String {
    format!("_{}", crate::util::random_hex(16))
}

/// SAML time format: UTC with exactly three fractional digits.
pub fn saml_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

struct AssertionParts<'a> {
    s: &'a ResolvedSettings,
    id: &'a str,
    name_id: &'a str,
    claims: &'a [Claim],
    ctx: &'a ResponseContext,
}

/// Where the document form differs from the canonical one.
struct Splices {
    /// Just after `</saml:Issuer>`: the enveloped Signature goes here.
    after_issuer: usize,
    /// Just after `<saml:AttributeStatement`: the document declares `xmlns:xs` here (exclusive
    /// C14N drops it because `xs` is only used inside `xsi:type` values).
    in_attribute_statement: Option<usize>,
}

/// Writes the Assertion in exclusive-C14N form (each AttributeValue declares `xmlns:xsi`, which
/// is where C14N renders it), and returns the offsets where the document form differs.
fn write_assertion(w: &mut XmlWriter, p: &AssertionParts<'_>) -> Splices {
    let s = p.s;
    let now = saml_time(p.ctx.now);
    let not_before = saml_time(p.ctx.now - chrono::Duration::seconds(s.clock_skew_seconds));
    let not_after = saml_time(p.ctx.now + chrono::Duration::seconds(s.lifetime_seconds as i64));
    let authn = saml_time(p.ctx.authn_instant.unwrap_or(p.ctx.now));
    w.open(
        "saml:Assertion",
        &[
            ("xmlns:saml", ns::ASSERTION),
            ("ID", p.id),
            ("IssueInstant", &now),
            ("Version", "2.0"),
        ],
    );
    w.leaf("saml:Issuer", &[], &s.issuer);
    let after_issuer = w.out.len();
    let mut in_attribute_statement = None;
    w.open("saml:Subject", &[]);
    w.leaf("saml:NameID", &[("Format", &s.name_identifier_format)], p.name_id);
    w.open("saml:SubjectConfirmation", &[("Method", ns::BEARER)]);
    let mut scd: Vec<(&str, &str)> = Vec::with_capacity(3);
    if let Some(irt) = &p.ctx.in_response_to {
        scd.push(("InResponseTo", irt));
    }
    scd.push(("NotOnOrAfter", &not_after));
    scd.push(("Recipient", &s.recipient));
    w.leaf("saml:SubjectConfirmationData", &scd, "");
    w.close("saml:SubjectConfirmation");
    w.close("saml:Subject");
    w.open("saml:Conditions", &[("NotBefore", &not_before), ("NotOnOrAfter", &not_after)]);
    w.open("saml:AudienceRestriction", &[]);
    w.leaf("saml:Audience", &[], &s.audience);
    w.close("saml:AudienceRestriction");
    w.close("saml:Conditions");
    w.open(
        "saml:AuthnStatement",
        &[("AuthnInstant", &authn), ("SessionIndex", &p.ctx.session_index)],
    );
    w.open("saml:AuthnContext", &[]);
    w.leaf("saml:AuthnContextClassRef", &[], &s.authn_context_class_ref);
    w.close("saml:AuthnContext");
    w.close("saml:AuthnStatement");
    if !p.claims.is_empty() {
        w.raw("<saml:AttributeStatement");
        in_attribute_statement = Some(w.out.len());
        w.raw(">");
        for c in p.claims {
            if s.include_attribute_name_format {
                w.open("saml:Attribute", &[("Name", &c.name), ("NameFormat", name_format(&c.name))]);
            } else {
                w.open("saml:Attribute", &[("Name", &c.name)]);
            }
            for v in &c.values {
                let ty = if s.typed_attributes { xsi_type(v) } else { "xs:anyType" };
                w.leaf("saml:AttributeValue", &[("xmlns:xsi", ns::XSI), ("xsi:type", ty)], &value_text(v));
            }
            w.close("saml:Attribute");
        }
        w.close("saml:AttributeStatement");
    }
    w.close("saml:Assertion");
    Splices {
        after_issuer,
        in_attribute_statement,
    }
}

/// The document form of an Assertion from its canonical form.
fn assertion_document(canonical: &str, sp: &Splices, signature: Option<&str>) -> String {
    let xs_decl = concat!(" xmlns:xs=\"", "http://www.w3.org/2001/XMLSchema", "\"");
    let mut doc = String::with_capacity(canonical.len() + signature.map_or(0, str::len) + xs_decl.len());
    doc.push_str(&canonical[..sp.after_issuer]);
    if let Some(sig) = signature {
        doc.push_str(sig);
    }
    match sp.in_attribute_statement {
        Some(at) => {
            doc.push_str(&canonical[sp.after_issuer..at]);
            doc.push_str(xs_decl);
            doc.push_str(&canonical[at..]);
        }
        None => doc.push_str(&canonical[sp.after_issuer..]),
    }
    doc
}

/// The Response around `inner` (an Assertion, an EncryptedAssertion, or nothing).
struct ResponseParts<'a> {
    /// `samlp:Response` or `samlp:LogoutResponse`.
    root: &'a str,
    id: &'a str,
    issuer: &'a str,
    destination: &'a str,
    in_response_to: Option<&'a str>,
    now: &'a str,
    status: &'a Status<'a>,
}

struct Status<'a> {
    top: &'a str,
    second: Option<&'a str>,
    message: Option<&'a str>,
}

/// Writes the Response (canonical form) and returns the offset just after its Issuer, where an
/// enveloped Signature is spliced in for the document form.
fn write_response(w: &mut XmlWriter, p: &ResponseParts<'_>, inner: &str) -> usize {
    let mut attrs: Vec<(&str, &str)> = vec![("xmlns:samlp", ns::PROTOCOL)];
    if !p.destination.is_empty() {
        attrs.push(("Destination", p.destination));
    }
    attrs.push(("ID", p.id));
    if let Some(irt) = p.in_response_to {
        attrs.push(("InResponseTo", irt));
    }
    attrs.push(("IssueInstant", p.now));
    attrs.push(("Version", "2.0"));
    w.open(p.root, &attrs);
    w.leaf("saml:Issuer", &[("xmlns:saml", ns::ASSERTION)], p.issuer);
    let after_issuer = w.out.len();
    w.open("samlp:Status", &[]);
    w.open("samlp:StatusCode", &[("Value", p.status.top)]);
    if let Some(second) = p.status.second {
        w.leaf("samlp:StatusCode", &[("Value", second)], "");
    }
    w.close("samlp:StatusCode");
    if let Some(m) = p.status.message {
        w.leaf("samlp:StatusMessage", &[], m);
    }
    w.close("samlp:Status");
    w.raw(inner);
    w.close(p.root);
    after_issuer
}

fn splice(canonical: &str, at: usize, signature: &str) -> String {
    let mut doc = String::with_capacity(canonical.len() + signature.len());
    doc.push_str(&canonical[..at]);
    doc.push_str(signature);
    doc.push_str(&canonical[at..]);
    doc
}

fn check_xml_text(what: &str, s: &str) -> Result<(), SamlError> {
    if crate::util::is_xml_text(s) {
        Ok(())
    } else {
        Err(SamlError::Value(format!("{what} contains characters not allowed in XML")))
    }
}

/// The Success status.
const SUCCESS: Status<'static> = Status {
    top: ns::STATUS_SUCCESS,
    second: None,
    message: None,
};

/// A signed Response around an inner element: its document form and the canonical form that
/// was signed. The canonical Response embeds the inner element's canonical form; the document
/// form has the Signature after its Issuer and the inner element's document form in place of
/// its canonical form (they end the same way).
fn signed_response(
    rp: &ResponseParts<'_>,
    inner_doc: &str,
    inner_canonical: &str,
    sign: impl Fn(&str) -> Result<String, SamlError>,
) -> Result<(String, String), SamlError> {
    let mut c = XmlWriter::new();
    let at = write_response(&mut c, rp, inner_canonical);
    let sig = sign(&c.out)?;
    let inner_end = c.out.len() - "</samlp:Response>".len();
    let inner_start = inner_end - inner_canonical.len();
    let mut doc = String::with_capacity(c.out.len() + sig.len() + 64);
    doc.push_str(&c.out[..at]);
    doc.push_str(&sig);
    doc.push_str(&c.out[at..inner_start]);
    doc.push_str(inner_doc);
    doc.push_str(&c.out[inner_end..]);
    Ok((doc, c.out))
}

/// Builds a success Response for `profile` (an `event.user` as JSON) with the action attributes.
pub fn build_response(
    s: &ResolvedSettings,
    profile: &Map<String, Value>,
    attributes: &[(String, Option<Value>)],
    ctx: &ResponseContext,
) -> Result<BuiltResponse, SamlError> {
    let claims = map_claims(profile, s, attributes);
    for c in &claims {
        check_xml_text("an attribute name", &c.name)?;
        for v in &c.values {
            check_xml_text(&format!("a value of attribute {}", c.name), &value_text(v))?;
        }
    }
    let name_id = match &ctx.name_id {
        Some(v) => {
            check_xml_text("the NameID", v)?;
            v.clone()
        }
        None => choose_name_id(&claims, &s.name_identifier_probes)?,
    };
    let (assertion_id, response_id) = ctx.ids.clone().unwrap_or_else(|| (new_id(), new_id()));
    let parts = AssertionParts {
        s,
        id: &assertion_id,
        name_id: &name_id,
        claims: &claims,
        ctx,
    };

    // 1. Assertion (written once, canonically), signed unless the Response is signed instead.
    let sign = |id: &str, c14n: &str| signature_element(&s.signing_key, s.signature_algorithm, s.digest_algorithm, id, c14n.as_bytes());
    let mut c = XmlWriter::new();
    let splices = write_assertion(&mut c, &parts);
    let assertion_c14n = c.out;
    let assertion_signature = if s.sign_response && !s.sign_both {
        None
    } else {
        Some(sign(&assertion_id, &assertion_c14n)?)
    };
    let assertion_doc = assertion_document(&assertion_c14n, &splices, assertion_signature.as_deref());
    let mut signed_c14n = String::new();

    // 2. Encryption of the (signed) assertion; its markup is the same in both forms.
    let (inner_doc, inner_canonical) = match &s.encryption {
        Some(target) => {
            let enc = encrypt_assertion(assertion_doc.as_bytes(), target)?;
            let mut w = XmlWriter::new();
            write_encrypted_assertion(&mut w, &enc, target);
            (w.out.clone(), w.out)
        }
        // The canonical form of the signed Assertion inside the Response: the Signature element
        // is written canonically and exclusive C14N drops the document's `xmlns:xs`.
        None if s.sign_response => {
            let canonical = match &assertion_signature {
                Some(sig) => splice(&assertion_c14n, splices.after_issuer, sig),
                None => assertion_c14n.clone(),
            };
            (assertion_doc, canonical)
        }
        None => (assertion_doc, String::new()),
    };
    if !s.sign_response {
        signed_c14n = assertion_c14n;
    }

    // 3. Response, signed when signResponse.
    let rp = ResponseParts {
        root: "samlp:Response",
        id: &response_id,
        issuer: &s.issuer,
        destination: &s.destination,
        in_response_to: ctx.in_response_to.as_deref(),
        now: &saml_time(ctx.now),
        status: &SUCCESS,
    };
    let xml = if s.sign_response {
        let (doc, c14n) = signed_response(&rp, &inner_doc, &inner_canonical, |c14n| sign(&response_id, c14n))?;
        signed_c14n = c14n;
        doc
    } else {
        let mut d = XmlWriter::new();
        write_response(&mut d, &rp, &inner_doc);
        d.out
    };
    Ok(BuiltResponse {
        xml,
        response_id,
        assertion_id,
        name_id,
        claims,
        signed_c14n,
    })
}

/// Builds a signed Response without an Assertion (a denied login or a bad request).
#[allow(clippy::too_many_arguments)]
pub fn build_error_response(
    issuer: &str,
    destination: &str,
    in_response_to: Option<&str>,
    key: &SigningKey,
    sig: SignatureAlgorithm,
    dig: DigestAlgorithm,
    error: &StatusError,
    now: DateTime<Utc>,
) -> Result<String, SamlError> {
    let parts = StatusOnly {
        root: "samlp:Response",
        issuer,
        destination,
        in_response_to,
    };
    build_status_only(&parts, key, sig, dig, Some(error), now)
}

/// A signed protocol response that carries only a status.
struct StatusOnly<'a> {
    root: &'a str,
    issuer: &'a str,
    destination: &'a str,
    in_response_to: Option<&'a str>,
}

fn build_status_only(
    p: &StatusOnly<'_>,
    key: &SigningKey,
    sig: SignatureAlgorithm,
    dig: DigestAlgorithm,
    error: Option<&StatusError>,
    now: DateTime<Utc>,
) -> Result<String, SamlError> {
    if let Some(e) = error {
        check_xml_text("the status message", &e.message)?;
    }
    let id = new_id();
    let now = saml_time(now);
    let status = match error {
        None => Status {
            top: ns::STATUS_SUCCESS,
            second: None,
            message: None,
        },
        Some(e) => Status {
            top: e.top.uri(),
            second: e.sub.map(super::status::SubStatus::uri),
            message: Some(&e.message),
        },
    };
    let rp = ResponseParts {
        root: p.root,
        id: &id,
        issuer: p.issuer,
        destination: p.destination,
        in_response_to: p.in_response_to,
        now: &now,
        status: &status,
    };
    let mut c = XmlWriter::new();
    let at = write_response(&mut c, &rp, "");
    let signature = signature_element(key, sig, dig, &id, c.out.as_bytes())?;
    Ok(splice(&c.out, at, &signature))
}

/// Builds a signed `samlp:LogoutResponse` (Success, or the given error).
#[allow(clippy::too_many_arguments)]
pub fn build_logout_response(
    issuer: &str,
    destination: &str,
    in_response_to: Option<&str>,
    key: &SigningKey,
    sig: SignatureAlgorithm,
    dig: DigestAlgorithm,
    error: Option<&StatusError>,
    now: DateTime<Utc>,
) -> Result<String, SamlError> {
    let parts = StatusOnly {
        root: "samlp:LogoutResponse",
        issuer,
        destination,
        in_response_to,
    };
    build_status_only(&parts, key, sig, dig, error, now)
}
