//! The SAML 2.0 issuer: reads the pipeline [`Outcome`](crate::pipeline::Outcome), the SP's add-on
//! settings and the incoming AuthnRequest, and builds the signed (optionally encrypted) Response.
//!
//! `shared/reference/saml-response-behaviour.md` section 16 is the normative behaviour.
//! Incoming requests are read and their signatures verified on one strict libxml2 tree
//! ([`xmldsig`]); outgoing signatures are made in [`signing`] with OpenSSL.

pub mod encryption;
pub mod form;
pub mod logout;
pub mod mapping;
pub mod metadata;
pub mod policy;
pub mod request;
pub mod response;
pub mod settings;
pub mod signing;
pub mod sp_metadata;
pub mod status;
pub(crate) mod xml;
pub mod xmldsig;

pub use request::{AuthnRequest, RequestError};
pub use response::{ResponseContext, build_error_response, build_response};
pub use settings::{AddonSettings, ResolvedSettings, TenantSamlDefaults};
pub use signing::SigningKey;
pub use status::{StatusError, SubStatus, TopStatus};

/// Why a SAML response could not be built. Each becomes a clear error, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// The SP's add-on settings are invalid.
    #[error("invalid SAML settings: {0}")]
    Settings(String),
    /// A key or certificate problem.
    #[error("{0}")]
    Key(String),
    /// No NameID could be chosen (the hosted service's exact message).
    #[error("No attribute was found to generate the nameIdentifier. We tried with: {}", .0.join(", "))]
    NoNameIdentifier(Vec<String>),
    /// Encryption was asked for but cannot be done.
    #[error("{0}")]
    Encryption(String),
    /// A value cannot be written to XML.
    #[error("{0}")]
    Value(String),
    /// OpenSSL failed.
    #[error("crypto error: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// SAML namespaces and URIs used throughout.
pub mod ns {
    /// `samlp`.
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    /// `saml`.
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    /// `md`.
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    /// XML-DSig.
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// XML Encryption.
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    /// XML Schema.
    pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
    /// XML Schema instance.
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    /// Exclusive C14N without comments.
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    /// Enveloped-signature transform.
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    /// Bearer subject confirmation.
    pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    /// Success status.
    pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    /// Requester status (bad request).
    pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    /// Responder status.
    pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    /// Second-level: authentication failed.
    pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    /// Second-level: request denied.
    pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    /// Unspecified NameID format.
    pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
    /// Default AuthnContextClassRef.
    pub const AC_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";
    /// `uri` attribute NameFormat.
    pub const ATTR_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
    /// `basic` attribute NameFormat.
    pub const ATTR_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
    /// `unspecified` attribute NameFormat.
    pub const ATTR_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified";
    /// HTTP-POST binding.
    pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    /// HTTP-Redirect binding.
    pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
}

/// Everything the SAML issuer reads to answer one login.
pub struct IssueInput<'a> {
    /// Tenant defaults (issuer, signing key).
    pub tenant: &'a TenantSamlDefaults,
    /// The SP's add-on settings.
    pub addon: &'a AddonSettings,
    /// The pipeline outcome (only `outcome.saml` is read here).
    pub outcome: &'a crate::pipeline::Outcome,
    /// The user profile (`event.user` as JSON, metadata changes already applied).
    pub profile: &'a serde_json::Map<String, serde_json::Value>,
    /// The AuthnRequest, for SP-initiated logins.
    pub request: Option<&'a AuthnRequest>,
    /// The ACS URL in use (already checked against the SP's allowed callbacks).
    pub acs_url: &'a str,
    /// The SP's client id.
    pub client_id: &'a str,
    /// RelayState that came with the request.
    pub relay_state: Option<&'a str>,
    /// Session id (SessionIndex).
    pub session_index: &'a str,
    /// When the user authenticated (SAML Core 2.7.2: the `AuthnInstant`); `None`: now.
    pub authn_instant: Option<chrono::DateTime<chrono::Utc>>,
    /// Now.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The NameID (format, value) the request's `NameIDPolicy` decided; `None`: the settings'.
    pub name_id: Option<(String, String)>,
    /// The AuthnContextClassRef the login met, used unless the settings or an action set one.
    pub authn_context_class_ref: Option<String>,
    /// Fixed (assertion, response) IDs, for reproducible test fixtures; `None`: random.
    pub ids: Option<(String, String)>,
}

/// A response ready to POST to the SP.
pub struct Issued {
    /// The Response.
    pub response: response::BuiltResponse,
    /// RelayState to send (action override, else the request's).
    pub relay_state: Option<String>,
    /// The settings that were used.
    pub settings: ResolvedSettings,
}

/// Builds the SAML Response for a completed login from the outcome alone.
pub fn issue(input: &IssueInput<'_>) -> Result<Issued, SamlError> {
    let ov = &input.outcome.saml;
    let req = settings::RequestDefaults {
        request_issuer: input.request.and_then(|r| r.issuer.clone()),
        acs_url: input.acs_url.to_string(),
        client_id: input.client_id.to_string(),
        name_id_format: input.name_id.as_ref().map(|(f, _)| f.clone()),
        authn_context_class_ref: input.authn_context_class_ref.clone(),
    };
    let resolved = settings::resolve(input.tenant, input.addon, ov, &req)?;
    let ctx = ResponseContext {
        in_response_to: input.request.map(|r| r.id.clone()),
        session_index: input.session_index.to_string(),
        now: input.now,
        authn_instant: input.authn_instant,
        name_id: input.name_id.as_ref().map(|(_, v)| v.clone()),
        ids: input.ids.clone(),
    };
    let built = build_response(&resolved, input.profile, &ov.attributes, &ctx)?;
    let relay_state = ov
        .relay_state
        .clone()
        .or_else(|| input.addon.relay_state.clone())
        .or_else(|| input.relay_state.map(str::to_string));
    Ok(Issued {
        response: built,
        relay_state,
        settings: resolved,
    })
}

/// The SAML status for a login the pipeline refused (Responder + RequestDenied, or AuthnFailed
/// when an MFA requirement could not be met), with the action's reason as StatusMessage.
pub fn denied_status(failure: &crate::pipeline::outcome::Failure) -> StatusError {
    use crate::pipeline::outcome::FailureKind as K;
    let sub = match failure.kind {
        K::MfaUnavailable | K::PrimaryUserMismatch => SubStatus::AuthnFailed,
        _ => SubStatus::RequestDenied,
    };
    StatusError::new(TopStatus::Responder, Some(sub), failure.description.clone())
}
