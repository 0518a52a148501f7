//! `api.rules`: which legacy Rules already ran.

use serde_json::Value;

use super::namespace;

namespace!(
    /// `api.rules`: which legacy Rules already ran.
    RulesApi
);

impl RulesApi<'_, '_> {
    /// `api.rules.wasExecuted(ruleId)`: whether the legacy Rule ran earlier in this transaction.
    pub fn was_executed(&mut self, rule_id: &str) -> bool {
        self.core.record("rules.wasExecuted", vec![Value::from(rule_id)]);
        self.core.event.executed_rules.iter().any(|r| r == rule_id)
    }
}
