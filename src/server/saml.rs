//! SAML SSO (`/samlp/{client_id}`, both bindings, IdP-initiated) and the request intake helpers
//! single logout (`slo.rs`) shares.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::flow;
use super::{AppState, ClientIp, WebError, WebResult, hash_secret, now_ms};
use crate::config::SamlSp;
use crate::login::Io;
use crate::login::{LoginRequest, SamlLogin};
use crate::saml::request::{DEFAULT_MAX_AGE_SECONDS, Intake, IntakeRules, MAX_RELAY_STATE_BYTES, RequestError};

fn sp<'a>(state: &'a AppState, client_id: &str) -> Result<&'a SamlSp, WebError> {
    state.tenant.saml_sps.get(client_id).ok_or_else(|| {
        WebError::page(
            StatusCode::NOT_FOUND,
            "unknown_client",
            "There is no SAML application with this client id.",
        )
    })
}

/// The SP and the certificate its requests must be signed with (if its settings name one).
pub(super) fn sp_and_cert<'a>(state: &'a AppState, client_id: &str) -> Result<(&'a SamlSp, Option<&'a openssl::x509::X509>), WebError> {
    let sp = sp(state, client_id)?;
    Ok((sp, sp.request_cert.as_ref()))
}

pub(super) fn rules(state: &AppState) -> IntakeRules {
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
    IntakeRules {
        skew_seconds: state.tenant.saml.clock_skew_seconds.max(0),
        algorithms: state.tenant.request_algorithms,
        ..IntakeRules::at(now)
    }
}

/// Runs a request intake (XML parsing and signature verification: CPU work bounded by the
/// size limits) on the blocking pool, so that slow or costly requests never hold an async worker.
pub(super) async fn intake(f: impl FnOnce() -> Result<Intake, RequestError> + Send + 'static) -> Result<Intake, WebError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => Ok(r?),
        Err(e) => {
            tracing::error!(error = %e, "the SAML intake task failed");
            Err(WebError::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The request could not be read.",
            ))
        }
    }
}

/// Records a request ID in the store (shared by every node, kept across restarts); a second
/// use within its lifetime is a replay. The key is per SP and message type.
pub(super) fn remember_request(io: &Io, client_id: &str, kind: &str, id: &str) -> Result<(), WebError> {
    let key = hash_secret(&format!("{client_id}\n{kind}\n{id}"));
    let now = io.now_ms();
    let lifetime_ms = (DEFAULT_MAX_AGE_SECONDS * 2 + io.tenant.saml.clock_skew_seconds.max(0)) * 1000;
    if io.store().remember_request_id(&key, now + lifetime_ms, now)? {
        Ok(())
    } else {
        tracing::warn!(client_id, kind, "replayed SAML request refused");
        Err(RequestError::Replayed(id.to_string()).into())
    }
}

/// A request meant for another endpoint (e.g. a signed one forwarded here) is refused.
pub(super) fn check_destination(destination: Option<&str>, ours: &str, what: &str) -> Result<(), WebError> {
    match destination.filter(|d| *d != ours) {
        Some(d) => Err(WebError::bad_request(
            "invalid_saml_request",
            format!("The {what}'s Destination '{d}' is not this endpoint ({ours})."),
        )),
        None => Ok(()),
    }
}

pub(super) fn query_map(raw: &str) -> Map<String, Value> {
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// The ACS URL of a request: its `AssertionConsumerServiceURL` if registered, the URL its
/// `AssertionConsumerServiceIndex` names, else the SP's first callback. No open redirect: only
/// a registered callback is ever used.
fn acs_url_of(sp: &SamlSp, request: Option<&crate::saml::AuthnRequest>) -> Result<String, WebError> {
    let url = request.and_then(|r| r.assertion_consumer_service_url.clone());
    let index = request.and_then(|r| r.assertion_consumer_service_index);
    match (url, index) {
        (Some(a), _) if sp.callbacks.contains(&a) => Ok(a),
        (Some(a), _) => {
            tracing::warn!(client_id = %sp.client_id, acs = %a, "AssertionConsumerServiceURL not among the allowed callbacks");
            Err(WebError::bad_request(
                "invalid_acs_url",
                format!(
                    "The AssertionConsumerServiceURL '{a}' is not an allowed callback URL of the application '{}'.",
                    sp.client_id
                ),
            ))
        }
        (None, Some(i)) => sp.acs_by_index(i).map(str::to_string).ok_or_else(|| {
            WebError::bad_request(
                "invalid_acs_url",
                format!(
                    "The AssertionConsumerServiceIndex {i} is not registered for the application '{}'.",
                    sp.client_id
                ),
            )
        }),
        (None, None) => Ok(sp.callbacks[0].clone()),
    }
}

/// Checks the parsed request (destination, replay, ACS allow-list): the login it asks for.
fn saml_login(io: &Io, sp: &SamlSp, intake: Option<Intake>, relay_state: Option<String>) -> Result<LoginRequest, WebError> {
    let request = match intake {
        None if relay_state.as_ref().is_some_and(|r| r.len() > MAX_RELAY_STATE_BYTES) => {
            return Err(RequestError::RelayStateTooLong.into());
        }
        None => None,
        Some(i) => {
            let ours = format!("{}/samlp/{}", io.tenant.base_url, sp.client_id);
            check_destination(i.request.destination.as_deref(), &ours, "AuthnRequest")?;
            remember_request(io, &sp.client_id, "authn", &i.request.id)?;
            Some(i)
        }
    };
    let (relay_state, request) = match request {
        Some(i) => (i.relay_state, Some(i.request)),
        None => (relay_state, None),
    };
    let acs_url = acs_url_of(sp, request.as_ref())?;
    let login = match request {
        None => SamlLogin {
            client_id: sp.client_id.clone(),
            request_id: None,
            request_issuer: None,
            acs_url,
            relay_state,
            force_authn: false,
            is_passive: false,
            name_id_policy: None,
            requested_authn_context: None,
        },
        Some(r) => SamlLogin {
            client_id: sp.client_id.clone(),
            request_id: Some(r.id),
            request_issuer: r.issuer,
            acs_url,
            relay_state,
            force_authn: r.force_authn,
            is_passive: r.is_passive,
            name_id_policy: r.name_id_policy_format.is_some().then_some(crate::saml::policy::NameIdPolicy {
                format: r.name_id_policy_format,
                allow_create: r.name_id_policy_allow_create,
            }),
            requested_authn_context: (!r.requested_authn_context.is_empty()).then_some(crate::saml::policy::RequestedAuthnContext {
                class_refs: r.requested_authn_context,
                comparison: r.authn_context_comparison,
            }),
        },
    };
    Ok(LoginRequest::Saml(login))
}

/// Starts the login of the SP `client_id` (known to exist), in one task on the blocking pool:
/// `parse` reads the request (XML and signature, bounded by the size limits), then
/// [`saml_login`] checks it and the login begins.
async fn start(
    state: &AppState,
    client_id: String,
    parse: impl FnOnce(&SamlSp) -> Result<Option<Intake>, RequestError> + Send + 'static,
    relay_state: Option<String>,
    http: crate::pipeline::event::Request,
    headers: &HeaderMap,
) -> WebResult {
    let make = move |io: &Io| {
        let sp = io.tenant.saml_sps.get(&client_id).ok_or_else(|| {
            WebError::page(
                StatusCode::NOT_FOUND,
                "unknown_client",
                "There is no SAML application with this client id.",
            )
        })?;
        let intake = parse(sp)?;
        saml_login(io, sp, intake, relay_state)
    };
    flow::begin_with(state, make, http, headers).await
}

/// `GET /samlp/{client_id}`: HTTP-Redirect binding, or IdP-initiated without `SAMLRequest`.
pub async fn sso_redirect(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> WebResult {
    sp(&state, &client_id)?;
    let raw = raw.unwrap_or_default();
    let q = query_map(&raw);
    let http = flow::http_event("GET", &headers, ip, q.clone());
    if !q.contains_key("SAMLRequest") {
        let rs = q.get("RelayState").and_then(Value::as_str).map(str::to_string);
        tracing::info!(client_id = %client_id, "IdP-initiated login");
        return start(&state, client_id, |_| Ok(None), rs, http, &headers).await;
    }
    let rules = rules(&state);
    let parse = move |sp: &SamlSp| crate::saml::request::parse_redirect(&raw, sp.request_cert.as_ref(), rules).map(Some);
    start(&state, client_id, parse, None, http, &headers).await
}

/// `POST /samlp/{client_id}`: HTTP-POST binding (form fields `SAMLRequest`, `RelayState`).
pub async fn sso_post(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    sp(&state, &client_id)?;
    let rs = f.get("RelayState").cloned();
    let http = flow::http_event("POST", &headers, ip, Map::new());
    let Some(req) = f.get("SAMLRequest").cloned() else {
        return start(&state, client_id, |_| Ok(None), rs, http, &headers).await;
    };
    let rules = rules(&state);
    let parse = move |sp: &SamlSp| crate::saml::request::parse_post(&req, rs, sp.request_cert.as_ref(), rules).map(Some);
    start(&state, client_id, parse, None, http, &headers).await
}
