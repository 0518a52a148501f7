//! The outcome of a pipeline run: one typed value that the SAML and OIDC issuers read.
//!
//! Actions never build tokens or XML; they only record commands, and every command lands here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::command::ActionTrace;
use super::event::JsonMap;

/// Everything the actions of one transaction decided.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Outcome {
    /// Why the login failed, when it did. Side effects (metadata) are still applied.
    pub failure: Option<Failure>,
    /// `api.idToken.setCustomClaim`, in call order (later calls overwrite).
    pub id_token_claims: JsonMap,
    /// `api.accessToken.setCustomClaim`, in call order (later calls overwrite).
    pub access_token_claims: JsonMap,
    /// `api.accessToken.addScope` / `removeScope`, in call order.
    pub scope_changes: Vec<ScopeChange>,
    /// Every `api.samlResponse.*` setting.
    pub saml: SamlOverrides,
    /// `api.multifactor.enable`.
    pub multifactor: Option<MultifactorRequest>,
    /// MFA factors completed in this transaction, in order.
    pub completed_mfa: Vec<String>,
    /// Custom authentication methods recorded with `api.authentication.recordMethod`.
    pub recorded_methods: Vec<String>,
    /// The new subject after `api.authentication.setPrimaryUser`.
    pub primary_user_id: Option<String>,
    /// Aggregated `api.user.setAppMetadata` changes (`null` removes a key).
    pub app_metadata_changes: JsonMap,
    /// Aggregated `api.user.setUserMetadata` changes (`null` removes a key).
    pub user_metadata_changes: JsonMap,
    /// Current `event.transaction.metadata`, as `api.transaction.setMetadata` left it.
    pub transaction_metadata: JsonMap,
    /// Session changes.
    pub session: SessionChanges,
    /// Refresh-token changes.
    pub refresh_token: RefreshTokenChanges,
    /// `api.transaction.setResultUrl` (post-challenge triggers).
    pub result_url: Option<String>,
    /// Per action, what it did, in order (the trace).
    pub trace: Vec<ActionTrace>,
}

/// A scope change on the access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", content = "scope", rename_all = "snake_case")]
pub enum ScopeChange {
    /// `addScope`.
    Add(String),
    /// `removeScope`.
    Remove(String),
}

/// Why a login failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// OAuth-style error code (`access_denied`, a validation code, ...).
    pub code: String,
    /// Human-readable reason sent to the application (`error_description`).
    pub description: String,
    /// The action that caused it, when one did.
    pub action: Option<String>,
}

/// The kinds of failure.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// `api.access.deny`.
    AccessDenied,
    /// `api.validation.error`.
    Validation,
    /// `api.session.revoke`.
    SessionRevoked,
    /// `api.refreshToken.revoke`.
    RefreshTokenRevoked,
    /// The action threw or returned an error.
    ActionError,
    /// The action exceeded its time limit.
    Timeout,
    /// An api method was called with invalid input or where it is not allowed.
    InvalidApiCall,
    /// An MFA request that cannot be satisfied (`mfar`).
    MfaUnavailable,
    /// `setPrimaryUser` to a user that does not own the current identity.
    PrimaryUserMismatch,
    /// The login cannot go on without the user (`login_required`, `interaction_required`) and
    /// the request forbids showing anything (`prompt=none`, `IsPassive`). Set by the login engine
    /// only, never by an action, so an action's `validation.error` code cannot pick the SAML
    /// status these get (NoPassive / AuthnFailed).
    NeedsUser,
}

impl FailureKind {
    /// Whether the user-facing description should be the generic one (internal errors).
    pub fn is_internal(self) -> bool {
        matches!(self, FailureKind::ActionError | FailureKind::Timeout)
    }
}

/// `api.multifactor.enable(provider, options)`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MultifactorRequest {
    /// `any`, `duo`, `google-authenticator`, `guardian` or `none`.
    pub provider: String,
    /// `options.allowRememberBrowser`.
    pub allow_remember_browser: bool,
    /// `options.providerOptions` (duo only).
    pub provider_options: Option<Value>,
}

/// Session changes requested by actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SessionChanges {
    /// `api.session.revoke`: revoke the session.
    pub revoke: Option<SessionRevoke>,
    /// `api.session.setCookieMode`.
    pub cookie_mode: Option<CookieMode>,
    /// Earliest absolute expiry requested, in ms since the epoch (already capped).
    pub expires_at: Option<i64>,
    /// Earliest idle expiry requested, in ms since the epoch (already capped).
    pub idle_expires_at: Option<i64>,
    /// Metadata operations in call order.
    pub metadata_ops: Vec<SessionMetadataOp>,
}

/// `api.session.revoke` details.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRevoke {
    /// The reason given.
    pub reason: String,
    /// `options.preserveRefreshTokens`.
    pub preserve_refresh_tokens: bool,
}

/// Session cookie persistence.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CookieMode {
    /// Survives browser restarts.
    Persistent,
    /// Cleared when the browser closes.
    NonPersistent,
}

/// One change to the session's metadata.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SessionMetadataOp {
    /// Set a key.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: Value,
    },
    /// Delete a key (also what `setMetadata(k, null)` does).
    Delete {
        /// Key.
        key: String,
    },
    /// Delete every key.
    Evict,
}

impl SessionChanges {
    /// Applies the metadata operations to the session's current metadata.
    pub fn apply_metadata(&self, metadata: &mut JsonMap) {
        for op in &self.metadata_ops {
            match op {
                SessionMetadataOp::Set { key, value } => {
                    metadata.insert(key.clone(), value.clone());
                }
                SessionMetadataOp::Delete { key } => {
                    metadata.shift_remove(key);
                }
                SessionMetadataOp::Evict => metadata.clear(),
            }
        }
    }
}

/// Refresh-token changes requested by actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RefreshTokenChanges {
    /// `api.refreshToken.revoke(reason)`.
    pub revoke: Option<String>,
    /// Earliest absolute expiry requested, ms since the epoch (already capped).
    pub expires_at: Option<i64>,
    /// Earliest idle expiry requested, ms since the epoch (already capped).
    pub idle_expires_at: Option<i64>,
}

/// `rsa-sha256` or `rsa-sha1`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (default).
    #[serde(rename = "rsa-sha256")]
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-1 (insecure, kept for old SPs).
    #[serde(rename = "rsa-sha1")]
    RsaSha1,
}

impl SignatureAlgorithm {
    /// Parses the setter's value; anything but the two names is refused.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa-sha256" => Some(Self::RsaSha256),
            "rsa-sha1" => Some(Self::RsaSha1),
            _ => None,
        }
    }
}

/// `sha256` or `sha1`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlgorithm {
    /// SHA-256 (default).
    Sha256,
    /// SHA-1 (insecure, kept for old SPs).
    Sha1,
}

impl DigestAlgorithm {
    /// Parses the setter's value; anything but the two names is refused.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(Self::Sha256),
            "sha1" => Some(Self::Sha1),
            _ => None,
        }
    }
}

/// Everything `api.samlResponse.*` can set. `None` means "not set by an action".
///
/// Field names follow the setters (`setNameIdentifierProbes` -> `name_identifier_probes`).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SamlOverrides {
    /// `setAttribute`, in call order; `None` removes the attribute.
    pub attributes: Vec<(String, Option<Value>)>,
    /// `setAudience`.
    pub audience: Option<String>,
    /// `setIssuer`.
    pub issuer: Option<String>,
    /// `setRecipient`.
    pub recipient: Option<String>,
    /// `setDestination`.
    pub destination: Option<String>,
    /// `setRelayState`.
    pub relay_state: Option<String>,
    /// `setLifetimeInSeconds` (a positive integer).
    pub lifetime_in_seconds: Option<u64>,
    /// `setSignResponse`.
    pub sign_response: Option<bool>,
    /// `setNameIdentifierFormat`.
    pub name_identifier_format: Option<String>,
    /// `setNameIdentifierProbes`.
    pub name_identifier_probes: Option<Vec<String>>,
    /// `setAuthnContextClassRef`.
    pub authn_context_class_ref: Option<String>,
    /// `setSigningCert`: requests must then be signed by this certificate.
    pub signing_cert: Option<String>,
    /// `setIncludeAttributeNameFormat`.
    pub include_attribute_name_format: Option<bool>,
    /// `setTypedAttributes`.
    pub typed_attributes: Option<bool>,
    /// `setEncryptionCert`.
    pub encryption_cert: Option<String>,
    /// `setEncryptionPublicKey`.
    pub encryption_public_key: Option<String>,
    /// `setCert`.
    pub cert: Option<String>,
    /// `setKey` (a private key: never logged, redacted in traces and printed outcomes).
    pub key: Option<String>,
    /// `setSignatureAlgorithm`.
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// `setDigestAlgorithm`.
    pub digest_algorithm: Option<DigestAlgorithm>,
    /// `setCreateUpnClaim`.
    pub create_upn_claim: Option<bool>,
    /// `setPassthroughClaimsWithNoMapping`.
    pub passthrough_claims_with_no_mapping: Option<bool>,
    /// `setMapUnknownClaimsAsIs`.
    pub map_unknown_claims_as_is: Option<bool>,
    /// `setMapIdentities`.
    pub map_identities: Option<bool>,
}

impl std::fmt::Debug for SamlOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Why by hand: the derived Debug would print the private key into logs.
        let mut shown = self.clone();
        if shown.key.is_some() {
            shown.key = Some(REDACTED.to_string());
        }
        f.debug_struct("SamlOverrides")
            .field("attributes", &shown.attributes)
            .field("audience", &shown.audience)
            .field("issuer", &shown.issuer)
            .field("key", &shown.key)
            .finish_non_exhaustive()
    }
}

/// What secrets are replaced with wherever they would be shown.
pub const REDACTED: &str = "[redacted]";

impl Outcome {
    /// Whether the login failed.
    pub fn is_failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The outcome with secrets (the SAML private key) replaced, for printing and logging.
    pub fn redacted(&self) -> Outcome {
        let mut out = self.clone();
        if out.saml.key.is_some() {
            out.saml.key = Some(REDACTED.to_string());
        }
        out
    }

    /// The final access-token scopes: `requested`, then each add/remove in call order, de-duplicated.
    pub fn access_token_scopes(&self, requested: &[String]) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        for s in requested {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        for change in &self.scope_changes {
            match change {
                ScopeChange::Add(s) => {
                    if !scopes.contains(s) {
                        scopes.push(s.clone());
                    }
                }
                ScopeChange::Remove(s) => scopes.retain(|x| x != s),
            }
        }
        scopes
    }

    /// Applies the aggregated app/user metadata changes to a user's metadata objects.
    pub fn apply_user_metadata(&self, app_metadata: &mut JsonMap, user_metadata: &mut JsonMap) {
        apply_changes(&self.app_metadata_changes, app_metadata);
        apply_changes(&self.user_metadata_changes, user_metadata);
    }
}

fn apply_changes(changes: &JsonMap, target: &mut JsonMap) {
    for (k, v) in changes {
        if v.is_null() {
            target.shift_remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_arithmetic_is_ordered_and_deduplicated() {
        let o = Outcome {
            scope_changes: vec![
                ScopeChange::Add("read:x".into()),
                ScopeChange::Remove("email".into()),
                ScopeChange::Add("openid".into()),
                ScopeChange::Add("email".into()),
            ],
            ..Default::default()
        };
        let req = vec!["openid".to_string(), "email".into(), "openid".into()];
        assert_eq!(o.access_token_scopes(&req), vec!["openid", "read:x", "email"]);
    }

    #[test]
    fn debug_and_redacted_hide_the_saml_key() {
        let mut o = Outcome::default();
        o.saml.key = Some("-----BEGIN PRIVATE KEY-----secret".into());
        assert!(!format!("{:?}", o).contains("secret"));
        assert!(!serde_json::to_string(&o.redacted()).unwrap_or_default().contains("secret"));
    }
}
