//! AuthnRequest intake: HTTP-Redirect (raw DEFLATE + base64, query signature over the raw
//! octets) and HTTP-POST (base64, enveloped signature). Hardened: size limits, no DTD or
//! entities, exactly one signature that covers the root, IssueInstant freshness, replay refusal.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::x509::X509;
use quick_xml::NsReader;
use quick_xml::events::Event as XmlEvent;
use quick_xml::name::ResolveResult;

use super::ns;
use super::response::StatusError;
use super::signing::{verify_redirect_signature, verify_xml_signature};

/// Largest encoded `SAMLRequest` accepted, in bytes.
pub const MAX_ENCODED_BYTES: usize = 64 * 1024;
/// Largest decoded (inflated) request accepted, in bytes.
pub const MAX_XML_BYTES: usize = 128 * 1024;
/// Default maximum age of an AuthnRequest's IssueInstant, in seconds.
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 300;

/// Why an AuthnRequest was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// Too large.
    #[error("the SAMLRequest is too large")]
    TooLarge,
    /// Not base64 / not DEFLATE / not UTF-8.
    #[error("the SAMLRequest could not be decoded: {0}")]
    Encoding(String),
    /// Not well-formed XML.
    #[error("the SAMLRequest is not well-formed XML: {0}")]
    Malformed(String),
    /// Has a DOCTYPE (DTDs and entities are never processed).
    #[error("the SAMLRequest contains a DTD, which is not allowed")]
    Dtd,
    /// The root is not `samlp:AuthnRequest`, or a required field is missing.
    #[error("invalid AuthnRequest: {0}")]
    Invalid(String),
    /// The SP requires signed requests and this one is not signed.
    #[error("SAMLRequest message MUST be signed when using an asynchronous binding (POST or Redirect)")]
    Unsigned,
    /// `SigAlg` missing on a signed redirect.
    #[error("Signature Algorithm is missing")]
    SigAlgMissing,
    /// The signature is structurally unacceptable (wrapping, several signatures, wrong reference).
    #[error("Signature check errors: {0}")]
    SignatureStructure(String),
    /// The signature does not verify.
    #[error("Signature check errors: {0}")]
    BadSignature(String),
    /// IssueInstant too old or in the future.
    #[error("the AuthnRequest is not fresh: {0}")]
    Stale(String),
    /// The request ID was already used.
    #[error("the AuthnRequest {0} was already used")]
    Replayed(String),
}

impl RequestError {
    /// The SAML status an SP is told (all intake errors are the requester's fault).
    pub fn status(&self) -> StatusError {
        let second = match self {
            RequestError::Unsigned
            | RequestError::SigAlgMissing
            | RequestError::SignatureStructure(_)
            | RequestError::BadSignature(_)
            | RequestError::Replayed(_)
            | RequestError::Stale(_) => Some(ns::STATUS_REQUEST_DENIED.to_string()),
            _ => None,
        };
        StatusError {
            requester: true,
            second,
            message: self.to_string(),
        }
    }
}

/// The fields of an AuthnRequest idpipe uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthnRequest {
    /// `ID`.
    pub id: String,
    /// First `saml:Issuer` (the SP's entity id).
    pub issuer: Option<String>,
    /// `AssertionConsumerServiceURL`.
    pub assertion_consumer_service_url: Option<String>,
    /// `AssertionConsumerServiceIndex`.
    pub assertion_consumer_service_index: Option<u32>,
    /// `Destination`.
    pub destination: Option<String>,
    /// `ProtocolBinding`.
    pub protocol_binding: Option<String>,
    /// `NameIDPolicy/@Format`.
    pub name_id_policy_format: Option<String>,
    /// `ForceAuthn="true"`.
    pub force_authn: bool,
    /// `IsPassive="true"`.
    pub is_passive: bool,
    /// `IssueInstant`.
    pub issue_instant: Option<DateTime<Utc>>,
    /// `Subject/NameID`.
    pub subject: Option<String>,
    /// The requested `AuthnContextClassRef`, when exactly one is given.
    pub requested_authn_context_class_ref: Option<String>,
    /// `SessionIndex` (LogoutRequest only).
    pub session_index: Option<String>,
    /// Whether a signature was verified.
    pub signature_verified: bool,
    #[doc(hidden)]
    pub signatures: Vec<SignatureInfo>,
}

/// Where a `ds:Signature` sits in the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignatureInfo {
    /// Element depth (1 = child of the root).
    pub depth: usize,
    /// `Reference/@URI` values inside it.
    pub references: Vec<String>,
}

fn b64_decode(s: &str) -> Result<Vec<u8>, RequestError> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|e| RequestError::Encoding(format!("base64: {e}")))
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, RequestError> {
    let mut out = Vec::new();
    // Why take(): a small deflate stream can expand enormously (deflate bomb).
    flate2::read::DeflateDecoder::new(data)
        .take(MAX_XML_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| RequestError::Encoding(format!("deflate: {e}")))?;
    if out.len() > MAX_XML_BYTES {
        return Err(RequestError::TooLarge);
    }
    Ok(out)
}

fn attr_value(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Result<Option<String>, RequestError> {
    for a in e.attributes() {
        let a = a.map_err(|e| RequestError::Malformed(e.to_string()))?;
        if a.key.as_ref().as_bytes() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| RequestError::Malformed(e.to_string()))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Parses the XML of an AuthnRequest (no signature check).
pub fn parse_xml(xml: &str) -> Result<AuthnRequest, RequestError> {
    parse_message(xml, "AuthnRequest")
}

/// Parses the XML of a LogoutRequest (no signature check): ID, Issuer, NameID (as `subject`),
/// SessionIndex, Destination, IssueInstant.
pub fn parse_logout_xml(xml: &str) -> Result<AuthnRequest, RequestError> {
    parse_message(xml, "LogoutRequest")
}

fn parse_message(xml: &str, root: &'static str) -> Result<AuthnRequest, RequestError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(RequestError::TooLarge);
    }
    let mut reader = NsReader::from_str(xml);
    let mut req = AuthnRequest::default();
    let mut stack: Vec<(Vec<u8>, Vec<u8>)> = Vec::new(); // (namespace, local name)
    let mut text_target: Option<&'static str> = None;
    let mut text = String::new();
    let mut class_refs: Vec<String> = Vec::new();
    let mut root_seen = false;
    loop {
        let (resolved, ev) = reader.read_resolved_event().map_err(|e| RequestError::Malformed(e.to_string()))?;
        let ns_bytes = match resolved {
            ResolveResult::Bound(n) => n.as_ref().as_bytes().to_vec(),
            _ => Vec::new(),
        };
        match ev {
            XmlEvent::DocType(_) => return Err(RequestError::Dtd),
            XmlEvent::Start(ref e) | XmlEvent::Empty(ref e) => {
                let is_empty = matches!(ev, XmlEvent::Empty(_));
                let local = e.local_name().as_ref().as_bytes().to_vec();
                let depth = stack.len();
                if depth == 0 {
                    if root_seen {
                        return Err(RequestError::Malformed("more than one root element".into()));
                    }
                    root_seen = true;
                    if ns_bytes != ns::PROTOCOL.as_bytes() || local != root.as_bytes() {
                        return Err(RequestError::Invalid(format!("the root element is not samlp:{root}")));
                    }
                    req.id = attr_value(e, b"ID")?.ok_or_else(|| RequestError::Invalid("the ID attribute is missing".into()))?;
                    req.destination = attr_value(e, b"Destination")?;
                    req.assertion_consumer_service_url = attr_value(e, b"AssertionConsumerServiceURL")?;
                    req.protocol_binding = attr_value(e, b"ProtocolBinding")?;
                    req.force_authn = attr_value(e, b"ForceAuthn")?.is_some_and(|v| v == "true" || v == "1");
                    req.is_passive = attr_value(e, b"IsPassive")?.is_some_and(|v| v == "true" || v == "1");
                    req.assertion_consumer_service_index = attr_value(e, b"AssertionConsumerServiceIndex")?.and_then(|v| v.parse().ok());
                    if let Some(t) = attr_value(e, b"IssueInstant")? {
                        let parsed = DateTime::parse_from_rfc3339(&t)
                            .map_err(|_| RequestError::Invalid(format!("IssueInstant '{t}' is not a valid time")))?;
                        req.issue_instant = Some(parsed.with_timezone(&Utc));
                    }
                    if attr_value(e, b"Version")?.as_deref() != Some("2.0") {
                        return Err(RequestError::Invalid("Version must be 2.0".into()));
                    }
                }
                let parent_local = stack.last().map(|(_, l)| l.as_slice());
                if ns_bytes == ns::DSIG.as_bytes() && local == b"Signature" {
                    req.signatures.push(SignatureInfo { depth, references: vec![] });
                }
                if ns_bytes == ns::DSIG.as_bytes() && local == b"Reference" {
                    let uri = attr_value(e, b"URI")?.unwrap_or_default();
                    if let Some(sig) = req.signatures.last_mut() {
                        sig.references.push(uri);
                    }
                }
                if ns_bytes == ns::ASSERTION.as_bytes() {
                    match (local.as_slice(), depth, parent_local) {
                        (b"Issuer", 1, _) if req.issuer.is_none() => text_target = Some("issuer"),
                        (b"NameID", 2, Some(b"Subject")) => text_target = Some("subject"),
                        (b"NameID", 1, _) if root == "LogoutRequest" => text_target = Some("subject"),
                        (b"AuthnContextClassRef", 2, Some(b"RequestedAuthnContext")) => text_target = Some("classref"),
                        _ => {}
                    }
                }
                if ns_bytes == ns::PROTOCOL.as_bytes() && local == b"SessionIndex" && depth == 1 && root == "LogoutRequest" {
                    text_target = Some("session_index");
                }
                if ns_bytes == ns::PROTOCOL.as_bytes() && local == b"NameIDPolicy" && depth == 1 {
                    req.name_id_policy_format = attr_value(e, b"Format")?;
                }
                text.clear();
                if !is_empty {
                    stack.push((ns_bytes, local));
                } else if let Some(t) = text_target.take() {
                    store_text(&mut req, &mut class_refs, t, String::new());
                }
            }
            XmlEvent::Text(t) if text_target.is_some() => text.push_str(&t.xml10_content()),
            XmlEvent::GeneralRef(r) if text_target.is_some() => {
                let name: &str = &r;
                let ch = match name {
                    "amp" => "&".to_string(),
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    other => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(RequestError::Malformed(format!("unknown entity &{other};"))),
                    },
                };
                text.push_str(&ch);
            }
            XmlEvent::CData(c) if text_target.is_some() => text.push_str(&c),
            XmlEvent::End(_) => {
                stack.pop();
                if let Some(t) = text_target.take() {
                    store_text(&mut req, &mut class_refs, t, std::mem::take(&mut text));
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(RequestError::Malformed("no root element".into()));
    }
    if !stack.is_empty() {
        return Err(RequestError::Malformed("unexpected end of document".into()));
    }
    if class_refs.len() == 1 {
        req.requested_authn_context_class_ref = class_refs.pop();
    }
    Ok(req)
}

fn store_text(req: &mut AuthnRequest, class_refs: &mut Vec<String>, target: &str, text: String) {
    let text = text.trim().to_string();
    match target {
        "issuer" => req.issuer = Some(text),
        "subject" => req.subject = Some(text),
        "session_index" => req.session_index = Some(text),
        _ => class_refs.push(text),
    }
}

/// Checks that the one enveloped signature is a child of the root and references the root.
fn check_signature_structure(req: &AuthnRequest) -> Result<(), RequestError> {
    match req.signatures.as_slice() {
        [] => Err(RequestError::Unsigned),
        [sig] => {
            if sig.depth != 1 {
                return Err(RequestError::SignatureStructure(
                    "the Signature must be a child of the request's root element".into(),
                ));
            }
            match sig.references.as_slice() {
                [uri] if *uri == format!("#{}", req.id) => Ok(()),
                [_] => Err(RequestError::SignatureStructure(
                    "the signature does not reference the request's ID".into(),
                )),
                _ => Err(RequestError::SignatureStructure(
                    "the signature must have exactly one Reference".into(),
                )),
            }
        }
        _ => Err(RequestError::SignatureStructure("more than one Signature".into())),
    }
}

fn check_fresh(req: &AuthnRequest, now: DateTime<Utc>, max_age_seconds: i64, skew_seconds: i64) -> Result<(), RequestError> {
    let t = req
        .issue_instant
        .ok_or_else(|| RequestError::Invalid("IssueInstant is missing".into()))?;
    // try_seconds: huge configured values must not panic.
    let secs = |s: i64| chrono::Duration::try_seconds(s).unwrap_or(chrono::Duration::MAX / 2);
    if t > now + secs(skew_seconds) {
        return Err(RequestError::Stale("IssueInstant is in the future".into()));
    }
    if now - t > secs(max_age_seconds.saturating_add(skew_seconds)) {
        return Err(RequestError::Stale(format!("IssueInstant is older than {max_age_seconds} s")));
    }
    Ok(())
}

/// Freshness rules for intake.
#[derive(Debug, Clone, Copy)]
pub struct IntakeRules {
    /// Current time.
    pub now: DateTime<Utc>,
    /// Maximum age of IssueInstant.
    pub max_age_seconds: i64,
    /// Allowed clock skew.
    pub skew_seconds: i64,
}

impl IntakeRules {
    /// Default rules at `now` (5 minutes, no skew).
    pub fn at(now: DateTime<Utc>) -> Self {
        IntakeRules {
            now,
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            skew_seconds: 0,
        }
    }
}

/// An AuthnRequest with the RelayState that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    /// The request.
    pub request: AuthnRequest,
    /// `RelayState`, if any.
    pub relay_state: Option<String>,
}

/// HTTP-Redirect binding: `raw_query` is the query string exactly as received (percent-encoded).
pub fn parse_redirect(raw_query: &str, signing_cert: Option<&X509>, rules: IntakeRules) -> Result<Intake, RequestError> {
    redirect_intake(raw_query, signing_cert, rules, "AuthnRequest")
}

/// HTTP-Redirect binding of a LogoutRequest (same checks as [`parse_redirect`]).
pub fn parse_logout_redirect(raw_query: &str, signing_cert: Option<&X509>, rules: IntakeRules) -> Result<Intake, RequestError> {
    redirect_intake(raw_query, signing_cert, rules, "LogoutRequest")
}

/// HTTP-POST binding of a LogoutRequest (same checks as [`parse_post`]).
pub fn parse_logout_post(
    saml_request: &str,
    relay_state: Option<String>,
    signing_cert: Option<&X509>,
    rules: IntakeRules,
) -> Result<Intake, RequestError> {
    post_intake(saml_request, relay_state, signing_cert, rules, "LogoutRequest")
}

fn redirect_intake(raw_query: &str, signing_cert: Option<&X509>, rules: IntakeRules, root: &'static str) -> Result<Intake, RequestError> {
    if raw_query.len() > MAX_ENCODED_BYTES * 2 {
        return Err(RequestError::TooLarge);
    }
    let mut raw: HashMap<&str, &str> = HashMap::new();
    for part in raw_query.split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        raw.entry(k).or_insert(v);
    }
    let decode = |v: &str| -> String {
        url::form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let saml_raw = raw
        .get("SAMLRequest")
        .ok_or_else(|| RequestError::Invalid("SAMLRequest is missing".into()))?;
    let encoded = decode(saml_raw);
    if encoded.len() > MAX_ENCODED_BYTES {
        return Err(RequestError::TooLarge);
    }
    let bytes = b64_decode(&encoded)?;
    // Tolerated like the hosted service: plain (not deflated) XML on GET.
    let xml_bytes = if bytes.first() == Some(&b'<') { bytes } else { inflate(&bytes)? };
    let xml = String::from_utf8(xml_bytes).map_err(|_| RequestError::Encoding("not UTF-8".into()))?;
    let mut request = parse_message(&xml, root)?;
    let relay_state = raw.get("RelayState").map(|v| decode(v));
    if let Some(cert) = signing_cert {
        match raw.get("Signature") {
            Some(sig_raw) => {
                let sig_alg_raw = raw.get("SigAlg").ok_or(RequestError::SigAlgMissing)?;
                // Bindings spec 3.4.4.1: verify over the octets as received, in this order.
                let mut signed = format!("SAMLRequest={saml_raw}");
                if let Some(rs) = raw.get("RelayState") {
                    signed.push_str(&format!("&RelayState={rs}"));
                }
                signed.push_str(&format!("&SigAlg={sig_alg_raw}"));
                let signature = b64_decode(&decode(sig_raw))?;
                verify_redirect_signature(signed.as_bytes(), &decode(sig_alg_raw), &signature, cert).map_err(RequestError::BadSignature)?;
            }
            None => verify_embedded(&xml, &request, cert)?,
        }
        request.signature_verified = true;
    }
    check_fresh(&request, rules.now, rules.max_age_seconds, rules.skew_seconds)?;
    Ok(Intake { request, relay_state })
}

/// HTTP-POST binding: the `SAMLRequest` and `RelayState` form fields.
pub fn parse_post(
    saml_request: &str,
    relay_state: Option<String>,
    signing_cert: Option<&X509>,
    rules: IntakeRules,
) -> Result<Intake, RequestError> {
    post_intake(saml_request, relay_state, signing_cert, rules, "AuthnRequest")
}

fn post_intake(
    saml_request: &str,
    relay_state: Option<String>,
    signing_cert: Option<&X509>,
    rules: IntakeRules,
    root: &'static str,
) -> Result<Intake, RequestError> {
    if saml_request.len() > MAX_ENCODED_BYTES {
        return Err(RequestError::TooLarge);
    }
    let bytes = b64_decode(saml_request)?;
    let xml = String::from_utf8(bytes).map_err(|_| RequestError::Encoding("not UTF-8".into()))?;
    let mut request = parse_message(&xml, root)?;
    if let Some(cert) = signing_cert {
        verify_embedded(&xml, &request, cert)?;
        request.signature_verified = true;
    }
    check_fresh(&request, rules.now, rules.max_age_seconds, rules.skew_seconds)?;
    Ok(Intake { request, relay_state })
}

fn verify_embedded(xml: &str, request: &AuthnRequest, cert: &X509) -> Result<(), RequestError> {
    check_signature_structure(request)?;
    verify_xml_signature(xml, cert).map_err(RequestError::BadSignature)
}

/// IDs with their expiry, and the time of the last sweep of expired ones.
type Seen = (HashMap<String, DateTime<Utc>>, Option<DateTime<Utc>>);

/// Remembers request IDs until they expire, to refuse replays.
#[derive(Debug, Default)]
pub struct ReplayCache {
    /// IDs with their expiry, and when expired entries were last swept.
    seen: Mutex<Seen>,
}

impl ReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id` until `until`; refuses it if it is already recorded and not expired.
    pub fn check_and_remember(&self, id: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), RequestError> {
        let mut guard = self.seen.lock().map_err(|_| RequestError::Replayed(id.to_string()))?;
        let (seen, last_sweep) = &mut *guard;
        // Why not on every call: a sweep is O(entries); under load once every 10 s is enough.
        if last_sweep.is_none_or(|t| now - t > chrono::Duration::seconds(10)) {
            seen.retain(|_, exp| *exp > now);
            *last_sweep = Some(now);
        }
        if seen.get(id).is_some_and(|exp| *exp > now) {
            return Err(RequestError::Replayed(id.to_string()));
        }
        seen.insert(id.to_string(), until);
        Ok(())
    }
}
