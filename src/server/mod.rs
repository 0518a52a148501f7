//! The HTTP server (axum). Handlers are thin: extract, call the library, map errors.
//!
//! Served so far: `/healthz`, `/.well-known/jwks.json`, `/samlp/metadata/{client_id}`. The login
//! flows (SAML SSO/SLO, OIDC authorize/token/userinfo, login page, sessions, `/continue`) are
//! the rest of issue 6.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::config::Tenant;
use crate::saml::metadata::{MetadataInput, metadata_xml};

/// Largest request body accepted anywhere (SAML POST bindings included).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The tenant.
    pub tenant: Arc<Tenant>,
}

/// A JSON error response (`{error, error_description}`), logged once.
pub fn error(status: StatusCode, code: &str, description: &str) -> Response {
    tracing::info!(%status, code, description, "request refused");
    (status, Json(json!({"error": code, "error_description": description}))).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn jwks(State(s): State<AppState>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(s.tenant.keys.jwks())).into_response()
}

async fn saml_metadata(State(s): State<AppState>, Path(client_id): Path<String>) -> Response {
    let t = &s.tenant;
    let Some(sp) = t.saml_sps.get(&client_id) else {
        return error(StatusCode::NOT_FOUND, "unknown_client", "no SAML application with this client id");
    };
    let want_signed = matches!(
        crate::saml::settings::request_signing_cert(&sp.settings, &Default::default()),
        Ok(Some(_))
    );
    let entity_id = sp.settings.issuer.clone().unwrap_or_else(|| t.saml.default_issuer());
    let xml = metadata_xml(&MetadataInput {
        entity_id: &entity_id,
        signing_cert_b64: t.saml.signing_key.cert_b64(),
        next_cert_b64: t.next_saml_cert_b64.as_deref(),
        sso_url: &format!("{}/samlp/{}", t.base_url, sp.client_id),
        slo_url: &format!("{}/samlp/{}/logout", t.base_url, sp.client_id),
        want_authn_requests_signed: want_signed,
    });
    ([(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The router with every endpoint and the request-size limit.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/samlp/metadata/{client_id}", get(saml_metadata))
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until SIGINT or SIGTERM, then finishes in-flight requests and returns.
pub async fn serve(tenant: Tenant, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tenant = %tenant.name, "listening");
    // The first stdout line tells scripts and tests where the server is.
    println!("idpipe listening on http://{addr}");
    let app = router(AppState { tenant: Arc::new(tenant) });
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
