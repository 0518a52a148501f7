//! SAML endpoints: SSO (`/samlp/{client_id}`, both bindings, IdP-initiated) and SLO
//! (`/samlp/{client_id}/logout`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

use super::flow::{self, LoginRequest, SamlLogin};
use super::{AppState, ClientIp, SESSION_COOKIE, cookie, error_page, hash_secret, now_ms, pages, set_cookie, store_failure};
use crate::config::SamlSp;
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};
use crate::saml::request::{Intake, IntakeRules, RequestError};

fn sp<'a>(state: &'a AppState, client_id: &str) -> Result<&'a SamlSp, Response> {
    state.tenant.saml_sps.get(client_id).ok_or_else(|| {
        error_page(
            StatusCode::NOT_FOUND,
            "unknown_client",
            "There is no SAML application with this client id.",
        )
    })
}

/// The SP and the certificate its requests must be signed with (if its settings name one).
fn sp_and_cert<'a>(state: &'a AppState, client_id: &str) -> Result<(&'a SamlSp, Option<&'a openssl::x509::X509>), Response> {
    let sp = sp(state, client_id)?;
    Ok((sp, sp.request_cert.as_ref()))
}

fn rules(state: &AppState) -> IntakeRules {
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
    IntakeRules {
        skew_seconds: state.tenant.saml.clock_skew_seconds.max(0),
        ..IntakeRules::at(now)
    }
}

fn refused(e: &RequestError) -> Response {
    // The request cannot be trusted, so nothing is sent to a URL it names: an error page.
    let status = match e {
        RequestError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        RequestError::Unsigned | RequestError::SigAlgMissing | RequestError::SignatureStructure(_) | RequestError::BadSignature(_) => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::BAD_REQUEST,
    };
    error_page(status, "invalid_saml_request", &e.to_string())
}

fn query_map(raw: &str) -> Map<String, Value> {
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// Checks the parsed request (replay, ACS allow-list) and starts the login.
async fn start(
    state: &AppState,
    sp: &SamlSp,
    intake: Option<Intake>,
    relay_state: Option<String>,
    http: crate::pipeline::event::Request,
    headers: &HeaderMap,
) -> Response {
    let (request_id, request_issuer, acs, force_authn, is_passive, relay_state) = match intake {
        None => (None, None, None, false, false, relay_state),
        Some(i) => {
            let r = i.request;
            // A request meant for another endpoint (e.g. a signed one forwarded here) is refused.
            let ours = format!("{}/samlp/{}", state.tenant.base_url, sp.client_id);
            if let Some(d) = r.destination.as_deref().filter(|d| *d != ours) {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_saml_request",
                    &format!("The AuthnRequest's Destination '{d}' is not this endpoint ({ours})."),
                );
            }
            let now = rules(state).now;
            let until = now + chrono::Duration::seconds(crate::saml::request::DEFAULT_MAX_AGE_SECONDS * 2);
            if let Err(e) = state.replay.check_and_remember(&r.id, until, now) {
                return refused(&e);
            }
            (
                Some(r.id),
                r.issuer,
                r.assertion_consumer_service_url,
                r.force_authn,
                r.is_passive,
                i.relay_state,
            )
        }
    };
    let acs_url = match acs {
        // No open redirect: only a registered callback is ever used.
        Some(a) if sp.callbacks.contains(&a) => a,
        Some(a) => {
            tracing::warn!(client_id = %sp.client_id, acs = %a, "AssertionConsumerServiceURL not among the allowed callbacks");
            return error_page(
                StatusCode::BAD_REQUEST,
                "invalid_acs_url",
                &format!(
                    "The AssertionConsumerServiceURL '{a}' is not an allowed callback URL of the application '{}'.",
                    sp.client_id
                ),
            );
        }
        None => sp.callbacks[0].clone(),
    };
    let login = SamlLogin {
        client_id: sp.client_id.clone(),
        request_id,
        request_issuer,
        acs_url,
        relay_state,
        force_authn,
        is_passive,
    };
    flow::begin(state, LoginRequest::Saml(login), http, headers).await
}

/// `GET /samlp/{client_id}`: HTTP-Redirect binding, or IdP-initiated without `SAMLRequest`.
pub async fn sso_redirect(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (sp, cert) = match sp_and_cert(&state, &client_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let raw = raw.unwrap_or_default();
    let q = query_map(&raw);
    let http = flow::http_event("GET", &headers, ip, q.clone());
    if !q.contains_key("SAMLRequest") {
        let rs = q.get("RelayState").and_then(Value::as_str).map(str::to_string);
        tracing::info!(client_id = %client_id, "IdP-initiated login");
        return start(&state, sp, None, rs, http, &headers).await;
    }
    match crate::saml::request::parse_redirect(&raw, cert, rules(&state)) {
        Ok(intake) => start(&state, sp, Some(intake), None, http, &headers).await,
        Err(e) => refused(&e),
    }
}

/// `POST /samlp/{client_id}`: HTTP-POST binding (form fields `SAMLRequest`, `RelayState`).
pub async fn sso_post(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (sp, cert) = match sp_and_cert(&state, &client_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let rs = f.get("RelayState").cloned();
    let http = flow::http_event("POST", &headers, ip, Map::new());
    let Some(req) = f.get("SAMLRequest") else {
        return start(&state, sp, None, rs, http, &headers).await;
    };
    match crate::saml::request::parse_post(req, rs, cert, rules(&state)) {
        Ok(intake) => start(&state, sp, Some(intake), None, http, &headers).await,
        Err(e) => refused(&e),
    }
}

/// The SP's single-logout URL (`logout.callback` of its add-on settings).
fn logout_callback(sp: &SamlSp) -> Option<String> {
    sp.settings
        .logout
        .as_ref()
        .and_then(|l| l.get("callback"))
        .and_then(Value::as_str)
        .filter(|s| url::Url::parse(s).is_ok())
        .map(str::to_string)
}

/// Ends the browser's session and answers the SP.
fn finish_logout(state: &AppState, sp: &SamlSp, headers: &HeaderMap, intake: Option<Intake>, relay_state: Option<String>) -> Response {
    if let Some(raw) = cookie(headers, SESSION_COOKIE)
        && let Err(e) = state.store.delete_session(&hash_secret(&raw))
    {
        return store_failure(&e);
    }
    // The SessionIndex names the session even when the cookie did not come along (a cross-site
    // POST does not carry a SameSite=Lax cookie). It is a random value only that SP received.
    if let Some(sid) = intake.as_ref().and_then(|i| i.request.session_index.as_deref()) {
        match state.store.delete_session_by_sid(sid) {
            Ok(ended) => tracing::info!(client_id = %sp.client_id, ended, "LogoutRequest SessionIndex"),
            Err(e) => return store_failure(&e),
        }
    }
    let clear = set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies());
    let callback = logout_callback(sp);
    let mut resp = match (intake, callback) {
        (Some(i), Some(cb)) => {
            let t = &state.tenant;
            let issuer = sp.settings.issuer.clone().unwrap_or_else(|| t.saml.default_issuer());
            let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
            match crate::saml::response::build_logout_response(
                &issuer,
                &cb,
                Some(&i.request.id),
                &t.saml.signing_key,
                SignatureAlgorithm::RsaSha256,
                DigestAlgorithm::Sha256,
                None,
                now,
            ) {
                Ok(xml) => {
                    tracing::info!(client_id = %sp.client_id, "SAML single logout");
                    pages::html(
                        StatusCode::OK,
                        &crate::saml::form::auto_post_form(&cb, &xml, i.relay_state.as_deref()),
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the LogoutResponse");
                    error_page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "The logout response could not be built.",
                    )
                }
            }
        }
        (None, Some(cb)) => {
            let mut u = cb;
            if let Some(rs) = relay_state {
                u = match url::Url::parse_with_params(&u, &[("RelayState", rs)]) {
                    Ok(x) => x.to_string(),
                    Err(_) => u,
                };
            }
            super::found(&u)
        }
        (_, None) => pages::html(StatusCode::OK, &pages::logged_out_page()),
    };
    resp.headers_mut().append(header::SET_COOKIE, clear);
    resp
}

/// `GET /samlp/{client_id}/logout`: a LogoutRequest (HTTP-Redirect), or a plain logout.
pub async fn slo_redirect(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (sp, cert) = match sp_and_cert(&state, &client_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let raw = raw.unwrap_or_default();
    let q = query_map(&raw);
    if !q.contains_key("SAMLRequest") {
        let rs = q.get("RelayState").and_then(Value::as_str).map(str::to_string);
        return finish_logout(&state, sp, &headers, None, rs);
    }
    match crate::saml::request::parse_logout_redirect(&raw, cert, rules(&state)) {
        Ok(i) => finish_logout(&state, sp, &headers, Some(i), None),
        Err(e) => refused(&e),
    }
}

/// `POST /samlp/{client_id}/logout`: a LogoutRequest (HTTP-POST).
pub async fn slo_post(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (sp, cert) = match sp_and_cert(&state, &client_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let rs = f.get("RelayState").cloned();
    let Some(req) = f.get("SAMLRequest") else {
        return finish_logout(&state, sp, &headers, None, rs);
    };
    match crate::saml::request::parse_logout_post(req, rs, cert, rules(&state)) {
        Ok(i) => finish_logout(&state, sp, &headers, Some(i), None),
        Err(e) => refused(&e),
    }
}
