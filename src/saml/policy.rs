//! What an AuthnRequest asks of the assertion, as rules: the NameID format (`NameIDPolicy`,
//! SAML Core 3.4.1.1) and the authentication context (`RequestedAuthnContext`, 3.3.2.2.1).

use serde::{Deserialize, Serialize};

use super::ns;

/// NameID format URIs.
pub mod formats {
    /// `emailAddress`.
    pub const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    /// `persistent`.
    pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    /// `transient`.
    pub const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    /// `unspecified`.
    pub const UNSPECIFIED: &str = super::ns::NAMEID_UNSPECIFIED;
}

/// Authentication context classes.
pub mod contexts {
    /// A password over a protected transport (TLS): what a password login is.
    pub const PASSWORD_PROTECTED_TRANSPORT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
    /// A password.
    pub const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
    /// Multi-factor (the value the hosted service uses, also OIDC's `acr`).
    pub const MULTI_FACTOR: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
    /// A second factor on a mobile device.
    pub const MOBILE_TWO_FACTOR: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
    /// A time-synchronised token (TOTP).
    pub const TIME_SYNC_TOKEN: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";
}

/// The AuthnRequest's `NameIDPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameIdPolicy {
    /// `Format`, if given.
    pub format: Option<String>,
    /// `AllowCreate` (absent: the IdP may create an identifier).
    pub allow_create: Option<bool>,
}

/// How the NameID of a response is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameIdRule {
    /// The SP settings' format and probes (no policy, `unspecified`, or the settings fix one).
    Settings,
    /// The user's email address.
    Email,
    /// The stable opaque identifier of this user at this SP (created unless `allow_create` is false).
    Persistent {
        /// Whether a new identifier may be created.
        allow_create: bool,
    },
    /// A random identifier for this session at this SP.
    Transient,
    /// A format idpipe cannot produce: `InvalidNameIDPolicy`.
    Unsupported(String),
}

/// The NameID rule: the SP settings (or an action) win when they fix a format; otherwise the
/// request's `NameIDPolicy/@Format` decides.
pub fn name_id_rule(policy: Option<&NameIdPolicy>, settings_fix_format: bool) -> NameIdRule {
    let Some(format) = policy.and_then(|p| p.format.as_deref()) else {
        return NameIdRule::Settings;
    };
    if settings_fix_format {
        return NameIdRule::Settings;
    }
    match format {
        formats::UNSPECIFIED => NameIdRule::Settings,
        formats::EMAIL => NameIdRule::Email,
        formats::PERSISTENT => NameIdRule::Persistent {
            allow_create: policy.and_then(|p| p.allow_create).unwrap_or(true),
        },
        formats::TRANSIENT => NameIdRule::Transient,
        other => NameIdRule::Unsupported(other.to_string()),
    }
}

/// The AuthnRequest's `RequestedAuthnContext`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedAuthnContext {
    /// The class references, in order.
    pub class_refs: Vec<String>,
    /// `exact` (the default), `minimum`, `better` or `maximum`.
    pub comparison: Option<String>,
}

/// How strong a context class is (unknown classes have no level).
fn level(class: &str) -> Option<u8> {
    use contexts::*;
    match class {
        ns::AC_UNSPECIFIED => Some(0),
        PASSWORD | "urn:oasis:names:tc:SAML:2.0:ac:classes:InternetProtocolPassword" => Some(1),
        PASSWORD_PROTECTED_TRANSPORT => Some(2),
        MULTI_FACTOR | MOBILE_TWO_FACTOR | TIME_SYNC_TOKEN | "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered" => {
            Some(3)
        }
        _ => None,
    }
}

/// The context classes a login satisfies, strongest first: a password login is
/// PasswordProtectedTransport (and so Password); a login with a completed second factor is
/// also multi-factor.
pub fn achieved(multi_factor: bool) -> Vec<&'static str> {
    let mut v = Vec::with_capacity(5);
    if multi_factor {
        v.extend([contexts::MULTI_FACTOR, contexts::MOBILE_TWO_FACTOR]);
    }
    v.extend([contexts::PASSWORD_PROTECTED_TRANSPORT, contexts::PASSWORD, ns::AC_UNSPECIFIED]);
    v
}

/// The class to state in the assertion when the request's context is met, or `None`
/// (`NoAuthnContext`). `exact`: one of the requested classes the login satisfies (the first
/// in the request's order); `minimum` / `better` / `maximum`: the strongest achieved class
/// at least as strong as / stronger than / at most as strong as one of the requested ones.
pub fn meet(requested: &RequestedAuthnContext, multi_factor: bool) -> Option<String> {
    let got = achieved(multi_factor);
    let requested_levels: Vec<u8> = requested.class_refs.iter().filter_map(|c| level(c)).collect();
    let pick = |ok: &dyn Fn(u8) -> bool| got.iter().find(|c| level(c).is_some_and(ok)).map(|c| c.to_string());
    match requested.comparison.as_deref().unwrap_or("exact") {
        "exact" => requested.class_refs.iter().find(|r| got.contains(&r.as_str())).cloned(),
        "minimum" => requested_levels.iter().min().and_then(|&m| pick(&|l| l >= m)),
        "better" => requested_levels.iter().min().and_then(|&m| pick(&|l| l > m)),
        "maximum" => requested_levels.iter().max().and_then(|&m| pick(&|l| l <= m)),
        _ => None,
    }
}

/// The class of a login with no `RequestedAuthnContext` and no class set by the SP settings or
/// an action: multi-factor after a second factor, else the settings' default (`unspecified`).
pub fn default_class(multi_factor: bool) -> Option<&'static str> {
    multi_factor.then_some(contexts::MULTI_FACTOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(refs: &[&str], cmp: Option<&str>) -> RequestedAuthnContext {
        RequestedAuthnContext {
            class_refs: refs.iter().map(|s| s.to_string()).collect(),
            comparison: cmp.map(str::to_string),
        }
    }

    #[test]
    fn password_logins_meet_password_contexts_and_not_multi_factor_ones() {
        use contexts::*;
        assert_eq!(
            meet(&req(&[PASSWORD_PROTECTED_TRANSPORT], None), false).as_deref(),
            Some(PASSWORD_PROTECTED_TRANSPORT)
        );
        assert_eq!(meet(&req(&[PASSWORD], Some("exact")), false).as_deref(), Some(PASSWORD));
        assert_eq!(meet(&req(&[MULTI_FACTOR], Some("exact")), false), None);
        assert_eq!(meet(&req(&[MULTI_FACTOR], Some("exact")), true).as_deref(), Some(MULTI_FACTOR));
        assert_eq!(
            meet(&req(&[PASSWORD], Some("minimum")), false).as_deref(),
            Some(PASSWORD_PROTECTED_TRANSPORT)
        );
        assert_eq!(meet(&req(&[PASSWORD_PROTECTED_TRANSPORT], Some("better")), false), None);
        assert_eq!(
            meet(&req(&[PASSWORD_PROTECTED_TRANSPORT], Some("better")), true).as_deref(),
            Some(MULTI_FACTOR)
        );
        assert_eq!(meet(&req(&[PASSWORD], Some("maximum")), true).as_deref(), Some(PASSWORD));
        assert_eq!(meet(&req(&["urn:example:unknown"], Some("minimum")), true), None);
        assert_eq!(meet(&req(&[PASSWORD], Some("sideways")), true), None);
    }

    #[test]
    fn the_settings_win_over_the_name_id_policy_when_they_fix_a_format() {
        let p = |f: &str, a: Option<bool>| NameIdPolicy {
            format: Some(f.into()),
            allow_create: a,
        };
        assert_eq!(name_id_rule(None, false), NameIdRule::Settings);
        assert_eq!(name_id_rule(Some(&p(formats::EMAIL, None)), true), NameIdRule::Settings);
        assert_eq!(name_id_rule(Some(&p(formats::EMAIL, None)), false), NameIdRule::Email);
        assert_eq!(
            name_id_rule(Some(&p(formats::PERSISTENT, Some(false))), false),
            NameIdRule::Persistent { allow_create: false }
        );
        assert_eq!(
            name_id_rule(Some(&p(formats::PERSISTENT, None)), false),
            NameIdRule::Persistent { allow_create: true }
        );
        assert_eq!(name_id_rule(Some(&p(formats::TRANSIENT, None)), false), NameIdRule::Transient);
        assert!(matches!(
            name_id_rule(Some(&p("urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName", None)), false),
            NameIdRule::Unsupported(_)
        ));
    }
}
