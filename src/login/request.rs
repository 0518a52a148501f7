//! The protocol requests a login answers (already validated by the HTTP layer).

use serde::{Deserialize, Serialize};

/// A SAML SSO request, as much of it as the response needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlLogin {
    /// SP client id.
    pub client_id: String,
    /// AuthnRequest ID (none for IdP-initiated).
    pub request_id: Option<String>,
    /// AuthnRequest Issuer.
    pub request_issuer: Option<String>,
    /// The ACS URL (already checked against the allowed callbacks).
    pub acs_url: String,
    /// RelayState.
    pub relay_state: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// `IsPassive`.
    pub is_passive: bool,
    /// `NameIDPolicy`, if the request has one.
    #[serde(default)]
    pub name_id_policy: Option<crate::saml::policy::NameIdPolicy>,
    /// `RequestedAuthnContext`, if the request has one.
    #[serde(default)]
    pub requested_authn_context: Option<crate::saml::policy::RequestedAuthnContext>,
}

/// An OIDC authorization request (already validated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcLogin {
    /// Client id.
    pub client_id: String,
    /// Registered redirect URI in use.
    pub redirect_uri: String,
    /// The app's `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// `audience` (a configured API).
    pub audience: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `query` or `form_post`.
    pub response_mode: String,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age` (s): an older session authentication means a new login.
    #[serde(default)]
    pub max_age: Option<u64>,
    /// The `claims` parameter (OIDC Core 5.5).
    #[serde(default)]
    pub claims: crate::oidc::claims::ClaimsRequest,
    /// `acr_values` (space-separated in the request), for the actions and `acr`.
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// `login_hint`: pre-fills the login page's username.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// `ui_locales` (the first one becomes `event.transaction.locale`).
    #[serde(default)]
    pub ui_locales: Option<String>,
}

/// A password reset whose link was opened: not a protocol request, its end is the
/// new-password page (see `login::reset`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetLogin {
    /// The application the reset started from (empty: none).
    pub client_id: String,
    /// The user resetting their password.
    pub user_id: String,
}

/// The protocol request a login answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
// One per login, moved a few times: the variants' size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub enum LoginRequest {
    /// SAML SSO.
    Saml(SamlLogin),
    /// OIDC authorization code flow.
    Oidc(OidcLogin),
    /// A password reset (the password-reset post-challenge actions).
    PasswordReset(ResetLogin),
}

impl LoginRequest {
    /// The client id.
    pub fn client_id(&self) -> &str {
        match self {
            LoginRequest::Saml(s) => &s.client_id,
            LoginRequest::Oidc(o) => &o.client_id,
            LoginRequest::PasswordReset(r) => &r.client_id,
        }
    }
}

impl LoginRequest {
    /// Whether the user must not be shown anything (`IsPassive`, `prompt=none`).
    pub fn is_passive(&self) -> bool {
        match self {
            LoginRequest::Saml(s) => s.is_passive,
            LoginRequest::Oidc(o) => o.prompt.as_deref() == Some("none"),
            LoginRequest::PasswordReset(_) => false,
        }
    }

    /// Whether the user must authenticate again whatever the session (`ForceAuthn`, `prompt=login`).
    pub fn forces_authentication(&self) -> bool {
        match self {
            LoginRequest::Saml(s) => s.force_authn,
            LoginRequest::Oidc(o) => o.prompt.as_deref() == Some("login"),
            LoginRequest::PasswordReset(_) => false,
        }
    }

    /// The username to pre-fill on the login page (OIDC `login_hint`).
    pub fn login_hint(&self) -> Option<&str> {
        match self {
            LoginRequest::Oidc(o) => o.login_hint.as_deref(),
            LoginRequest::Saml(_) | LoginRequest::PasswordReset(_) => None,
        }
    }

    /// `max_age` in milliseconds (OIDC only).
    pub fn max_age_ms(&self) -> Option<i64> {
        match self {
            LoginRequest::Oidc(o) => o.max_age.map(|m| i64::try_from(m).unwrap_or(i64::MAX / 2).saturating_mul(1000)),
            LoginRequest::Saml(_) | LoginRequest::PasswordReset(_) => None,
        }
    }
}
