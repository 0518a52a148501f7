//! `[[prompts]]` and `[password_reset]`: custom prompt definitions and the password-reset
//! policy, parsed and checked once at start-up.

use std::collections::HashMap;

use super::file::{PasswordResetFile, PromptFile};
use super::sections::Checker;
use super::{ConfigError, EmailDelivery};
use crate::login::prompt::{FieldKind, PromptDef, PromptField};

/// The password-reset policy (`[password_reset]`).
#[derive(Debug, Clone)]
pub struct PasswordResetConfig {
    /// Minimum length (characters).
    pub min_length: usize,
    /// Minimum zxcvbn score (0 to 4).
    pub min_strength: u8,
    /// Revoke the user's sessions and refresh tokens after a reset.
    pub revoke_sessions: bool,
    /// Result URLs allowed beyond each application's own URLs.
    pub allowed_result_urls: Vec<String>,
    /// How long a link works (ms).
    pub link_lifetime_ms: i64,
    /// Reset requests per minute, per address and per account.
    pub requests_per_minute: u32,
    /// `From` and delivery of the links; `None`: no email configured, reset is off.
    pub email: Option<(String, EmailDelivery)>,
}

impl Checker {
    /// `[[prompts]]`.
    pub(super) fn prompts(&self, files: Vec<PromptFile>) -> Result<HashMap<String, PromptDef>, ConfigError> {
        let mut out = HashMap::new();
        for (i, p) in files.into_iter().enumerate() {
            let key = format!("prompts[{i}]");
            if p.id.is_empty() || out.contains_key(&p.id) {
                return Err(self.invalid(&format!("{key}.id"), "empty or used twice".into()));
            }
            let mut fields: Vec<PromptField> = Vec::new();
            for (j, f) in p.fields.into_iter().enumerate() {
                let fkey = format!("{key}.fields[{j}]");
                let kind = FieldKind::parse(&f.kind).ok_or_else(|| {
                    self.invalid(
                        &format!("{fkey}.type"),
                        format!("'{}' is not one of text, email, number, checkbox, select, hidden", f.kind),
                    )
                })?;
                if f.name.is_empty() || fields.iter().any(|x| x.name == f.name) || ["state", "_csrf"].contains(&f.name.as_str()) {
                    return Err(self.invalid(&format!("{fkey}.name"), "empty, reserved or used twice".into()));
                }
                if kind == FieldKind::Select && f.options.is_empty() {
                    return Err(self.invalid(&format!("{fkey}.options"), "a select needs options".into()));
                }
                // Anchored, with the regex crate's size limits (linear time, no backtracking).
                let pattern = match f.pattern {
                    Some(p) => Some(
                        regex::RegexBuilder::new(&format!("^(?:{p})$"))
                            .size_limit(1 << 20)
                            .build()
                            .map_err(|e| self.invalid(&format!("{fkey}.pattern"), e.to_string()))?,
                    ),
                    None => None,
                };
                fields.push(PromptField {
                    label: f.label.unwrap_or_else(|| f.name.clone()),
                    name: f.name,
                    kind,
                    required: f.required,
                    pattern,
                    min_length: f.min_length,
                    max_length: f.max_length.unwrap_or(256).clamp(1, 4096),
                    options: f.options,
                    default: f.default,
                });
            }
            out.insert(
                p.id.clone(),
                PromptDef {
                    id: p.id,
                    title: p.title,
                    text: p.text,
                    submit: p.submit.unwrap_or_else(|| "Continue".into()),
                    fields,
                },
            );
        }
        Ok(out)
    }

    /// `[password_reset]`, with the `[mfa.email]` delivery as the default for its links.
    pub(super) fn password_reset(
        &self,
        f: Option<PasswordResetFile>,
        mfa_email: Option<&(String, EmailDelivery)>,
    ) -> Result<PasswordResetConfig, ConfigError> {
        let f = f.unwrap_or(PasswordResetFile {
            min_length: None,
            min_strength: None,
            revoke_sessions: None,
            allowed_result_urls: Vec::new(),
            link_lifetime_minutes: None,
            requests_per_minute: None,
            email: None,
        });
        for (i, u) in f.allowed_result_urls.iter().enumerate() {
            super::http_url(u).map_err(|r| self.invalid(&format!("password_reset.allowed_result_urls[{i}]"), r))?;
        }
        let min_strength = f.min_strength.unwrap_or(3);
        if min_strength > 4 {
            return Err(self.invalid("password_reset.min_strength", "a zxcvbn score, 0 to 4".into()));
        }
        let email = match f.email {
            Some(e) => Some(self.email("password_reset.email", e)?),
            None => mfa_email.cloned(),
        };
        Ok(PasswordResetConfig {
            min_length: f.min_length.unwrap_or(8).clamp(1, 128),
            min_strength,
            revoke_sessions: f.revoke_sessions.unwrap_or(true),
            allowed_result_urls: f.allowed_result_urls,
            requests_per_minute: f.requests_per_minute.unwrap_or(5).clamp(1, 10_000),
            link_lifetime_ms: i64::from(f.link_lifetime_minutes.unwrap_or(15).clamp(1, 24 * 60)) * 60_000,
            email,
        })
    }
}
