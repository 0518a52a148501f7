//! Persistent state behind traits, so SQLite (the embedded default) and a future PostgreSQL
//! implementation are interchangeable: users, sessions, login flows (typed login records),
//! authorization codes, refresh tokens and the actions cache. Secrets are stored hashed (argon2
//! passwords; SHA-256 of session ids, authorization codes and refresh tokens).
//!
//! Handlers only see [`Store`], the union of the traits.

pub mod argon;
mod postgres;
pub mod refresh;
mod sqlite;

pub use postgres::{PG_SCHEMA_VERSION, PgStore};
pub use sqlite::{SCHEMA_VERSION, SqliteStore};

use serde_json::{Map, Value};

use serde::{Deserialize, Serialize};

use crate::pipeline::Outcome;
use crate::pipeline::cache::ActionCache;
use crate::pipeline::event::{AuthenticationMethod, User};
pub use refresh::{RefreshRecord, RefreshTokenStore};

/// Why a store operation failed. Callers tell an outage (retry later, never a security
/// decision such as "reuse") from a conflict or corrupt data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or failed (busy, I/O, a poisoned lock): retryable.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A unique value is taken (e.g. the username or user id).
    #[error("a user with this {0} already exists")]
    Conflict(&'static str),
    /// A stored value could not be (de)serialized.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A value could not be computed before storing it (hashing, randomness).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Failed-login lockout policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// How long the account stays locked, in milliseconds.
    pub lock_ms: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_ms: 15 * 60 * 1000,
        }
    }
}

/// The result of a password login.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginCheck {
    /// Right password; the profile (with `logins_count` and `last_login` updated).
    Ok(Box<User>),
    /// Unknown user or wrong password (callers must not tell the two apart).
    Invalid,
    /// Too many failures: the account is locked until this time (ms).
    Locked(i64),
}

/// Users and their credentials.
pub trait UserStore: Send + Sync {
    /// Adds a user with a password (stored as an argon2 hash).
    fn add_user(&self, username: &str, password: &str, user: &User) -> Result<(), StoreError>;
    /// Adds a user with an already computed argon2 PHC hash, unless the username exists
    /// (users from the tenant's users file; the database copy, with its metadata, wins).
    /// Returns whether the user was added.
    fn import_user(&self, username: &str, password_hash: &str, user: &User) -> Result<bool, StoreError>;
    /// Checks a password with lockout: a locked account is refused without checking.
    fn login(&self, username: &str, password: &str, now_ms: i64, policy: LockoutPolicy) -> Result<LoginCheck, StoreError>;
    /// A user by id.
    fn user(&self, user_id: &str) -> Result<Option<User>, StoreError>;
    /// The user id of a login name.
    fn user_id_of(&self, username: &str) -> Result<Option<String>, StoreError>;
    /// Checks a username and password; `None` for a wrong password or unknown user (callers must
    /// not tell the two apart).
    fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>, StoreError>;
    /// Applies the outcome's aggregated metadata changes once, in one database transaction.
    fn apply_metadata(&self, user_id: &str, outcome: &Outcome) -> Result<(), StoreError>;
}

/// A login session (the SSO cookie points at it by a random id; the store keeps its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Public session id (`event.session.id`, the ID token's `sid`, SAML SessionIndex); not the
    /// cookie secret.
    pub sid: String,
    /// The user.
    pub user_id: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last used (ms).
    pub last_seen: i64,
    /// Absolute expiry (ms).
    pub expires_at: i64,
    /// Idle expiry (ms), pushed forward on each use up to `expires_at`.
    pub idle_expires_at: i64,
    /// `setCookieMode`: a persistent cookie outlives the browser.
    pub persistent: bool,
    /// Session metadata (`api.session.setMetadata`).
    pub metadata: serde_json::Map<String, Value>,
    /// Authentication methods completed in this session.
    pub methods: Vec<AuthenticationMethod>,
    /// Clients the session logged in to (SAML client id with its SessionIndex, OIDC client ids).
    pub clients: Vec<String>,
    /// The SAML SPs this session sent an assertion to, with the NameID each received: a
    /// LogoutRequest ends the session only when it names one of these pairs.
    #[serde(default)]
    pub saml_participants: Vec<SamlParticipant>,
}

impl SessionRecord {
    /// When the user last authenticated in this session (ms): the newest password or MFA method,
    /// else the session's creation. (Methods an action recorded, e.g. a consent redirect, are not
    /// authentications.)
    pub fn auth_time_ms(&self) -> i64 {
        self.methods
            .iter()
            .filter(|m| m.name == "pwd" || m.name == "mfa")
            .filter_map(|m| chrono::DateTime::parse_from_rfc3339(&m.timestamp).ok())
            .map(|d| d.timestamp_millis())
            .max()
            .unwrap_or(self.created_at)
    }
}

/// An SP that received an assertion in a session, and the NameID it received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlParticipant {
    /// The SP's client id.
    pub client_id: String,
    /// The NameID value sent to it.
    pub name_id: String,
    /// Its format (transient identifiers are reused for the session's later logins to this SP).
    #[serde(default)]
    pub name_id_format: Option<String>,
}

/// Sessions.
pub trait SessionStore: Send + Sync {
    /// Creates or replaces a session under the hash of its id.
    fn put_session(&self, id_hash: &str, record: &SessionRecord) -> Result<(), StoreError>;
    /// A live session (expired ones are deleted and not returned).
    fn session(&self, id_hash: &str, now_ms: i64) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session.
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Ends the session with this public id (a LogoutRequest's SessionIndex, which reaches the
    /// IdP without the cookie on a cross-site POST). Returns whether one ended.
    fn delete_session_by_sid(&self, sid: &str) -> Result<bool, StoreError>;
    /// The live session with this public id and the hash it is stored under.
    fn session_by_sid(&self, sid: &str, now_ms: i64) -> Result<Option<(String, SessionRecord)>, StoreError>;
    /// What a login through a session starts from, read at once (one query): the live session
    /// (like [`SessionStore::session`]), its user's profile and the user's enrolled factors.
    fn session_login(&self, id_hash: &str, now_ms: i64) -> Result<Option<SessionLogin>, StoreError>;
}

/// A live session with its user, as a login through it needs them ([`SessionStore::session_login`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLogin {
    /// The session.
    pub session: SessionRecord,
    /// Its user (`None` when the user was deleted since).
    pub user: Option<User>,
    /// The user's enrolled MFA factors, oldest first (as [`MfaStore::enrolled_factors`]).
    pub factors: Vec<String>,
}

/// Short-lived server-side records of a login in progress (the pending protocol request, keyed
/// by the login page's `state`, or a suspended pipeline keyed by its resume state).
pub trait FlowStore: Send + Sync {
    /// Stores `value` under `key` until `expires_at_ms`.
    fn put_flow(&self, key: &str, value: &str, expires_at_ms: i64) -> Result<(), StoreError>;
    /// Reads a live flow without consuming it.
    fn flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError>;
    /// Takes a live flow out (single use).
    fn take_flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError>;
}

/// What redeeming an authorization code found.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// First use: the stored record.
    Fresh(String),
    /// Already used: the refresh-token family issued from it, to revoke (RFC 6749 4.1.2).
    Reused(Option<String>),
    /// Unknown or expired.
    Unknown,
}

/// OAuth authorization codes (stored hashed, single use).
pub trait CodeStore: Send + Sync {
    /// Stores a code's record.
    fn put_code(&self, code_hash: &str, record: &str, expires_at_ms: i64) -> Result<(), StoreError>;
    /// Redeems a code atomically.
    fn redeem_code(&self, code_hash: &str, now_ms: i64) -> Result<CodeRedemption, StoreError>;
    /// Remembers the refresh-token family issued from a code.
    fn set_code_family(&self, code_hash: &str, family: &str) -> Result<(), StoreError>;
}

/// IDs of SAML requests already accepted (AuthnRequest, LogoutRequest), so that a replay is
/// refused on every node and after a restart.
pub trait ReplayStore: Send + Sync {
    /// Records `key` until `expires_at_ms`; `false` when it is already recorded and not expired.
    /// Atomic: of two concurrent calls with one key exactly one gets `true`.
    fn remember_request_id(&self, key: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool, StoreError>;
}

/// The persistent NameIDs (SAML `nameid-format:persistent`): one stable opaque identifier per
/// user and SP, never derived from the user id.
pub trait NameIdStore: Send + Sync {
    /// The identifier of `user_id` at `sp`; created (random) when absent and `allow_create`,
    /// else `None`. Two concurrent calls for one pair return the same identifier.
    fn persistent_name_id(&self, sp: &str, user_id: &str, allow_create: bool, now_ms: i64) -> Result<Option<String>, StoreError>;
}

/// The users' second factors: the TOTP secret (encrypted by the caller), the recovery code
/// (hashed by the caller), and the TOTP time steps already used (a code works once).
pub trait MfaStore: Send + Sync {
    /// The factor types a user has enrolled (`otp`, `recovery-code`).
    fn enrolled_factors(&self, user_id: &str) -> Result<Vec<String>, StoreError>;
    /// The stored secret of a factor (the encrypted TOTP secret, the recovery code's hash).
    fn factor_secret(&self, user_id: &str, factor: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Enrols (or replaces) a factor with its secret.
    fn put_factor(&self, user_id: &str, factor: &str, secret: &[u8], now_ms: i64) -> Result<(), StoreError>;
    /// Replaces a factor's secret only if it is still `old` (atomic; `false` if another login
    /// changed it first): a recovery code is used once.
    fn swap_factor_secret(&self, user_id: &str, factor: &str, old: &[u8], new: &[u8]) -> Result<bool, StoreError>;
    /// Records a TOTP time step as used; `false` when it already was (a replayed code).
    fn use_otp_step(&self, user_id: &str, step: i64, now_ms: i64) -> Result<bool, StoreError>;
    /// Removes every factor of a user (an operator's reset); how many were removed.
    fn reset_factors(&self, user_id: &str) -> Result<usize, StoreError>;
}

/// Sliding-window event counters shared by every node: login submissions per IP, logins started
/// per IP, failed client authentications per client and per IP.
pub trait RateLimitStore: Send + Sync {
    /// Counts an event of `key` unless `limit` were counted in the `window_ms` before `now_ms`;
    /// returns whether it was counted (refused events are not, so a blocked client is free again
    /// once its window has passed). Atomic across nodes.
    fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Result<bool, StoreError>;
    /// The most events any one of `keys` counted in the `window_ms` before `now_ms` (one query:
    /// a check of a client and its IP reads both at once).
    fn count(&self, keys: &[&str], window_ms: i64, now_ms: i64) -> Result<u32, StoreError>;
    /// Counts an event without checking (e.g. a failure, known only afterwards).
    fn record(&self, key: &str, now_ms: i64) -> Result<(), StoreError>;
}

/// Housekeeping.
pub trait Maintenance: Send + Sync {
    /// Whether the database answers (`/readyz`).
    fn ping(&self) -> Result<(), StoreError>;
    /// Deletes what has expired (sessions, flows, codes a day after expiry, cache
    /// records, refresh tokens past their absolute expiry); returns how many rows went.
    fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError>;
}

/// A pending password reset: whose, and from which application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetTicket {
    /// The user.
    pub user_id: String,
    /// The application the reset started from (empty: none).
    pub client_id: String,
}

/// Password resets: single-use link tokens (stored hashed) and the password change.
pub trait PasswordResetStore: Send + Sync {
    /// The user id and email of a login name or email address, if such a user has an email.
    fn reset_target(&self, identifier: &str) -> Result<Option<(String, String)>, StoreError>;
    /// Stores a link token's hash; the user's earlier tokens stop working.
    fn put_reset(&self, token_hash: &str, ticket: &ResetTicket, expires_at_ms: i64) -> Result<(), StoreError>;
    /// Consumes a link token (single use); `None` when unknown, used, superseded or expired.
    fn take_reset(&self, token_hash: &str, now_ms: i64) -> Result<Option<ResetTicket>, StoreError>;
    /// Whether a link token still works (not consumed).
    fn reset_valid(&self, token_hash: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Sets a new password hash (argon2 PHC), clears the lockout and removes the user's link
    /// tokens, in one transaction; with `revoke`, the user's sessions and refresh tokens end too.
    fn set_password(&self, user_id: &str, password_hash: &str, revoke: bool) -> Result<(), StoreError>;
}

/// Everything the server persists. Implemented for any type that implements all the parts.
pub trait Store:
    UserStore
    + SessionStore
    + FlowStore
    + CodeStore
    + RefreshTokenStore
    + ActionCache
    + ReplayStore
    + NameIdStore
    + MfaStore
    + PasswordResetStore
    + RateLimitStore
    + Maintenance
{
}

impl<
    T: UserStore
        + SessionStore
        + FlowStore
        + CodeStore
        + RefreshTokenStore
        + ActionCache
        + ReplayStore
        + NameIdStore
        + MfaStore
        + PasswordResetStore
        + RateLimitStore
        + Maintenance,
> Store for T
{
}

/// Applies metadata changes (`null` removes) to a metadata object.
/// The profile of a user who just logged in: `logins_count` and `last_login` updated.
pub(crate) fn count_login(profile: &str, now_ms: i64) -> Result<User, StoreError> {
    let mut user: User = serde_json::from_str(profile).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    user.logins_count = Some(user.logins_count.unwrap_or(0) + 1);
    let ts = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    user.last_login = Some(ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    Ok(user)
}

pub(crate) fn apply_changes(changes: &Map<String, Value>, target: &mut Map<String, Value>) {
    for (k, v) in changes {
        if v.is_null() {
            target.shift_remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}
