//! The SAML Response of a completed login, with what the AuthnRequest asked for: the NameID
//! format of its `NameIDPolicy` (persistent identifiers from the store, transient ones per
//! session) and its `RequestedAuthnContext` (`NoAuthnContext` when the login does not meet it).

use super::Io;
use super::answer::Answer;
use super::request::SamlLogin;
use crate::pipeline::Outcome;
use crate::pipeline::event::Event;
use crate::saml::policy::{self, NameIdRule, formats};
use crate::saml::{self, AuthnRequest, StatusError, SubStatus, TopStatus};
use crate::store::{SamlParticipant, SessionRecord};

fn request_of(s: &SamlLogin) -> Option<AuthnRequest> {
    s.request_id.as_ref().map(|id| AuthnRequest {
        id: id.clone(),
        issuer: s.request_issuer.clone(),
        ..Default::default()
    })
}

/// A refusal the SP is told with a signed error Response.
fn refusal(sub: SubStatus, message: impl Into<String>) -> StatusError {
    StatusError::new(TopStatus::Responder, Some(sub), message)
}

impl Io {
    /// The NameID (format and value) the request's policy asks for, `None` to let the SP
    /// settings decide, or the refusal.
    fn policy_name_id(
        &self,
        s: &SamlLogin,
        fixed_by_settings: bool,
        profile_email: Option<&str>,
        user_id: &str,
        session: &SessionRecord,
    ) -> Result<Option<(String, String)>, StatusError> {
        match policy::name_id_rule(s.name_id_policy.as_ref(), fixed_by_settings) {
            NameIdRule::Settings => Ok(None),
            NameIdRule::Email => match profile_email.filter(|e| !e.is_empty()) {
                Some(e) => Ok(Some((formats::EMAIL.into(), e.into()))),
                None => Err(refusal(
                    SubStatus::InvalidNameIdPolicy,
                    "The user has no email address for an emailAddress NameID.",
                )),
            },
            NameIdRule::Persistent { allow_create } => {
                match self.store().persistent_name_id(&s.client_id, user_id, allow_create, self.now_ms()) {
                    Ok(Some(v)) => Ok(Some((formats::PERSISTENT.into(), v))),
                    Ok(None) => Err(refusal(
                        SubStatus::InvalidNameIdPolicy,
                        "The user has no persistent identifier at this service provider and AllowCreate is false.",
                    )),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read a persistent NameID");
                        Err(StatusError::new(TopStatus::Responder, None, "The login could not be completed."))
                    }
                }
            }
            NameIdRule::Transient => {
                // One random identifier per session and SP.
                let reuse = session
                    .saml_participants
                    .iter()
                    .find(|p| p.client_id == s.client_id && p.name_id_format.as_deref() == Some(formats::TRANSIENT))
                    .map(|p| p.name_id.clone());
                let value = reuse.unwrap_or_else(|| format!("_{}", crate::util::random_hex(20)));
                Ok(Some((formats::TRANSIENT.into(), value)))
            }
            NameIdRule::Unsupported(f) => Err(refusal(
                SubStatus::InvalidNameIdPolicy,
                format!("The NameID format {f} is not supported."),
            )),
        }
    }

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
        let user_id = outcome.primary_user_id.clone().unwrap_or_else(|| ev.user.user_id.clone());
        profile.insert("user_id".into(), user_id.clone().into());
        let (mut app, mut um) = (ev.user.app_metadata.clone(), ev.user.user_metadata.clone());
        outcome.apply_user_metadata(&mut app, &mut um);
        profile.insert("app_metadata".into(), app.into());
        profile.insert("user_metadata".into(), um.into());
        // What the AuthnRequest asked for.
        let multi_factor = !outcome.completed_mfa.is_empty() || session.methods.iter().any(|m| m.name == "mfa");
        let authn_class = match &s.requested_authn_context {
            Some(r) if !r.class_refs.is_empty() => match policy::meet(r, multi_factor) {
                Some(c) => Some(c),
                None => {
                    let st = refusal(
                        SubStatus::NoAuthnContext,
                        "The login does not meet the requested authentication context.",
                    );
                    return (self.saml_error(s, &st), None);
                }
            },
            _ => policy::default_class(multi_factor).map(str::to_string),
        };
        let fixed = outcome.saml.name_identifier_format.is_some() || sp.settings.name_identifier_format.is_some();
        let name_id = match self.policy_name_id(s, fixed, ev.user.email.as_deref(), &user_id, session) {
            Ok(n) => n,
            Err(st) => return (self.saml_error(s, &st), None),
        };
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
            name_id: name_id.clone(),
            authn_context_class_ref: authn_class,
            ids: None,
        });
        match issued {
            Ok(i) => {
                tracing::info!(client_id = %s.client_id, response_id = %i.response.response_id, "SAML response issued");
                let participant = SamlParticipant {
                    client_id: s.client_id.clone(),
                    name_id: i.response.name_id.clone(),
                    name_id_format: Some(i.settings.name_identifier_format.clone()),
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
                let status = StatusError::new(TopStatus::Responder, None, e.to_string());
                (self.saml_error(s, &status), None)
            }
        }
    }
}
