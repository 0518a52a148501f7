//! Delivering one-time codes by email: SMTP through the configured relay (`lettre`), or, in
//! development, one `.eml` file per message in a folder.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::client::Tls;
use lettre::{Message, SmtpTransport, Transport};

use crate::config::EmailDelivery;

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The address or the message is not valid.
    #[error("the message cannot be built: {0}")]
    Message(String),
    /// The relay refused or could not be reached; the outbox could not be written.
    #[error("the message could not be delivered: {0}")]
    Delivery(String),
}

/// Sends `code` to `to` (off the async workers: the caller is on the blocking pool).
pub fn send_code(from: &str, delivery: &EmailDelivery, to: &str, app: &str, code: &str) -> Result<(), MailError> {
    let body = format!(
        "Your verification code for {app} is {code}.\n\nIt expires in 5 minutes. If you did not try to log in, you can ignore this message.\n"
    );
    send_message(from, delivery, to, &format!("Your verification code: {code}"), &body)
}

/// Sends a plain-text message (off the async workers: the caller is on the blocking pool).
pub fn send_message(from: &str, delivery: &EmailDelivery, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
    let from: Mailbox = from.parse().map_err(|e| MailError::Message(format!("from: {e}")))?;
    let to: Mailbox = to.parse().map_err(|e| MailError::Message(format!("to: {e}")))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| MailError::Message(e.to_string()))?;
    match delivery {
        EmailDelivery::Smtp { host, port, starttls } => {
            let tls = if *starttls {
                let params =
                    lettre::transport::smtp::client::TlsParameters::new(host.clone()).map_err(|e| MailError::Delivery(e.to_string()))?;
                Tls::Required(params)
            } else {
                Tls::None
            };
            let transport = SmtpTransport::builder_dangerous(host.as_str())
                .port(*port)
                .tls(tls)
                .timeout(Some(std::time::Duration::from_secs(10)))
                .build();
            transport.send(&message).map(|_| ()).map_err(|e| MailError::Delivery(e.to_string()))
        }
        EmailDelivery::Outbox(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| MailError::Delivery(format!("{}: {e}", dir.display())))?;
            let file = dir.join(format!("{}.eml", crate::util::random_hex(8)));
            std::fs::write(&file, message.formatted()).map_err(|e| MailError::Delivery(format!("{}: {e}", file.display())))
        }
    }
}
