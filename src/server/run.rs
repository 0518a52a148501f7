//! Running the server: opening the tenant's store (SQLite or PostgreSQL), `idpipe migrate`,
//! the accept loop with its connection limits, and graceful shutdown on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;

use super::{AppState, ServerError, now_ms, router};
use crate::config::Tenant;
use crate::store::{SqliteStore, Store, StoreError};

/// Creates or migrates the tenant's database (`idpipe migrate`): its schema version, and how to
/// name the database in messages.
pub fn migrate(tenant: &Tenant) -> Result<(i64, String), ServerError> {
    let (_, shown, version) = open_store(tenant)?;
    Ok((version, shown))
}

/// Nodes on PostgreSQL share their keys through the server secret, so a node serving on it
/// needs one configured (a secret file next to a database URL means nothing). A configured
/// `secret_file` must already exist: created here, each node would make its own, and a login
/// page from one node would fail on the next.
fn check_shared_secret(tenant: &Tenant) -> Result<(), ServerError> {
    use crate::config::ServerSecret;
    let Some(url) = &tenant.database_url else {
        return Ok(());
    };
    let refuse = |why: String| {
        Err(ServerError::Store {
            path: redact_url(url),
            source: StoreError::Internal(why),
        })
    };
    match &tenant.server_secret {
        ServerSecret::File(None) => refuse("with PostgreSQL, set [server] secret or secret_file (the same on every node)".into()),
        ServerSecret::File(Some(path)) if !path.exists() => refuse(format!(
            "[server] secret_file {} does not exist: with several nodes it is not created; make it once (e.g. `openssl rand -hex 32 > FILE`) and give every node the same file",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// The tenant's store: PostgreSQL when a database URL is configured, else the SQLite file
/// (created with its folder), migrated. With it, how to name the database in logs (never a
/// password) and its schema version.
fn open_store(tenant: &Tenant) -> Result<(Arc<dyn Store>, String, i64), ServerError> {
    if let Some(url) = &tenant.database_url {
        let shown = redact_url(url);
        let err = |source| ServerError::Store {
            path: shown.clone(),
            source,
        };
        let store = crate::store::PgStore::open(url).map_err(err)?;
        let version = store.schema_version().map_err(err)?;
        return Ok((Arc::new(store), shown, version));
    }
    let path = tenant.database.clone();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let shown = path.display().to_string();
    let err = |source| ServerError::Store {
        path: shown.clone(),
        source,
    };
    let store = SqliteStore::open(&path).map_err(err)?;
    let version = store.schema_version().map_err(err)?;
    Ok((Arc::new(store), shown, version))
}

/// A database URL without its password, for logs and errors.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        // A key=value string: drop the password pair.
        Err(_) => url
            .split_whitespace()
            .filter(|kv| !kv.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Opens the tenant's database (creating and migrating it), imports the configured users, and
/// serves until SIGINT or SIGTERM, then finishes in-flight requests and returns.
pub async fn serve(tenant: Tenant, listen: SocketAddr) -> Result<(), ServerError> {
    // Off the async workers: the PostgreSQL client blocks on its own runtime, and the users
    // file is imported with argon2 checks.
    let (state, shown) = tokio::task::spawn_blocking(move || -> Result<(AppState, String), ServerError> {
        check_shared_secret(&tenant)?;
        let (store, shown, _) = open_store(&tenant)?;
        let state = AppState::new(tenant, store).map_err(|source| ServerError::Store {
            path: shown.clone(),
            source,
        })?;
        Ok((state, shown))
    })
    .await
    .map_err(|e| std::io::Error::other(format!("the start-up task failed: {e}")))??;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tenant = %state.tenant.name, database = %shown, "listening");
    // The first stdout line tells scripts and tests where the server is.
    println!("idpipe listening on http://{addr}");
    // Housekeeping: expired sessions, flows, codes, cache records, request IDs and refresh tokens
    // go every 10 min.
    let sweeper = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            let now = now_ms(&sweeper);
            match sweeper.login.blocking(move |io| io.store().sweep_expired(now)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(rows = n, "expired records deleted"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "sweeping expired records failed"),
                Err(e) => tracing::error!(error = %e, "the sweeper task failed"),
            }
        }
    });
    let limits = state.tenant.server;
    accept_loop(listener, router(state), limits).await;
    tracing::info!("stopped");
    Ok(())
}

/// Accepts connections until SIGINT/SIGTERM, then lets in-flight requests finish (30 s at most).
///
/// Why not `axum::serve`: it has no header read timeout and no connection limit, so a client
/// that sends a header byte by byte (slowloris) holds a connection forever. Here every HTTP/1
/// request header must arrive within `header_read_timeout_seconds`, bodies within
/// `body_read_timeout_seconds` (a layer of the router), and at most `max_connections` are open.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router, limits: crate::config::ServerLimits) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let header_timeout = std::time::Duration::from_secs(limits.header_read_timeout_seconds);
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // e.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection limit reached: connection closed");
            drop(tcp);
            continue;
        };
        let service = app.clone().map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(64 * 1024);
        builder.http2().timer(TokioTimer::new());
        let conn = graceful.watch(builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    // Refuse new connections at once (a load balancer moves on to another node) instead of
    // leaving them in the backlog until the drain ends.
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within 30 s");
    }
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
