//! One validator per section of the tenant file; each names the key and the reason of a refusal.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::{LifetimesFile, LoginFile, OidcClientFile, SamlSpFile, ServerFile, TenantFile, UserFile, UsersFile};
use super::{
    ConfigError, ConfigUser, Lifetimes, LoginPolicy, OidcApp, SamlSp, ServerLimits, ServerSecret, default_identity, http_url, read,
};
use crate::actions::js::{FetchPolicy, JsAction, JsConfig};
use crate::oidc::{JwtSigner, KeySet};
use crate::pipeline::executor::Limits;
use crate::pipeline::{Executor, Services, Trigger};
use crate::saml::{AddonSettings, SigningKey, TenantSamlDefaults};

/// Validates sections of one file.
pub(super) struct Checker {
    /// The tenant file (named in errors).
    pub(super) file: String,
}

/// Session or refresh-token lifetimes, with defaults.
pub(super) fn lifetimes(f: Option<LifetimesFile>, absolute: u64, idle: u64) -> Lifetimes {
    f.map_or(Lifetimes { absolute, idle }, |l| Lifetimes {
        absolute: l.absolute_lifetime_seconds,
        idle: l.idle_lifetime_seconds,
    })
}

impl Checker {
    /// An invalid value at `key`.
    pub(super) fn invalid(&self, key: &str, reason: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.clone(),
            key: key.to_string(),
            reason,
        }
    }

    /// The signing key (SAML and OIDC) and the optional next one, each parsed once.
    pub(super) fn keys(&self, f: &TenantFile) -> Result<(TenantSamlDefaults, KeySet, Option<String>), ConfigError> {
        let saml_key = SigningKey::from_files(&f.signing_cert, &f.signing_key).map_err(|e| self.invalid("signing_key", e.to_string()))?;
        let jwt = JwtSigner::from_key(saml_key.private_key().clone()).map_err(|e| self.invalid("signing_key", e.to_string()))?;
        let mut keys = KeySet::new(jwt);
        let mut next_saml_cert_b64 = None;
        match (&f.next_signing_key, &f.next_signing_cert) {
            (Some(k), Some(c)) => {
                let next = SigningKey::from_files(c, k).map_err(|e| self.invalid("next_signing_key", e.to_string()))?;
                next_saml_cert_b64 = Some(next.cert_b64().to_string());
                let next_jwt =
                    JwtSigner::from_key(next.private_key().clone()).map_err(|e| self.invalid("next_signing_key", e.to_string()))?;
                keys = keys.with_next(&next_jwt);
            }
            (None, None) => {}
            _ => {
                return Err(self.invalid("next_signing_key", "next_signing_key and next_signing_cert go together".into()));
            }
        }
        Ok((TenantSamlDefaults::new(&f.name, Arc::new(saml_key)), keys, next_saml_cert_b64))
    }

    /// The SAML SPs: ACS URLs, add-on settings (resolved once to refuse bad ones at start-up),
    /// the request-signing certificate parsed once.
    pub(super) fn saml_sps(&self, sps: Vec<SamlSpFile>, saml: &TenantSamlDefaults) -> Result<HashMap<String, SamlSp>, ConfigError> {
        let mut out = HashMap::new();
        for (i, sp) in sps.into_iter().enumerate() {
            let key = |k: &str| format!("saml_sps[{i}].{k}");
            if sp.client_id.is_empty() {
                return Err(self.invalid(&key("client_id"), "must not be empty".into()));
            }
            if sp.callbacks.is_empty() {
                return Err(self.invalid(&key("callbacks"), "at least one ACS URL is required".into()));
            }
            for cb in &sp.callbacks {
                http_url(cb).map_err(|r| self.invalid(&key("callbacks"), r))?;
            }
            let settings = match &sp.settings {
                None => AddonSettings::default(),
                Some(p) => AddonSettings::from_json(&read(p)?).map_err(|e| ConfigError::Parse {
                    file: p.display().to_string(),
                    reason: e.to_string(),
                })?,
            };
            let request_cert = crate::saml::settings::request_signing_cert(&settings, &Default::default())
                .map_err(|e| self.invalid(&key("settings.signingCert"), e.to_string()))?;
            let probe = crate::saml::settings::RequestDefaults {
                request_issuer: None,
                acs_url: sp.callbacks[0].clone(),
                client_id: sp.client_id.clone(),
                name_id_format: None,
                authn_context_class_ref: None,
            };
            crate::saml::settings::resolve(saml, &settings, &Default::default(), &probe)
                .map_err(|e| self.invalid(&key("settings"), e.to_string()))?;
            if out.contains_key(&sp.client_id) {
                return Err(self.invalid(&key("client_id"), format!("duplicate client id '{}'", sp.client_id)));
            }
            let mut acs_indexes = std::collections::BTreeMap::new();
            for (i, url) in &sp.acs_indexes {
                let index: u32 = i
                    .parse()
                    .map_err(|_| self.invalid(&key("acs_indexes"), format!("'{i}' is not an index (a whole number)")))?;
                if !sp.callbacks.contains(url) {
                    return Err(self.invalid(&key("acs_indexes"), format!("'{url}' is not one of the callbacks")));
                }
                acs_indexes.insert(index, url.clone());
            }
            out.insert(
                sp.client_id.clone(),
                SamlSp {
                    client_id: sp.client_id,
                    name: sp.name,
                    callbacks: sp.callbacks,
                    settings,
                    request_cert,
                    acs_indexes,
                },
            );
        }
        Ok(out)
    }

    /// The OIDC applications (client ids unique across SAML and OIDC).
    pub(super) fn oidc_clients(
        &self,
        clients: Vec<OidcClientFile>,
        saml_sps: &HashMap<String, SamlSp>,
    ) -> Result<HashMap<String, OidcApp>, ConfigError> {
        let mut out = HashMap::new();
        for (i, c) in clients.into_iter().enumerate() {
            let key = |k: &str| format!("oidc_clients[{i}].{k}");
            if c.redirect_uris.is_empty() {
                return Err(self.invalid(&key("redirect_uris"), "at least one redirect URI is required".into()));
            }
            for u in &c.redirect_uris {
                http_url(u).map_err(|r| self.invalid(&key("redirect_uris"), r))?;
            }
            for u in &c.allowed_logout_urls {
                http_url(u).map_err(|r| self.invalid(&key("allowed_logout_urls"), r))?;
            }
            for (k, u) in [
                ("backchannel_logout_uri", &c.backchannel_logout_uri),
                ("frontchannel_logout_uri", &c.frontchannel_logout_uri),
            ] {
                if let Some(u) = u {
                    http_url(u).map_err(|r| self.invalid(&key(k), r))?;
                }
            }
            if saml_sps.contains_key(&c.client_id) || out.contains_key(&c.client_id) {
                return Err(self.invalid(&key("client_id"), format!("duplicate client id '{}'", c.client_id)));
            }
            out.insert(
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
                    backchannel_logout_uri: c.backchannel_logout_uri,
                    frontchannel_logout_uri: c.frontchannel_logout_uri,
                },
            );
        }
        Ok(out)
    }

    /// `[action_dependencies]`: each key an action script of `[actions]`, each value a list of
    /// `name@version`.
    pub(super) fn dependencies(
        &self,
        actions: &BTreeMap<String, Vec<PathBuf>>,
        declared: BTreeMap<PathBuf, Vec<String>>,
        modules_dir: Option<PathBuf>,
    ) -> Result<super::ActionDependencies, ConfigError> {
        let mut out = super::ActionDependencies {
            modules_dir: modules_dir.unwrap_or_else(|| PathBuf::from("action_modules")),
            actions: BTreeMap::new(),
        };
        for (script, specs) in declared {
            let key = format!("action_dependencies.\"{}\"", script.display());
            if !actions.values().any(|list| list.contains(&script)) {
                return Err(self.invalid(&key, "not an action script of [actions]".into()));
            }
            let deps = specs
                .iter()
                .map(|s| s.parse::<crate::actions::npm::Dependency>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.invalid(&key, e.to_string()))?;
            out.actions.insert(script, deps);
        }
        Ok(out)
    }

    /// The pipeline: limits, and the action scripts per trigger compiled at start-up.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn executor(
        &self,
        actions: &BTreeMap<String, Vec<PathBuf>>,
        dependencies: &super::ActionDependencies,
        fetch_allowed_hosts: Vec<String>,
        action_timeout_ms: Option<u64>,
        sessions: Lifetimes,
        refresh_tokens: Lifetimes,
        sandbox: crate::actions::js::SandboxMode,
    ) -> Result<Executor, ConfigError> {
        let mut limits = Limits {
            session_max_lifetime_ms: sessions.absolute as i64 * 1000,
            refresh_token_max_lifetime_ms: refresh_tokens.absolute as i64 * 1000,
            ..Default::default()
        };
        if let Some(ms) = action_timeout_ms {
            limits.action_timeout = std::time::Duration::from_millis(ms);
        }
        let js = JsConfig {
            fetch: FetchPolicy {
                allowed_hosts: fetch_allowed_hosts,
                timeout: None,
                max_body: None,
            },
            // A module's top-level code gets the same time as one invocation.
            build_timeout: limits.action_timeout,
            sandbox,
            ..Default::default()
        };
        let mut executor = Executor::new(Services {
            limits,
            ..Default::default()
        });
        for (trigger_name, scripts) in actions {
            let key = format!("actions.{trigger_name}");
            // Seed 002 documents the password-reset post-challenge api under `post-challenge`:
            // both names run in the password reset.
            let trigger = match trigger_name.as_str() {
                "post-challenge" => Some(Trigger::PasswordResetPostChallenge),
                name => Trigger::parse(name),
            }
            .ok_or_else(|| self.invalid(&key, "unknown trigger".into()))?;
            for script in scripts {
                let mut js = js.clone();
                if let Some(deps) = dependencies.actions.get(script).filter(|d| !d.is_empty()) {
                    // Installed beforehand by `idpipe actions install`: never fetched here.
                    let folder = crate::actions::npm::check_installed(&dependencies.modules_dir, script, deps)
                        .map_err(|e| self.invalid(&format!("action_dependencies.\"{}\"", script.display()), e.to_string()))?;
                    js.modules = Some(folder);
                }
                let action = JsAction::from_file(script, js).map_err(|e| self.invalid(&key, e.to_string()))?;
                executor.add(trigger, Arc::new(action));
            }
        }
        Ok(executor)
    }

    /// An email section (`[mfa.email]`, `[password_reset.email]`): the `From` and the delivery.
    pub(super) fn email(&self, key: &str, e: super::file::MfaEmailFile) -> Result<(String, super::EmailDelivery), ConfigError> {
        let delivery = match (e.outbox, e.smtp_host) {
            (Some(dir), None) => super::EmailDelivery::Outbox(dir),
            (None, Some(host)) => {
                let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback());
                super::EmailDelivery::Smtp {
                    port: e.smtp_port.unwrap_or(25),
                    starttls: e.starttls.unwrap_or(!loopback),
                    host,
                }
            }
            _ => return Err(self.invalid(key, "set exactly one of smtp_host and outbox".into())),
        };
        if e.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(self.invalid(&format!("{key}.from"), format!("'{}' is not a mailbox", e.from)));
        }
        Ok((e.from, delivery))
    }

    /// `[mfa]`: the enabled factors and email delivery.
    pub(super) fn mfa(&self, f: Option<super::file::MfaFile>) -> Result<super::MfaConfig, ConfigError> {
        let Some(f) = f else {
            return Ok(super::MfaConfig {
                factors: Vec::new(),
                max_attempts: 5,
                remember_browser_days: 30,
                email: None,
                phone: None,
                webauthn: None,
            });
        };
        for factor in &f.factors {
            if !super::MFA_FACTORS.contains(&factor.as_str()) {
                return Err(self.invalid(
                    "mfa.factors",
                    format!("'{factor}' is not a factor idpipe offers ({})", super::MFA_FACTORS.join(", ")),
                ));
            }
        }
        let email = match f.email {
            Some(e) => Some(self.email("mfa.email", e)?),
            None => None,
        };
        if f.factors.iter().any(|x| x == "email") && email.is_none() {
            return Err(self.invalid("mfa.email", "the email factor needs [mfa.email]".into()));
        }
        let phone = match f.phone {
            Some(p) => Some(match (p.webhook, p.outbox, p.action.unwrap_or(false)) {
                (Some(url), None, false) => {
                    super::http_url(&url).map_err(|r| self.invalid("mfa.phone.webhook", r))?;
                    super::PhoneDelivery::Webhook(url)
                }
                (None, Some(dir), false) => super::PhoneDelivery::Outbox(dir),
                (None, None, true) => super::PhoneDelivery::Action,
                _ => return Err(self.invalid("mfa.phone", "set exactly one of webhook, outbox and action = true".into())),
            }),
            None => None,
        };
        if f.factors.iter().any(|x| x == "phone") && phone.is_none() {
            return Err(self.invalid("mfa.phone", "the phone factor needs [mfa.phone]".into()));
        }
        Ok(super::MfaConfig {
            factors: f.factors,
            max_attempts: f.max_attempts.unwrap_or(5).clamp(1, 20),
            remember_browser_days: f.remember_browser_days.unwrap_or(30).min(365),
            email,
            phone,
            webauthn: None,
        })
    }

    /// The users of the tenant file and of its users file.
    pub(super) fn users(&self, inline: Vec<UserFile>, users_file: Option<&Path>) -> Result<Vec<ConfigUser>, ConfigError> {
        let mut entries: Vec<(String, String, UserFile)> = inline
            .into_iter()
            .enumerate()
            .map(|(i, u)| (self.file.clone(), format!("users[{i}]"), u))
            .collect();
        if let Some(p) = users_file {
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
        let mut users: Vec<ConfigUser> = Vec::new();
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
            if users.iter().any(|x| x.username == u.username || x.user.user_id == user.user_id) {
                return Err(bad("username", format!("duplicate user '{}'", u.username)));
            }
            users.push(ConfigUser {
                username: u.username,
                password_hash: u.password_hash,
                user,
            });
        }
        Ok(users)
    }

    /// `[login]`: lockout and the per-IP limit of login submissions.
    pub(super) fn login(&self, f: Option<LoginFile>) -> Result<LoginPolicy, ConfigError> {
        let mut login = LoginPolicy::default();
        let Some(l) = f else { return Ok(login) };
        if let Some(n) = l.max_failed_attempts {
            if n == 0 {
                return Err(self.invalid("login.max_failed_attempts", "must be at least 1".into()));
            }
            login.lockout.max_failures = n;
        }
        if let Some(s) = l.lockout_seconds {
            login.lockout.lock_ms = s as i64 * 1000;
        }
        if let Some(n) = l.attempts_per_minute_per_ip {
            if n == 0 {
                return Err(self.invalid("login.attempts_per_minute_per_ip", "must be at least 1".into()));
            }
            login.attempts_per_minute_per_ip = n;
        }
        Ok(login)
    }

    /// `[server]`: limits against slow or greedy clients, and the server secret's source.
    pub(super) fn server(&self, f: Option<ServerFile>) -> Result<(ServerLimits, ServerSecret, Vec<ipnet::IpNet>), ConfigError> {
        let mut server = ServerLimits::default();
        let Some(f) = f else {
            return Ok((server, ServerSecret::File(None), Vec::new()));
        };
        let trusted_proxies = f
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| self.invalid("server.trusted_proxies", format!("'{p}' is not an IP address or CIDR range")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secret = match (f.secret, f.secret_file) {
            (Some(_), Some(_)) => return Err(self.invalid("server", "set either secret or secret_file, not both".into())),
            (Some(s), None) if s.len() < 32 => return Err(self.invalid("server.secret", "must be at least 32 characters".into())),
            (Some(s), None) => ServerSecret::Inline(s),
            (None, file) => ServerSecret::File(file),
        };
        let positive = |key: &str, v: u64| {
            if v == 0 {
                Err(self.invalid(&format!("server.{key}"), "must be at least 1".into()))
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
        Ok((server, secret, trusted_proxies))
    }
}
