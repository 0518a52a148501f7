//! The tenant configuration file (TOML): keys, lifetimes, SAML SPs (the hosted service's add-on
//! JSON verbatim), OIDC clients, APIs, action scripts per trigger and their secrets.
//!
//! Relative paths are resolved against the current directory. A wrong file fails at start-up
//! with the file, the key and the reason.

mod file;
mod reset;
mod sections;

pub use reset::PasswordResetConfig;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::oidc::KeySet;
use crate::pipeline::{Executor, Trigger};
use crate::saml::{AddonSettings, TenantSamlDefaults};

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
    /// `AssertionConsumerServiceIndex` -> ACS URL (from the SP's metadata; each URL is one of
    /// the callbacks). Without it, index `i` names `callbacks[i]`.
    pub acs_indexes: std::collections::BTreeMap<u32, String>,
}

impl SamlSp {
    /// The ACS URL an `AssertionConsumerServiceIndex` names, if registered.
    pub fn acs_by_index(&self, index: u32) -> Option<&str> {
        if self.acs_indexes.is_empty() {
            return self.callbacks.get(index as usize).map(String::as_str);
        }
        self.acs_indexes.get(&index).map(String::as_str)
    }
}

/// An OIDC application.
#[derive(Debug, Clone)]
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
    /// Back-Channel Logout: where logout tokens are POSTed when a session ends.
    pub backchannel_logout_uri: Option<String>,
    /// Front-Channel Logout: loaded in an iframe (with `iss` and `sid`) when a session ends.
    pub frontchannel_logout_uri: Option<String>,
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

/// How email one-time codes are delivered (`[mfa.email]`).
#[derive(Debug, Clone)]
pub enum EmailDelivery {
    /// Through an SMTP relay.
    Smtp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// STARTTLS required.
        starttls: bool,
    },
    /// Development: one `.eml` file per message in this folder.
    Outbox(PathBuf),
}

/// Multi-factor authentication (`[mfa]`).
#[derive(Debug, Clone)]
pub struct MfaConfig {
    /// The factors the tenant enables.
    pub factors: Vec<String>,
    /// Wrong codes allowed per login.
    pub max_attempts: u32,
    /// Days a remembered browser skips `multifactor.enable`.
    pub remember_browser_days: u32,
    /// Email delivery and its `From`, when the `email` factor is on.
    pub email: Option<(String, EmailDelivery)>,
    /// Phone code delivery, when the `phone` factor is on.
    pub phone: Option<PhoneDelivery>,
    /// The WebAuthn relying party (from `base_url`), when a WebAuthn factor is on.
    pub webauthn: Option<crate::login::mfa::webauthn::WebauthnRp>,
}

/// How phone one-time codes are delivered (`[mfa.phone]`).
#[derive(Debug, Clone)]
pub enum PhoneDelivery {
    /// POST `{to, method, code, message}` as JSON to this URL.
    Webhook(String),
    /// Development: one JSON file per message in this folder.
    Outbox(PathBuf),
    /// The tenant's `send-phone-message` actions deliver it (`event.message_options`).
    Action,
}

/// The factors idpipe can offer (push needs the hosted service's companion app: never).
pub const MFA_FACTORS: [&str; 6] = ["otp", "email", "phone", "recovery-code", "webauthn-platform", "webauthn-roaming"];

/// How the IdP metadata is published (`[saml]`).
#[derive(Debug, Clone, Copy)]
pub struct MetadataPolicy {
    /// Enveloped signature with the tenant key.
    pub sign: bool,
    /// `validUntil` = now + this (seconds).
    pub valid_seconds: u64,
    /// `cacheDuration` (seconds).
    pub cache_seconds: u64,
}

/// The default NotBefore backdating and request IssueInstant skew, in seconds: SPs whose clocks
/// lag reject an assertion whose NotBefore equals its IssueInstant.
pub const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 60;

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
    /// How the IdP metadata is published.
    pub metadata: MetadataPolicy,
    /// Multi-factor authentication.
    pub mfa: MfaConfig,
    /// Custom prompts by id (`api.prompt.render`).
    pub prompts: HashMap<String, crate::login::prompt::PromptDef>,
    /// The password-reset policy.
    pub password_reset: PasswordResetConfig,
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
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address (`[server]
    /// trusted_proxies`); from any other peer the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A PostgreSQL database instead (`database = "postgres://..."`, or `IDPIPE_DATABASE_URL`
    /// when the server starts): several nodes share it.
    pub database_url: Option<String>,
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

/// The npm dependencies a tenant file declares for its actions, and the folder they are
/// installed in (`idpipe actions install`).
#[derive(Debug, Clone, Default)]
pub struct ActionDependencies {
    /// `action_modules` (default `action_modules`).
    pub modules_dir: PathBuf,
    /// Per action script (as written in the file), its dependencies.
    pub actions: std::collections::BTreeMap<PathBuf, Vec<crate::actions::npm::Dependency>>,
}

/// Reads only the action dependencies of a tenant file (the actions themselves are not compiled:
/// they may need the modules about to be installed).
pub fn action_dependencies(path: &Path) -> Result<ActionDependencies, ConfigError> {
    let text = read(path)?;
    let file = path.display().to_string();
    let f: file::DependenciesFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        file: file.clone(),
        reason: e.to_string().replace('\n', " "),
    })?;
    sections::Checker { file }.dependencies(&f.actions, f.action_dependencies, f.action_modules)
}

/// Loads and validates a tenant file; action scripts are compiled here.
pub fn load(path: &Path) -> Result<Tenant, ConfigError> {
    let text = read(path)?;
    load_str(&text, &path.display().to_string())
}

/// Validates a tenant file's text (`file` names it in errors; paths in it are relative to the
/// working directory, as for [`load`]). One validator per section (`sections.rs`).
pub fn load_str(text: &str, file: &str) -> Result<Tenant, ConfigError> {
    let f: file::TenantFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
        file: file.to_string(),
        reason: e.to_string().replace('\n', " "),
    })?;
    let c = sections::Checker { file: file.to_string() };
    if f.name.is_empty()
        || !f
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
    {
        return Err(c.invalid("name", "letters, digits, '-', '_' and '.' only".into()));
    }
    http_url(&f.base_url).map_err(|r| c.invalid("base_url", r))?;
    let base_url = f.base_url.trim_end_matches('/').to_string();
    let (mut saml, keys, next_saml_cert_b64) = c.keys(&f)?;
    let saml_file = f.saml.as_ref();
    saml.clock_skew_seconds = saml_file.and_then(|s| s.clock_skew_seconds).unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS);
    if !(0..=3600).contains(&saml.clock_skew_seconds) {
        return Err(c.invalid("saml.clock_skew_seconds", "between 0 and 3600".into()));
    }
    let metadata = MetadataPolicy {
        sign: saml_file.and_then(|s| s.sign_metadata).unwrap_or(true),
        valid_seconds: saml_file.and_then(|s| s.metadata_valid_seconds).unwrap_or(7 * 86400),
        cache_seconds: saml_file.and_then(|s| s.metadata_cache_seconds).unwrap_or(86400),
    };
    let saml_sps = c.saml_sps(f.saml_sps, &saml)?;
    let oidc_clients = c.oidc_clients(f.oidc_clients, &saml_sps)?;
    let apis = f
        .apis
        .into_iter()
        .map(|a| {
            let lifetime = a
                .token_lifetime_seconds
                .unwrap_or(crate::oidc::tokens::DEFAULT_ACCESS_TOKEN_LIFETIME);
            (a.identifier, lifetime)
        })
        .collect();
    let sessions = sections::lifetimes(f.sessions, 7 * 86400, 86400);
    let refresh_tokens = sections::lifetimes(f.refresh_tokens, 30 * 86400, 15 * 86400);
    let prompts = c.prompts(f.prompts)?;
    let mut mfa = c.mfa(f.mfa)?;
    if mfa.factors.iter().any(|x| x.starts_with("webauthn-")) {
        let rp = crate::login::mfa::webauthn::WebauthnRp::new(&base_url, &f.name).map_err(|e| c.invalid("base_url", e.to_string()))?;
        mfa.webauthn = Some(rp);
    }
    let sandbox = match f.action_sandbox.as_deref() {
        None | Some("warm") => crate::actions::js::SandboxMode::Warm,
        Some("fresh") => crate::actions::js::SandboxMode::Fresh,
        Some(other) => return Err(c.invalid("action_sandbox", format!("'{other}' is not one of warm, fresh"))),
    };
    let dependencies = c.dependencies(&f.actions, f.action_dependencies, f.action_modules)?;
    let mut executor = c.executor(
        &f.actions,
        &dependencies,
        f.fetch_allowed_hosts,
        f.action_timeout_ms,
        sessions,
        refresh_tokens,
        sandbox,
    )?;
    executor.set_enabled_factors(mfa.factors.clone());
    if matches!(mfa.phone, Some(PhoneDelivery::Action)) && !executor.has_actions(Trigger::SendPhoneMessage) {
        return Err(c.invalid(
            "mfa.phone.action",
            "phone messages are delivered by actions, but [actions] has no send-phone-message action".into(),
        ));
    }
    let password_reset = c.password_reset(f.password_reset, mfa.email.as_ref())?;
    let secrets = f.secrets.into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect();
    let users = c.users(f.users, f.users_file.as_deref())?;
    let login = c.login(f.login)?;
    let request_algorithms = crate::saml::xmldsig::AlgorithmPolicy {
        allow_sha1: f.saml_requests.as_ref().and_then(|r| r.accept_sha1).unwrap_or(true),
    };
    let (server, server_secret, trusted_proxies) = c.server(f.server)?;
    Ok(Tenant {
        trusted_proxies,
        server_secret,
        server,
        request_algorithms,
        database_url: f
            .database
            .as_ref()
            .and_then(|d| d.to_str())
            .filter(|d| d.starts_with("postgres://") || d.starts_with("postgresql://"))
            .map(str::to_string),
        database: f.database.unwrap_or_else(|| PathBuf::from("idpipe.sqlite")),
        users,
        login,
        name: f.name,
        base_url,
        saml,
        next_saml_cert_b64,
        metadata,
        prompts,
        password_reset,
        mfa,
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
