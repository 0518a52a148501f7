//! The tenant file's shape (serde), before validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The tenant TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TenantFile {
    pub(super) name: String,
    pub(super) base_url: String,
    pub(super) signing_key: PathBuf,
    pub(super) signing_cert: PathBuf,
    pub(super) next_signing_key: Option<PathBuf>,
    pub(super) next_signing_cert: Option<PathBuf>,
    #[serde(default)]
    pub(super) sessions: Option<LifetimesFile>,
    #[serde(default)]
    pub(super) refresh_tokens: Option<LifetimesFile>,
    #[serde(default)]
    pub(super) actions: BTreeMap<String, Vec<PathBuf>>,
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) fetch_allowed_hosts: Vec<String>,
    #[serde(default)]
    pub(super) action_timeout_ms: Option<u64>,
    /// Per action script, the npm modules it requires (`name@version`, or `name`).
    #[serde(default)]
    pub(super) action_dependencies: BTreeMap<PathBuf, Vec<String>>,
    /// Where `idpipe actions install` puts them (default `action_modules`).
    #[serde(default)]
    pub(super) action_modules: Option<PathBuf>,
    /// `warm` (default: sandboxes serve login after login) or `fresh` (one per invocation).
    #[serde(default)]
    pub(super) action_sandbox: Option<String>,
    #[serde(default)]
    pub(super) saml_sps: Vec<SamlSpFile>,
    #[serde(default)]
    pub(super) oidc_clients: Vec<OidcClientFile>,
    #[serde(default)]
    pub(super) apis: Vec<ApiFile>,
    /// SQLite database file (created and migrated at start-up).
    pub(super) database: Option<PathBuf>,
    #[serde(default)]
    pub(super) users: Vec<UserFile>,
    /// A TOML file with more `[[users]]`.
    pub(super) users_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) login: Option<LoginFile>,
    #[serde(default)]
    pub(super) saml_requests: Option<SamlRequestsFile>,
    #[serde(default)]
    pub(super) saml: Option<SamlFile>,
    #[serde(default)]
    pub(super) mfa: Option<MfaFile>,
    #[serde(default)]
    pub(super) prompts: Vec<PromptFile>,
    #[serde(default)]
    pub(super) password_reset: Option<PasswordResetFile>,
    #[serde(default)]
    pub(super) server: Option<ServerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerFile {
    pub(super) header_read_timeout_seconds: Option<u64>,
    pub(super) body_read_timeout_seconds: Option<u64>,
    pub(super) request_timeout_seconds: Option<u64>,
    pub(super) max_connections: Option<usize>,
    pub(super) pending_logins_per_minute_per_ip: Option<u32>,
    pub(super) client_auth_failures_per_minute: Option<u32>,
    /// The server secret itself (at least 32 characters).
    pub(super) secret: Option<String>,
    /// A file holding the server secret, created with a random one when absent.
    pub(super) secret_file: Option<PathBuf>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MfaFile {
    /// The factors the tenant enables (`otp`, `email`, `recovery-code`).
    #[serde(default)]
    pub(super) factors: Vec<String>,
    /// Wrong codes allowed per login (default 5).
    pub(super) max_attempts: Option<u32>,
    /// Days `allowRememberBrowser` skips `multifactor.enable` (default 30).
    pub(super) remember_browser_days: Option<u32>,
    /// How email codes are delivered.
    pub(super) email: Option<MfaEmailFile>,
    /// How phone codes are delivered.
    pub(super) phone: Option<MfaPhoneFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MfaPhoneFile {
    /// POST each message as JSON here (the tenant's SMS/voice provider bridge).
    pub(super) webhook: Option<String>,
    /// Development: write each message to this folder.
    pub(super) outbox: Option<PathBuf>,
    /// Deliver each message with the tenant's send-phone-message actions.
    pub(super) action: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MfaEmailFile {
    /// `From` of the messages.
    pub(super) from: String,
    /// SMTP relay host.
    pub(super) smtp_host: Option<String>,
    /// SMTP relay port (default 25).
    pub(super) smtp_port: Option<u16>,
    /// Require STARTTLS with the relay (default true unless the host is a loopback address).
    pub(super) starttls: Option<bool>,
    /// Development: write each message to this folder instead of sending it.
    pub(super) outbox: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SamlFile {
    /// NotBefore = IssueInstant minus this; also the skew allowed on requests' IssueInstant.
    pub(super) clock_skew_seconds: Option<i64>,
    /// Sign the IdP metadata (default true).
    pub(super) sign_metadata: Option<bool>,
    /// The metadata's `validUntil`, this long after it is served (default 7 days).
    pub(super) metadata_valid_seconds: Option<u64>,
    /// The metadata's `cacheDuration` (default 1 day).
    pub(super) metadata_cache_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SamlRequestsFile {
    /// Accept rsa-sha1 / sha1 in signed AuthnRequests and LogoutRequests (default true).
    pub(super) accept_sha1: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UsersFile {
    #[serde(default)]
    pub(super) users: Vec<UserFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserFile {
    pub(super) username: String,
    /// argon2 PHC string (`idpipe user hash` prints one).
    pub(super) password_hash: String,
    #[serde(default)]
    pub(super) profile: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginFile {
    pub(super) max_failed_attempts: Option<u32>,
    pub(super) lockout_seconds: Option<u64>,
    pub(super) attempts_per_minute_per_ip: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LifetimesFile {
    pub(super) absolute_lifetime_seconds: u64,
    pub(super) idle_lifetime_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SamlSpFile {
    pub(super) client_id: String,
    pub(super) name: String,
    pub(super) callbacks: Vec<String>,
    /// Path of the add-on settings JSON.
    pub(super) settings: Option<PathBuf>,
    /// `AssertionConsumerServiceIndex` -> ACS URL (one of the callbacks).
    #[serde(default)]
    pub(super) acs_indexes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OidcClientFile {
    pub(super) client_id: String,
    pub(super) name: String,
    pub(super) redirect_uris: Vec<String>,
    /// Confidential clients have a secret; public ones must use PKCE.
    pub(super) client_secret: Option<String>,
    pub(super) id_token_lifetime_seconds: Option<u64>,
    #[serde(default)]
    pub(super) allowed_logout_urls: Vec<String>,
    /// OpenID Connect Back-Channel Logout 1.0: logout tokens are POSTed here.
    pub(super) backchannel_logout_uri: Option<String>,
    /// OpenID Connect Front-Channel Logout 1.0: loaded in an iframe at logout.
    pub(super) frontchannel_logout_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApiFile {
    pub(super) identifier: String,
    pub(super) token_lifetime_seconds: Option<u64>,
}

/// `[[prompts]]`: a custom prompt for `api.prompt.render`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PromptFile {
    pub(super) id: String,
    pub(super) title: String,
    #[serde(default)]
    pub(super) text: String,
    pub(super) submit: Option<String>,
    #[serde(default)]
    pub(super) fields: Vec<PromptFieldFile>,
}

/// `[[prompts.fields]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PromptFieldFile {
    pub(super) name: String,
    pub(super) label: Option<String>,
    #[serde(rename = "type", default = "text_type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) required: bool,
    pub(super) pattern: Option<String>,
    pub(super) min_length: Option<usize>,
    pub(super) max_length: Option<usize>,
    #[serde(default)]
    pub(super) options: Vec<String>,
    pub(super) default: Option<String>,
}

fn text_type() -> String {
    "text".into()
}

/// `[password_reset]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordResetFile {
    /// Minimum password length (default 8).
    pub(super) min_length: Option<usize>,
    /// Minimum zxcvbn score, 0 to 4 (default 3).
    pub(super) min_strength: Option<u8>,
    /// Revoke the user's sessions and refresh tokens after a reset (default true).
    pub(super) revoke_sessions: Option<bool>,
    /// Result URLs allowed beyond the application's own URLs.
    #[serde(default)]
    pub(super) allowed_result_urls: Vec<String>,
    /// Reset requests per minute, per address and per account (default 5).
    pub(super) requests_per_minute: Option<u32>,
    /// Minutes a reset link works (default 15).
    pub(super) link_lifetime_minutes: Option<u32>,
    /// How the links are sent (default: the `[mfa.email]` settings).
    pub(super) email: Option<MfaEmailFile>,
}

/// The parts of a tenant file `idpipe actions install` reads (the rest is not validated: the
/// actions cannot compile before their modules are installed).
#[derive(Debug, Deserialize)]
pub(super) struct DependenciesFile {
    #[serde(default)]
    pub(super) actions: BTreeMap<String, Vec<PathBuf>>,
    #[serde(default)]
    pub(super) action_dependencies: BTreeMap<PathBuf, Vec<String>>,
    #[serde(default)]
    pub(super) action_modules: Option<PathBuf>,
}
