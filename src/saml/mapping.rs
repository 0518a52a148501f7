//! Profile -> ordered SAML claims, then the NameID (reference section 16, "claim pipeline").
//!
//! Order: mapped claims (default mappings merged with the SP's) -> UPN -> identity claims ->
//! pass-through claims (profile key order) -> action attributes (call order, overriding by name).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::settings::{IDENTITY_PREFIX, ResolvedSettings, UPN_CLAIM};
use super::{SamlError, ns};

/// One SAML attribute with its values (strings, numbers or booleans only).
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Attribute name.
    pub name: String,
    /// One `AttributeValue` each.
    pub values: Vec<Value>,
}

/// Scalar values of a JSON value: nulls, objects and nested arrays are dropped.
fn scalars(v: &Value) -> Vec<Value> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => vec![v.clone()],
        Value::Array(items) => items
            .iter()
            .filter(|i| matches!(i, Value::String(_) | Value::Number(_) | Value::Bool(_)))
            .cloned()
            .collect(),
        _ => vec![],
    }
}

/// A profile field: the exact key first, else a dotted path into nested objects.
fn lookup<'a>(profile: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    if let Some(v) = profile.get(field) {
        return Some(v);
    }
    let mut parts = field.split('.');
    let mut cur = profile.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn set_claim(claims: &mut Vec<Claim>, name: &str, values: Vec<Value>) {
    match claims.iter_mut().find(|c| c.name == name) {
        Some(c) => c.values = values,
        None => claims.push(Claim {
            name: name.to_string(),
            values,
        }),
    }
}

/// Builds the ordered claims for `profile` (an `event.user` as JSON).
pub fn map_claims(profile: &Map<String, Value>, s: &ResolvedSettings, attributes: &[(String, Option<Value>)]) -> Vec<Claim> {
    let mut claims: Vec<Claim> = Vec::new();
    let mut consumed: HashSet<&str> = HashSet::new();
    for m in &s.mappings {
        consumed.insert(m.field.as_str());
        if m.uris.is_empty() {
            continue;
        }
        let values = lookup(profile, &m.field).map(scalars).unwrap_or_default();
        if values.is_empty() {
            continue;
        }
        for uri in &m.uris {
            set_claim(&mut claims, uri, values.clone());
        }
    }
    if s.create_upn_claim && !claims.iter().any(|c| c.name == UPN_CLAIM) {
        let upn = profile
            .get("upn")
            .filter(|v| v.is_string())
            .or_else(|| profile.get("email").filter(|v| v.is_string()));
        if let Some(v) = upn {
            claims.push(Claim {
                name: UPN_CLAIM.to_string(),
                values: vec![v.clone()],
            });
        }
    }
    let first_identity = profile
        .get("identities")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object);
    if let (true, Some(first)) = (s.map_identities, first_identity) {
        for key in ["access_token", "provider", "connection", "isSocial"] {
            let values = first.get(key).map(scalars).unwrap_or_default();
            if !values.is_empty() {
                set_claim(&mut claims, &format!("{IDENTITY_PREFIX}{key}"), values);
            }
        }
    }
    if s.passthrough_claims_with_no_mapping {
        for (key, value) in profile {
            if consumed.contains(key.as_str()) || key == "identities" {
                continue;
            }
            // Objects, arrays of objects and nulls are never passed through.
            let pass = match value {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
                Value::Array(items) => {
                    !items.is_empty()
                        && items
                            .iter()
                            .all(|i| matches!(i, Value::String(_) | Value::Number(_) | Value::Bool(_)))
                }
                _ => false,
            };
            if !pass {
                continue;
            }
            let name = if s.map_unknown_claims_as_is {
                key.clone()
            } else {
                format!("{}{key}", s.passthrough_prefix)
            };
            set_claim(&mut claims, &name, scalars(value));
        }
    }
    for (name, value) in attributes {
        match value {
            None => claims.retain(|c| &c.name != name),
            Some(v) => set_claim(&mut claims, name, scalars(v)),
        }
    }
    claims.retain(|c| !c.values.is_empty());
    claims
}

/// The NameID: the first probe whose claim has a non-empty value (first element of an array).
pub fn choose_name_id(claims: &[Claim], probes: &[String]) -> Result<String, SamlError> {
    for p in probes {
        let text = claims
            .iter()
            .find(|c| &c.name == p)
            .and_then(|c| c.values.first())
            .map(value_text)
            .unwrap_or_default();
        if !text.is_empty() {
            return Ok(text);
        }
    }
    Err(SamlError::NoNameIdentifier(probes.to_vec()))
}

/// The text of a scalar value (numbers in shortest round-trip form).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f == 0.0 { "0".to_string() } else { f.to_string() }
            }
        }
        _ => String::new(),
    }
}

/// `xsi:type` of a value when attributes are typed.
pub fn xsi_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "xs:string",
        Value::Bool(_) => "xs:boolean",
        Value::Number(_) => "xs:double",
        _ => "xs:anyType",
    }
}

fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether a name is an XML 1.0 `Name`.
pub fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Whether a name is a URI by the reference's test (scheme, allowed characters, % escapes).
pub fn is_uri(s: &str) -> bool {
    const OK: &str = ":/?#[]@!$&'()*+,;=.-_~%";
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || OK.contains(c)) {
        return false;
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'%' && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)) {
            return false;
        }
    }
    let Some(colon) = s.find(':') else { return false };
    let scheme = &s[..colon];
    let mut sc = scheme.chars();
    sc.next().is_some_and(|c| c.is_ascii_alphabetic()) && sc.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// The inferred `NameFormat` of an attribute name.
pub fn name_format(name: &str) -> &'static str {
    if is_uri(name) {
        ns::ATTR_URI
    } else if is_xml_name(name) {
        ns::ATTR_BASIC
    } else {
        ns::ATTR_UNSPECIFIED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_formats_follow_the_reference_examples() {
        for n in [
            "urn:test:1:2:3",
            "a:b",
            "mailto:x@y",
            "foo:",
            "HTTP://X",
            "http://schemas.auth0.com/nickname",
        ] {
            assert_eq!(name_format(n), ns::ATTR_URI, "{n}");
        }
        for n in ["foo", "testaccent", "é", "user.name", ":x"] {
            assert_eq!(name_format(n), ns::ATTR_BASIC, "{n}");
        }
        for n in ["123~oo", "1abc", "-x", "has space", "a/b", ""] {
            assert_eq!(name_format(n), ns::ATTR_UNSPECIFIED, "{n}");
        }
        assert!(!is_uri("a:%zz"));
        assert!(is_uri("a:%2F"));
    }

    #[test]
    fn value_text_and_types() {
        assert_eq!(value_text(&serde_json::json!(123)), "123");
        assert_eq!(value_text(&serde_json::json!(1.5)), "1.5");
        assert_eq!(value_text(&serde_json::json!(-0.0)), "0");
        assert_eq!(value_text(&serde_json::json!(false)), "false");
        assert_eq!(xsi_type(&serde_json::json!(12345678)), "xs:double");
        assert_eq!(xsi_type(&serde_json::json!(true)), "xs:boolean");
    }
}
