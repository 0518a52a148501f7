//! AuthnRequest and LogoutRequest intake: HTTP-Redirect (raw DEFLATE + base64, query signature
//! over the raw octets) and HTTP-POST (base64, enveloped signature). Hardened: size limits, one
//! strict libxml2 tree for verification and reading ([`super::xmldsig`]), exactly one signature
//! that covers the root, allowed algorithms only, IssueInstant freshness, bounded RelayState.
//! Replays are refused by the caller against the store (shared by every node, kept across
//! restarts).

use std::collections::HashMap;
use std::io::Read;

use base64::Engine;
use chrono::{DateTime, Utc};
use libxml::tree::{Document, Node};
use openssl::x509::X509;

use super::ns;
use super::signing::verify_redirect_signature;
use super::status::{StatusError, SubStatus, TopStatus};
use super::xmldsig::{AlgorithmPolicy, is, parse_strict, verify_enveloped};

/// Largest encoded `SAMLRequest` accepted, in bytes.
pub const MAX_ENCODED_BYTES: usize = 64 * 1024;
/// Largest decoded (inflated) request accepted, in bytes.
pub const MAX_XML_BYTES: usize = 128 * 1024;
/// Longest `RelayState` accepted, in bytes. SAML Bindings 3.4.3 says an SP SHOULD keep it to
/// 80 bytes; real SPs put return URLs there, so more is accepted, but never unbounded (it is
/// stored with a pending login before anyone authenticated).
pub const MAX_RELAY_STATE_BYTES: usize = 2048;
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
    #[error("the request {0} was already used")]
    Replayed(String),
    /// `RelayState` longer than [`MAX_RELAY_STATE_BYTES`].
    #[error("the RelayState is longer than {MAX_RELAY_STATE_BYTES} bytes")]
    RelayStateTooLong,
    /// A binding parameter appears more than once.
    #[error("the parameter {0} appears more than once")]
    DuplicateParameter(String),
}

impl RequestError {
    /// The SAML status an SP is told (all intake errors are the requester's fault).
    pub fn status(&self) -> StatusError {
        let sub = match self {
            RequestError::Unsigned
            | RequestError::SigAlgMissing
            | RequestError::SignatureStructure(_)
            | RequestError::BadSignature(_)
            | RequestError::Replayed(_)
            | RequestError::Stale(_) => Some(SubStatus::RequestDenied),
            _ => None,
        };
        StatusError::new(TopStatus::Requester, sub, self.to_string())
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
    /// `NameIDPolicy/@AllowCreate` (absent: `None`).
    pub name_id_policy_allow_create: Option<bool>,
    /// Every `RequestedAuthnContext/AuthnContextClassRef`, in order.
    pub requested_authn_context: Vec<String>,
    /// `RequestedAuthnContext/@Comparison` (absent: `exact`).
    pub authn_context_comparison: Option<String>,
    /// `InResponseTo` (a LogoutResponse).
    pub in_response_to: Option<String>,
    /// The status codes, top-level first (a LogoutResponse).
    pub status_codes: Vec<String>,
    /// `SessionIndex` (LogoutRequest only).
    pub session_index: Option<String>,
    /// Whether a signature was verified.
    pub signature_verified: bool,
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

/// Parses the XML of an AuthnRequest (no signature check).
pub fn parse_xml(xml: &str) -> Result<AuthnRequest, RequestError> {
    let doc = parse_strict(xml)?;
    read_message(&doc, "AuthnRequest")
}

/// Parses the XML of a LogoutRequest (no signature check): ID, Issuer, NameID (as `subject`),
/// SessionIndex, Destination, IssueInstant.
pub fn parse_logout_xml(xml: &str) -> Result<AuthnRequest, RequestError> {
    let doc = parse_strict(xml)?;
    read_message(&doc, "LogoutRequest")
}

fn child<'a>(children: &'a [Node], namespace: &str, local: &str) -> Option<&'a Node> {
    children.iter().find(|c| is(c, namespace, local))
}

fn flag(root: &Node, name: &str) -> bool {
    root.get_attribute_no_ns(name).is_some_and(|v| v == "true" || v == "1")
}

/// Reads the fields idpipe uses from the (already verified, when signed) tree.
fn read_message(doc: &Document, root_name: &'static str) -> Result<AuthnRequest, RequestError> {
    let root = doc
        .get_root_element()
        .ok_or_else(|| RequestError::Malformed("no root element".into()))?;
    if !is(&root, ns::PROTOCOL, root_name) {
        return Err(RequestError::Invalid(format!("the root element is not samlp:{root_name}")));
    }
    let attr = |n: &str| root.get_attribute_no_ns(n);
    let mut req = AuthnRequest {
        id: attr("ID").ok_or_else(|| RequestError::Invalid("the ID attribute is missing".into()))?,
        destination: attr("Destination"),
        assertion_consumer_service_url: attr("AssertionConsumerServiceURL"),
        protocol_binding: attr("ProtocolBinding"),
        force_authn: flag(&root, "ForceAuthn"),
        is_passive: flag(&root, "IsPassive"),
        assertion_consumer_service_index: attr("AssertionConsumerServiceIndex").and_then(|v| v.parse().ok()),
        ..Default::default()
    };
    if req.id.is_empty() || req.id.len() > 256 {
        return Err(RequestError::Invalid("the ID attribute is empty or too long".into()));
    }
    if let Some(t) = attr("IssueInstant") {
        let parsed =
            DateTime::parse_from_rfc3339(&t).map_err(|_| RequestError::Invalid(format!("IssueInstant '{t}' is not a valid time")))?;
        req.issue_instant = Some(parsed.with_timezone(&Utc));
    }
    if attr("Version").as_deref() != Some("2.0") {
        return Err(RequestError::Invalid("Version must be 2.0".into()));
    }
    let children = root.get_child_elements();
    let text = |n: &Node| n.get_content().trim().to_string();
    req.issuer = child(&children, ns::ASSERTION, "Issuer").map(text);
    if root_name == "LogoutResponse" {
        req.in_response_to = attr("InResponseTo");
        let mut status = child(&children, ns::PROTOCOL, "Status")
            .and_then(|s| s.get_child_elements().into_iter().find(|c| is(c, ns::PROTOCOL, "StatusCode")));
        while let Some(code) = status.take() {
            req.status_codes.extend(code.get_attribute_no_ns("Value"));
            status = code.get_child_elements().into_iter().find(|c| is(c, ns::PROTOCOL, "StatusCode"));
            if req.status_codes.len() >= 4 {
                break;
            }
        }
    } else if root_name == "LogoutRequest" {
        req.subject = child(&children, ns::ASSERTION, "NameID").map(text);
        req.session_index = child(&children, ns::PROTOCOL, "SessionIndex").map(text);
    } else {
        req.subject = child(&children, ns::ASSERTION, "Subject")
            .and_then(|s| s.get_child_elements().into_iter().find(|c| is(c, ns::ASSERTION, "NameID")))
            .map(|n| text(&n));
        if let Some(policy) = child(&children, ns::PROTOCOL, "NameIDPolicy") {
            req.name_id_policy_format = policy.get_attribute_no_ns("Format");
            req.name_id_policy_allow_create = policy.get_attribute_no_ns("AllowCreate").map(|v| v == "true" || v == "1");
        }
        if let Some(rac) = child(&children, ns::PROTOCOL, "RequestedAuthnContext") {
            let refs: Vec<String> = rac
                .get_child_elements()
                .iter()
                .filter(|c| is(c, ns::ASSERTION, "AuthnContextClassRef"))
                .map(text)
                .take(16)
                .collect();
            if let [one] = refs.as_slice() {
                req.requested_authn_context_class_ref = Some(one.clone());
            }
            req.requested_authn_context = refs;
            req.authn_context_comparison = rac.get_attribute_no_ns("Comparison");
        }
    }
    Ok(req)
}

/// Parses `xml` strictly, verifies its enveloped signature with `cert` (when given), and reads
/// the fields from the same tree.
fn intake_xml(xml: &str, root: &'static str, cert: Option<&X509>, policy: AlgorithmPolicy) -> Result<AuthnRequest, RequestError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(RequestError::TooLarge);
    }
    let doc = parse_strict(xml)?;
    // Read first, so that a wrong message type is told as such; the fields come from this same
    // tree, which verification only strips of its Signature (never read), so they are the
    // verified ones: no second read.
    let mut req = read_message(&doc, root)?;
    if let Some(cert) = cert {
        verify_enveloped(&doc, cert, policy)?;
        req.signature_verified = true;
    }
    Ok(req)
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
    /// Signature and digest algorithms accepted.
    pub algorithms: AlgorithmPolicy,
}

impl IntakeRules {
    /// Default rules at `now` (5 minutes, no skew).
    pub fn at(now: DateTime<Utc>) -> Self {
        IntakeRules {
            now,
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            skew_seconds: 0,
            algorithms: AlgorithmPolicy::default(),
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

/// HTTP-Redirect binding of a LogoutResponse (`SAMLResponse`; same checks as [`parse_redirect`]).
pub fn parse_logout_response_redirect(raw_query: &str, signing_cert: Option<&X509>, rules: IntakeRules) -> Result<Intake, RequestError> {
    redirect_intake(raw_query, signing_cert, rules, "LogoutResponse")
}

/// HTTP-POST binding of a LogoutResponse (the `SAMLResponse` field).
pub fn parse_logout_response_post(
    saml_response: &str,
    relay_state: Option<String>,
    signing_cert: Option<&X509>,
    rules: IntakeRules,
) -> Result<Intake, RequestError> {
    post_intake(saml_response, relay_state, signing_cert, rules, "LogoutResponse")
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

fn check_relay_state(rs: Option<&str>) -> Result<(), RequestError> {
    if rs.is_some_and(|r| r.len() > MAX_RELAY_STATE_BYTES) {
        return Err(RequestError::RelayStateTooLong);
    }
    Ok(())
}

fn redirect_intake(raw_query: &str, signing_cert: Option<&X509>, rules: IntakeRules, root: &'static str) -> Result<Intake, RequestError> {
    if raw_query.len() > MAX_ENCODED_BYTES * 2 {
        return Err(RequestError::TooLarge);
    }
    let param = if root == "LogoutResponse" { "SAMLResponse" } else { "SAMLRequest" };
    let mut raw: HashMap<&str, &str> = HashMap::new();
    for part in raw_query.split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        // Why refuse duplicates: the signed octets and the parsed values must name one value.
        if raw.insert(k, v).is_some() && [param, "RelayState", "SigAlg", "Signature"].contains(&k) {
            return Err(RequestError::DuplicateParameter(k.to_string()));
        }
    }
    let decode = |v: &str| -> String {
        url::form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let saml_raw = raw.get(param).ok_or_else(|| RequestError::Invalid(format!("{param} is missing")))?;
    let encoded = decode(saml_raw);
    if encoded.len() > MAX_ENCODED_BYTES {
        return Err(RequestError::TooLarge);
    }
    let relay_state = raw.get("RelayState").map(|v| decode(v));
    check_relay_state(relay_state.as_deref())?;
    let bytes = b64_decode(&encoded)?;
    // Tolerated like the hosted service: plain (not deflated) XML on GET.
    let xml_bytes = if bytes.first() == Some(&b'<') { bytes } else { inflate(&bytes)? };
    let xml = String::from_utf8(xml_bytes).map_err(|_| RequestError::Encoding("not UTF-8".into()))?;
    let query_signature = raw.get("Signature").filter(|_| signing_cert.is_some());
    let request = match (signing_cert, query_signature) {
        (Some(cert), Some(sig_raw)) => {
            let sig_alg_raw = raw.get("SigAlg").ok_or(RequestError::SigAlgMissing)?;
            let md = rules.algorithms.signature_digest(&decode(sig_alg_raw))?;
            // Bindings spec 3.4.4.1: verify over the octets as received, in this order.
            let mut signed = format!("{param}={saml_raw}");
            if let Some(rs) = raw.get("RelayState") {
                signed.push_str(&format!("&RelayState={rs}"));
            }
            signed.push_str(&format!("&SigAlg={sig_alg_raw}"));
            let signature = b64_decode(&decode(sig_raw))?;
            verify_redirect_signature(signed.as_bytes(), md, &signature, cert).map_err(RequestError::BadSignature)?;
            let mut r = intake_xml(&xml, root, None, rules.algorithms)?;
            r.signature_verified = true;
            r
        }
        // No query signature: an embedded one must verify (when the SP has a certificate).
        (cert, _) => intake_xml(&xml, root, cert, rules.algorithms)?,
    };
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
    check_relay_state(relay_state.as_deref())?;
    let bytes = b64_decode(saml_request)?;
    let xml = String::from_utf8(bytes).map_err(|_| RequestError::Encoding("not UTF-8".into()))?;
    let request = intake_xml(&xml, root, signing_cert, rules.algorithms)?;
    check_fresh(&request, rules.now, rules.max_age_seconds, rules.skew_seconds)?;
    Ok(Intake { request, relay_state })
}
