//! The tenant configuration file (TOML): keys, lifetimes, SAML SPs (the hosted service's add-on
//! JSON verbatim), OIDC clients, APIs, action scripts per trigger and their secrets.
//!
//! Relative paths are resolved against the current directory. A wrong file fails at start-up
//! with the file, the key and the reason.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::actions::js::{FetchPolicy, JsAction, JsConfig};
use crate::oidc::{JwtSigner, KeySet};
use crate::pipeline::executor::Limits;
use crate::pipeline::{Executor, Services, Trigger};
use crate::saml::{AddonSettings, SigningKey, TenantSamlDefaults};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{file}: {reason}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The TOML (or an SP's JSON) does not parse or has wrong types.
    #[error("{file}: {reason}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message (with line and key).
        reason: String,
    },
    /// A value is invalid.
    #[error("{file}: {key}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// The key, e.g. `saml_sps[1].callbacks`.
        key: String,
        /// Why.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    name: String,
    base_url: String,
    signing_key: PathBuf,
    signing_cert: PathBuf,
    next_signing_key: Option<PathBuf>,
    next_signing_cert: Option<PathBuf>,
    #[serde(default)]
    sessions: Option<LifetimesFile>,
    #[serde(default)]
    refresh_tokens: Option<LifetimesFile>,
    #[serde(default)]
    actions: BTreeMap<String, Vec<PathBuf>>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    fetch_allowed_hosts: Vec<String>,
    #[serde(default)]
    action_timeout_ms: Option<u64>,
    #[serde(default)]
    saml_sps: Vec<SamlSpFile>,
    #[serde(default)]
    oidc_clients: Vec<OidcClientFile>,
    #[serde(default)]
    apis: Vec<ApiFile>,
    /// SQLite database file (created and migrated at start-up).
    database: Option<PathBuf>,
    #[serde(default)]
    users: Vec<UserFile>,
    /// A TOML file with more `[[users]]`.
    users_file: Option<PathBuf>,
    #[serde(default)]
    login: Option<LoginFile>,
    #[serde(default)]
    saml_requests: Option<SamlRequestsFile>,
    #[serde(default)]
    server: Option<ServerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    header_read_timeout_seconds: Option<u64>,
    body_read_timeout_seconds: Option<u64>,
    request_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    pending_logins_per_minute_per_ip: Option<u32>,
    client_auth_failures_per_minute: Option<u32>,
    /// The server secret itself (at least 32 characters).
    secret: Option<String>,
    /// A file holding the server secret, created with a random one when absent.
    secret_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SamlRequestsFile {
    /// Accept rsa-sha1 / sha1 in signed AuthnRequests and LogoutRequests (default true).
    accept_sha1: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: Vec<UserFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    username: String,
    /// argon2 PHC string (`idpipe user hash` prints one).
    password_hash: String,
    #[serde(default)]
    profile: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginFile {
    max_failed_attempts: Option<u32>,
    lockout_seconds: Option<u64>,
    attempts_per_minute_per_ip: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifetimesFile {
    absolute_lifetime_seconds: u64,
    idle_lifetime_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SamlSpFile {
    client_id: String,
    name: String,
    callbacks: Vec<String>,
    /// Path of the add-on settings JSON.
    settings: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcClientFile {
    client_id: String,
    name: String,
    redirect_uris: Vec<String>,
    /// Confidential clients have a secret; public ones must use PKCE.
    client_secret: Option<String>,
    id_token_lifetime_seconds: Option<u64>,
    #[serde(default)]
    allowed_logout_urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiFile {
    identifier: String,
    token_lifetime_seconds: Option<u64>,
}

/// A SAML service provider.
#[derive(Debug)]
pub struct SamlSp {
    /// Client id (`/samlp/{client_id}`).
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Allowed ACS URLs; the first is the default.
    pub callbacks: Vec<String>,
    /// Add-on settings.
    pub settings: AddonSettings,
    /// The certificate the SP's requests must be signed with (`signingCert`), parsed once.
    pub request_cert: Option<openssl::x509::X509>,
}

/// An OIDC application.
#[derive(Debug)]
pub struct OidcApp {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Allowed redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Secret of a confidential client.
    pub client_secret: Option<String>,
    /// ID-token lifetime.
    pub id_token_lifetime: u64,
    /// Where `/v2/logout?returnTo=` may send the browser.
    pub allowed_logout_urls: Vec<String>,
}

/// A user from the tenant file or its users file.
#[derive(Debug, Clone)]
pub struct ConfigUser {
    /// Login name.
    pub username: String,
    /// argon2 PHC hash.
    pub password_hash: String,
    /// Profile.
    pub user: crate::pipeline::event::User,
}

/// Login protection.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Per-account lockout.
    pub lockout: crate::store::LockoutPolicy,
    /// Login form submissions allowed per client IP per minute.
    pub attempts_per_minute_per_ip: u32,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            lockout: Default::default(),
            attempts_per_minute_per_ip: 30,
        }
    }
}

/// Where the server secret (the key of CSRF tokens and other server-side MACs) comes from. Every
/// process serving a tenant must have the same one, so it is configuration, never a per-process
/// random value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSecret {
    /// `[server] secret`.
    Inline(String),
    /// `[server] secret_file`, or (by default) the database file's path + `.secret`; created
    /// with 256 random bits on first start when absent.
    File(Option<PathBuf>),
}

/// Limits of the HTTP server against slow or abusive clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A client must send a request's whole header within this time, or the connection closes.
    pub header_read_timeout_seconds: u64,
    /// No pause between two parts of a request body may be longer than this.
    pub body_read_timeout_seconds: u64,
    /// A whole request (body included) must be answered within this time (408 otherwise).
    pub request_timeout_seconds: u64,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Logins started (a pending login stored before anyone authenticated) per client IP per minute.
    pub pending_logins_per_minute_per_ip: u32,
    /// Failed client authentications at the token endpoint per client id, and per IP, per minute.
    pub client_auth_failures_per_minute: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 10,
            request_timeout_seconds: 30,
            max_connections: 1024,
            pending_logins_per_minute_per_ip: 60,
            client_auth_failures_per_minute: 10,
        }
    }
}

/// Session and refresh-token lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Absolute.
    pub absolute: u64,
    /// Idle.
    pub idle: u64,
}

/// A loaded, validated tenant.
pub struct Tenant {
    /// Tenant name.
    pub name: String,
    /// Base URL without trailing slash.
    pub base_url: String,
    /// SAML defaults (issuer, signing key parsed once).
    pub saml: TenantSamlDefaults,
    /// Base64 DER of the next SAML signing certificate, during a rotation.
    pub next_saml_cert_b64: Option<String>,
    /// OIDC keys (current signs; next published).
    pub keys: KeySet,
    /// SAML SPs by client id.
    pub saml_sps: HashMap<String, SamlSp>,
    /// OIDC apps by client id.
    pub oidc_clients: HashMap<String, OidcApp>,
    /// APIs by identifier (lifetime in seconds).
    pub apis: HashMap<String, u64>,
    /// Session lifetimes.
    pub sessions: Lifetimes,
    /// Refresh-token lifetimes.
    pub refresh_tokens: Lifetimes,
    /// The pipeline with the configured actions (the server replaces its cache with the database).
    pub executor: Executor,
    /// Action secrets (`event.secrets`).
    pub secrets: serde_json::Map<String, serde_json::Value>,
    /// The SQLite database file.
    pub database: PathBuf,
    /// Users to create at start-up when missing.
    pub users: Vec<ConfigUser>,
    /// Login protection.
    pub login: LoginPolicy,
    /// Signature and digest algorithms accepted on incoming SAML requests.
    pub request_algorithms: crate::saml::xmldsig::AlgorithmPolicy,
    /// HTTP server limits.
    pub server: ServerLimits,
    /// The server secret's source.
    pub server_secret: ServerSecret,
}

/// Gives a database user the fields the hosted service's database users have: a
/// `auth0|...` id, a username and a `Username-Password-Authentication` identity.
pub fn default_identity(user: &mut crate::pipeline::event::User, username: &str) {
    if user.user_id.is_empty() {
        // Derived from the username, so restarts and re-imports give the same id.
        let digest = openssl::sha::sha256(username.as_bytes());
        user.user_id = format!("auth0|{}", hex::encode(&digest[..12]));
    }
    if user.username.is_none() && user.email.as_deref() != Some(username) {
        user.username = Some(username.to_string());
    }
    if user.identities.is_empty() {
        let id = user.user_id.split_once('|').map_or(user.user_id.as_str(), |(_, id)| id).to_string();
        user.identities.push(crate::pipeline::event::Identity {
            provider: "auth0".into(),
            connection: DATABASE_CONNECTION.into(),
            user_id: id.into(),
            is_social: false,
            extra: Default::default(),
        });
    }
}

/// The name of the database connection users log in with.
pub const DATABASE_CONNECTION: &str = "Username-Password-Authentication";

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn http_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| format!("'{s}' is not a URL: {e}"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!("'{s}' must be an http(s) URL"));
    }
    Ok(u)
}

/// Loads and validates a tenant file; action scripts are compiled here.
pub fn load(path: &Path) -> Result<Tenant, ConfigError> {
    let text = read(path)?;
    load_str(&text, &path.display().to_string())
}

/// Validates a tenant file's text (`file` names it in errors; paths in it are relative to the
/// working directory, as for [`load`]).
pub fn load_str(text: &str, file: &str) -> Result<Tenant, ConfigError> {
    let file = file.to_string();
    let f: TenantFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
        file: file.clone(),
        reason: e.to_string().replace('\n', " "),
    })?;
    let invalid = |key: &str, reason: String| ConfigError::Invalid {
        file: file.clone(),
        key: key.to_string(),
        reason,
    };

    if f.name.is_empty()
        || !f
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(invalid("name", "letters, digits, '-', '_' and '.' only".into()));
    }
    http_url(&f.base_url).map_err(|r| invalid("base_url", r))?;
    let base_url = f.base_url.trim_end_matches('/').to_string();

    let saml_key = SigningKey::from_files(&f.signing_cert, &f.signing_key).map_err(|e| invalid("signing_key", e.to_string()))?;
    let jwt = JwtSigner::from_key(saml_key.private_key().clone()).map_err(|e| invalid("signing_key", e.to_string()))?;
    let mut keys = KeySet::new(jwt);
    let mut next_saml_cert_b64 = None;
    match (&f.next_signing_key, &f.next_signing_cert) {
        (Some(k), Some(c)) => {
            let next = SigningKey::from_files(c, k).map_err(|e| invalid("next_signing_key", e.to_string()))?;
            next_saml_cert_b64 = Some(next.cert_b64().to_string());
            let next_jwt = JwtSigner::from_key(next.private_key().clone()).map_err(|e| invalid("next_signing_key", e.to_string()))?;
            keys = keys.with_next(&next_jwt);
        }
        (None, None) => {}
        _ => {
            return Err(invalid(
                "next_signing_key",
                "next_signing_key and next_signing_cert go together".into(),
            ));
        }
    }
    let saml = TenantSamlDefaults::new(&f.name, Arc::new(saml_key));

    let mut saml_sps = HashMap::new();
    for (i, sp) in f.saml_sps.into_iter().enumerate() {
        let key = |k: &str| format!("saml_sps[{i}].{k}");
        if sp.client_id.is_empty() {
            return Err(invalid(&key("client_id"), "must not be empty".into()));
        }
        if sp.callbacks.is_empty() {
            return Err(invalid(&key("callbacks"), "at least one ACS URL is required".into()));
        }
        for cb in &sp.callbacks {
            http_url(cb).map_err(|r| invalid(&key("callbacks"), r))?;
        }
        let settings = match &sp.settings {
            None => AddonSettings::default(),
            Some(p) => AddonSettings::from_json(&read(p)?).map_err(|e| ConfigError::Parse {
                file: p.display().to_string(),
                reason: e.to_string(),
            })?,
        };
        let request_cert = crate::saml::settings::request_signing_cert(&settings, &Default::default())
            .map_err(|e| invalid(&key("settings.signingCert"), e.to_string()))?;
        let probe = crate::saml::settings::RequestDefaults {
            request_issuer: None,
            acs_url: sp.callbacks[0].clone(),
            client_id: sp.client_id.clone(),
        };
        crate::saml::settings::resolve(&saml, &settings, &Default::default(), &probe)
            .map_err(|e| invalid(&key("settings"), e.to_string()))?;
        if saml_sps.contains_key(&sp.client_id) {
            return Err(invalid(&key("client_id"), format!("duplicate client id '{}'", sp.client_id)));
        }
        saml_sps.insert(
            sp.client_id.clone(),
            SamlSp {
                client_id: sp.client_id,
                name: sp.name,
                callbacks: sp.callbacks,
                settings,
                request_cert,
            },
        );
    }

    let mut oidc_clients = HashMap::new();
    for (i, c) in f.oidc_clients.into_iter().enumerate() {
        let key = |k: &str| format!("oidc_clients[{i}].{k}");
        if c.redirect_uris.is_empty() {
            return Err(invalid(&key("redirect_uris"), "at least one redirect URI is required".into()));
        }
        for u in &c.redirect_uris {
            http_url(u).map_err(|r| invalid(&key("redirect_uris"), r))?;
        }
        for u in &c.allowed_logout_urls {
            http_url(u).map_err(|r| invalid(&key("allowed_logout_urls"), r))?;
        }
        if saml_sps.contains_key(&c.client_id) || oidc_clients.contains_key(&c.client_id) {
            return Err(invalid(&key("client_id"), format!("duplicate client id '{}'", c.client_id)));
        }
        oidc_clients.insert(
            c.client_id.clone(),
            OidcApp {
                client_id: c.client_id,
                name: c.name,
                redirect_uris: c.redirect_uris,
                client_secret: c.client_secret,
                id_token_lifetime: c
                    .id_token_lifetime_seconds
                    .unwrap_or(crate::oidc::tokens::DEFAULT_ID_TOKEN_LIFETIME),
                allowed_logout_urls: c.allowed_logout_urls,
            },
        );
    }
    let apis = f
        .apis
        .into_iter()
        .map(|a| {
            (
                a.identifier,
                a.token_lifetime_seconds
                    .unwrap_or(crate::oidc::tokens::DEFAULT_ACCESS_TOKEN_LIFETIME),
            )
        })
        .collect();

    let sessions = f.sessions.map_or(
        Lifetimes {
            absolute: 7 * 86400,
            idle: 86400,
        },
        |l| Lifetimes {
            absolute: l.absolute_lifetime_seconds,
            idle: l.idle_lifetime_seconds,
        },
    );
    let refresh_tokens = f.refresh_tokens.map_or(
        Lifetimes {
            absolute: 30 * 86400,
            idle: 15 * 86400,
        },
        |l| Lifetimes {
            absolute: l.absolute_lifetime_seconds,
            idle: l.idle_lifetime_seconds,
        },
    );
    let mut limits = Limits {
        session_max_lifetime_ms: sessions.absolute as i64 * 1000,
        refresh_token_max_lifetime_ms: refresh_tokens.absolute as i64 * 1000,
        ..Default::default()
    };
    if let Some(ms) = f.action_timeout_ms {
        limits.action_timeout = std::time::Duration::from_millis(ms);
    }
    let action_timeout = limits.action_timeout;
    let mut executor = Executor::new(Services {
        limits,
        ..Default::default()
    });
    let js = JsConfig {
        fetch: FetchPolicy {
            allowed_hosts: f.fetch_allowed_hosts,
            timeout: None,
            max_body: None,
        },
        // A module's top-level code gets the same time as one invocation.
        build_timeout: action_timeout,
        ..Default::default()
    };
    for (trigger_name, scripts) in &f.actions {
        let trigger = Trigger::parse(trigger_name).ok_or_else(|| invalid(&format!("actions.{trigger_name}"), "unknown trigger".into()))?;
        for script in scripts {
            let action = JsAction::from_file(script, js.clone()).map_err(|e| invalid(&format!("actions.{trigger_name}"), e.to_string()))?;
            executor.add(trigger, Arc::new(action));
        }
    }
    let secrets = f.secrets.into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect();

    let mut users = Vec::new();
    let mut entries: Vec<(String, String, UserFile)> = f
        .users
        .into_iter()
        .enumerate()
        .map(|(i, u)| (file.clone(), format!("users[{i}]"), u))
        .collect();
    if let Some(p) = &f.users_file {
        let uf: UsersFile = toml::from_str(&read(p)?).map_err(|e| ConfigError::Parse {
            file: p.display().to_string(),
            reason: e.to_string().replace('\n', " "),
        })?;
        let pf = p.display().to_string();
        entries.extend(
            uf.users
                .into_iter()
                .enumerate()
                .map(|(i, u)| (pf.clone(), format!("users[{i}]"), u)),
        );
    }
    for (ufile, key, u) in entries {
        let bad = |k: &str, reason: String| ConfigError::Invalid {
            file: ufile.clone(),
            key: format!("{key}.{k}"),
            reason,
        };
        if u.username.trim().is_empty() {
            return Err(bad("username", "must not be empty".into()));
        }
        argon2::password_hash::phc::PasswordHash::new(&u.password_hash).map_err(|e| {
            bad(
                "password_hash",
                format!("not an argon2 PHC string ({e}); `idpipe user hash` prints one"),
            )
        })?;
        let mut user: crate::pipeline::event::User = match u.profile {
            None => Default::default(),
            Some(v) => serde_json::from_value(v).map_err(|e| bad("profile", e.to_string()))?,
        };
        default_identity(&mut user, &u.username);
        if users
            .iter()
            .any(|x: &ConfigUser| x.username == u.username || x.user.user_id == user.user_id)
        {
            return Err(bad("username", format!("duplicate user '{}'", u.username)));
        }
        users.push(ConfigUser {
            username: u.username,
            password_hash: u.password_hash,
            user,
        });
    }
    let mut login = LoginPolicy::default();
    if let Some(l) = f.login {
        if let Some(n) = l.max_failed_attempts {
            if n == 0 {
                return Err(invalid("login.max_failed_attempts", "must be at least 1".into()));
            }
            login.lockout.max_failures = n;
        }
        if let Some(s) = l.lockout_seconds {
            login.lockout.lock_ms = s as i64 * 1000;
        }
        if let Some(n) = l.attempts_per_minute_per_ip {
            if n == 0 {
                return Err(invalid("login.attempts_per_minute_per_ip", "must be at least 1".into()));
            }
            login.attempts_per_minute_per_ip = n;
        }
    }
    let request_algorithms = crate::saml::xmldsig::AlgorithmPolicy {
        allow_sha1: f.saml_requests.as_ref().and_then(|r| r.accept_sha1).unwrap_or(true),
    };
    let server_secret = match f.server.as_ref().map(|s| (s.secret.clone(), s.secret_file.clone())) {
        Some((Some(_), Some(_))) => return Err(invalid("server", "set either secret or secret_file, not both".into())),
        Some((Some(secret), None)) if secret.len() < 32 => {
            return Err(invalid("server.secret", "must be at least 32 characters".into()));
        }
        Some((Some(secret), None)) => ServerSecret::Inline(secret),
        Some((None, file)) => ServerSecret::File(file),
        None => ServerSecret::File(None),
    };
    let mut server = ServerLimits::default();
    if let Some(f) = &f.server {
        let positive = |key: &str, v: u64| {
            if v == 0 {
                Err(invalid(&format!("server.{key}"), "must be at least 1".into()))
            } else {
                Ok(v)
            }
        };
        if let Some(v) = f.header_read_timeout_seconds {
            server.header_read_timeout_seconds = positive("header_read_timeout_seconds", v)?;
        }
        if let Some(v) = f.body_read_timeout_seconds {
            server.body_read_timeout_seconds = positive("body_read_timeout_seconds", v)?;
        }
        if let Some(v) = f.request_timeout_seconds {
            server.request_timeout_seconds = positive("request_timeout_seconds", v)?;
        }
        if let Some(v) = f.max_connections {
            server.max_connections = positive("max_connections", v as u64)? as usize;
        }
        if let Some(v) = f.pending_logins_per_minute_per_ip {
            server.pending_logins_per_minute_per_ip = positive("pending_logins_per_minute_per_ip", v.into())? as u32;
        }
        if let Some(v) = f.client_auth_failures_per_minute {
            server.client_auth_failures_per_minute = positive("client_auth_failures_per_minute", v.into())? as u32;
        }
    }
    Ok(Tenant {
        server_secret,
        server,
        request_algorithms,
        database: f.database.unwrap_or_else(|| PathBuf::from("idpipe.sqlite")),
        users,
        login,
        name: f.name,
        base_url,
        saml,
        next_saml_cert_b64,
        keys,
        saml_sps,
        oidc_clients,
        apis,
        sessions,
        refresh_tokens,
        executor,
        secrets,
    })
}
