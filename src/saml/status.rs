//! The status of an error Response or LogoutResponse (SAML Core 3.2.2.2), as enums: the codes
//! idpipe sends are chosen by the engine and the intake, never by text an action or a request
//! supplies.

use super::ns;

/// The top-level status of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopStatus {
    /// Done, with a second-level code that qualifies it (e.g. a `PartialLogout`).
    Success,
    /// The request was wrong (`Requester`).
    Requester,
    /// The IdP refused or failed (`Responder`).
    Responder,
}

impl TopStatus {
    /// The status code URI.
    pub fn uri(self) -> &'static str {
        match self {
            TopStatus::Success => ns::STATUS_SUCCESS,
            TopStatus::Requester => ns::STATUS_REQUESTER,
            TopStatus::Responder => ns::STATUS_RESPONDER,
        }
    }
}

/// The second-level status codes idpipe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// The user could not be authenticated (e.g. an MFA requirement could not be met).
    AuthnFailed,
    /// The request or the login was refused.
    RequestDenied,
    /// `IsPassive` was asked but the user must be shown something.
    NoPassive,
    /// The requested NameID format cannot be met.
    InvalidNameIdPolicy,
    /// A logout did not reach every session participant.
    PartialLogout,
    /// The requested authentication context cannot be met.
    NoAuthnContext,
}

impl SubStatus {
    /// The status code URI.
    pub fn uri(self) -> &'static str {
        match self {
            SubStatus::AuthnFailed => ns::STATUS_AUTHN_FAILED,
            SubStatus::RequestDenied => ns::STATUS_REQUEST_DENIED,
            SubStatus::NoPassive => "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
            SubStatus::InvalidNameIdPolicy => "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
            SubStatus::PartialLogout => "urn:oasis:names:tc:SAML:2.0:status:PartialLogout",
            SubStatus::NoAuthnContext => "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext",
        }
    }
}

/// The status of an error Response sent to the SP.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusError {
    /// `Requester` for a bad request, `Responder` for a refused login.
    pub top: TopStatus,
    /// The second-level code, if any.
    pub sub: Option<SubStatus>,
    /// `StatusMessage` text.
    pub message: String,
}

impl StatusError {
    /// A status with a top-level and an optional second-level code.
    pub fn new(top: TopStatus, sub: Option<SubStatus>, message: impl Into<String>) -> Self {
        StatusError {
            top,
            sub,
            message: message.into(),
        }
    }
}
