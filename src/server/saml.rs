//! SAML endpoints: SSO (`/samlp/{client_id}`, both bindings, IdP-initiated) and SLO
//! (`/samlp/{client_id}/logout`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use super::flow;
use super::{AppState, ClientIp, SESSION_COOKIE, WebError, WebResult, cookie, hash_secret, now_ms, pages, set_cookie};
use crate::config::SamlSp;
use crate::login::Io;
use crate::login::{LoginRequest, SamlLogin};
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};
use crate::saml::StatusError;
use crate::saml::request::{DEFAULT_MAX_AGE_SECONDS, Intake, IntakeRules, MAX_RELAY_STATE_BYTES, RequestError};
use crate::store::StoreError;

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
fn sp_and_cert<'a>(state: &'a AppState, client_id: &str) -> Result<(&'a SamlSp, Option<&'a openssl::x509::X509>), WebError> {
    let sp = sp(state, client_id)?;
    Ok((sp, sp.request_cert.as_ref()))
}

fn rules(state: &AppState) -> IntakeRules {
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
    IntakeRules {
        skew_seconds: state.tenant.saml.clock_skew_seconds.max(0),
        algorithms: state.tenant.request_algorithms,
        ..IntakeRules::at(now)
    }
}

/// Runs a request intake (XML parsing and signature verification: CPU work bounded by the
/// size limits) on the blocking pool, so that slow or costly requests never hold an async worker.
async fn intake(f: impl FnOnce() -> Result<Intake, RequestError> + Send + 'static) -> Result<Intake, WebError> {
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
fn remember_request(io: &Io, client_id: &str, kind: &str, id: &str) -> Result<(), WebError> {
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
fn check_destination(destination: Option<&str>, ours: &str, what: &str) -> Result<(), WebError> {
    match destination.filter(|d| *d != ours) {
        Some(d) => Err(WebError::bad_request(
            "invalid_saml_request",
            format!("The {what}'s Destination '{d}' is not this endpoint ({ours})."),
        )),
        None => Ok(()),
    }
}

fn query_map(raw: &str) -> Map<String, Value> {
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

/// Checks the parsed request (replay, ACS allow-list) and starts the login.
async fn start(
    state: &AppState,
    sp: &SamlSp,
    intake: Option<Intake>,
    relay_state: Option<String>,
    http: crate::pipeline::event::Request,
    headers: &HeaderMap,
) -> WebResult {
    let request = match intake {
        None if relay_state.as_ref().is_some_and(|r| r.len() > MAX_RELAY_STATE_BYTES) => {
            return Err(RequestError::RelayStateTooLong.into());
        }
        None => None,
        Some(i) => {
            let ours = format!("{}/samlp/{}", state.tenant.base_url, sp.client_id);
            check_destination(i.request.destination.as_deref(), &ours, "AuthnRequest")?;
            let (client_id, id) = (sp.client_id.clone(), i.request.id.clone());
            state
                .login()
                .blocking(move |io| remember_request(io, &client_id, "authn", &id))
                .await??;
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
    flow::begin(state, LoginRequest::Saml(login), http, headers).await
}

/// `GET /samlp/{client_id}`: HTTP-Redirect binding, or IdP-initiated without `SAMLRequest`.
pub async fn sso_redirect(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> WebResult {
    let (sp, cert) = sp_and_cert(&state, &client_id)?;
    let raw = raw.unwrap_or_default();
    let q = query_map(&raw);
    let http = flow::http_event("GET", &headers, ip, q.clone());
    if !q.contains_key("SAMLRequest") {
        let rs = q.get("RelayState").and_then(Value::as_str).map(str::to_string);
        tracing::info!(client_id = %client_id, "IdP-initiated login");
        return start(&state, sp, None, rs, http, &headers).await;
    }
    let (cert, rules) = (cert.cloned(), rules(&state));
    let i = intake(move || crate::saml::request::parse_redirect(&raw, cert.as_ref(), rules)).await?;
    start(&state, sp, Some(i), None, http, &headers).await
}

/// `POST /samlp/{client_id}`: HTTP-POST binding (form fields `SAMLRequest`, `RelayState`).
pub async fn sso_post(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    let (sp, cert) = sp_and_cert(&state, &client_id)?;
    let rs = f.get("RelayState").cloned();
    let http = flow::http_event("POST", &headers, ip, Map::new());
    let Some(req) = f.get("SAMLRequest") else {
        return start(&state, sp, None, rs, http, &headers).await;
    };
    let (req, cert, rules) = (req.clone(), cert.cloned(), rules(&state));
    let i = intake(move || crate::saml::request::parse_post(&req, rs, cert.as_ref(), rules)).await?;
    start(&state, sp, Some(i), None, http, &headers).await
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

/// Whether a LogoutRequest may end this session: the session sent an assertion to this SP, with
/// the NameID the request names.
fn names_session(record: &crate::store::SessionRecord, client_id: &str, name_id: Option<&str>) -> bool {
    record
        .saml_participants
        .iter()
        .any(|p| p.client_id == client_id && Some(p.name_id.as_str()) == name_id)
}

/// What a LogoutRequest did to the sessions it could name.
struct LogoutResult {
    /// The browser's own session ended (its cookie is cleared).
    cookie_session_ended: bool,
    /// A named session was found but does not belong to this SP and NameID.
    refused: bool,
}

/// Ends the sessions a (verified, fresh, not replayed) LogoutRequest names: the cookie's session
/// and the one of its SessionIndex (a cross-site POST does not carry the SameSite=Lax cookie),
/// each only when it sent an assertion to this SP for this NameID.
fn end_named_sessions(io: &Io, client_id: &str, session_cookie: Option<&str>, i: &Intake) -> Result<LogoutResult, StoreError> {
    let now = io.now_ms();
    let name_id = i.request.subject.as_deref();
    let mut result = LogoutResult {
        cookie_session_ended: false,
        refused: false,
    };
    let mut candidates: Vec<(String, crate::store::SessionRecord, bool)> = Vec::new();
    if let Some(raw) = session_cookie {
        let hash = hash_secret(raw);
        if let Some(r) = io.store().session(&hash, now)? {
            candidates.push((hash, r, true));
        }
    }
    if let Some(sid) = i.request.session_index.as_deref()
        && let Some((hash, r)) = io.store().session_by_sid(sid, now)?
        && !candidates.iter().any(|(h, _, _)| *h == hash)
    {
        candidates.push((hash, r, false));
    }
    for (hash, record, from_cookie) in candidates {
        if names_session(&record, client_id, name_id) {
            io.store().delete_session(&hash)?;
            result.cookie_session_ended |= from_cookie;
            tracing::info!(client_id, "session ended by LogoutRequest");
        } else {
            result.refused = true;
            tracing::warn!(
                client_id,
                "LogoutRequest names a session that did not log in to this SP as this NameID"
            );
        }
    }
    Ok(result)
}

/// A signed LogoutResponse auto-POSTed to the SP's logout callback.
fn logout_response(state: &AppState, sp: &SamlSp, cb: &str, i: &Intake, status: Option<&StatusError>) -> WebResult {
    let t = &state.tenant;
    let issuer = sp.settings.issuer.clone().unwrap_or_else(|| t.saml.default_issuer());
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
    match crate::saml::response::build_logout_response(
        &issuer,
        cb,
        Some(&i.request.id),
        &t.saml.signing_key,
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
        status,
        now,
    ) {
        Ok(xml) => {
            tracing::info!(client_id = %sp.client_id, "SAML single logout answered");
            Ok(pages::auto_post(
                StatusCode::OK,
                &crate::saml::form::auto_post_form(cb, &xml, i.relay_state.as_deref()),
                cb,
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot build the LogoutResponse");
            Err(WebError::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The logout response could not be built.",
            ))
        }
    }
}

/// Answers a LogoutRequest: Destination, replay and session ownership checked first.
async fn handle_logout_request(state: &AppState, sp: &SamlSp, headers: &HeaderMap, i: Intake) -> WebResult {
    let ours = format!("{}/samlp/{}/logout", state.tenant.base_url, sp.client_id);
    check_destination(i.request.destination.as_deref(), &ours, "LogoutRequest")?;
    let session_cookie = cookie(headers, SESSION_COOKIE);
    let client_id = sp.client_id.clone();
    let (i, result) = state
        .login()
        .blocking(move |io| -> Result<_, WebError> {
            remember_request(io, &client_id, "logout", &i.request.id)?;
            let r = end_named_sessions(io, &client_id, session_cookie.as_deref(), &i)?;
            Ok((i, r))
        })
        .await??;
    let denied = result.refused.then(|| {
        StatusError::new(
            crate::saml::TopStatus::Requester,
            Some(crate::saml::SubStatus::RequestDenied),
            "The LogoutRequest does not name a session of this service provider.",
        )
    });
    let mut resp = match logout_callback(sp) {
        Some(cb) => logout_response(state, sp, &cb, &i, denied.as_ref())?,
        None => pages::html(StatusCode::OK, &pages::logged_out_page()),
    };
    if result.cookie_session_ended {
        resp.headers_mut()
            .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies()));
    }
    Ok(resp)
}

/// A logout without a LogoutRequest (the browser itself asked): its session ends.
async fn plain_logout(state: &AppState, sp: &SamlSp, headers: &HeaderMap, relay_state: Option<String>) -> WebResult {
    if let Some(raw) = cookie(headers, SESSION_COOKIE) {
        state
            .login()
            .blocking(move |io| io.store().delete_session(&hash_secret(&raw)))
            .await??;
    }
    let mut resp = match logout_callback(sp) {
        Some(cb) => {
            let mut u = cb;
            if let Some(rs) = relay_state.filter(|r| r.len() <= MAX_RELAY_STATE_BYTES) {
                u = match url::Url::parse_with_params(&u, &[("RelayState", rs)]) {
                    Ok(x) => x.to_string(),
                    Err(_) => u,
                };
            }
            super::found(&u)?
        }
        None => pages::html(StatusCode::OK, &pages::logged_out_page()),
    };
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies()));
    Ok(resp)
}

/// `GET /samlp/{client_id}/logout`: a LogoutRequest (HTTP-Redirect), or a plain logout.
pub async fn slo_redirect(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> WebResult {
    let (sp, cert) = sp_and_cert(&state, &client_id)?;
    let raw = raw.unwrap_or_default();
    let q = query_map(&raw);
    if !q.contains_key("SAMLRequest") {
        let rs = q.get("RelayState").and_then(Value::as_str).map(str::to_string);
        return plain_logout(&state, sp, &headers, rs).await;
    }
    let (cert, rules) = (cert.cloned(), rules(&state));
    let i = intake(move || crate::saml::request::parse_logout_redirect(&raw, cert.as_ref(), rules)).await?;
    handle_logout_request(&state, sp, &headers, i).await
}

/// `POST /samlp/{client_id}/logout`: a LogoutRequest (HTTP-POST).
pub async fn slo_post(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    let (sp, cert) = sp_and_cert(&state, &client_id)?;
    let rs = f.get("RelayState").cloned();
    let Some(req) = f.get("SAMLRequest").cloned() else {
        return plain_logout(&state, sp, &headers, rs).await;
    };
    let (cert, rules) = (cert.cloned(), rules(&state));
    let i = intake(move || crate::saml::request::parse_logout_post(&req, rs, cert.as_ref(), rules)).await?;
    handle_logout_request(&state, sp, &headers, i).await
}
