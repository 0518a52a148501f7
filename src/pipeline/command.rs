//! The trace: for each action, the api commands it issued, in order.
//!
//! Beyond the hosted service: users see exactly what each action did, including calls that
//! were refused and why. Secrets (e.g. `samlResponse.setKey`) are redacted before recording.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One api call made by an action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Command {
    /// The seed's name, e.g. `samlResponse.setAttribute`.
    pub method: String,
    /// The arguments as JSON (secrets redacted).
    pub args: Vec<Value>,
    /// Why the call was refused, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One console line written by an action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogLine {
    /// `log`, `info`, `warn` or `error`.
    pub level: String,
    /// The text.
    pub message: String,
}

/// What one action handler did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ActionTrace {
    /// The action's name.
    pub action: String,
    /// The handler that ran (`onExecutePostLogin`, `onContinuePostLogin`, ...).
    pub handler: String,
    /// The api commands, in order.
    pub commands: Vec<Command>,
    /// Console output.
    pub logs: Vec<LogLine>,
    /// Warnings (e.g. MFA factor `w` warnings).
    pub warnings: Vec<String>,
    /// The error the handler ended with, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the handler in microseconds.
    pub duration_us: u64,
}
