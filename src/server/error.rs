//! The one error type of the HTTP edge: every handler answers `Result<Response, WebError>`, and
//! each variant decides its status and shape (an HTML page for browsers, the OAuth JSON body for
//! API endpoints). Statuses come from typed values (`PageError`, `OAuthCode`, `RequestError`),
//! never from comparing strings.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::pages;
use crate::login::{PageError, StateError};
use crate::oidc::{OAuthError, OAuthStatus};
use crate::saml::request::RequestError;
use crate::store::StoreError;

/// An error answered to a request.
#[derive(Debug)]
pub enum WebError {
    /// An HTML error page (never a redirect: the request could not be trusted).
    Page {
        /// The status.
        status: StatusCode,
        /// Short code shown on the page.
        code: &'static str,
        /// What the user is told.
        description: String,
    },
    /// An OAuth JSON error (`{error, error_description}`) of an API endpoint.
    OAuth {
        /// The error.
        error: OAuthError,
        /// `WWW-Authenticate` challenge (401 of the token and userinfo endpoints).
        challenge: Option<&'static str>,
    },
    /// 429 with `Retry-After: 60` (JSON for API endpoints, a page otherwise).
    TooMany {
        /// JSON body instead of a page.
        json: bool,
        /// What the client is told.
        description: &'static str,
    },
    /// The store failed: logged with its cause, answered without it.
    Store(StoreError),
}

/// The status of an OAuth error class.
pub fn oauth_status(s: OAuthStatus) -> StatusCode {
    match s {
        OAuthStatus::BadRequest => StatusCode::BAD_REQUEST,
        OAuthStatus::Unauthorized => StatusCode::UNAUTHORIZED,
        OAuthStatus::Forbidden => StatusCode::FORBIDDEN,
        OAuthStatus::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthStatus::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The status of a login engine's error page.
pub fn page_status(kind: PageError) -> StatusCode {
    match kind {
        PageError::BadRequest => StatusCode::BAD_REQUEST,
        PageError::Forbidden => StatusCode::FORBIDDEN,
        PageError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl WebError {
    /// An HTML error page.
    pub fn page(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        WebError::Page {
            status,
            code,
            description: description.into(),
        }
    }

    /// A form whose CSRF token does not match the browser's cookie (403).
    pub fn invalid_csrf() -> Self {
        Self::page(
            StatusCode::FORBIDDEN,
            "invalid_csrf",
            "The form could not be verified (cookies disabled, or the page is stale). Reload the page and try again.",
        )
    }

    /// The state key of a page's query or form (`state`, at most 64 characters); missing or
    /// malformed reads as an expired login.
    pub fn state_key(q: &std::collections::HashMap<String, String>) -> Result<String, Self> {
        q.get("state")
            .filter(|k| !k.is_empty() && k.len() <= 64)
            .cloned()
            .ok_or_else(|| crate::login::StateError::Expired.into())
    }

    /// A 400 page.
    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self::page(StatusCode::BAD_REQUEST, code, description)
    }

    /// An OAuth JSON error.
    pub fn oauth(error: OAuthError) -> Self {
        WebError::OAuth { error, challenge: None }
    }

    /// An OAuth JSON error with a `WWW-Authenticate` challenge.
    pub fn oauth_challenge(error: OAuthError, challenge: &'static str) -> Self {
        WebError::OAuth {
            error,
            challenge: Some(challenge),
        }
    }
}

/// A JSON error response (`{error, error_description}`), logged once.
pub fn json_error(status: StatusCode, code: &str, description: &str) -> Response {
    tracing::info!(%status, code, description, "request refused");
    let mut r = (status, Json(json!({"error": code, "error_description": description}))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An HTML error page, logged once.
pub fn error_page(status: StatusCode, code: &str, description: &str) -> Response {
    tracing::info!(%status, code, description, "request refused");
    pages::html(status, &pages::error_page(code, description))
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Page { status, code, description } => error_page(status, code, &description),
            WebError::OAuth { error, challenge } => {
                let mut r = json_error(oauth_status(error.status()), error.error.as_str(), &error.error_description);
                if let Some(c) = challenge {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
                }
                r
            }
            WebError::TooMany { json, description } => {
                let mut r = if json {
                    json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", description)
                } else {
                    error_page(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", description)
                };
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                r
            }
            WebError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                pages::html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &pages::error_page("server_error", "The server could not complete the request. Please try again."),
                )
            }
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::Store(e)
    }
}

impl From<OAuthError> for WebError {
    fn from(e: OAuthError) -> Self {
        WebError::oauth(e)
    }
}

impl From<StateError> for WebError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Expired => WebError::bad_request(
                "invalid_state",
                "This login link is invalid, has expired or was already used. Go back to the application and start again.",
            ),
            StateError::ForeignBrowser => WebError::page(StatusCode::FORBIDDEN, "invalid_state", crate::login::FOREIGN_BROWSER),
            StateError::Store(e) => WebError::Store(e),
        }
    }
}

impl From<RequestError> for WebError {
    /// A SAML request refused at intake: the request cannot be trusted, so nothing is sent to
    /// a URL it names (an error page).
    fn from(e: RequestError) -> Self {
        tracing::info!(error = %e, "SAML request refused");
        let status = match e {
            RequestError::TooLarge | RequestError::RelayStateTooLong => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::Unsigned | RequestError::SigAlgMissing | RequestError::SignatureStructure(_) | RequestError::BadSignature(_) => {
                StatusCode::FORBIDDEN
            }
            _ => StatusCode::BAD_REQUEST,
        };
        WebError::page(status, "invalid_saml_request", e.to_string())
    }
}
