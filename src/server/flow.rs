//! A login from the protocol request to the issued response: session lookup, the login page,
//! the post-login pipeline (with suspension across `/continue`), metadata and session updates,
//! then the SAML or OIDC issuer.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::pages;
use super::{AppState, BrowserBinding, SESSION_COOKIE, cookie, error_page, hash_secret, now_ms, set_cookie, store_failure};
use crate::pipeline::event::{self, AuthenticationMethod, Event, User};
use crate::pipeline::executor::{Status, Suspension};
use crate::pipeline::outcome::{CookieMode, DigestAlgorithm, Failure, SignatureAlgorithm};
use crate::pipeline::{Outcome, Trigger};
use crate::saml::{self, AuthnRequest, StatusError};
use crate::store::{SamlParticipant, SessionRecord, StoreError};

/// How long the login page may take, and how long a redirect action may keep the user away.
pub const FLOW_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// Largest pending login stored before the user authenticated (the protocol request and the
/// HTTP request's query), in bytes.
pub const MAX_PENDING_BYTES: usize = 16 * 1024;
/// Query parameters that carry protocol payloads, kept out of `event.request.query` (and so out
/// of stored pending logins): they can be 64 KiB and actions have the parsed request instead.
const PROTOCOL_PAYLOAD_PARAMS: [&str; 3] = ["SAMLRequest", "Signature", "SigAlg"];
/// Authorization-code lifetime.
pub const CODE_LIFETIME_MS: i64 = 60 * 1000;

/// A SAML SSO request, as much of it as the response needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlLogin {
    /// SP client id.
    pub client_id: String,
    /// AuthnRequest ID (none for IdP-initiated).
    pub request_id: Option<String>,
    /// AuthnRequest Issuer.
    pub request_issuer: Option<String>,
    /// The ACS URL (already checked against the allowed callbacks).
    pub acs_url: String,
    /// RelayState.
    pub relay_state: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// `IsPassive`.
    pub is_passive: bool,
}

/// An OIDC authorization request (already validated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcLogin {
    /// Client id.
    pub client_id: String,
    /// Registered redirect URI in use.
    pub redirect_uri: String,
    /// The app's `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// `audience` (a configured API).
    pub audience: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `query` or `form_post`.
    pub response_mode: String,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age` (s): an older session authentication means a new login.
    #[serde(default)]
    pub max_age: Option<u64>,
}

/// The protocol request a login answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum LoginRequest {
    /// SAML SSO.
    Saml(SamlLogin),
    /// OIDC authorization code flow.
    Oidc(OidcLogin),
}

impl LoginRequest {
    /// The client id.
    pub fn client_id(&self) -> &str {
        match self {
            LoginRequest::Saml(s) => &s.client_id,
            LoginRequest::Oidc(o) => &o.client_id,
        }
    }
}

/// A login waiting for the login page (stored under `login:{state}`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The protocol request.
    pub request: LoginRequest,
    /// The HTTP request that started it (`event.request`).
    pub http: event::Request,
    /// Hash of the transaction cookie of the browser that started it.
    pub browser: String,
}

/// The session a login runs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionCtx {
    /// The session.
    pub record: SessionRecord,
    /// The cookie value of an existing session (`None` for a login that just authenticated:
    /// the cookie is minted when the pipeline completes).
    pub cookie: Option<String>,
}

/// A pipeline suspended by a redirect action (stored under `continue:{resume_state}`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Suspended {
    /// The protocol request.
    pub request: LoginRequest,
    /// The pipeline state.
    pub tx: crate::pipeline::TransactionState,
    /// The session.
    pub session: SessionCtx,
    /// Hash of the transaction cookie of the browser the login belongs to.
    pub browser: String,
}

/// What an authorization code stands for (stored hashed, single use).
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The OIDC request.
    pub login: OidcLogin,
    /// Session id (`sid`).
    pub sid: String,
    /// When the user authenticated (s).
    pub auth_time: i64,
    /// The event as the last action saw it.
    pub event: Event,
    /// The pipeline outcome.
    pub outcome: Outcome,
}

/// A login that cannot go on without the user (`login_required`, `interaction_required`): told to
/// the application like a validation error, with its OAuth code.
fn needs_user(code: &str, description: &str) -> Failure {
    Failure {
        kind: crate::pipeline::outcome::FailureKind::Validation,
        code: code.into(),
        description: description.into(),
        action: None,
    }
}

/// The live session of the request's cookie, if any.
pub fn current_session(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionCtx>, StoreError> {
    let Some(raw) = cookie(headers, SESSION_COOKIE).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    Ok(state
        .store
        .session(&hash_secret(&raw), now_ms(state))?
        .map(|record| SessionCtx { record, cookie: Some(raw) }))
}

/// Starts a login: with a live session (and no `prompt=login`/`ForceAuthn`) the pipeline runs at
/// once; otherwise the browser goes to the login page.
pub async fn begin(state: &AppState, request: LoginRequest, http: event::Request, headers: &HeaderMap) -> Response {
    let (force, passive) = match &request {
        LoginRequest::Saml(s) => (s.force_authn, s.is_passive),
        LoginRequest::Oidc(o) => (o.prompt.as_deref() == Some("login"), o.prompt.as_deref() == Some("none")),
    };
    let max_age_ms = match &request {
        LoginRequest::Oidc(o) => o.max_age.map(|m| i64::try_from(m).unwrap_or(i64::MAX / 2).saturating_mul(1000)),
        LoginRequest::Saml(_) => None,
    };
    let now = now_ms(state);
    let session = match current_session(state, headers) {
        // Too old for max_age: authenticate again (like prompt=login).
        Ok(s) => s
            .filter(|_| !force)
            .filter(|s| max_age_ms.is_none_or(|m| now - s.record.auth_time_ms() <= m)),
        Err(e) => return store_failure(&e),
    };
    if let Some(session) = session {
        let user = match state.store.user(&session.record.user_id) {
            Ok(Some(u)) => u,
            Ok(None) => return error_page(StatusCode::BAD_REQUEST, "invalid_session", "The session's user no longer exists."),
            Err(e) => return store_failure(&e),
        };
        return run(state, request, http, user, session, &BrowserBinding::of(headers)).await;
    }
    if passive {
        let f = needs_user("login_required", "The user is not logged in.");
        return deliver_failure(state, &request, &f, None);
    }
    // Pending logins are stored before anyone authenticated: their number per IP is limited, and
    // so is their size (RelayState is bounded at intake; the request's query is in the record).
    if !state.pending_limiter.allow(&http.ip, now_ms(state)) {
        tracing::warn!(ip = %http.ip, "too many logins started from one address");
        return super::too_many(
            false,
            "Too many logins were started from your network. Wait a minute and try again.",
        );
    }
    let key = crate::util::random_hex(16);
    let browser = BrowserBinding::of(headers);
    let pending = Pending {
        request,
        http,
        browser: browser.hash(),
    };
    let json = match serde_json::to_string(&pending) {
        Ok(j) => j,
        Err(e) => return store_failure(&StoreError::Corrupt(e.to_string())),
    };
    if json.len() > MAX_PENDING_BYTES {
        return error_page(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "The login request is too large.");
    }
    if let Err(e) = state
        .store
        .put_flow(&format!("login:{key}"), &json, now_ms(state) + FLOW_LIFETIME_MS)
    {
        return store_failure(&e);
    }
    let mut resp = super::found(&format!("/u/login?state={key}"));
    browser.attach(&mut resp, state.secure_cookies());
    resp
}

/// A session for a user who just authenticated with a password.
pub fn new_session(state: &AppState, user_id: &str) -> SessionCtx {
    let now = now_ms(state);
    let l = state.tenant.sessions;
    let ts = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
    SessionCtx {
        record: SessionRecord {
            sid: crate::util::random_hex(16),
            user_id: user_id.to_string(),
            created_at: now,
            last_seen: now,
            expires_at: now + l.absolute as i64 * 1000,
            idle_expires_at: now + l.idle as i64 * 1000,
            persistent: true,
            metadata: Default::default(),
            methods: vec![AuthenticationMethod {
                name: "pwd".into(),
                timestamp: ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                method_type: None,
            }],
            clients: vec![],
            saml_participants: vec![],
        },
        cookie: None,
    }
}

fn build_event(state: &AppState, request: &LoginRequest, http: event::Request, user: User, session: &SessionRecord) -> Event {
    let t = &state.tenant;
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
        }
        LoginRequest::Oidc(o) => {
            ev.client.name = t.oidc_clients.get(&o.client_id).map(|c| c.name.clone()).unwrap_or_default();
            ev.transaction.protocol = "oidc-basic-profile".into();
            ev.transaction.requested_scopes = o.scopes.clone();
            ev.transaction.redirect_uri = Some(o.redirect_uri.clone());
            ev.transaction.state = o.state.clone();
            ev.transaction.prompt = o.prompt.clone();
            ev.resource_server = o.audience.as_ref().map(|a| event::ResourceServer {
                identifier: a.clone(),
                ..Default::default()
            });
        }
    }
    ev
}

/// Runs the post-login pipeline for an authenticated user and answers.
pub async fn run(
    state: &AppState,
    request: LoginRequest,
    http: event::Request,
    user: User,
    session: SessionCtx,
    browser: &BrowserBinding,
) -> Response {
    let ev = build_event(state, &request, http, user, &session.record);
    let st = state.clone();
    let tx = match super::watchdog::run_pipeline(move || st.tenant.executor.start(Trigger::PostLogin, ev)).await {
        Ok(tx) => tx,
        Err(e) => return pipeline_stopped(state, &request, &e),
    };
    let browser_hash = browser.hash();
    deliver(
        state,
        Suspended {
            request,
            tx,
            session,
            browser: browser_hash,
        },
        browser,
    )
}

/// Answers a login whose pipeline gave no result: abandoned at an action's deadline (told to
/// the application like any failed action), or a failed task.
pub fn pipeline_stopped(state: &AppState, request: &LoginRequest, e: &super::watchdog::PipelineStop) -> Response {
    match e {
        super::watchdog::PipelineStop::Abandoned => {
            let f = Failure {
                kind: crate::pipeline::outcome::FailureKind::Timeout,
                code: "access_denied".into(),
                description: crate::pipeline::executor::GENERIC_FAILURE.into(),
                action: None,
            };
            deliver_failure(state, request, &f, None)
        }
        super::watchdog::PipelineStop::Failed(reason) => {
            tracing::error!(error = %reason, "the pipeline task failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The login could not be completed.",
            )
        }
    }
}

/// Answers a pipeline that completed, failed or suspended.
pub fn deliver(state: &AppState, s: Suspended, browser: &BrowserBinding) -> Response {
    let Suspended {
        request, tx, mut session, ..
    } = s;
    log_trace(&tx.outcome);
    let passive = match &request {
        LoginRequest::Saml(s) => s.is_passive,
        LoginRequest::Oidc(o) => o.prompt.as_deref() == Some("none"),
    };
    match tx.status() {
        Status::Suspended => match &tx.suspension {
            // prompt=none / IsPassive: the user cannot be shown anything.
            Some(_) if passive => {
                let f = needs_user(
                    "interaction_required",
                    "The login needs the user's interaction (an action redirected or asked for MFA).",
                );
                deliver_failure(state, &request, &f, None)
            }
            Some(Suspension::Redirect { url, .. }) => {
                let key = format!("continue:{}", tx.resume_state);
                let url = url.clone();
                // The tenant's action secrets are never persisted: re-read from the configuration on resume.
                let mut tx = tx;
                tx.event.secrets.clear();
                let suspended = Suspended {
                    request,
                    tx,
                    session,
                    browser: browser.hash(),
                };
                let json = match serde_json::to_string(&suspended) {
                    Ok(j) => j,
                    Err(e) => return store_failure(&StoreError::Corrupt(e.to_string())),
                };
                if let Err(e) = state.store.put_flow(&key, &json, now_ms(state) + FLOW_LIFETIME_MS) {
                    return store_failure(&e);
                }
                let mut resp = super::found(&url);
                browser.attach(&mut resp, state.secure_cookies());
                resp
            }
            _ => {
                // MFA and custom prompts need pages the server does not have yet (README).
                let f = needs_user(
                    "interaction_required",
                    "An action asked for MFA or a custom prompt, which this server cannot show yet.",
                );
                deliver_failure(state, &request, &f, None)
            }
        },
        Status::Failed => {
            let Some(f) = tx.outcome.failure.clone() else {
                return error_page(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "The login failed.");
            };
            let mut clear = None;
            if tx.outcome.session.revoke.is_some()
                && let Some(c) = &session.cookie
            {
                if let Err(e) = state.store.delete_session(&hash_secret(c)) {
                    return store_failure(&e);
                }
                clear = Some(set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies()));
            }
            deliver_failure(state, &request, &f, clear)
        }
        Status::Completed => {
            let user_id = tx.event.user.user_id.clone();
            if let Err(e) = state.store.apply_metadata(&user_id, &tx.outcome) {
                return store_failure(&e);
            }
            // SAML: the response first, so that the session records the NameID the SP received
            // (a LogoutRequest must name it). OIDC: the session first, the code then carries it.
            let (mut resp, set_cookie) = match &request {
                LoginRequest::Saml(s) => {
                    let (resp, participant) = issue_saml(state, s, &tx.event, &tx.outcome, &session.record);
                    if let Some(p) = participant {
                        session.record.saml_participants.retain(|x| x.client_id != p.client_id);
                        session.record.saml_participants.push(p);
                    }
                    match commit_session(state, &mut session, &tx.event, &tx.outcome, request.client_id()) {
                        Ok(c) => (resp, c),
                        Err(e) => return store_failure(&e),
                    }
                }
                LoginRequest::Oidc(o) => {
                    let c = match commit_session(state, &mut session, &tx.event, &tx.outcome, request.client_id()) {
                        Ok(c) => c,
                        Err(e) => return store_failure(&e),
                    };
                    (issue_code(state, o, tx.event, tx.outcome, &session.record), c)
                }
            };
            resp.headers_mut().append(header::SET_COOKIE, set_cookie);
            resp
        }
    }
}

fn log_trace(outcome: &Outcome) {
    for t in &outcome.trace {
        tracing::debug!(action = %t.action, duration_us = t.duration_us, commands = t.commands.len(), "action ran");
    }
    if let Some(f) = &outcome.failure {
        tracing::info!(code = %f.code, action = ?f.action, "login refused by the pipeline");
    }
}

/// Applies the outcome's session changes, stores the session and returns its `Set-Cookie`.
fn commit_session(state: &AppState, s: &mut SessionCtx, ev: &Event, outcome: &Outcome, client_id: &str) -> Result<HeaderValue, StoreError> {
    let now = now_ms(state);
    let r = &mut s.record;
    // What the user completed in this login (MFA, `recordMethod`) is part of the session: the next
    // login through it sees them in `event.authentication.methods`.
    r.methods = ev.authentication.methods.clone();
    let ts = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for url in &outcome.recorded_methods {
        if !r.methods.iter().any(|m| m.name == *url) {
            r.methods.push(AuthenticationMethod {
                name: url.clone(),
                timestamp: ts.clone(),
                method_type: None,
            });
        }
    }
    let changes = &outcome.session;
    if let Some(e) = changes.expires_at {
        r.expires_at = r.expires_at.min(e);
    }
    r.last_seen = now;
    r.idle_expires_at = (now + state.tenant.sessions.idle as i64 * 1000).min(r.expires_at);
    if let Some(i) = changes.idle_expires_at {
        r.idle_expires_at = r.idle_expires_at.min(i);
    }
    if let Some(mode) = changes.cookie_mode {
        r.persistent = mode == CookieMode::Persistent;
    }
    changes.apply_metadata(&mut r.metadata);
    if !r.clients.iter().any(|c| c == client_id) {
        r.clients.push(client_id.to_string());
    }
    let raw = s.cookie.get_or_insert_with(|| crate::util::random_hex(32)).clone();
    state.store.put_session(&hash_secret(&raw), r)?;
    let max_age = r.persistent.then(|| ((r.expires_at - now) / 1000).max(0));
    Ok(set_cookie(SESSION_COOKIE, &raw, max_age, state.secure_cookies()))
}

fn request_of(s: &SamlLogin) -> Option<AuthnRequest> {
    s.request_id.as_ref().map(|id| AuthnRequest {
        id: id.clone(),
        issuer: s.request_issuer.clone(),
        ..Default::default()
    })
}

/// The auto-POST form with the signed Response (or a signed error Response), and the SP with
/// the NameID it received when an assertion was issued.
fn issue_saml(
    state: &AppState,
    s: &SamlLogin,
    ev: &Event,
    outcome: &Outcome,
    session: &SessionRecord,
) -> (Response, Option<SamlParticipant>) {
    let t = &state.tenant;
    let Some(sp) = t.saml_sps.get(&s.client_id) else {
        let r = error_page(StatusCode::BAD_REQUEST, "unknown_client", "The SAML application no longer exists.");
        return (r, None);
    };
    let mut profile = ev.user_json();
    let (mut app, mut um) = (ev.user.app_metadata.clone(), ev.user.user_metadata.clone());
    outcome.apply_user_metadata(&mut app, &mut um);
    profile.insert("app_metadata".into(), app.into());
    profile.insert("user_metadata".into(), um.into());
    let request = request_of(s);
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
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
        now,
    });
    match issued {
        Ok(i) => {
            tracing::info!(client_id = %s.client_id, response_id = %i.response.response_id, "SAML response issued");
            let participant = SamlParticipant {
                client_id: s.client_id.clone(),
                name_id: i.response.name_id.clone(),
            };
            let page = pages::auto_post(
                StatusCode::OK,
                &saml::form::auto_post_form(&s.acs_url, &i.response.xml, i.relay_state.as_deref()),
                &s.acs_url,
            );
            (page, Some(participant))
        }
        Err(e) => {
            // e.g. no attribute for the NameID: the SP gets a signed error, like the hosted service.
            tracing::warn!(error = %e, client_id = %s.client_id, "cannot build the SAML response");
            let status = StatusError {
                requester: false,
                second: None,
                message: e.to_string(),
            };
            (saml_error(state, s, &status, None), None)
        }
    }
}

/// A signed SAML error Response, auto-POSTed to the ACS URL.
pub fn saml_error(state: &AppState, s: &SamlLogin, status: &StatusError, set_cookie: Option<HeaderValue>) -> Response {
    let t = &state.tenant;
    let issuer = t
        .saml_sps
        .get(&s.client_id)
        .and_then(|sp| sp.settings.issuer.clone())
        .unwrap_or_else(|| t.saml.default_issuer());
    let now = chrono::DateTime::from_timestamp_millis(now_ms(state)).unwrap_or_default();
    let xml = saml::build_error_response(
        &issuer,
        &s.acs_url,
        s.request_id.as_deref(),
        &t.saml.signing_key,
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
        status,
        now,
    );
    match xml {
        Ok(xml) => {
            let mut r = pages::auto_post(
                StatusCode::OK,
                &saml::form::auto_post_form(&s.acs_url, &xml, s.relay_state.as_deref()),
                &s.acs_url,
            );
            if let Some(c) = set_cookie {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot build a SAML error response");
            error_page(StatusCode::BAD_REQUEST, "access_denied", &status.message)
        }
    }
}

/// Tells the application that the login failed: a SAML error Response, or an OAuth error on the
/// redirect URI.
pub fn deliver_failure(state: &AppState, request: &LoginRequest, f: &Failure, set_cookie: Option<HeaderValue>) -> Response {
    match request {
        LoginRequest::Saml(s) => {
            let mut status = saml::denied_status(f);
            match f.code.as_str() {
                "login_required" | "interaction_required" if s.is_passive => {
                    status.second = Some("urn:oasis:names:tc:SAML:2.0:status:NoPassive".into());
                }
                "interaction_required" => status.second = Some(saml::ns::STATUS_AUTHN_FAILED.into()),
                _ => {}
            }
            saml_error(state, s, &status, set_cookie)
        }
        LoginRequest::Oidc(o) => {
            let e = crate::oidc::tokens::failure_to_oauth(&Outcome {
                failure: Some(f.clone()),
                ..Default::default()
            })
            .unwrap_or_else(|| crate::oidc::OAuthError::new("access_denied", &f.description));
            let mut fields = vec![("error", e.error.as_str()), ("error_description", e.error_description.as_str())];
            if let Some(st) = &o.state {
                fields.push(("state", st));
            }
            let mut r = oidc_redirect(&o.redirect_uri, &o.response_mode, &fields);
            if let Some(c) = set_cookie {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
    }
}

/// Sends the browser back to the application's redirect URI with `fields` (query or form_post).
pub fn oidc_redirect(redirect_uri: &str, response_mode: &str, fields: &[(&str, &str)]) -> Response {
    if response_mode == "form_post" {
        return pages::auto_post(StatusCode::OK, &pages::form_post(redirect_uri, fields), redirect_uri);
    }
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return error_page(StatusCode::BAD_REQUEST, "invalid_request", "The redirect URI is not a URL."),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in fields {
            q.append_pair(k, v);
        }
    }
    let mut r = super::found(url.as_str());
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn issue_code(state: &AppState, o: &OidcLogin, event: Event, mut outcome: Outcome, session: &SessionRecord) -> Response {
    let code = crate::util::random_hex(32);
    outcome.trace.clear();
    let auth_time = session.auth_time_ms() / 1000;
    let mut event = event;
    // Never persisted: the token endpoint does not need the tenant's action secrets.
    event.secrets.clear();
    let record = CodeRecord {
        login: o.clone(),
        sid: session.sid.clone(),
        auth_time,
        event,
        outcome,
    };
    let stored = serde_json::to_string(&record)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
        .and_then(|json| state.store.put_code(&hash_secret(&code), &json, now_ms(state) + CODE_LIFETIME_MS));
    if let Err(e) = stored {
        return store_failure(&e);
    }
    let mut fields = vec![("code", code.as_str())];
    if let Some(st) = &o.state {
        fields.push(("state", st));
    }
    oidc_redirect(&o.redirect_uri, &o.response_mode, &fields)
}

/// `event.request` from an HTTP request.
pub fn http_event(
    method: &str,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    query: serde_json::Map<String, serde_json::Value>,
) -> event::Request {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    event::Request {
        ip: ip.to_string(),
        hostname: h(header::HOST).map(|v| v.split(':').next().unwrap_or_default().to_string()),
        method: method.to_string(),
        user_agent: h(header::USER_AGENT),
        language: h(header::ACCEPT_LANGUAGE).and_then(|l| l.split([',', ';']).next().map(str::to_string)),
        query: query
            .into_iter()
            .filter(|(k, _)| !PROTOCOL_PAYLOAD_PARAMS.contains(&k.as_str()))
            .collect(),
        ..Default::default()
    }
}
