//! Keeps the tenant's action secrets (`event.secrets`) out of everything an operator or a log
//! reader sees: console lines, error messages, the trace and the server log.
//!
//! Why by value: a script can put a secret anywhere (a log line, a thrown error, a URL it
//! fetches); only the values are known to be secret. Values shorter than
//! [`MIN_SECRET_LEN`] are not searched for (they would blank out ordinary words).

use serde_json::{Map, Value};

use super::command::ActionTrace;

/// Shortest secret value that is redacted.
pub const MIN_SECRET_LEN: usize = 4;
/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Replaces secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the string (and number) values of `secrets`; longest first, so that a
    /// secret containing another is replaced whole.
    pub fn new(secrets: &Map<String, Value>) -> Self {
        let mut v: Vec<String> = secrets
            .values()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Redactor { secrets: v }
    }

    /// Whether there is anything to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts every string inside a JSON value, in place.
    pub fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) if self.secrets.iter().any(|x| s.contains(x.as_str())) => *s = self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.value(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.value(x)),
            _ => {}
        }
    }

    /// Redacts one action's trace: command arguments and errors, console lines, warnings, error.
    pub fn trace(&self, t: &mut ActionTrace) {
        if self.is_empty() {
            return;
        }
        for c in &mut t.commands {
            c.args.iter_mut().for_each(|a| self.value(a));
            if let Some(e) = &mut c.error {
                *e = self.text(e);
            }
        }
        for l in &mut t.logs {
            l.message = self.text(&l.message);
        }
        for w in &mut t.warnings {
            *w = self.text(w);
        }
        if let Some(e) = &mut t.error {
            *e = self.text(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_replaced_everywhere_longest_first() {
        let secrets = json!({"A": "s3cr3t-value", "B": "s3cr3t", "SHORT": "ab", "N": 123456});
        let r = Redactor::new(secrets.as_object().expect("object"));
        assert_eq!(
            r.text("key=s3cr3t-value and s3cr3t, ab, 123456"),
            "key=[redacted] and [redacted], ab, [redacted]"
        );
        let mut v = json!({"url": "https://x/?k=s3cr3t", "n": [ "s3cr3t-value" ]});
        r.value(&mut v);
        assert_eq!(v, json!({"url": "https://x/?k=[redacted]", "n": ["[redacted]"]}));
    }
}
