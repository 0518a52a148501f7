//! The `webauthn-platform` and `webauthn-roaming` factors, on `webauthn-rs`.
//!
//! - `webauthn-platform` (this device's biometrics or PIN) is a webauthn-rs *passkey*: user
//!   verification is required at registration and at every authentication.
//! - `webauthn-roaming` (a security key) is a webauthn-rs *security key*: user verification
//!   preferred, as the second factor after the password.
//!
//! A ceremony's state (its challenge) lives only in the login's MFA step on the server, so an
//! answer is bound to this login: one made for another login's challenge fails. A page shows
//! a fresh challenge each time it is rendered and an answer consumes it. The user's credentials
//! are stored as JSON in the factor's record (public keys and counters, no secret).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    AuthenticationResult, AuthenticatorAttachment, CreationChallengeResponse, CredentialID, Passkey, PasskeyAuthentication,
    PasskeyRegistration, RequestChallengeResponse, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

/// The two WebAuthn factor types.
pub const WEBAUTHN_FACTORS: [&str; 2] = ["webauthn-platform", "webauthn-roaming"];

/// Why a ceremony could not start or did not verify.
#[derive(Debug, thiserror::Error)]
pub enum WebauthnFailure {
    /// The relying party cannot be configured from the tenant's `base_url`.
    #[error("WebAuthn cannot use base_url '{0}': {1}")]
    Config(String, &'static str),
    /// The factor is not a WebAuthn factor.
    #[error("'{0}' is not a WebAuthn factor")]
    NotWebauthn(String),
    /// The browser's answer is not a credential of the expected shape.
    #[error("the answer is not a WebAuthn credential")]
    Malformed,
    /// No ceremony was started for this answer (or it was already used).
    #[error("no WebAuthn ceremony is pending")]
    NoCeremony,
    /// The user has no credential of this kind.
    #[error("no credential is registered")]
    NoCredential,
    /// webauthn-rs refused the answer (wrong challenge, origin, signature, counter, ...).
    #[error("WebAuthn verification failed: {0}")]
    Refused(String),
    /// The stored credentials cannot be read or written.
    #[error("stored credentials: {0}")]
    Stored(String),
}

/// The relying party, built once from the tenant's `base_url`.
#[derive(Clone)]
pub struct WebauthnRp(Arc<Webauthn>);

impl std::fmt::Debug for WebauthnRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebauthnRp(..)")
    }
}

/// A ceremony in progress, kept server-side in the MFA step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ceremony {
    /// Registering this device (passkey, user verification required).
    PlatformRegistration(PasskeyRegistration),
    /// Registering a security key.
    RoamingRegistration(SecurityKeyRegistration),
    /// Authenticating with this device.
    PlatformAuthentication(PasskeyAuthentication),
    /// Authenticating with a security key.
    RoamingAuthentication(SecurityKeyAuthentication),
}

/// What a verified ceremony leaves: the user's credentials of the factor, to store.
#[derive(Debug)]
pub struct Verified {
    /// The new stored value of the factor (JSON list of credentials).
    pub stored: Vec<u8>,
    /// Whether this was a registration (a new factor).
    pub registered: bool,
}

fn user_handle(user_id: &str) -> Uuid {
    // A stable handle that does not reveal the user id to the authenticator.
    let digest = openssl::sha::sha256(format!("idpipe-webauthn-user\0{user_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(b)
}

fn refused(e: impl std::fmt::Display) -> WebauthnFailure {
    WebauthnFailure::Refused(e.to_string())
}

fn read<T: for<'de> Deserialize<'de>>(stored: Option<&[u8]>) -> Result<Vec<T>, WebauthnFailure> {
    match stored {
        None => Ok(Vec::new()),
        Some(b) => serde_json::from_slice(b).map_err(|e| WebauthnFailure::Stored(e.to_string())),
    }
}

fn write<T: Serialize>(creds: &[T]) -> Result<Vec<u8>, WebauthnFailure> {
    serde_json::to_vec(creds).map_err(|e| WebauthnFailure::Stored(e.to_string()))
}

impl WebauthnRp {
    /// The relying party of `base_url` (its host is the RP ID, its origin the only one allowed).
    pub fn new(base_url: &str, rp_name: &str) -> Result<Self, WebauthnFailure> {
        let origin = Url::parse(base_url).map_err(|_| WebauthnFailure::Config(base_url.into(), "not a URL"))?;
        let Some(rp_id) = origin.domain().map(str::to_string) else {
            return Err(WebauthnFailure::Config(
                base_url.into(),
                "an IP address cannot be a WebAuthn relying party; use a domain name (http://localhost:PORT for development)",
            ));
        };
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(rp_name).build())
            .map_err(|_| WebauthnFailure::Config(base_url.into(), "webauthn-rs refused the relying party"))?;
        Ok(WebauthnRp(Arc::new(webauthn)))
    }

    /// Starts a registration of `factor` for the user: the options for the browser (JSON) and
    /// the ceremony to keep. The user's existing credentials of the factor are excluded.
    pub fn start_registration(
        &self,
        factor: &str,
        user_id: &str,
        name: &str,
        existing: Option<&[u8]>,
    ) -> Result<(String, Ceremony), WebauthnFailure> {
        let handle = user_handle(user_id);
        let (mut options, ceremony): (CreationChallengeResponse, Ceremony) = match factor {
            "webauthn-platform" => {
                let exclude = read::<Passkey>(existing)?.iter().map(|c| c.cred_id().clone()).collect();
                let (o, s) = self
                    .0
                    .start_passkey_registration(handle, name, name, Some(exclude))
                    .map_err(refused)?;
                (o, Ceremony::PlatformRegistration(s))
            }
            "webauthn-roaming" => {
                let exclude = read::<SecurityKey>(existing)?.iter().map(|c| c.cred_id().clone()).collect();
                let (o, s) = self
                    .0
                    .start_securitykey_registration(
                        handle,
                        name,
                        name,
                        Some(exclude),
                        None,
                        Some(AuthenticatorAttachment::CrossPlatform),
                    )
                    .map_err(refused)?;
                (o, Ceremony::RoamingRegistration(s))
            }
            other => return Err(WebauthnFailure::NotWebauthn(other.into())),
        };
        if factor == "webauthn-platform" {
            // A hint for the browser: this device's authenticator, not a security key.
            if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
                sel.authenticator_attachment = Some(AuthenticatorAttachment::Platform);
            }
        }
        let mut json = serde_json::to_value(&options).map_err(|e| WebauthnFailure::Stored(e.to_string()))?;
        if factor == "webauthn-roaming" {
            // webauthn-rs asks security keys for credProtect "userVerificationRequired" with user
            // verification only "preferred"; Chromium refuses that pair outright (NotSupportedError:
            // "Requested protection policy is inconsistent"). The extension is opportunistic on
            // the server side, so it is left out of the browser's options.
            if let Some(ext) = json.pointer_mut("/publicKey/extensions").and_then(serde_json::Value::as_object_mut) {
                ext.remove("credentialProtectionPolicy");
                ext.remove("enforceCredentialProtectionPolicy");
            }
        }
        Ok((json.to_string(), ceremony))
    }

    /// Starts an authentication with the user's credentials of `factor`.
    pub fn start_authentication(&self, factor: &str, stored: Option<&[u8]>) -> Result<(String, Ceremony), WebauthnFailure> {
        let (options, ceremony): (RequestChallengeResponse, Ceremony) = match factor {
            "webauthn-platform" => {
                let creds = read::<Passkey>(stored)?;
                if creds.is_empty() {
                    return Err(WebauthnFailure::NoCredential);
                }
                let (o, s) = self.0.start_passkey_authentication(&creds).map_err(refused)?;
                (o, Ceremony::PlatformAuthentication(s))
            }
            "webauthn-roaming" => {
                let creds = read::<SecurityKey>(stored)?;
                if creds.is_empty() {
                    return Err(WebauthnFailure::NoCredential);
                }
                let (o, s) = self.0.start_securitykey_authentication(&creds).map_err(refused)?;
                (o, Ceremony::RoamingAuthentication(s))
            }
            other => return Err(WebauthnFailure::NotWebauthn(other.into())),
        };
        let json = serde_json::to_string(&options).map_err(|e| WebauthnFailure::Stored(e.to_string()))?;
        Ok((json, ceremony))
    }

    /// Verifies the browser's answer (`answer`, JSON) to `ceremony` against the user's stored
    /// credentials; on success the credentials to store (a new one added, or a counter moved).
    pub fn finish(&self, ceremony: &Ceremony, answer: &str, stored: Option<&[u8]>) -> Result<Verified, WebauthnFailure> {
        match ceremony {
            Ceremony::PlatformRegistration(s) => {
                let reg = parse(answer)?;
                registered(self.0.finish_passkey_registration(&reg, s).map_err(refused)?, stored)
            }
            Ceremony::RoamingRegistration(s) => {
                let reg = parse(answer)?;
                registered(self.0.finish_securitykey_registration(&reg, s).map_err(refused)?, stored)
            }
            Ceremony::PlatformAuthentication(s) => {
                let result = self.0.finish_passkey_authentication(&parse(answer)?, s).map_err(refused)?;
                authenticated::<Passkey>(&result, stored)
            }
            Ceremony::RoamingAuthentication(s) => {
                let result = self.0.finish_securitykey_authentication(&parse(answer)?, s).map_err(refused)?;
                authenticated::<SecurityKey>(&result, stored)
            }
        }
    }
}

/// What both kinds of stored credential offer.
trait StoredCredential: Serialize + for<'de> Deserialize<'de> {
    fn id(&self) -> &CredentialID;
    fn update(&mut self, result: &AuthenticationResult);
}

impl StoredCredential for Passkey {
    fn id(&self) -> &CredentialID {
        self.cred_id()
    }
    fn update(&mut self, result: &AuthenticationResult) {
        self.update_credential(result);
    }
}

impl StoredCredential for SecurityKey {
    fn id(&self) -> &CredentialID {
        self.cred_id()
    }
    fn update(&mut self, result: &AuthenticationResult) {
        self.update_credential(result);
    }
}

fn parse<T: for<'de> Deserialize<'de>>(answer: &str) -> Result<T, WebauthnFailure> {
    serde_json::from_str(answer).map_err(|_| WebauthnFailure::Malformed)
}

/// A new credential added to the stored ones (never one already there).
fn registered<C: StoredCredential>(cred: C, stored: Option<&[u8]>) -> Result<Verified, WebauthnFailure> {
    let mut creds = read::<C>(stored)?;
    if creds.iter().any(|c| c.id() == cred.id()) {
        return Err(WebauthnFailure::Refused("credential already registered".into()));
    }
    creds.push(cred);
    Ok(Verified {
        stored: write(&creds)?,
        registered: true,
    })
}

/// The stored credentials with the used one's counter moved.
fn authenticated<C: StoredCredential>(result: &AuthenticationResult, stored: Option<&[u8]>) -> Result<Verified, WebauthnFailure> {
    let mut creds = read::<C>(stored)?;
    creds.iter_mut().for_each(|c| c.update(result));
    Ok(Verified {
        stored: write(&creds)?,
        registered: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_cannot_be_the_relying_party() {
        assert!(matches!(
            WebauthnRp::new("http://127.0.0.1:8080", "x"),
            Err(WebauthnFailure::Config(..))
        ));
        assert!(WebauthnRp::new("http://localhost:8080", "x").is_ok());
        assert!(WebauthnRp::new("https://idp.example.com", "x").is_ok());
    }

    #[test]
    fn a_platform_registration_asks_for_user_verification_and_this_device() {
        let rp = WebauthnRp::new("https://idp.example.com", "Example").expect("rp");
        let (json, ceremony) = rp.start_registration("webauthn-platform", "u1", "jane", None).expect("starts");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let sel = &v["publicKey"]["authenticatorSelection"];
        assert_eq!(sel["userVerification"], "required", "{v}");
        assert_eq!(sel["authenticatorAttachment"], "platform");
        assert_eq!(v["publicKey"]["rp"]["id"], "idp.example.com");
        assert!(matches!(ceremony, Ceremony::PlatformRegistration(_)));
        assert_eq!(
            v["publicKey"]["extensions"]["credentialProtectionPolicy"],
            "userVerificationRequired"
        );
        let (json, _) = rp.start_registration("webauthn-roaming", "u1", "jane", None).expect("starts");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["publicKey"]["authenticatorSelection"]["userVerification"], "preferred");
        assert!(v["publicKey"]["extensions"].get("credentialProtectionPolicy").is_none(), "{v}");
        // The user handle is not the user id.
        assert!(!json.contains("u1\""));
    }

    #[test]
    fn garbage_answers_and_missing_credentials_are_refused() {
        let rp = WebauthnRp::new("https://idp.example.com", "Example").expect("rp");
        let (_, c) = rp.start_registration("webauthn-roaming", "u1", "jane", None).expect("starts");
        for bad in [
            "",
            "{}",
            "null",
            "[1,2]",
            "{\"id\":\"x\",\"rawId\":\"!!\",\"response\":{},\"type\":\"public-key\"}",
        ] {
            assert!(rp.finish(&c, bad, None).is_err(), "{bad}");
        }
        assert!(matches!(
            rp.start_authentication("webauthn-roaming", None),
            Err(WebauthnFailure::NoCredential)
        ));
        assert!(matches!(rp.start_authentication("otp", None), Err(WebauthnFailure::NotWebauthn(_))));
    }
}
