//! The event of a post-login pipeline, as the hosted service builds it.

use super::LoginContext;
use super::request::LoginRequest;
use crate::pipeline::event::{self, Event, User};
use crate::store::SessionRecord;

impl LoginContext {
    /// The post-login event of `user` in `session` answering `request`.
    pub(crate) fn post_login_event(&self, request: &LoginRequest, http: event::Request, user: User, session: &SessionRecord) -> Event {
        let t = &self.tenant;
        let mut ev = Event {
            stats: event::Stats {
                logins_count: user.logins_count.unwrap_or(0),
                ..Default::default()
            },
            user,
            request: http,
            secrets: t.secrets.clone(),
            ..Default::default()
        };
        ev.tenant.id = t.name.clone();
        ev.authentication.methods = session.methods.clone();
        ev.connection = event::Connection {
            id: "con_database".into(),
            name: crate::config::DATABASE_CONNECTION.into(),
            strategy: "auth0".into(),
            ..Default::default()
        };
        ev.session = Some(event::Session {
            id: session.sid.clone(),
            created_at: chrono::DateTime::from_timestamp_millis(session.created_at)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            metadata: session.metadata.clone(),
            ..Default::default()
        });
        ev.transaction.id = crate::util::random_hex(12);
        ev.client.client_id = request.client_id().to_string();
        match request {
            LoginRequest::Saml(s) => {
                ev.client.name = t.saml_sps.get(&s.client_id).map(|sp| sp.name.clone()).unwrap_or_default();
                ev.transaction.protocol = "samlp".into();
                ev.transaction.redirect_uri = Some(s.acs_url.clone());
                // RequestedAuthnContext, as OIDC's acr_values: an action may step up for it.
                ev.transaction.acr_values = s.requested_authn_context.as_ref().map(|r| r.class_refs.clone()).unwrap_or_default();
            }
            LoginRequest::Oidc(o) => {
                ev.client.name = t.oidc_clients.get(&o.client_id).map(|c| c.name.clone()).unwrap_or_default();
                ev.transaction.protocol = "oidc-basic-profile".into();
                ev.transaction.requested_scopes = o.scopes.clone();
                ev.transaction.redirect_uri = Some(o.redirect_uri.clone());
                ev.transaction.state = o.state.clone();
                ev.transaction.prompt = o.prompt.clone();
                ev.transaction.acr_values = o.acr_values.clone();
                ev.transaction.locale = o
                    .ui_locales
                    .as_deref()
                    .and_then(|l| l.split_whitespace().next())
                    .map(str::to_string);
                ev.resource_server = o.audience.as_ref().map(|a| event::ResourceServer {
                    identifier: a.clone(),
                    ..Default::default()
                });
            }
            LoginRequest::PasswordReset(r) => {
                ev.client.name = t
                    .oidc_clients
                    .get(&r.client_id)
                    .map(|c| c.name.clone())
                    .or_else(|| t.saml_sps.get(&r.client_id).map(|s| s.name.clone()))
                    .unwrap_or_default();
                ev.transaction.protocol = "password-reset".into();
                // No session: the user proved control of the account by the emailed link.
                ev.session = None;
            }
        }
        ev
    }
}
