//! What a login step answers, free of HTTP: the server turns it into a response.

use crate::store::StoreError;

/// Why a request gets an error page rather than an answer to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// The request is wrong (400).
    BadRequest,
    /// The request comes from the wrong party, e.g. another browser (403).
    Forbidden,
    /// The request is too large (413).
    TooLarge,
    /// The server failed (500).
    Internal,
}

/// The answer of a login step.
#[derive(Debug)]
pub enum Answer {
    /// POST a SAML Response (or a signed error Response) to the ACS URL.
    SamlPost {
        /// ACS URL (registered).
        acs_url: String,
        /// The signed XML.
        xml: String,
        /// RelayState.
        relay_state: Option<String>,
    },
    /// Back to the application's redirect URI with `fields` (query or form_post).
    OidcCallback {
        /// Registered redirect URI.
        redirect_uri: String,
        /// `response_mode=form_post`.
        form_post: bool,
        /// Fields (`code`, `state`, or `error`, ...).
        fields: Vec<(String, String)>,
    },
    /// 302 to a URL: the login page, or an action's redirect target.
    Redirect(String),
    /// An error page.
    Error {
        /// Which kind.
        kind: PageError,
        /// Short code.
        code: &'static str,
        /// What the user is told.
        description: String,
    },
    /// The store failed (logged, answered without the cause).
    StoreFailure(StoreError),
}

/// A change to the browser's session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieChange {
    /// Set it (`max_age` seconds: persistent; `None`: a browser-session cookie).
    Set {
        /// The cookie secret.
        value: String,
        /// Max-Age.
        max_age: Option<i64>,
    },
    /// Delete it.
    Clear,
}

/// An answer and what happens to the session cookie.
#[derive(Debug)]
pub struct Answered {
    /// The answer.
    pub answer: Answer,
    /// The session cookie change, if any.
    pub session_cookie: Option<CookieChange>,
    /// A remembered-browser token to set (`multifactor.enable` with `allowRememberBrowser`):
    /// the value and its lifetime in seconds.
    pub remember_browser: Option<(String, i64)>,
}

impl From<Answer> for Answered {
    fn from(answer: Answer) -> Self {
        Answered {
            answer,
            session_cookie: None,
            remember_browser: None,
        }
    }
}

impl Answer {
    /// An error page.
    pub fn error(kind: PageError, code: &'static str, description: &str) -> Self {
        Answer::Error {
            kind,
            code,
            description: description.to_string(),
        }
    }
}
