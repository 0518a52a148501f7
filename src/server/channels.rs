//! Telling OIDC applications that a session ended: OpenID Connect Back-Channel Logout 1.0 (a
//! signed logout token POSTed to each application's `backchannel_logout_uri`, off the request
//! path) and Front-Channel Logout 1.0 (each `frontchannel_logout_uri`, with `iss` and `sid`,
//! loaded in an iframe of the logout page).

use std::time::Duration;

use serde_json::{Map, json};

use super::AppState;
use crate::store::SessionRecord;

/// How long one back-channel notification may take.
const BACKCHANNEL_TIMEOUT: Duration = Duration::from_secs(5);

/// The logout token for one application (Back-Channel Logout 1.0, 2.4).
fn logout_token(state: &AppState, client_id: &str, session: &SessionRecord) -> Option<String> {
    let now = super::now_ms(state) / 1000;
    let mut c = Map::new();
    c.insert("iss".into(), state.issuer().into());
    c.insert("sub".into(), session.user_id.clone().into());
    c.insert("aud".into(), client_id.into());
    c.insert("iat".into(), now.into());
    c.insert("exp".into(), (now + 120).into());
    c.insert("jti".into(), crate::util::random_hex(16).into());
    c.insert("sid".into(), session.sid.clone().into());
    c.insert("events".into(), json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
    match state.tenant.keys.current.sign_typed("logout+jwt", &c) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(error = %e, "cannot sign a logout token");
            None
        }
    }
}

/// POSTs a logout token to every OIDC application of the ended session that registered a
/// back-channel logout URI, in the background (the browser does not wait).
pub(super) fn backchannel(state: &AppState, session: &SessionRecord) {
    for client_id in &session.clients {
        let Some(uri) = state
            .tenant
            .oidc_clients
            .get(client_id)
            .and_then(|a| a.backchannel_logout_uri.clone())
        else {
            continue;
        };
        let Some(token) = logout_token(state, client_id, session) else {
            continue;
        };
        let client_id = client_id.clone();
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(BACKCHANNEL_TIMEOUT))
                .http_status_as_error(false)
                .build()
                .into();
            match agent.post(&uri).send_form([("logout_token", token.as_str())]) {
                Ok(r) if r.status().is_success() => tracing::info!(%client_id, "back-channel logout delivered"),
                Ok(r) => tracing::warn!(%client_id, status = %r.status(), "back-channel logout refused by the application"),
                Err(e) => tracing::warn!(%client_id, error = %e, "back-channel logout could not be delivered"),
            }
        });
    }
}

/// The front-channel logout URLs (with `iss` and `sid`) of the ended session's applications.
pub(super) fn frontchannel(state: &AppState, session: &SessionRecord) -> Vec<String> {
    let issuer = state.issuer();
    session
        .clients
        .iter()
        .filter_map(|id| state.tenant.oidc_clients.get(id)?.frontchannel_logout_uri.clone())
        .filter_map(|u| url::Url::parse_with_params(&u, &[("iss", issuer.as_str()), ("sid", session.sid.as_str())]).ok())
        .map(|u| u.to_string())
        .collect()
}
