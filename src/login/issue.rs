//! Turning a finished login into what the application receives: a signed SAML Response or
//! error Response, an authorization code or an OAuth error. Reads only the outcome (issuers
//! never call actions).

use super::answer::Answer;
use super::records::CodeRecord;
use super::request::{LoginRequest, OidcLogin, SamlLogin};
use super::session::hash_secret;
use super::{CODE_LIFETIME_MS, LoginContext};
use crate::pipeline::Outcome;
use crate::pipeline::event::Event;
use crate::pipeline::outcome::{DigestAlgorithm, Failure, SignatureAlgorithm};
use crate::saml::{self, StatusError};
use crate::store::{SessionRecord, StoreError};

impl LoginContext {
    /// A signed SAML error Response for the ACS URL.
    pub fn saml_error(&self, s: &SamlLogin, status: &StatusError) -> Answer {
        let t = &self.tenant;
        let issuer = t
            .saml_sps
            .get(&s.client_id)
            .and_then(|sp| sp.settings.issuer.clone())
            .unwrap_or_else(|| t.saml.default_issuer());
        let xml = saml::build_error_response(
            &issuer,
            &s.acs_url,
            s.request_id.as_deref(),
            &t.saml.signing_key,
            SignatureAlgorithm::RsaSha256,
            DigestAlgorithm::Sha256,
            status,
            self.now(),
        );
        match xml {
            Ok(xml) => Answer::SamlPost {
                acs_url: s.acs_url.clone(),
                xml,
                relay_state: s.relay_state.clone(),
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot build a SAML error response");
                Answer::error(super::PageError::BadRequest, "access_denied", &status.message)
            }
        }
    }

    /// Tells the application that the login failed: a SAML error Response, or an OAuth error on
    /// the redirect URI.
    pub fn failure(&self, request: &LoginRequest, f: &Failure) -> Answer {
        match request {
            LoginRequest::Saml(s) => {
                let mut status = saml::denied_status(f);
                // Typed by the engine (FailureKind::NeedsUser), never by an action's code.
                if f.kind == crate::pipeline::outcome::FailureKind::NeedsUser {
                    status.sub = Some(if s.is_passive {
                        saml::SubStatus::NoPassive
                    } else {
                        saml::SubStatus::AuthnFailed
                    });
                }
                self.saml_error(s, &status)
            }
            LoginRequest::Oidc(o) => {
                let e = crate::oidc::tokens::failure_to_oauth(&Outcome {
                    failure: Some(f.clone()),
                    ..Default::default()
                })
                .unwrap_or_else(|| crate::oidc::OAuthError::new(crate::oidc::OAuthCode::AccessDenied, &f.description));
                let mut fields = vec![
                    ("error".to_string(), e.error.to_string()),
                    ("error_description".to_string(), e.error_description),
                ];
                if let Some(st) = &o.state {
                    fields.push(("state".into(), st.clone()));
                }
                self.oidc_callback(o, fields)
            }
            // The user sees the reason (seed 003: "may be presented directly in end-user interfaces").
            LoginRequest::PasswordReset(_) => Answer::error(super::PageError::Forbidden, "access_denied", &f.description),
        }
    }

    /// Back to the application's redirect URI, with RFC 9207's `iss`.
    fn oidc_callback(&self, o: &OidcLogin, mut fields: Vec<(String, String)>) -> Answer {
        fields.push(("iss".into(), self.issuer()));
        Answer::OidcCallback {
            redirect_uri: o.redirect_uri.clone(),
            form_post: o.response_mode == "form_post",
            fields,
        }
    }
}

impl super::Io {
    /// A single-use authorization code (stored hashed, with the grant but without secrets).
    pub(crate) fn issue_code(&self, o: &OidcLogin, mut event: Event, mut outcome: Outcome, session: &SessionRecord) -> Answer {
        let code = crate::util::random_hex(32);
        outcome.trace.clear();
        // What the actions asked of a SAML response (`api.samlResponse` is there in every
        // login) is for the SAML issuer only: not kept with an OIDC code (a quarter of its size).
        outcome.saml = Default::default();
        // The tokens are built from the user and the methods completed: the rest of the event
        // (the request, the client, the tenant's action secrets...) is not kept with the code.
        let event = Event {
            user: std::mem::take(&mut event.user),
            authentication: std::mem::take(&mut event.authentication),
            ..Default::default()
        };
        let record = CodeRecord {
            login: o.clone(),
            sid: session.sid.clone(),
            auth_time: session.auth_time_ms() / 1000,
            event,
            outcome,
        };
        let stored = serde_json::to_string(&record)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
            .and_then(|json| self.store.put_code(&hash_secret(&code), &json, self.now_ms() + CODE_LIFETIME_MS));
        if let Err(e) = stored {
            return Answer::StoreFailure(e);
        }
        let mut fields = vec![("code".to_string(), code)];
        if let Some(st) = &o.state {
            fields.push(("state".into(), st.clone()));
        }
        self.oidc_callback(o, fields)
    }
}
