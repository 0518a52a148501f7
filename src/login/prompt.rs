//! Custom prompts (`api.prompt.render(promptId, options)`): the tenant's definitions, parsed
//! once from `[[prompts]]`, and the check of a submission against them.
//!
//! A prompt has a title, a text, fields and a submit label. `options.vars` fill `{{name}}`
//! placeholders in the title and text, and give defaults to fields of the same name;
//! `options.fields` gives field defaults too (first). A submission is validated field by
//! field (required, pattern, length, number, email, select options) before the action's
//! continue handler sees it as `event.prompt = {id, fields}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::records::{FlowV1, Suspended, decode, encode};
use super::states::StateError;
use super::{Answered, Io, LoginContext};
use crate::store::StoreError;

/// How long a prompt may stay on screen.
const PROMPT_LIFETIME_MS: i64 = 15 * 60 * 1000;

fn key(k: &str) -> String {
    format!("prompt:{k}")
}

impl Io {
    /// Stores a login suspended by `api.prompt.render` under its resume state.
    pub fn put_prompting(&self, s: Suspended) -> Result<String, StoreError> {
        let k = s.tx.resume_state.clone();
        self.store.put_flow(
            &key(&k),
            &encode(FlowV1::Prompting(Box::new(s)))?,
            self.now_ms() + PROMPT_LIFETIME_MS,
        )?;
        Ok(k)
    }

    /// The login showing the prompt of `k`, for the presenting browser (not consumed).
    pub fn prompting(&self, k: &str, browser: Option<&str>) -> Result<Suspended, StateError> {
        let json = self.store.flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        let s = match decode(&json) {
            Ok(FlowV1::Prompting(s)) => *s,
            _ => return Err(StateError::Expired),
        };
        if !browser.is_some_and(|b| crate::util::constant_time_eq(b.as_bytes(), s.browser.as_bytes())) {
            tracing::warn!("a prompt state was presented by another browser than the one that started it");
            return Err(StateError::ForeignBrowser);
        }
        Ok(s)
    }

    /// Consumes the prompt of `k` (a submission resumes the login once).
    pub fn take_prompting(&self, k: &str) -> Result<Suspended, StateError> {
        let json = self.store.take_flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        match decode(&json) {
            Ok(FlowV1::Prompting(s)) => Ok(*s),
            _ => Err(StateError::Expired),
        }
    }
}

impl LoginContext {
    /// A valid submission: the action's continue handler runs with `event.prompt`, then the
    /// login goes on.
    pub async fn prompt_submitted(&self, mut s: Suspended, fields: Map<String, Value>) -> Answered {
        s.tx.event.secrets = self.tenant.secrets.clone();
        let state = s.tx.resume_state.clone();
        self.resume_with(s, crate::pipeline::Resume::PromptSubmitted { state, fields })
            .await
    }
}

/// The kinds of field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// An email address.
    Email,
    /// A number (`event.prompt.fields.x` is a JSON number).
    Number,
    /// A checkbox (`true` / `false`).
    Checkbox,
    /// One of `options`.
    Select,
    /// Not shown; its default is submitted as is.
    Hidden,
}

impl FieldKind {
    /// Parses the `type` of a field.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => FieldKind::Text,
            "email" => FieldKind::Email,
            "number" => FieldKind::Number,
            "checkbox" => FieldKind::Checkbox,
            "select" => FieldKind::Select,
            "hidden" => FieldKind::Hidden,
            _ => return None,
        })
    }

    /// The HTML `type` of its input.
    pub fn input_type(self) -> &'static str {
        match self {
            FieldKind::Text | FieldKind::Select => "text",
            FieldKind::Email => "email",
            FieldKind::Number => "number",
            FieldKind::Checkbox => "checkbox",
            FieldKind::Hidden => "hidden",
        }
    }
}

/// One field of a prompt.
#[derive(Debug, Clone)]
pub struct PromptField {
    /// Name (the key in `event.prompt.fields`).
    pub name: String,
    /// Label shown.
    pub label: String,
    /// Kind.
    pub kind: FieldKind,
    /// Must be filled (checked, for a checkbox).
    pub required: bool,
    /// A regular expression the whole value must match.
    pub pattern: Option<regex::Regex>,
    /// Length bounds (characters).
    pub min_length: Option<usize>,
    /// Length bounds (characters).
    pub max_length: usize,
    /// Choices of a select.
    pub options: Vec<String>,
    /// Default value.
    pub default: Option<String>,
}

/// A prompt definition.
#[derive(Debug, Clone)]
pub struct PromptDef {
    /// Id (`api.prompt.render`'s first argument).
    pub id: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    pub text: String,
    /// Submit button label.
    pub submit: String,
    /// Fields, in order.
    pub fields: Vec<PromptField>,
}

/// A prompt ready to show: placeholders filled, field values chosen.
#[derive(Debug, Clone)]
pub struct Rendered<'a> {
    /// The definition.
    pub def: &'a PromptDef,
    /// Title with placeholders filled.
    pub title: String,
    /// Text with placeholders filled.
    pub text: String,
    /// Value per field (defaults, or what the user submitted).
    pub values: BTreeMap<String, String>,
    /// Error message per field.
    pub errors: BTreeMap<String, String>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Replaces `{{name}}` with `vars.name` (a scalar), leaving unknown placeholders empty.
fn fill(template: &str, vars: Option<&Map<String, Value>>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                if let Some(v) = vars.and_then(|m| m.get(name)).and_then(scalar) {
                    out.push_str(&v);
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl PromptDef {
    /// The prompt as first shown for the render options.
    pub fn render(&self, options: &Value) -> Rendered<'_> {
        let vars = options.get("vars").and_then(Value::as_object);
        let given = options.get("fields").and_then(Value::as_object);
        let values = self
            .fields
            .iter()
            .filter_map(|f| {
                let v = given
                    .and_then(|g| g.get(&f.name))
                    .or_else(|| vars.and_then(|g| g.get(&f.name)))
                    .and_then(scalar)
                    .or_else(|| f.default.clone())?;
                Some((f.name.clone(), v))
            })
            .collect();
        Rendered {
            def: self,
            title: fill(&self.title, vars),
            text: fill(&self.text, vars),
            values,
            errors: BTreeMap::new(),
        }
    }

    /// Checks a submission: the fields for `event.prompt.fields`, or the form again with a
    /// message per wrong field (and what the user typed). Hidden fields keep their rendered value.
    pub fn check<'a>(
        &'a self,
        options: &Value,
        form: &std::collections::HashMap<String, String>,
    ) -> Result<Map<String, Value>, Rendered<'a>> {
        let mut shown = self.render(options);
        let mut fields = Map::new();
        for f in &self.fields {
            let raw = match f.kind {
                FieldKind::Hidden => shown.values.get(&f.name).cloned().unwrap_or_default(),
                _ => form.get(&f.name).map(|s| s.trim().to_string()).unwrap_or_default(),
            };
            match check_field(f, &raw) {
                Ok(v) => {
                    fields.insert(f.name.clone(), v);
                }
                Err(msg) => {
                    shown.errors.insert(f.name.clone(), msg);
                }
            }
            if f.kind != FieldKind::Hidden {
                shown.values.insert(f.name.clone(), raw.chars().take(f.max_length).collect());
            }
        }
        if shown.errors.is_empty() { Ok(fields) } else { Err(shown) }
    }
}

fn check_field(f: &PromptField, raw: &str) -> Result<Value, String> {
    if f.kind == FieldKind::Checkbox {
        let on = !raw.is_empty();
        if f.required && !on {
            return Err("Check this box to continue.".into());
        }
        return Ok(Value::Bool(on));
    }
    if raw.is_empty() {
        return if f.required {
            Err("This field is required.".into())
        } else {
            Ok(Value::Null)
        };
    }
    let len = raw.chars().count();
    if len > f.max_length {
        return Err(format!("At most {} characters.", f.max_length));
    }
    if let Some(min) = f.min_length.filter(|m| len < *m) {
        return Err(format!("At least {min} characters."));
    }
    if let Some(p) = &f.pattern
        && !p.is_match(raw)
    {
        return Err("This value is not in the expected format.".into());
    }
    match f.kind {
        FieldKind::Email if raw.parse::<lettre::Address>().is_err() => Err("Enter an email address.".into()),
        FieldKind::Number => raw
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| "Enter a number.".to_string()),
        FieldKind::Select if !f.options.iter().any(|o| o == raw) => Err("Choose one of the options.".into()),
        _ => Ok(Value::String(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> PromptDef {
        let field = |name: &str, kind| PromptField {
            name: name.into(),
            label: name.into(),
            kind,
            required: true,
            pattern: None,
            min_length: None,
            max_length: 20,
            options: vec![],
            default: None,
        };
        let mut color = field("color", FieldKind::Select);
        color.options = vec!["red".into(), "blue".into()];
        let mut zip = field("zip", FieldKind::Text);
        zip.pattern = Some(regex::Regex::new("^(?:[0-9]{5})$").expect("re"));
        let mut source = field("source", FieldKind::Hidden);
        source.default = Some("web".into());
        PromptDef {
            id: "p".into(),
            title: "Hi {{name}}".into(),
            text: "{{missing}}x{{".into(),
            submit: "Go".into(),
            fields: vec![
                color,
                zip,
                field("age", FieldKind::Number),
                field("terms", FieldKind::Checkbox),
                source,
            ],
        }
    }

    #[test]
    fn placeholders_and_defaults_come_from_the_options() {
        let d = def();
        let r = d.render(&serde_json::json!({"vars": {"name": "Jane", "zip": "12345"}, "fields": {"zip": "99999"}}));
        assert_eq!(r.title, "Hi Jane");
        assert_eq!(r.text, "x{{");
        assert_eq!(r.values.get("zip").map(String::as_str), Some("99999"), "fields first, then vars");
        assert_eq!(r.values.get("source").map(String::as_str), Some("web"));
    }

    #[test]
    fn a_submission_is_checked_field_by_field() {
        let d = def();
        let form = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let ok = d
            .check(
                &Value::Null,
                &form(&[
                    ("color", "red"),
                    ("zip", "12345"),
                    ("age", "42"),
                    ("terms", "on"),
                    ("source", "forged"),
                ]),
            )
            .expect("valid");
        assert_eq!(
            Value::Object(ok),
            serde_json::json!({"color": "red", "zip": "12345", "age": 42.0, "terms": true, "source": "web"})
        );
        let bad = d
            .check(
                &Value::Null,
                &form(&[("color", "green"), ("zip", "1234x"), ("age", "NaN"), ("source", "x")]),
            )
            .expect_err("invalid");
        assert_eq!(bad.errors.len(), 4, "{:?}", bad.errors);
        assert_eq!(
            bad.values.get("zip").map(String::as_str),
            Some("1234x"),
            "what the user typed is kept"
        );
        let long = "9".repeat(100);
        let bad = d
            .check(&Value::Null, &form(&[("color", "red"), ("zip", &long)]))
            .expect_err("too long");
        assert!(bad.errors["zip"].starts_with("At most"));
    }
}
