//! The post-login `event` object, JSON-compatible with the hosted service's.
//!
//! Every struct keeps unknown fields in `extra` so that an event captured from the hosted
//! service round-trips through idpipe without losing data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object with insertion order preserved.
pub type JsonMap = Map<String, Value>;

/// The `event` argument handed to every action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Event {
    /// The user logging in.
    pub user: User,
    /// How the user authenticated in this session.
    pub authentication: Authentication,
    /// The login transaction (protocol, scopes, metadata shared between actions).
    pub transaction: Transaction,
    /// The application the user logs in to.
    pub client: Client,
    /// The connection the user authenticated with.
    pub connection: Connection,
    /// The organization, when the login is in an organization's context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Value>,
    /// The HTTP request that started the login.
    pub request: Request,
    /// The API (resource server) an access token is requested for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_server: Option<ResourceServer>,
    /// Action secrets from the tenant configuration.
    pub secrets: Map<String, Value>,
    /// Login statistics.
    pub stats: Stats,
    /// The tenant.
    pub tenant: Tenant,
    /// The current session, when one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// The refresh token being exchanged (refresh-token flow only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Value>,
    /// The custom prompt just submitted (set while resuming after `api.prompt.render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    /// send-phone-message: the message to deliver (`action`, `code`, `message_type`,
    /// `recipient`, `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_options: Option<Value>,
    /// idpipe extension: ids of legacy Rules already executed in this transaction, for
    /// `api.rules.wasExecuted` during a migration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executed_rules: Vec<String>,
    /// Unknown fields, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.user`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct User {
    /// `provider|id` of the user.
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Email address.
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Whether the email was verified.
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Full name.
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Given name.
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Family name.
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Nickname.
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Username.
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Picture URL.
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Phone number.
    pub phone_number: Option<String>,
    /// Metadata the user cannot edit.
    pub app_metadata: JsonMap,
    /// Metadata the user can edit.
    pub user_metadata: JsonMap,
    /// Linked identities; the first is the primary one.
    pub identities: Vec<Identity>,
    /// Active MFA enrolments, e.g. `{type: "otp"}`.
    #[serde(rename = "enrolledFactors")]
    pub enrolled_factors: Vec<EnrolledFactor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Creation time (ISO 8601).
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Last update time (ISO 8601).
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Last login time (ISO 8601).
    pub last_login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Number of logins.
    pub logins_count: Option<u64>,
    /// Unknown fields (custom top-level profile fields included).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One linked identity of a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Identity {
    /// Identity provider, e.g. `auth0`, `google-oauth2`.
    pub provider: String,
    /// Connection name.
    pub connection: String,
    /// The id at the provider (without the `provider|` prefix).
    pub user_id: Value,
    /// Whether the provider is a social one.
    #[serde(rename = "isSocial")]
    pub is_social: bool,
    /// Unknown fields (e.g. `access_token`, `profileData`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Identity {
    /// The identity's id as a string (providers send numbers too).
    pub fn user_id_string(&self) -> String {
        match &self.user_id {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// One enrolled MFA factor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EnrolledFactor {
    /// Factor type (`otp`, `phone`, `webauthn-roaming`, ...).
    #[serde(rename = "type")]
    pub factor_type: String,
    /// Factor-specific options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.authentication`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Authentication {
    /// Methods completed in this session, oldest first.
    pub methods: Vec<AuthenticationMethod>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One completed authentication method.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthenticationMethod {
    /// `pwd`, `federated`, `mfa`, or a custom method's URL.
    pub name: String,
    /// When it completed (ISO 8601).
    pub timestamp: String,
    /// The factor used, for `name == "mfa"`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub method_type: Option<String>,
}

/// `event.transaction`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Transaction {
    /// Transaction id.
    pub id: String,
    /// `oidc-basic-profile`, `samlp`, `oauth2-refresh-token`, `oauth2-resource-owner`, ...
    pub protocol: String,
    /// Scopes the application asked for.
    pub requested_scopes: Vec<String>,
    /// Requested ACR values.
    pub acr_values: Vec<String>,
    /// `prompt` parameter (`none`, `login`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Redirect URI of the application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The application's `state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Locale for the login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Metadata shared between actions (`api.transaction.setMetadata`).
    pub metadata: JsonMap,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.client`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Client {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Client metadata (string values).
    pub metadata: JsonMap,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.connection`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Connection {
    /// Connection id.
    pub id: String,
    /// Connection name.
    pub name: String,
    /// Strategy (`auth0`, `google-oauth2`, `samlp`, ...).
    pub strategy: String,
    /// Connection metadata.
    pub metadata: JsonMap,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.request`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Request {
    /// Client IP address.
    pub ip: String,
    /// Host name the request was sent to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// HTTP method.
    pub method: String,
    /// User agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Preferred language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Query parameters.
    pub query: JsonMap,
    /// Body parameters.
    pub body: JsonMap,
    /// Unknown fields (e.g. `geoip`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.resource_server`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ResourceServer {
    /// The API identifier (audience).
    pub identifier: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Stats {
    /// Number of logins of this user.
    pub logins_count: u64,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.tenant`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Tenant {
    /// Tenant name.
    pub id: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `event.session`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Creation time (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Session metadata.
    pub metadata: JsonMap,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Event {
    /// The identity the user authenticated with: the one of `event.connection`, else the first.
    pub fn current_identity(&self) -> Option<&Identity> {
        self.user
            .identities
            .iter()
            .find(|i| !self.connection.name.is_empty() && i.connection == self.connection.name)
            .or_else(|| self.user.identities.first())
    }

    /// The user as a JSON object (the profile the SAML mapper and OIDC claims read).
    pub fn user_json(&self) -> JsonMap {
        match serde_json::to_value(&self.user) {
            Ok(Value::Object(m)) => m,
            _ => JsonMap::new(),
        }
    }
}

/// The event as JSON for the script actions of one pipeline run: serialized by the first action
/// that needs it and shared by the next ones. The executor starts a new one whenever the event
/// changes between actions (their transaction metadata), so an action always reads the event
/// as it is when it starts.
#[derive(Debug, Default)]
pub struct EventJson(std::sync::OnceLock<std::sync::Arc<str>>);

impl EventJson {
    /// The JSON of `event` (serialized on the first call).
    pub(crate) fn of(&self, event: &Event) -> Result<std::sync::Arc<str>, serde_json::Error> {
        if let Some(json) = self.0.get() {
            return Ok(json.clone());
        }
        let json: std::sync::Arc<str> = serde_json::to_string(event)?.into();
        Ok(self.0.get_or_init(|| json).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_round_trip() {
        let raw = serde_json::json!({
            "user": {"user_id": "auth0|1", "email": "a@b.c", "favorite": "blue",
                      "identities": [{"provider": "auth0", "connection": "db", "user_id": "1", "isSocial": false, "x": 1}]},
            "transaction": {"protocol": "samlp", "metadata": {"a": 1}},
            "something_new": {"k": true}
        });
        let ev: Event = serde_json::from_value(raw.clone()).expect("event parses");
        assert_eq!(ev.user.extra.get("favorite"), Some(&Value::from("blue")));
        assert_eq!(ev.extra.get("something_new"), raw.get("something_new"));
        let back = serde_json::to_value(&ev).expect("serializes");
        assert_eq!(back["user"]["identities"][0]["x"], 1);
        assert_eq!(back["something_new"]["k"], true);
        assert_eq!(back["user"]["favorite"], "blue");
    }

    #[test]
    fn current_identity_prefers_the_connection() {
        let mut ev = Event::default();
        ev.user.identities = vec![
            Identity {
                provider: "auth0".into(),
                connection: "db".into(),
                ..Default::default()
            },
            Identity {
                provider: "google-oauth2".into(),
                connection: "google".into(),
                ..Default::default()
            },
        ];
        ev.connection.name = "google".into();
        assert_eq!(ev.current_identity().map(|i| i.provider.as_str()), Some("google-oauth2"));
        ev.connection.name = "other".into();
        assert_eq!(ev.current_identity().map(|i| i.provider.as_str()), Some("auth0"));
    }
}
