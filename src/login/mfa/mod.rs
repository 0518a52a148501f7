//! Multi-factor authentication in the login engine. A pipeline suspended by
//! `api.authentication.challengeWith/Any` or `enrollWith/Any`, or a completed one whose actions
//! called `api.multifactor.enable`, becomes an [`MfaPending`] record (a typed flow state bound to
//! the browser) that the MFA pages work on: a picker, a challenge (TOTP, email code, recovery
//! code) or an enrolment (TOTP with its QR code). A right code completes the factor: the
//! pipeline resumes (`Resume::MfaCompleted`, the next action sees `{name: "mfa", type}`) or the
//! login completes. Wrong codes are counted per login (the login fails past the tenant's limit)
//! and per user (rate limited across logins).

pub mod codes;
pub mod email;
pub mod phone;
pub mod webauthn;

use serde::{Deserialize, Serialize};

use super::records::{FlowV1, Suspended, decode, encode};
use super::states::StateError;
use super::{Answered, Io, LoginContext};
use crate::pipeline::executor::MfaMode;
use crate::store::StoreError;

/// How long the MFA step may take.
const MFA_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// Lifetime of an email code.
pub const EMAIL_CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;

/// What completes once the factor is done.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AfterMfa {
    /// The pipeline resumes with the next action (`challengeWith` and friends).
    Pipeline,
    /// The login completes (`multifactor.enable`, at the end of the flow).
    Complete,
}

/// An email code sent in this login.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SentCode {
    /// Keyed hash of the code.
    pub hash: Vec<u8>,
    /// When it stops working (ms).
    pub expires_at: i64,
}

/// A login waiting for a second factor.
#[derive(Debug, Serialize, Deserialize)]
pub struct MfaPending {
    /// The login (protocol request, pipeline state without secrets, session, browser).
    pub login: Suspended,
    /// What completes afterwards.
    pub after: AfterMfa,
    /// Challenge or enrolment.
    pub mode: MfaMode,
    /// The factor types the user may use, default first.
    pub usable: Vec<String>,
    /// The factor on screen; `None`: the picker.
    pub current: Option<String>,
    /// Wrong codes so far in this login.
    pub attempts: u32,
    /// The email code sent, if any.
    pub email_code: Option<SentCode>,
    /// A TOTP secret being enrolled (sealed), kept until its first code confirms it.
    pub enrolling_secret: Option<Vec<u8>>,
    /// A factor already verified, waiting for the user to acknowledge a new recovery code.
    pub verified: Option<String>,
    /// The phone being enrolled (or challenged), once known.
    #[serde(default)]
    pub phone: Option<phone::PhoneTarget>,
    /// The phone code sent, if any.
    #[serde(default)]
    pub phone_code: Option<SentCode>,
    /// The WebAuthn ceremony of the page on screen, if any (its challenge is single use).
    #[serde(default)]
    pub webauthn: Option<webauthn::Ceremony>,
}

impl MfaPending {
    /// A new step: the first usable factor on screen, or the picker.
    pub fn new(login: Suspended, after: AfterMfa, mode: MfaMode, usable: Vec<String>, picker: bool) -> Self {
        MfaPending {
            current: if picker { None } else { usable.first().cloned() },
            login,
            after,
            mode,
            usable,
            attempts: 0,
            email_code: None,
            enrolling_secret: None,
            verified: None,
            phone: None,
            phone_code: None,
            webauthn: None,
        }
    }

    /// The user in question.
    pub fn user_id(&self) -> &str {
        &self.login.tx.event.user.user_id
    }

    /// The application's display name, for the pages.
    pub fn client_id(&self) -> &str {
        self.login.request.client_id()
    }
}

fn key(k: &str) -> String {
    format!("mfa:{k}")
}

/// The display names of factors.
pub fn factor_label(factor: &str) -> &'static str {
    match factor {
        "otp" => "Authenticator app (one-time code)",
        "email" => "Email code",
        "recovery-code" => "Recovery code",
        "phone" => "Phone",
        "webauthn-platform" => "This device's biometrics",
        "webauthn-roaming" => "Security key",
        "push-notification" => "Push notification",
        _ => "Another method",
    }
}

impl Io {
    /// Adds the factors the user enrolled in idpipe to `event.user.enrolledFactors` (seed
    /// types), keeping those the profile already lists.
    pub fn with_enrolled_factors(&self, user: &mut crate::pipeline::event::User) -> Result<(), StoreError> {
        let factors = self.store.enrolled_factors(&user.user_id)?;
        self.add_enrolled_factors(user, factors)
    }

    /// [`Io::with_enrolled_factors`] with the factors already read (`enrolled_factors`).
    pub fn add_enrolled_factors(&self, user: &mut crate::pipeline::event::User, factors: Vec<String>) -> Result<(), StoreError> {
        for f in factors {
            if !user.enrolled_factors.iter().any(|e| e.factor_type == f) {
                // Seed 000: a phone factor says its preferredMethod.
                let options = if f == "phone" {
                    self.store
                        .factor_secret(&user.user_id, "phone")?
                        .and_then(|j| serde_json::from_slice::<phone::PhoneTarget>(&j).ok())
                        .map(|p| serde_json::json!({"preferredMethod": p.preferred_method}))
                } else {
                    None
                };
                user.enrolled_factors.push(crate::pipeline::event::EnrolledFactor {
                    factor_type: f,
                    options,
                    extra: Default::default(),
                });
            }
        }
        Ok(())
    }

    /// The MFA step that `api.multifactor.enable` asks for at the end of a completed pipeline:
    /// a challenge with the user's usable factors, or an enrolment when they have none;
    /// `None` when the tenant enables no factor.
    pub fn multifactor_step(&self, login: Suspended) -> Result<Result<MfaPending, Suspended>, StoreError> {
        let enabled = &self.tenant.mfa.factors;
        let user = &login.tx.event.user;
        let email_ok = user.email_verified == Some(true) && user.email.is_some();
        let enrolled: Vec<String> = enabled
            .iter()
            .filter(|f| user.enrolled_factors.iter().any(|e| &e.factor_type == *f) || (f.as_str() == "email" && email_ok))
            .cloned()
            .collect();
        let (mode, usable) = if !enrolled.is_empty() {
            (MfaMode::Challenge, enrolled)
        } else {
            let can_enrol: Vec<String> = enabled
                .iter()
                .filter(|f| ["otp", "webauthn-platform", "webauthn-roaming", "phone"].contains(&f.as_str()))
                .cloned()
                .collect();
            if can_enrol.is_empty() {
                return Ok(Err(login));
            }
            (MfaMode::Enroll, can_enrol)
        };
        let picker = usable.len() > 1;
        Ok(Ok(MfaPending::new(login, AfterMfa::Complete, mode, usable, picker)))
    }

    /// Stores an MFA step under a new key (the `/u/mfa?state=` of the next page).
    pub fn put_mfa(&self, pending: MfaPending) -> Result<String, StoreError> {
        let k = crate::util::random_hex(16);
        self.put_mfa_at(&k, pending)?;
        Ok(k)
    }

    /// Stores an MFA step under an existing key (after a wrong code, a factor change).
    pub fn put_mfa_at(&self, k: &str, pending: MfaPending) -> Result<(), StoreError> {
        self.store.put_flow(
            &key(k),
            &encode(FlowV1::AwaitingMfa(Box::new(pending)))?,
            self.now_ms() + MFA_LIFETIME_MS,
        )
    }

    /// The MFA step of `k` for the presenting browser (not consumed).
    pub fn mfa(&self, k: &str, browser: Option<&str>) -> Result<MfaPending, StateError> {
        let json = self.store.flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        let pending = match decode(&json) {
            Ok(FlowV1::AwaitingMfa(p)) => *p,
            _ => return Err(StateError::Expired),
        };
        let same = browser.is_some_and(|b| crate::util::constant_time_eq(b.as_bytes(), pending.login.browser.as_bytes()));
        if !same {
            tracing::warn!("an MFA state was presented by another browser than the one that started it");
            return Err(StateError::ForeignBrowser);
        }
        Ok(pending)
    }

    /// Consumes the MFA step of `k` (single use: a code completes one login once).
    pub fn take_mfa(&self, k: &str) -> Result<(), StateError> {
        self.store.take_flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        Ok(())
    }
}

impl LoginContext {
    /// A completed factor: the pipeline resumes (or the login completes), and the login's end
    /// is delivered.
    pub async fn mfa_completed(&self, pending: MfaPending, factor: String) -> Answered {
        let MfaPending { mut login, after, .. } = pending;
        login.tx.event.secrets = self.tenant.secrets.clone();
        tracing::info!(factor = %factor, client_id = %login.request.client_id(), "second factor completed");
        match after {
            AfterMfa::Pipeline => self.resume_with(login, crate::pipeline::Resume::MfaCompleted { factor }).await,
            AfterMfa::Complete => {
                let tx = &mut login.tx;
                let remember = tx.outcome.multifactor.as_ref().is_some_and(|m| m.allow_remember_browser);
                let user_id = tx.event.user.user_id.clone();
                record_factor(tx, &factor, self.now());
                let mut answered = self.deliver_off(login).await;
                if remember {
                    let days = i64::from(self.tenant.mfa.remember_browser_days);
                    let expires = self.now_ms() / 1000 + days * 86400;
                    answered.remember_browser = Some((self.mfa_keys.remember_token(&user_id, expires), days * 86400));
                }
                answered
            }
        }
    }

    /// A login whose MFA step failed (too many wrong codes): told to the application.
    pub fn mfa_failed(&self, pending: &MfaPending, description: &str) -> Answered {
        let f = crate::pipeline::outcome::Failure {
            kind: crate::pipeline::outcome::FailureKind::AccessDenied,
            code: "access_denied".into(),
            description: description.into(),
            action: None,
        };
        self.failure(&pending.login.request, &f).into()
    }
}

/// What a completed factor leaves in the transaction (as `Resume::MfaCompleted` does for a
/// suspended pipeline): `{name: "mfa", type}` in the methods and the factor in the outcome.
pub fn record_factor(tx: &mut crate::pipeline::TransactionState, factor: &str, now: chrono::DateTime<chrono::Utc>) {
    tx.event.authentication.methods.push(crate::pipeline::event::AuthenticationMethod {
        name: "mfa".into(),
        timestamp: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        method_type: Some(factor.to_string()),
    });
    tx.outcome.completed_mfa.push(factor.to_string());
    tx.outcome.multifactor = None;
}
