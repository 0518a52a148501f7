//! Delivering one-time codes to a phone: a webhook (POST JSON to the tenant's SMS/voice bridge),
//! the tenant's own `send-phone-message` actions (`event.message_options`, as on the hosted
//! service), or, in development, one JSON file per message in a folder.

use serde::{Deserialize, Serialize};

use crate::config::PhoneDelivery;

/// An enrolled (or being enrolled) phone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PhoneTarget {
    /// E.164 number.
    pub number: String,
    /// `sms`, `voice` or `both` (`preferredMethod`).
    #[serde(rename = "preferredMethod")]
    pub preferred_method: String,
}

/// Whether `n` is an E.164 number (`+` and 7 to 15 digits, not starting with 0).
pub fn is_e164(n: &str) -> bool {
    let Some(d) = n.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
}

/// The number with all but its last two digits hidden.
pub fn masked(n: &str) -> String {
    let keep = n.len().saturating_sub(2);
    format!("{}{}", "*".repeat(keep.min(12)), &n[keep..])
}

/// Why the code is sent (`event.message_options.action` of the hosted service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The phone is being enrolled.
    Enrollment,
    /// A login's second factor.
    SecondFactor,
}

fn method(to: &PhoneTarget) -> &'static str {
    // `both`: the code goes by SMS (the user can ask for a call by choosing voice at enrolment).
    if to.preferred_method == "voice" { "voice" } else { "sms" }
}

/// `event.message_options` of the send-phone-message trigger.
pub fn message_options(purpose: Purpose, to: &PhoneTarget, app: &str, code: &str) -> serde_json::Value {
    serde_json::json!({
        "action": match purpose {
            Purpose::Enrollment => "enrollment",
            Purpose::SecondFactor => "second-factor-authentication",
        },
        "code": code,
        "message_type": method(to),
        "recipient": to.number,
        "text": format!("Your verification code for {app} is {code}"),
    })
}

impl crate::login::Io {
    /// Runs the tenant's send-phone-message actions to deliver a code (`event.user`, `client`,
    /// `request` of the login, `event.message_options`); an action that throws or denies means
    /// the message was not delivered.
    pub fn send_phone_message(&self, login_event: &crate::pipeline::Event, options: serde_json::Value) -> Result<(), String> {
        let mut event = login_event.clone();
        event.message_options = Some(options);
        event.secrets = self.tenant.secrets.clone();
        let state = self.tenant.executor.start(crate::pipeline::Trigger::SendPhoneMessage, event);
        match state.outcome.failure {
            Some(f) => Err(format!("the send-phone-message action failed: {}", f.description)),
            None => Ok(()),
        }
    }
}

/// Sends `code` to the phone through a webhook or the outbox (off the async workers);
/// [`PhoneDelivery::Action`] goes through [`crate::login::Io::send_phone_message`] instead.
pub fn send_code(delivery: &PhoneDelivery, to: &PhoneTarget, app: &str, code: &str) -> Result<(), String> {
    let method = method(to);
    let message = format!("Your verification code for {app} is {code}");
    let body = serde_json::json!({"to": to.number, "method": method, "code": code, "message": message});
    match delivery {
        PhoneDelivery::Webhook(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(std::time::Duration::from_secs(10)))
                .http_status_as_error(false)
                .build()
                .into();
            let request = agent.post(url).header("content-type", "application/json");
            match request.send(body.to_string()) {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("the phone webhook answered {}", r.status())),
                Err(e) => Err(format!("the phone webhook: {e}")),
            }
        }
        PhoneDelivery::Outbox(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let file = dir.join(format!("{}.json", crate::util::random_hex(8)));
            std::fs::write(&file, body.to_string()).map_err(|e| format!("{}: {e}", file.display()))
        }
        PhoneDelivery::Action => Err("phone messages are delivered by actions".into()),
    }
}
