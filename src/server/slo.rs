//! SAML single logout (`/samlp/{client_id}/logout`): a verified LogoutRequest ends the session
//! it names, then every other SP of that session with a logout URL is told in turn (a signed
//! LogoutRequest auto-POSTed by the browser, its LogoutResponse back here), and only then the
//! initiating SP gets its LogoutResponse (`Success`, or `Success` + `PartialLogout` when a
//! participant did not confirm). The OIDC logout endpoints start the same chain.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::saml::{check_destination, intake, query_map, remember_request, rules, sp_and_cert};
use super::{AppState, BrowserBinding, SESSION_COOKIE, WebError, WebResult, cookie, hash_secret, now_ms, pages, set_cookie};
use crate::config::SamlSp;
use crate::login::Io;
use crate::login::logout::{LogoutChain, LogoutFinish, PendingLogout};
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};
use crate::saml::request::{Intake, MAX_RELAY_STATE_BYTES};
use crate::saml::{StatusError, SubStatus, TopStatus};
use crate::store::{SessionRecord, StoreError};

/// The SP's single-logout URL (`logout.callback` of its add-on settings), unless its settings
/// turn single logout off (`logout.slo_enabled: false`).
pub(super) fn logout_callback(sp: &SamlSp) -> Option<String> {
    let logout = sp.settings.logout.as_ref()?;
    if logout.get("slo_enabled").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    logout
        .get("callback")
        .and_then(Value::as_str)
        .filter(|s| url::Url::parse(s).is_ok())
        .map(str::to_string)
}

/// Whether a LogoutRequest may end this session: the session sent an assertion to this SP, with
/// the NameID the request names.
fn names_session(record: &SessionRecord, client_id: &str, name_id: Option<&str>) -> bool {
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
    /// The sessions that ended (their other participants are told next).
    ended: Vec<SessionRecord>,
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
        ended: Vec::new(),
    };
    let mut candidates: Vec<(String, SessionRecord, bool)> = Vec::new();
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
            result.ended.push(record);
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

/// A signed LogoutResponse auto-POSTed to an SP's logout callback.
fn logout_response(
    state: &AppState,
    sp: &SamlSp,
    cb: &str,
    in_response_to: &str,
    relay_state: Option<&str>,
    status: Option<&StatusError>,
) -> WebResult {
    let t = &state.tenant;
    let issuer = sp.settings.issuer.clone().unwrap_or_else(|| t.saml.default_issuer());
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
    match crate::saml::response::build_logout_response(
        &issuer,
        cb,
        Some(in_response_to),
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
                &crate::saml::form::auto_post_form(cb, &xml, relay_state),
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

fn clear_session_cookie(state: &AppState, resp: &mut axum::response::Response) {
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies()));
}

/// A chain for an ended session, or `None` when no other participant is to be told through
/// the browser (the caller has told its OIDC applications over the back channel).
pub(super) fn chain_for(
    state: &AppState,
    browser: &BrowserBinding,
    session: &SessionRecord,
    initiator: Option<&str>,
    finish: LogoutFinish,
) -> Option<LogoutChain> {
    let mut chain = LogoutChain::new(
        browser.hash(),
        session,
        initiator,
        |id| state.tenant.saml_sps.get(id).and_then(logout_callback).is_some(),
        finish,
    );
    chain.frontchannel = super::channels::frontchannel(state, session);
    (!chain.remaining.is_empty() || !chain.frontchannel.is_empty()).then_some(chain)
}

/// The next step of a chain: a signed LogoutRequest to the next participant, or the end.
pub(super) async fn next_step(state: &AppState, mut chain: LogoutChain, browser: &BrowserBinding) -> WebResult {
    while let Some(p) = chain.remaining.pop() {
        let Some(sp) = state.tenant.saml_sps.get(&p.client_id) else {
            continue;
        };
        let Some(cb) = logout_callback(sp) else {
            continue;
        };
        let issuer = sp.settings.issuer.clone().unwrap_or_else(|| state.tenant.saml.default_issuer());
        let parts = crate::saml::logout::LogoutRequestParts {
            issuer: &issuer,
            destination: &cb,
            name_id: &p.name_id,
            name_id_format: p.name_id_format.as_deref(),
            session_index: &chain.sid,
        };
        let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
        let (id, xml) = match crate::saml::logout::build_logout_request(&parts, &state.tenant.saml.signing_key, now) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, client_id = %p.client_id, "cannot build a LogoutRequest: participant skipped");
                chain.partial = true;
                continue;
            }
        };
        chain.pending = Some(PendingLogout {
            client_id: p.client_id.clone(),
            request_id: id,
        });
        let c = chain.clone();
        let key = state.login().blocking(move |io| io.put_logout(&c)).await??;
        tracing::info!(client_id = %p.client_id, "single logout: LogoutRequest sent to a session participant");
        let form = crate::saml::form::auto_post_form_named(&cb, "SAMLRequest", &xml, Some(&key));
        let mut r = pages::auto_post(StatusCode::OK, &form, &cb);
        browser.attach(&mut r, state.secure_cookies());
        return Ok(r);
    }
    if !chain.frontchannel.is_empty() {
        let urls = std::mem::take(&mut chain.frontchannel);
        let c = chain.clone();
        let key = state.login().blocking(move |io| io.put_logout(&c)).await??;
        let mut r = pages::frontchannel_logout(&urls, &format!("/logout/continue?state={key}"));
        browser.attach(&mut r, state.secure_cookies());
        return Ok(r);
    }
    finish(state, chain)
}

/// `GET /logout/continue?state=`: after the front-channel logout page, the end of the chain.
pub async fn logout_continue(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> WebResult {
    let key = q
        .get("state")
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .cloned()
        .ok_or_else(|| WebError::bad_request("invalid_request", "The state parameter is missing."))?;
    let presented = BrowserBinding::presented_hash(&headers);
    let chain = state
        .login()
        .blocking(move |io| io.take_logout(&key, presented.as_deref()))
        .await??;
    next_step(&state, chain, &BrowserBinding::of(&headers)).await
}

/// The end of a chain: the initiator is answered.
fn finish(state: &AppState, chain: LogoutChain) -> WebResult {
    if chain.partial {
        tracing::warn!("single logout: a participant did not confirm (PartialLogout)");
    }
    let mut resp = match &chain.finish {
        LogoutFinish::Saml {
            client_id,
            callback,
            in_response_to,
            relay_state,
        } => {
            let sp = state
                .tenant
                .saml_sps
                .get(client_id)
                .ok_or_else(|| WebError::bad_request("unknown_client", "The SAML application no longer exists."))?;
            let partial = chain.partial.then(|| {
                StatusError::new(
                    TopStatus::Success,
                    Some(SubStatus::PartialLogout),
                    "Not every session participant confirmed the logout.",
                )
            });
            logout_response(state, sp, callback, in_response_to, relay_state.as_deref(), partial.as_ref())?
        }
        LogoutFinish::Redirect { url } => super::found(url)?,
        LogoutFinish::Page => pages::html(StatusCode::OK, &pages::logged_out_page()),
    };
    clear_session_cookie(state, &mut resp);
    Ok(resp)
}

/// Answers a LogoutRequest: Destination, replay and session ownership checked first; then the
/// session's other participants are told before the SP gets its LogoutResponse.
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
    for ended in &result.ended {
        super::channels::backchannel(state, ended);
    }
    let Some(cb) = logout_callback(sp) else {
        let mut r = pages::html(StatusCode::OK, &pages::logged_out_page());
        if result.cookie_session_ended {
            clear_session_cookie(state, &mut r);
        }
        return Ok(r);
    };
    if result.refused {
        let denied = StatusError::new(
            TopStatus::Requester,
            Some(SubStatus::RequestDenied),
            "The LogoutRequest does not name a session of this service provider.",
        );
        return logout_response(state, sp, &cb, &i.request.id, i.relay_state.as_deref(), Some(&denied));
    }
    let finish = LogoutFinish::Saml {
        client_id: sp.client_id.clone(),
        callback: cb.clone(),
        in_response_to: i.request.id.clone(),
        relay_state: i.relay_state.clone(),
    };
    let browser = BrowserBinding::of(headers);
    match result
        .ended
        .first()
        .and_then(|s| chain_for(state, &browser, s, Some(&sp.client_id), finish))
    {
        Some(chain) => next_step(state, chain, &browser).await,
        None => {
            let mut r = logout_response(state, sp, &cb, &i.request.id, i.relay_state.as_deref(), None)?;
            if result.cookie_session_ended {
                clear_session_cookie(state, &mut r);
            }
            Ok(r)
        }
    }
}

/// A participant's LogoutResponse: the chain named by its RelayState goes on.
async fn handle_logout_response(state: &AppState, sp: &SamlSp, headers: &HeaderMap, i: Intake) -> WebResult {
    let ours = format!("{}/samlp/{}/logout", state.tenant.base_url, sp.client_id);
    check_destination(i.request.destination.as_deref(), &ours, "LogoutResponse")?;
    let key = i.relay_state.clone().filter(|k| !k.is_empty() && k.len() <= 64).ok_or_else(|| {
        WebError::bad_request(
            "invalid_request",
            "The LogoutResponse has no RelayState naming a logout in progress.",
        )
    })?;
    let presented = BrowserBinding::presented_hash(headers);
    let (client_id, id) = (sp.client_id.clone(), i.request.id.clone());
    let mut chain = state
        .login()
        .blocking(move |io| -> Result<LogoutChain, WebError> {
            remember_request(io, &client_id, "logout-response", &id)?;
            Ok(io.take_logout(&key, presented.as_deref())?)
        })
        .await??;
    let success = i.request.status_codes.first().is_some_and(|c| c == crate::saml::ns::STATUS_SUCCESS);
    chain.answered(&sp.client_id, i.request.in_response_to.as_deref(), success)?;
    tracing::info!(client_id = %sp.client_id, success, "single logout: a participant answered");
    next_step(state, chain, &BrowserBinding::of(headers)).await
}

/// A logout without a LogoutRequest (the browser itself asked): its session ends, and the
/// session's other SAML participants are told.
async fn plain_logout(state: &AppState, sp: &SamlSp, headers: &HeaderMap, relay_state: Option<String>) -> WebResult {
    let ended = match cookie(headers, SESSION_COOKIE) {
        Some(raw) => state.login().blocking(move |io| end_session(io, &raw)).await??,
        None => None,
    };
    let finish = match logout_callback(sp) {
        Some(cb) => {
            let mut u = cb;
            if let Some(rs) = relay_state.filter(|r| r.len() <= MAX_RELAY_STATE_BYTES) {
                u = match url::Url::parse_with_params(&u, &[("RelayState", rs)]) {
                    Ok(x) => x.to_string(),
                    Err(_) => u,
                };
            }
            LogoutFinish::Redirect { url: u }
        }
        None => LogoutFinish::Page,
    };
    if let Some(s) = &ended {
        super::channels::backchannel(state, s);
    }
    let browser = BrowserBinding::of(headers);
    let chain = ended
        .as_ref()
        .and_then(|s| chain_for(state, &browser, s, Some(&sp.client_id), finish.clone()));
    match chain {
        Some(c) => next_step(state, c, &browser).await,
        None => finish_without_chain(state, finish),
    }
}

/// Ends the session of a cookie value and returns it.
pub(super) fn end_session(io: &Io, raw: &str) -> Result<Option<SessionRecord>, StoreError> {
    let hash = hash_secret(raw);
    let record = io.store().session(&hash, io.now_ms())?;
    io.store().delete_session(&hash)?;
    Ok(record)
}

/// The answer of a logout that had no other participant to tell.
pub(super) fn finish_without_chain(state: &AppState, finish: LogoutFinish) -> WebResult {
    let chain = LogoutChain {
        browser: String::new(),
        sid: String::new(),
        remaining: Vec::new(),
        pending: None,
        partial: false,
        frontchannel: Vec::new(),
        finish,
    };
    self::finish(state, chain)
}

/// `GET /samlp/{client_id}/logout`: a LogoutRequest or a participant's LogoutResponse
/// (HTTP-Redirect), or a plain logout.
pub async fn slo_redirect(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> WebResult {
    let (sp, cert) = sp_and_cert(&state, &client_id)?;
    let raw = raw.unwrap_or_default();
    let q = query_map(&raw);
    let (cert, rules) = (cert.cloned(), rules(&state));
    if q.contains_key("SAMLResponse") {
        let i = intake(move || crate::saml::request::parse_logout_response_redirect(&raw, cert.as_ref(), rules)).await?;
        return handle_logout_response(&state, sp, &headers, i).await;
    }
    if !q.contains_key("SAMLRequest") {
        let rs = q.get("RelayState").and_then(Value::as_str).map(str::to_string);
        return plain_logout(&state, sp, &headers, rs).await;
    }
    let i = intake(move || crate::saml::request::parse_logout_redirect(&raw, cert.as_ref(), rules)).await?;
    handle_logout_request(&state, sp, &headers, i).await
}

/// `POST /samlp/{client_id}/logout`: a LogoutRequest or a participant's LogoutResponse
/// (HTTP-POST).
pub async fn slo_post(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    let (sp, cert) = sp_and_cert(&state, &client_id)?;
    let rs = f.get("RelayState").cloned();
    let (cert, rules) = (cert.cloned(), rules(&state));
    if let Some(resp) = f.get("SAMLResponse").cloned() {
        let i = intake(move || crate::saml::request::parse_logout_response_post(&resp, rs, cert.as_ref(), rules)).await?;
        return handle_logout_response(&state, sp, &headers, i).await;
    }
    let Some(req) = f.get("SAMLRequest").cloned() else {
        return plain_logout(&state, sp, &headers, rs).await;
    };
    let i = intake(move || crate::saml::request::parse_logout_post(&req, rs, cert.as_ref(), rules)).await?;
    handle_logout_request(&state, sp, &headers, i).await
}
