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
use crate::saml::{self, AuthnRequest, StatusError};
use crate::store::{SamlParticipant, SessionRecord, StoreError};

fn request_of(s: &SamlLogin) -> Option<AuthnRequest> {
    s.request_id.as_ref().map(|id| AuthnRequest {
        id: id.clone(),
        issuer: s.request_issuer.clone(),
        ..Default::default()
    })
}

impl LoginContext {
    /// The signed Response (or a signed error Response), and the SP with the NameID it received
    /// when an assertion was issued.
    pub(crate) fn issue_saml(
        &self,
        s: &SamlLogin,
        ev: &Event,
        outcome: &Outcome,
        session: &SessionRecord,
    ) -> (Answer, Option<SamlParticipant>) {
        let t = &self.tenant;
        let Some(sp) = t.saml_sps.get(&s.client_id) else {
            let a = Answer::error(
                super::PageError::BadRequest,
                "unknown_client",
                "The SAML application no longer exists.",
            );
            return (a, None);
        };
        let mut profile = ev.user_json();
        // `api.authentication.setPrimaryUser`: the SP sees the primary user (NameID, claims).
        if let Some(primary) = &outcome.primary_user_id {
            profile.insert("user_id".into(), primary.clone().into());
        }
        let (mut app, mut um) = (ev.user.app_metadata.clone(), ev.user.user_metadata.clone());
        outcome.apply_user_metadata(&mut app, &mut um);
        profile.insert("app_metadata".into(), app.into());
        profile.insert("user_metadata".into(), um.into());
        let request = request_of(s);
        let issued = saml::issue(&saml::IssueInput {
            tenant: &t.saml,
            addon: &sp.settings,
            outcome,
            profile: &profile,
            request: request.as_ref(),
            acs_url: &s.acs_url,
            client_id: &s.client_id,
            relay_state: s.relay_state.as_deref(),
            session_index: &session.sid,
            // SSO through an existing session: the time the user authenticated, not now.
            authn_instant: chrono::DateTime::from_timestamp_millis(session.auth_time_ms()),
            now: self.now(),
        });
        match issued {
            Ok(i) => {
                tracing::info!(client_id = %s.client_id, response_id = %i.response.response_id, "SAML response issued");
                let participant = SamlParticipant {
                    client_id: s.client_id.clone(),
                    name_id: i.response.name_id.clone(),
                };
                let answer = Answer::SamlPost {
                    acs_url: s.acs_url.clone(),
                    xml: i.response.xml,
                    relay_state: i.relay_state,
                };
                (answer, Some(participant))
            }
            Err(e) => {
                // e.g. no attribute for the NameID: the SP gets a signed error, like the hosted service.
                tracing::warn!(error = %e, client_id = %s.client_id, "cannot build the SAML response");
                let status = StatusError::new(saml::TopStatus::Responder, None, e.to_string());
                (self.saml_error(s, &status), None)
            }
        }
    }

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
        // Never persisted: the token endpoint does not need the tenant's action secrets.
        event.secrets.clear();
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
