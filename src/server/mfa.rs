//! `/u/mfa`: the second-factor step of a login (see `login::mfa`). GET shows the page of the
//! step (picker, challenge, enrolment; an email code is sent when its page is first shown);
//! POST chooses a factor, verifies a code, sends a new email code, or goes on after the
//! recovery code was shown. Every POST checks the CSRF token bound to the step and counts
//! against a per-user limit; wrong codes are counted in the step.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};

use super::login::{csrf_for, csrf_ok};
use super::mfa_pages::{self as view, FormContext};
use super::{AppState, BrowserBinding, WebError, WebResult, flow, pages};
use crate::login::Io;
use crate::login::mfa::codes::{self, MfaKeys};
use crate::login::mfa::phone::{Purpose, message_options};
use crate::login::mfa::{EMAIL_CODE_LIFETIME_MS, MfaPending, SentCode, factor_label};
use crate::pipeline::executor::MfaMode;

/// What a step led to.
enum Step {
    /// Show a page (status, HTML).
    Page(StatusCode, String),
    /// Back to the page of the step.
    Again,
    /// The factor is done: the login goes on.
    Completed(Box<MfaPending>, String),
    /// Too many wrong codes: the login fails.
    Failed(Box<MfaPending>),
    /// Per-user limit.
    Throttled,
}

fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "your email address".into(),
    }
}

fn app_name(io: &Io, p: &MfaPending) -> String {
    let id = p.client_id();
    io.tenant
        .saml_sps
        .get(id)
        .map(|s| s.name.clone())
        .or_else(|| io.tenant.oidc_clients.get(id).map(|c| c.name.clone()))
        .unwrap_or_else(|| id.to_string())
}

/// The page of the step as it stands (sending an email code or making an enrolment secret
/// when the page needs one).
fn page(io: &Io, keys: &MfaKeys, k: &str, csrf: &str, p: &mut MfaPending, error: Option<&str>) -> Result<String, WebError> {
    let app = app_name(io, p);
    let c = FormContext { app: &app, state: k, csrf };
    let labels: Vec<(&str, &str)> = p.usable.iter().map(|f| (f.as_str(), factor_label(f))).collect();
    let Some(current) = p.current.clone() else {
        return Ok(view::picker(&c, p.mode == MfaMode::Enroll, &labels));
    };
    let others: Vec<(&str, &str)> = labels.iter().filter(|(f, _)| **f != current).copied().collect();
    let user = p.login.tx.event.user.clone();
    match (p.mode, current.as_str()) {
        (MfaMode::Enroll, "otp") => {
            let secret = match &p.enrolling_secret {
                Some(sealed) => keys.open(sealed).map_err(internal)?,
                None => {
                    let s = codes::new_totp_secret().map_err(internal)?;
                    p.enrolling_secret = Some(keys.seal(&s).map_err(internal)?);
                    s
                }
            };
            let account = user.email.clone().unwrap_or_else(|| user.user_id.clone());
            let uri = codes::otpauth_uri(&io.tenant.name, &account, &secret);
            let svg = codes::qr_svg(&uri).map_err(internal)?;
            Ok(view::enroll_otp(&c, &svg, &codes::base32(&secret), &uri, error))
        }
        (_, "email") => {
            let now = io.now_ms();
            if p.email_code.as_ref().is_none_or(|s| s.expires_at <= now) {
                let (from, delivery) =
                    io.tenant.mfa.email.clone().ok_or_else(|| {
                        WebError::page(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Email codes are not configured.")
                    })?;
                let to = user.email.clone().unwrap_or_default();
                let code = codes::six_digits().map_err(internal)?;
                crate::login::mfa::email::send_code(&from, &delivery, &to, &app, &code).map_err(|e| {
                    tracing::error!(error = %e, "cannot send an email code");
                    WebError::page(
                        StatusCode::BAD_GATEWAY,
                        "server_error",
                        "The code could not be sent. Try again later.",
                    )
                })?;
                tracing::info!(user_id = %user.user_id, "email code sent");
                p.email_code = Some(SentCode {
                    hash: keys.hash_code(&code),
                    expires_at: now + EMAIL_CODE_LIFETIME_MS,
                });
            }
            let hint = format!("We sent a code to {}.", masked(user.email.as_deref().unwrap_or_default()));
            Ok(view::challenge(&c, "email", &hint, &others, error))
        }
        (MfaMode::Enroll, "recovery-code") => {
            // Enrolling a recovery code: a new one, stored hashed (replacing any), shown once;
            // "continue" completes the factor.
            let rc = codes::recovery_code().map_err(internal)?;
            io.store()
                .put_factor(&user.user_id, "recovery-code", &keys.hash_code(&rc), io.now_ms())?;
            tracing::info!(user_id = %user.user_id, "recovery code enrolled");
            p.verified = Some("recovery-code".into());
            Ok(view::recovery_code(&c, &rc))
        }
        (_, "recovery-code") => Ok(view::challenge(
            &c,
            "recovery-code",
            "Enter the recovery code you saved.",
            &others,
            error,
        )),
        (mode, "phone") => {
            if p.phone.is_none() && mode == MfaMode::Challenge {
                p.phone = io
                    .store()
                    .factor_secret(&user.user_id, "phone")?
                    .and_then(|j| serde_json::from_slice(&j).ok());
            }
            let Some(target) = p.phone.clone() else {
                return Ok(view::enroll_phone(&c, error));
            };
            let now = io.now_ms();
            if p.phone_code.as_ref().is_none_or(|s| s.expires_at <= now) {
                let delivery =
                    io.tenant.mfa.phone.clone().ok_or_else(|| {
                        WebError::page(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Phone codes are not configured.")
                    })?;
                let code = codes::six_digits().map_err(internal)?;
                let sent = match delivery {
                    crate::config::PhoneDelivery::Action => {
                        let purpose = match mode {
                            MfaMode::Enroll => Purpose::Enrollment,
                            MfaMode::Challenge => Purpose::SecondFactor,
                        };
                        io.send_phone_message(&p.login.tx.event, message_options(purpose, &target, &app, &code))
                    }
                    other => crate::login::mfa::phone::send_code(&other, &target, &app, &code),
                };
                sent.map_err(|e| {
                    tracing::error!(error = %e, "cannot send a phone code");
                    WebError::page(
                        StatusCode::BAD_GATEWAY,
                        "server_error",
                        "The code could not be sent. Try again later.",
                    )
                })?;
                tracing::info!(user_id = %user.user_id, "phone code sent");
                p.phone_code = Some(SentCode {
                    hash: keys.hash_code(&code),
                    expires_at: now + EMAIL_CODE_LIFETIME_MS,
                });
            }
            let hint = format!("We sent a code to {}.", crate::login::mfa::phone::masked(&target.number));
            Ok(view::challenge(&c, "phone", &hint, &others, error))
        }
        (mode, f @ ("webauthn-platform" | "webauthn-roaming")) => {
            let rp = io
                .tenant
                .mfa
                .webauthn
                .clone()
                .ok_or_else(|| internal("WebAuthn is not configured"))?;
            let stored = io.store().factor_secret(&user.user_id, f)?;
            let name = user.email.clone().unwrap_or_else(|| user.user_id.clone());
            // A fresh challenge for every page shown; the previous one stops working.
            let (options, ceremony) = match mode {
                MfaMode::Enroll => rp.start_registration(f, &user.user_id, &name, stored.as_deref()),
                MfaMode::Challenge => rp.start_authentication(f, stored.as_deref()),
            }
            .map_err(internal)?;
            p.webauthn = Some(ceremony);
            Ok(view::webauthn(&c, f, mode == MfaMode::Enroll, &options, &others, error))
        }
        _ => Ok(view::challenge(&c, "otp", "Open your authenticator app.", &others, error)),
    }
}

/// Checks a WebAuthn answer against the ceremony of the page (consumed either way) and stores
/// the new or updated credential; `Ok(Some(new recovery code))` after a first enrolment.
fn verify_webauthn(
    io: &Io,
    keys: &MfaKeys,
    p: &mut MfaPending,
    factor: &str,
    answer: &str,
) -> Result<Result<Option<String>, ()>, WebError> {
    let user_id = p.user_id().to_string();
    let now = io.now_ms();
    let (Some(ceremony), Some(rp)) = (p.webauthn.take(), io.tenant.mfa.webauthn.clone()) else {
        return Ok(Err(()));
    };
    let stored = io.store().factor_secret(&user_id, factor)?;
    let verified = match rp.finish(&ceremony, answer, stored.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(%user_id, factor, error = %e, "WebAuthn answer refused");
            return Ok(Err(()));
        }
    };
    match &stored {
        // Counters move under a compare-and-swap: two logins cannot both use the old value.
        Some(old) if !verified.registered => {
            if !io.store().swap_factor_secret(&user_id, factor, old, &verified.stored)? {
                return Ok(Err(()));
            }
        }
        _ => io.store().put_factor(&user_id, factor, &verified.stored, now)?,
    }
    if verified.registered {
        tracing::info!(%user_id, factor, "WebAuthn credential registered");
        return Ok(Ok(first_recovery_code(io, keys, &user_id, now)?));
    }
    Ok(Ok(None))
}

fn internal(e: impl std::fmt::Display) -> WebError {
    tracing::error!(error = %e, "MFA step failed");
    WebError::page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The login could not be completed.",
    )
}

/// A recovery code for a user who has none yet (at the first enrolment), shown once.
fn first_recovery_code(io: &Io, keys: &MfaKeys, user_id: &str, now: i64) -> Result<Option<String>, WebError> {
    let enabled = io.tenant.mfa.factors.iter().any(|f| f == "recovery-code");
    if !enabled || io.store().factor_secret(user_id, "recovery-code")?.is_some() {
        return Ok(None);
    }
    let rc = codes::recovery_code().map_err(internal)?;
    io.store().put_factor(user_id, "recovery-code", &keys.hash_code(&rc), now)?;
    Ok(Some(rc))
}

/// Checks a code for the current factor; `Ok(Some(new recovery code))` when one must be shown.
fn verify(io: &Io, keys: &MfaKeys, p: &mut MfaPending, code: &str) -> Result<Result<Option<String>, ()>, WebError> {
    let user_id = p.user_id().to_string();
    let now = io.now_ms();
    let current = p.current.clone().unwrap_or_default();
    match (p.mode, current.as_str()) {
        (MfaMode::Enroll, "otp") => {
            let Some(sealed) = p.enrolling_secret.clone() else {
                return Ok(Err(()));
            };
            let secret = keys.open(&sealed).map_err(internal)?;
            let Some(step) = codes::totp_step(&secret, code, now / 1000) else {
                return Ok(Err(()));
            };
            io.store().use_otp_step(&user_id, step, now)?;
            io.store().put_factor(&user_id, "otp", &sealed, now)?;
            tracing::info!(%user_id, "authenticator app enrolled");
            // The first enrolment also makes a recovery code, shown once.
            Ok(Ok(first_recovery_code(io, keys, &user_id, now)?))
        }
        (_, "otp") => {
            let Some(sealed) = io.store().factor_secret(&user_id, "otp")? else {
                return Ok(Err(()));
            };
            let secret = keys.open(&sealed).map_err(internal)?;
            match codes::totp_step(&secret, code, now / 1000) {
                // A code works once, even within its 30 s.
                Some(step) if io.store().use_otp_step(&user_id, step, now)? => Ok(Ok(None)),
                _ => Ok(Err(())),
            }
        }
        (mode, "phone") => {
            let ok = p
                .phone_code
                .as_ref()
                .is_some_and(|s| s.expires_at > now && crate::util::constant_time_eq(&s.hash, &keys.hash_code(code)));
            if !ok {
                return Ok(Err(()));
            }
            p.phone_code = None;
            if mode == MfaMode::Enroll {
                let target = p.phone.clone().ok_or_else(|| internal("no phone to enrol"))?;
                let json = serde_json::to_vec(&target).map_err(internal)?;
                io.store().put_factor(&user_id, "phone", &json, now)?;
                tracing::info!(%user_id, "phone enrolled");
                return Ok(Ok(first_recovery_code(io, keys, &user_id, now)?));
            }
            Ok(Ok(None))
        }
        (_, "email") => {
            let ok = p
                .email_code
                .as_ref()
                .is_some_and(|s| s.expires_at > now && crate::util::constant_time_eq(&s.hash, &keys.hash_code(code)));
            if ok {
                p.email_code = None;
            }
            Ok(if ok { Ok(None) } else { Err(()) })
        }
        (_, f @ ("webauthn-platform" | "webauthn-roaming")) => verify_webauthn(io, keys, p, f, code),
        (_, "recovery-code") => {
            let Some(stored) = io.store().factor_secret(&user_id, "recovery-code")? else {
                return Ok(Err(()));
            };
            if !crate::util::constant_time_eq(&stored, &keys.hash_code(code)) {
                return Ok(Err(()));
            }
            // Single use: a new code replaces it, shown once (as the hosted service does).
            let rc = codes::recovery_code().map_err(internal)?;
            if !io
                .store()
                .swap_factor_secret(&user_id, "recovery-code", &stored, &keys.hash_code(&rc))?
            {
                return Ok(Err(()));
            }
            Ok(Ok(Some(rc)))
        }
        _ => Ok(Err(())),
    }
}

/// `GET /u/mfa?state=`.
pub async fn mfa_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    let k = WebError::state_key(&q)?;
    let presented = BrowserBinding::presented_hash(&headers);
    let (csrf, set) = csrf_for(&state, &headers, &k);
    let keys = state.login().mfa_keys.clone();
    let html = state
        .login()
        .blocking(move |io| -> Result<String, WebError> {
            let mut p = io.mfa(&k, presented.as_deref())?;
            let html = page(io, &keys, &k, &csrf, &mut p, None)?;
            io.put_mfa_at(&k, p)?;
            Ok(html)
        })
        .await??;
    let mut r = pages::html(StatusCode::OK, &html);
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// `POST /u/mfa`.
pub async fn mfa_submit(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> WebResult {
    let k = WebError::state_key(&f)?;
    if !csrf_ok(&state, &headers, &k, f.get("_csrf").map_or("", String::as_str)) {
        return Err(WebError::invalid_csrf());
    }
    let presented = BrowserBinding::presented_hash(&headers);
    let keys = state.login().mfa_keys.clone();
    let limiter = state.mfa_limiter.clone();
    let csrf = f.get("_csrf").cloned().unwrap_or_default();
    let again = format!("/u/mfa?state={k}");
    let step = state
        .login()
        .blocking(move |io| -> Result<Step, WebError> {
            let p = io.mfa(&k, presented.as_deref())?;
            if !limiter.allow(io.store(), p.user_id(), io.now_ms()) {
                return Ok(Step::Throttled);
            }
            submit(io, &keys, &k, &csrf, p, &f).map(|s| match s {
                Some(s) => s,
                None => Step::Again,
            })
        })
        .await??;
    finish(&state, &headers, step, &again).await
}

/// One POST on the step; `None`: back to the page.
fn submit(io: &Io, keys: &MfaKeys, k: &str, csrf: &str, mut p: MfaPending, f: &HashMap<String, String>) -> Result<Option<Step>, WebError> {
    match f.get("action").map(String::as_str) {
        Some("choose") => {
            let factor = f.get("factor").cloned().unwrap_or_default();
            if !p.usable.contains(&factor) {
                return Err(WebError::bad_request("invalid_request", "That method cannot be used here."));
            }
            p.current = Some(factor);
            p.email_code = None;
            p.phone_code = None;
            io.put_mfa_at(k, p)?;
            Ok(None)
        }
        Some("phone_number") => {
            let number: String = f
                .get("number")
                .map(|n| n.chars().filter(|c| !c.is_whitespace() && *c != '-').collect())
                .unwrap_or_default();
            let method = f.get("method").cloned().unwrap_or_else(|| "sms".into());
            if p.mode != MfaMode::Enroll || p.current.as_deref() != Some("phone") || !["sms", "voice"].contains(&method.as_str()) {
                return Err(WebError::bad_request("invalid_request", "That phone step is not expected here."));
            }
            if !crate::login::mfa::phone::is_e164(&number) {
                let app = app_name(io, &p);
                let c = FormContext { app: &app, state: k, csrf };
                return Ok(Some(Step::Page(
                    StatusCode::BAD_REQUEST,
                    view::enroll_phone(&c, Some("Enter the number with its country code, e.g. +14155550123.")),
                )));
            }
            p.phone = Some(crate::login::mfa::phone::PhoneTarget {
                number,
                preferred_method: method,
            });
            p.phone_code = None;
            io.put_mfa_at(k, p)?;
            Ok(None)
        }
        Some("resend") => {
            p.email_code = None;
            p.phone_code = None;
            io.put_mfa_at(k, p)?;
            Ok(None)
        }
        Some("continue") => match p.verified.clone() {
            Some(factor) => {
                io.take_mfa(k)?;
                Ok(Some(Step::Completed(Box::new(p), factor)))
            }
            None => Ok(None),
        },
        Some("verify") => {
            if p.current.is_none() || p.verified.is_some() {
                return Ok(None);
            }
            let webauthn = p.current.as_deref().is_some_and(|c| c.starts_with("webauthn-"));
            // A code is short; a WebAuthn answer (JSON) is a few KB at most.
            let (field, max) = if webauthn { ("credential", 16 * 1024) } else { ("code", 64) };
            let code = f.get(field).map(String::as_str).unwrap_or_default();
            let code = if code.len() > max { "" } else { code };
            match verify(io, keys, &mut p, code)? {
                Ok(None) => {
                    io.take_mfa(k)?;
                    let factor = p.current.clone().unwrap_or_default();
                    Ok(Some(Step::Completed(Box::new(p), factor)))
                }
                Ok(Some(recovery)) => {
                    p.verified = p.current.clone();
                    let app = app_name(io, &p);
                    io.put_mfa_at(k, p)?;
                    let c = FormContext { app: &app, state: k, csrf };
                    Ok(Some(Step::Page(StatusCode::OK, view::recovery_code(&c, &recovery))))
                }
                Err(()) => {
                    p.attempts += 1;
                    tracing::info!(user_id = %p.user_id(), attempts = p.attempts, "wrong second-factor code");
                    if p.attempts >= io.tenant.mfa.max_attempts {
                        io.take_mfa(k)?;
                        return Ok(Some(Step::Failed(Box::new(p))));
                    }
                    let msg = if webauthn {
                        "Your authenticator's answer was not accepted. Try again."
                    } else {
                        "That code is not right. Try again."
                    };
                    let html = page(io, keys, k, csrf, &mut p, Some(msg))?;
                    io.put_mfa_at(k, p)?;
                    Ok(Some(Step::Page(StatusCode::UNAUTHORIZED, html)))
                }
            }
        }
        _ => Err(WebError::bad_request("invalid_request", "Unknown action.")),
    }
}

async fn finish(state: &AppState, headers: &HeaderMap, step: Step, again: &str) -> WebResult {
    let browser = BrowserBinding::of(headers);
    match step {
        Step::Page(status, html) => Ok(pages::html(status, &html)),
        Step::Again => super::found(again),
        Step::Completed(p, factor) => {
            let answered = state.login().mfa_completed(*p, factor).await;
            flow::respond_to_form(state, answered, &browser)
        }
        Step::Failed(p) => {
            tracing::warn!(user_id = %p.user_id(), "too many wrong second-factor codes: login failed");
            let answered = state.login().mfa_failed(&p, "Too many wrong codes.");
            flow::respond_to_form(state, answered, &browser)
        }
        Step::Throttled => Err(WebError::TooMany {
            json: false,
            description: "Too many attempts. Wait a minute and try again.",
        }),
    }
}
