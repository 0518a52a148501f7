//! The HTTP server (axum): the hosted service's endpoint layout, so applications switch by
//! changing only the host.
//!
//! - SAML: `GET|POST /samlp/{client_id}` (SSO, both bindings, IdP-initiated without
//!   `SAMLRequest`), `GET|POST /samlp/{client_id}/logout` (SLO), `GET /samlp/metadata/{client_id}`.
//! - OIDC: `/.well-known/openid-configuration`, `/.well-known/jwks.json`, `/authorize`,
//!   `/oauth/token`, `/userinfo`, `/v2/logout` and `/oidc/logout`.
//! - Login: `/u/login` (form, CSRF, argon2, lockout, per-IP rate limit), the session cookie,
//!   `/continue` (resumes a pipeline suspended by `api.redirect.sendUserTo`).
//! - Operations: `/healthz`, request ids, body-size limit, graceful shutdown.
//!
//! Handlers are thin: they parse the protocol request into a `flow::LoginRequest`, run the
//! pipeline through `flow`, and hand the outcome to the SAML or OIDC issuer.

// Helpers return the ready error page as their `Err`; boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod channels;
mod client_ip;
mod error;
mod flow;
mod login;
mod logout;
mod mfa;
mod mfa_pages;
mod oauth;
mod oidc;
mod pages;
mod prompt;
mod ratelimit;
mod reset;
mod reset_pages;
mod run;
mod saml;
mod slo;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::config::Tenant;
use crate::saml::metadata::{MetadataInput, Publication, published_metadata_xml};
use crate::store::{Store, StoreError};

/// Largest request body accepted anywhere (SAML POST bindings included).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "idpipe_session";
/// Name of the cookie that remembers a browser after MFA (`allowRememberBrowser`).
pub const MFA_REMEMBER_COOKIE: &str = "idpipe_mfa_rb";
/// Name of the CSRF cookie of the login form.
pub const CSRF_COOKIE: &str = "idpipe_csrf";
/// Name of the transaction cookie: a login in progress (login page, `/continue`) is bound to the
/// browser that started it by this cookie.
pub const TX_COOKIE: &str = "idpipe_tx";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be opened or the users not imported.
    #[error("{path}: {source}")]
    Store {
        /// The database file.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// The address could not be bound, or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub use error::WebError;
pub use run::{migrate, serve};

/// What a handler answers: a response, or an error that knows its own response.
pub type WebResult = Result<Response, WebError>;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The tenant.
    pub tenant: Arc<Tenant>,
    /// The login engine: the only way to the store (through [`crate::login::Io`], on the
    /// blocking pool).
    login: crate::login::LoginContext,
    /// Login attempts per client IP.
    pub limiter: Arc<ratelimit::RateLimiter>,
    /// Logins started (pending logins stored) per client IP.
    pub pending_limiter: Arc<ratelimit::RateLimiter>,
    /// Password reset requests per address and per account (5 a minute each).
    pub reset_limiter: Arc<ratelimit::RateLimiter>,
    /// Failed client authentications at the token endpoint, per client id and per IP.
    pub client_auth_limiter: Arc<ratelimit::RateLimiter>,
    /// Second-factor submissions per user (across logins).
    pub mfa_limiter: Arc<ratelimit::RateLimiter>,
    /// Key of the CSRF tokens, derived from the server secret (the same in every process).
    pub csrf_key: Arc<[u8; 32]>,
}

impl AppState {
    /// State over a tenant and a store; the tenant's users are imported and the executor's
    /// actions cache becomes the store's.
    pub fn new(mut tenant: Tenant, store: Arc<dyn Store>) -> Result<Self, StoreError> {
        for u in &tenant.users {
            if store.import_user(&u.username, &u.password_hash, &u.user)? {
                tracing::info!(user_id = %u.user.user_id, "user imported from the tenant configuration");
            }
        }
        tenant.executor.set_cache(store.clone());
        tenant.executor.set_users(Arc::new(StoreUsers(store.clone())));
        let key = server_key(&tenant)?;
        let per_minute = tenant.login.attempts_per_minute_per_ip;
        let tenant_reset_rate = tenant.password_reset.requests_per_minute;
        let limits = tenant.server;
        let tenant = Arc::new(tenant);
        Ok(AppState {
            tenant: tenant.clone(),
            login: crate::login::LoginContext::new(tenant, store, &key),
            limiter: Arc::new(ratelimit::RateLimiter::new("login", per_minute)),
            pending_limiter: Arc::new(ratelimit::RateLimiter::new("start", limits.pending_logins_per_minute_per_ip)),
            reset_limiter: Arc::new(ratelimit::RateLimiter::new("reset", tenant_reset_rate)),
            mfa_limiter: Arc::new(ratelimit::RateLimiter::new("mfa", 10)),
            client_auth_limiter: Arc::new(ratelimit::RateLimiter::new("client-auth", limits.client_auth_failures_per_minute)),
            csrf_key: Arc::new(key),
        })
    }

    /// The login engine over this state's tenant and store.
    pub fn login(&self) -> &crate::login::LoginContext {
        &self.login
    }

    /// Whether cookies get the `Secure` attribute (base URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.tenant.base_url.starts_with("https://")
    }

    /// The OIDC issuer (`base_url/`).
    pub fn issuer(&self) -> String {
        self.login().issuer()
    }
}

/// The store as the pipeline's user directory (`setPrimaryUser` checks identities against it).
struct StoreUsers(Arc<dyn Store>);

impl crate::pipeline::services::UserDirectory for StoreUsers {
    fn identities_of(&self, user_id: &str) -> Option<Vec<crate::pipeline::event::Identity>> {
        match self.0.user(user_id) {
            Ok(u) => u.map(|u| u.identities),
            Err(e) => {
                tracing::error!(error = %e, "user directory unavailable");
                None
            }
        }
    }
}

/// The 256-bit key derived from the tenant's server secret; a missing secret file is created
/// (mode 0600) with a random secret, so that every process on the same configuration and
/// database shares the key.
fn server_key(tenant: &Tenant) -> Result<[u8; 32], StoreError> {
    let secret = match &tenant.server_secret {
        crate::config::ServerSecret::Inline(s) => s.clone(),
        crate::config::ServerSecret::File(path) => {
            let path = path.clone().unwrap_or_else(|| {
                let mut p = tenant.database.clone().into_os_string();
                p.push(".secret");
                p.into()
            });
            read_or_create_secret(&path).map_err(|e| StoreError::Internal(format!("{}: {e}", path.display())))?
        }
    };
    // Domain-separated: the key of one use never equals the secret itself.
    let mut h = openssl::sha::Sha256::new();
    h.update(b"idpipe server key v1\0");
    h.update(secret.trim().as_bytes());
    Ok(h.finish())
}

fn read_or_create_secret(path: &std::path::Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s),
        Ok(_) => return Err(std::io::Error::other("the secret file holds fewer than 32 characters")),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let secret = crate::util::random_hex(32);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, secret.as_bytes())?;
            tracing::info!(file = %path.display(), "server secret created");
            Ok(secret)
        }
        // Another process created it first: use theirs, once it is written.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for _ in 0..100 {
                let s = std::fs::read_to_string(path)?;
                if s.trim().len() >= 32 {
                    return Ok(s);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::io::Error::other("the secret file stays empty"))
        }
        Err(e) => Err(e),
    }
}

/// The client's IP address: the connection's peer, or behind a trusted reverse proxy the
/// address it forwarded ([`client_ip::client_ip`]); `0.0.0.0` when unknown (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(ClientIp(client_ip::client_ip(peer, &parts.headers, &state.tenant.trusted_proxies)))
    }
}

pub use error::{error_page, json_error as error};

/// A cookie value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure on https; `max_age` seconds
/// makes it persistent (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The browser a login in progress belongs to: the value of its transaction cookie, minted when
/// absent. Pending logins and suspended pipelines store its hash and are only served to a
/// request that presents the same cookie (the state in a URL alone is not enough: it travels
/// through third-party redirect targets).
#[derive(Debug, Clone)]
pub struct BrowserBinding {
    value: String,
    fresh: bool,
}

impl BrowserBinding {
    /// The request's transaction cookie, or a new random one.
    pub fn of(headers: &HeaderMap) -> Self {
        match Self::existing(headers) {
            Some(value) => BrowserBinding { value, fresh: false },
            None => BrowserBinding {
                value: crate::util::random_hex(16),
                fresh: true,
            },
        }
    }

    fn existing(headers: &HeaderMap) -> Option<String> {
        cookie(headers, TX_COOKIE).filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// What a stored login keeps: the SHA-256 of the cookie value.
    pub fn hash(&self) -> String {
        hash_secret(&self.value)
    }

    /// The hash of the request's transaction cookie, if it has a well-formed one.
    pub fn presented_hash(headers: &HeaderMap) -> Option<String> {
        Self::existing(headers).map(|v| hash_secret(&v))
    }

    /// Whether the request's cookie is the one a stored login was bound to (constant time).
    pub fn matches(headers: &HeaderMap, stored_hash: &str) -> bool {
        Self::existing(headers)
            .is_some_and(|v| !stored_hash.is_empty() && crate::util::constant_time_eq(hash_secret(&v).as_bytes(), stored_hash.as_bytes()))
    }

    /// Adds the cookie to a response when it was minted for this request. SameSite=None (with
    /// Secure) on https, so that a redirect target may come back by a cross-site POST; Lax on
    /// plain http, where browsers refuse SameSite=None.
    pub fn attach(&self, resp: &mut Response, secure: bool) {
        if !self.fresh {
            return;
        }
        let same_site = if secure { "None" } else { "Lax" };
        let mut c = format!("{TX_COOKIE}={}; Path=/; HttpOnly; SameSite={same_site}", self.value);
        if secure {
            c.push_str("; Secure");
        }
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// A `302 Found` redirect (what the hosted service sends; `Location` as given).
pub fn found(location: &str) -> WebResult {
    match HeaderValue::from_str(location) {
        Ok(v) => Ok((StatusCode::FOUND, [(header::LOCATION, v)]).into_response()),
        Err(_) => Err(WebError::bad_request("invalid_request", "The redirect target is not a valid URL.")),
    }
}

/// SHA-256 hex of a secret (session ids and codes are stored hashed): the login engine's.
pub use crate::login::hash_secret;

/// Now in milliseconds, from the executor's clock (tests can fix it).
pub fn now_ms(state: &AppState) -> i64 {
    state.tenant.executor.services().clock.now_ms()
}

/// How long `/readyz` waits for the store before answering 503 (a load balancer's probe usually
/// gives up after a few seconds; the database driver's own connect timeout is longer).
const READY_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /readyz`: 200 when the store answers within [`READY_PROBE_TIMEOUT`], 503 otherwise
/// (`/healthz` is liveness only).
async fn readyz(State(state): State<AppState>) -> Response {
    let probe = state.login().blocking(|io| io.store().ping());
    let why = match tokio::time::timeout(READY_PROBE_TIMEOUT, probe).await {
        Ok(Ok(Ok(()))) => return (StatusCode::OK, "ready\n").into_response(),
        Ok(Ok(Err(e)) | Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", READY_PROBE_TIMEOUT.as_secs()),
    };
    tracing::warn!(error = %why, "not ready: the store does not answer");
    (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer\n").into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn jwks(State(s): State<AppState>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(s.tenant.keys.jwks())).into_response()
}

async fn saml_metadata(State(s): State<AppState>, Path(client_id): Path<String>) -> WebResult {
    let t = &s.tenant;
    let Some(sp) = t.saml_sps.get(&client_id) else {
        return Ok(error(
            StatusCode::NOT_FOUND,
            "unknown_client",
            "no SAML application with this client id",
        ));
    };
    let want_signed = sp.request_cert.is_some();
    let entity_id = sp.settings.issuer.clone().unwrap_or_else(|| t.saml.default_issuer());
    let input = MetadataInput {
        entity_id: &entity_id,
        signing_cert_b64: t.saml.signing_key.cert_b64(),
        next_cert_b64: t.next_saml_cert_b64.as_deref(),
        sso_url: &format!("{}/samlp/{}", t.base_url, sp.client_id),
        slo_url: &format!("{}/samlp/{}/logout", t.base_url, sp.client_id),
        want_authn_requests_signed: want_signed,
    };
    let now = chrono::DateTime::from_timestamp_millis(now_ms(&s)).unwrap_or_default();
    let publication = Publication {
        key: t.metadata.sign.then_some(&*t.saml.signing_key),
        valid_until: now + chrono::Duration::seconds(t.metadata.valid_seconds.min(i64::MAX as u64 / 2000) as i64),
        cache_seconds: t.metadata.cache_seconds,
    };
    let xml = published_metadata_xml(&input, &publication).map_err(|e| {
        tracing::error!(error = %e, "cannot sign the metadata");
        WebError::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The metadata could not be signed.",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// A short request id for logs and the `x-request-id` response header: a random prefix per
/// process (so that the ids of several nodes do not collide) and a counter. It correlates log
/// lines; it is no secret, so it costs no call to the CSPRNG per request.
#[derive(Clone, Copy, Default)]
struct MakeId;

impl tower_http::request_id::MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<tower_http::request_id::RequestId> {
        static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let prefix = PREFIX.get_or_init(|| crate::util::random_hex(4));
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{prefix}{:08x}", n & 0xffff_ffff))
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// The router with every endpoint, request ids, tracing and the request-size limit.
pub fn router(state: AppState) -> Router {
    let limits = state.tenant.server;
    use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    // Why only method and path: query strings carry SAMLRequests, codes and tokens.
    let trace = tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/samlp/metadata/{client_id}", get(saml_metadata))
        .route("/samlp/{client_id}", get(saml::sso_redirect).post(saml::sso_post))
        .route("/samlp/{client_id}/logout", get(slo::slo_redirect).post(slo::slo_post))
        .route("/authorize", get(oidc::authorize).post(oidc::authorize_post))
        .route("/oauth/token", post(oidc::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/oauth/introspect", post(oauth::introspect))
        .route("/userinfo", get(oauth::userinfo).post(oauth::userinfo))
        .route("/v2/logout", get(logout::v2_logout))
        .route("/oidc/logout", get(logout::oidc_logout).post(logout::oidc_logout_post))
        .route("/logout/continue", get(slo::logout_continue))
        .route("/u/login", get(login::login_page).post(login::login_submit))
        .route("/u/mfa", get(mfa::mfa_page).post(mfa::mfa_submit))
        .route("/u/prompt", get(prompt::prompt_page).post(prompt::prompt_submit))
        .route("/u/reset-password", get(reset::request_page).post(reset::request_submit))
        .route("/u/reset-password/confirm", get(reset::confirm_page).post(reset::confirm_submit))
        .route(
            "/u/reset-password/new",
            get(reset::new_password_page).post(reset::new_password_submit),
        )
        .route("/continue", get(login::continue_get).post(login::continue_post))
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(std::time::Duration::from_secs(
            limits.body_read_timeout_seconds,
        )))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(limits.request_timeout_seconds),
        ))
        // Every response: never sniffed; never cached unless the handler says otherwise (JWKS).
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeId))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_on_https_and_parsed_from_any_cookie_header() {
        let c = set_cookie(SESSION_COOKIE, "abc", Some(60), true);
        assert_eq!(c, "idpipe_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        let c = set_cookie(SESSION_COOKIE, "abc", None, false);
        assert_eq!(c, "idpipe_session=abc; Path=/; HttpOnly; SameSite=Lax");
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; idpipe_csrf=x"));
        h.append(header::COOKIE, HeaderValue::from_static("idpipe_session=s2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("s2"));
        assert_eq!(cookie(&h, CSRF_COOKIE).as_deref(), Some("x"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
