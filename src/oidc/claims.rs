//! The standard claims of OpenID Connect Core 5.1, chosen by scope (5.4) or by name through the
//! `claims` request parameter (5.5), for the ID token and `/userinfo`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::pipeline::Event;

/// The claims an authorization request names in its `claims` parameter (OIDC Core 5.5), by
/// where they go. Values and `essential` are accepted; idpipe returns each named standard
/// claim the user has, essential or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// Claims asked for in the ID token.
    #[serde(default)]
    pub id_token: Vec<String>,
    /// Claims asked for from `/userinfo`.
    #[serde(default)]
    pub userinfo: Vec<String>,
}

impl ClaimsRequest {
    /// Parses the `claims` parameter: a JSON object with optional `id_token` and `userinfo`
    /// members, each an object whose keys are claim names (values `null` or an object with
    /// `essential`, `value`, `values`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("claims is not JSON: {e}"))?;
        let Value::Object(top) = v else {
            return Err("claims must be a JSON object".into());
        };
        let names = |member: &str| -> Result<Vec<String>, String> {
            match top.get(member) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(m)) => {
                    for (k, v) in m {
                        if !(v.is_null() || v.is_object()) {
                            return Err(format!("claims.{member}.{k} must be null or an object"));
                        }
                    }
                    Ok(m.keys().take(64).cloned().collect())
                }
                Some(_) => Err(format!("claims.{member} must be an object")),
            }
        };
        Ok(ClaimsRequest {
            id_token: names("id_token")?,
            userinfo: names("userinfo")?,
        })
    }

    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }
}

/// The scope each standard claim belongs to (OIDC Core 5.4).
pub const STANDARD_CLAIMS: [(&str, &str); 20] = [
    ("name", "profile"),
    ("given_name", "profile"),
    ("family_name", "profile"),
    ("middle_name", "profile"),
    ("nickname", "profile"),
    ("preferred_username", "profile"),
    ("profile", "profile"),
    ("picture", "profile"),
    ("website", "profile"),
    ("gender", "profile"),
    ("birthdate", "profile"),
    ("zoneinfo", "profile"),
    ("locale", "profile"),
    ("updated_at", "profile"),
    ("email", "email"),
    ("email_verified", "email"),
    ("address", "address"),
    ("phone_number", "phone"),
    ("phone_number_verified", "phone"),
    ("sub", "openid"),
];

/// A standard claim's value for the user, if they have one.
fn value_of(event: &Event, claim: &str) -> Option<Value> {
    let u = &event.user;
    let s = |v: &Option<String>| v.clone().map(Value::from);
    let extra = |k: &str| u.extra.get(k).filter(|v| !v.is_null()).cloned();
    match claim {
        "name" => s(&u.name),
        "given_name" => s(&u.given_name),
        "family_name" => s(&u.family_name),
        "nickname" => s(&u.nickname),
        "preferred_username" => s(&u.username),
        "picture" => s(&u.picture),
        // OIDC Core 5.1: seconds since the epoch (the profile keeps RFC 3339 text).
        "updated_at" => u
            .updated_at
            .as_deref()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).map_or_else(|_| Value::from(t), |d| Value::from(d.timestamp()))),
        "email" => s(&u.email),
        "email_verified" => u.email_verified.map(Value::from),
        "phone_number" => s(&u.phone_number),
        // The hosted service's profile calls it `phone_verified`.
        "phone_number_verified" => extra("phone_number_verified").or_else(|| extra("phone_verified")),
        "address" => extra("address").filter(Value::is_object),
        "middle_name" | "profile" | "website" | "gender" | "birthdate" | "zoneinfo" | "locale" => extra(claim),
        _ => None,
    }
}

/// Adds the standard claims the scopes ask for, and those named in `requested`, that the user
/// has (`sub` is the caller's).
pub fn profile_claims(event: &Event, scopes: &[String], requested: &[String], claims: &mut Map<String, Value>) {
    for (name, scope) in STANDARD_CLAIMS {
        if name == "sub" {
            continue;
        }
        let wanted = scopes.iter().any(|s| s == scope) || requested.iter().any(|r| r == name);
        if wanted && let Some(v) = value_of(event, name) {
            claims.insert(name.to_string(), v);
        }
    }
}
