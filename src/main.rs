//! The `idpipe` command line: dry runs of the pipeline and the issuers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use idpipe::pipeline::executor::{FixedClock, Status};
use idpipe::pipeline::{Event, Executor, Services, Trigger};
use idpipe::saml::{self, AddonSettings, SigningKey, TenantSamlDefaults};

#[derive(Parser)]
#[command(
    name = "idpipe",
    version,
    about = "A programmable identity provider core: login pipeline -> SAML and OIDC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a trigger's pipeline on an event and prints the outcome (with the trace) as JSON.
    Run {
        /// Trigger name (post-login, post-challenge, password-reset-post-challenge).
        #[arg(long, default_value = "post-login")]
        trigger: String,
        /// The event JSON.
        #[arg(long)]
        event: PathBuf,
        /// Action scripts, run in this order.
        #[arg(long = "action")]
        actions: Vec<PathBuf>,
        /// Action secrets (`event.secrets`), as KEY=VALUE.
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Manages users in the SQLite store.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Runs the IdP server with a tenant configuration.
    Serve {
        /// The tenant TOML file.
        #[arg(long, default_value = "fixtures/tenant/demo.toml")]
        config: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: std::net::SocketAddr,
        /// Overrides the tenant's `database` file.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// SAML dry runs.
    Saml {
        #[command(subcommand)]
        command: SamlCommand,
    },
    /// OIDC dry runs.
    Oidc {
        #[command(subcommand)]
        command: OidcCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Adds a user; the password is read from the first line of stdin (never from arguments).
    Add {
        /// The SQLite database file (created and migrated if needed).
        #[arg(long, default_value = "idpipe.sqlite")]
        db: PathBuf,
        /// Login name.
        #[arg(long)]
        username: String,
        /// An `event.user` JSON profile (user_id, email, name, metadata, ...).
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Prints the argon2id hash of the password on the first line of stdin, for `password_hash`
    /// in a tenant's users.
    Hash,
}

#[derive(Subcommand)]
enum OidcCommand {
    /// Prints the tokens a login of USER into CLIENT would get, as JSON.
    Tokens {
        /// An `event.user` JSON object.
        #[arg(long)]
        user: PathBuf,
        /// An `event.client` JSON object ({client_id, name, metadata}).
        #[arg(long)]
        client: PathBuf,
        /// API identifier (access-token audience).
        #[arg(long)]
        audience: Option<String>,
        /// Requested scopes.
        #[arg(long, default_value = "openid profile email")]
        scope: String,
        /// Nonce of the authorization request.
        #[arg(long)]
        nonce: Option<String>,
        /// Signing key PEM (default: certs/idp-test.key, a TEST-ONLY key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Tenant base URL (the `iss`, with a trailing slash).
        #[arg(long, default_value = "http://127.0.0.1:3000/")]
        issuer: String,
        /// Action scripts run on the post-login trigger first.
        #[arg(long = "action")]
        actions: Vec<PathBuf>,
        /// Action secrets, as KEY=VALUE.
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Prints the JWKS that verifies the tokens.
    Jwks {
        /// Signing key PEM (default: certs/idp-test.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// A next key to publish ahead of a rotation.
        #[arg(long)]
        next_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SamlCommand {
    /// Prints the SAML Response XML for a user and an SP.
    Response {
        /// An `event.user` JSON object.
        #[arg(long)]
        user: PathBuf,
        /// The SP's add-on settings JSON.
        #[arg(long)]
        settings: PathBuf,
        /// An AuthnRequest XML (SP-initiated); absent: IdP-initiated.
        #[arg(long)]
        request: Option<PathBuf>,
        /// The ACS URL (default: the request's AssertionConsumerServiceURL).
        #[arg(long)]
        acs: Option<String>,
        /// RelayState to carry.
        #[arg(long)]
        relay_state: Option<String>,
        /// Signing certificate PEM (default: certs/idp-test.crt, a TEST-ONLY key).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// Signing key PEM (default: certs/idp-test.key, a TEST-ONLY key).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// The time to issue at (RFC 3339); default now.
        #[arg(long)]
        now: Option<String>,
        /// Tenant name (default issuer urn:<tenant>).
        #[arg(long, default_value = "idpipe")]
        tenant: String,
        /// The SP's client id (audience of last resort).
        #[arg(long, default_value = "cli")]
        client_id: String,
        /// Action scripts run on the post-login trigger first.
        #[arg(long = "action")]
        actions: Vec<PathBuf>,
        /// Action secrets, as KEY=VALUE.
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Prints the IdP metadata for an SP.
    Metadata {
        /// The SP's add-on settings JSON.
        #[arg(long)]
        settings: PathBuf,
        /// Signing certificate PEM (default: certs/idp-test.crt).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// Signing key PEM (default: certs/idp-test.key).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// Tenant name.
        #[arg(long, default_value = "idpipe")]
        tenant: String,
        /// Base URL of the IdP.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        base_url: String,
        /// The SP's client id.
        #[arg(long, default_value = "cli")]
        client_id: String,
    },
}

/// The password on the first line of stdin (at least 8 characters).
fn read_password() -> Result<String, String> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password).map_err(|e| format!("stdin: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    if password.chars().count() < 8 {
        return Err("the password (first line of stdin) must have at least 8 characters".into());
    }
    Ok(password)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn json_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn signing_key(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<SigningKey, String> {
    let (c, k) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        _ => {
            eprintln!("idpipe: warning: signing with the TEST-ONLY key in certs/");
            (PathBuf::from("certs/idp-test.crt"), PathBuf::from("certs/idp-test.key"))
        }
    };
    SigningKey::from_files(&c, &k).map_err(|e| e.to_string())
}

/// An executor with the given scripts on `trigger`, plus the secrets map.
fn executor_with(
    trigger: Trigger,
    actions: &[PathBuf],
    secrets: &[String],
    services: Services,
) -> Result<(Executor, serde_json::Map<String, serde_json::Value>), String> {
    let mut ex = Executor::new(services);
    for path in actions {
        let action = idpipe::actions::js::JsAction::from_file(path, Default::default()).map_err(|e| e.to_string())?;
        ex.add(trigger, Arc::new(action));
    }
    let mut map = serde_json::Map::new();
    for kv in secrets {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("--secret '{kv}': expected KEY=VALUE"))?;
        map.insert(k.to_string(), v.into());
    }
    Ok((ex, map))
}

fn jwt_signer(key: Option<PathBuf>) -> Result<idpipe::oidc::JwtSigner, String> {
    let path = key.unwrap_or_else(|| {
        eprintln!("idpipe: warning: signing with the TEST-ONLY key in certs/");
        PathBuf::from("certs/idp-test.key")
    });
    idpipe::oidc::JwtSigner::from_file(&path).map_err(|e| e.to_string())
}

fn oidc(command: OidcCommand) -> Result<(String, bool), String> {
    use idpipe::oidc::{ApiResource, OidcClient, TokenContext, refresh};
    match command {
        OidcCommand::Jwks { key, next_key } => {
            let mut set = idpipe::oidc::KeySet::new(jwt_signer(key)?);
            if let Some(n) = next_key {
                set = set.with_next(&idpipe::oidc::JwtSigner::from_file(&n).map_err(|e| e.to_string())?);
            }
            Ok((serde_json::to_string_pretty(&set.jwks()).map_err(|e| e.to_string())?, true))
        }
        OidcCommand::Tokens {
            user,
            client,
            audience,
            scope,
            nonce,
            key,
            issuer,
            actions,
            secrets,
        } => {
            let keys = jwt_signer(key)?;
            let mut event = Event {
                user: json_file(&user)?,
                client: json_file(&client)?,
                ..Default::default()
            };
            if event.client.client_id.is_empty() {
                return Err(format!("{}: client_id is missing", client.display()));
            }
            let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
            event.transaction.protocol = "oidc-basic-profile".into();
            event.transaction.requested_scopes = scopes.clone();
            if let Some(a) = &audience {
                event.resource_server = Some(idpipe::pipeline::event::ResourceServer {
                    identifier: a.clone(),
                    ..Default::default()
                });
            }
            let now = chrono::Utc::now();
            let (executor, secrets) = executor_with(Trigger::PostLogin, &actions, &secrets, Services::default())?;
            event.secrets.extend(secrets);
            let state = executor.start(Trigger::PostLogin, event);
            if let Some(e) = idpipe::oidc::tokens::failure_to_oauth(&state.outcome) {
                return Err(format!("login failed: {}: {}", e.error, e.error_description));
            }
            let issuer = if issuer.ends_with('/') { issuer } else { format!("{issuer}/") };
            let oidc_client = OidcClient {
                client_id: state.event.client.client_id.clone(),
                id_token_lifetime: idpipe::oidc::tokens::DEFAULT_ID_TOKEN_LIFETIME,
            };
            let api = audience.map(|identifier| ApiResource {
                identifier,
                token_lifetime: idpipe::oidc::tokens::DEFAULT_ACCESS_TOKEN_LIFETIME,
            });
            let ctx = TokenContext {
                issuer: &issuer,
                client: &oidc_client,
                api: api.as_ref(),
                requested_scopes: &scopes,
                nonce: nonce.as_deref(),
                session_id: None,
                auth_time: now.timestamp(),
                now: now.timestamp(),
            };
            let issued = idpipe::oidc::issue_tokens(&keys, &state.event, &state.outcome, &ctx).map_err(|e| e.to_string())?;
            let mut out = serde_json::json!({
                "access_token": issued.access_token,
                "expires_in": issued.expires_in,
                "token_type": "Bearer",
                "scope": issued.scopes.join(" "),
            });
            if let Some(id) = issued.id_token {
                out["id_token"] = id.into();
            }
            if issued.scopes.iter().any(|s| s == "offline_access") {
                let store = refresh::RefreshTokens {
                    store: refresh::MemoryRefreshStore::default(),
                    limits: Default::default(),
                };
                let grant = refresh::Grant {
                    user_id: &state.event.user.user_id,
                    client_id: &oidc_client.client_id,
                    scopes: &issued.scopes,
                    audience: api.as_ref().map(|a| a.identifier.as_str()),
                    session_id: None,
                    auth_time: None,
                };
                out["refresh_token"] = store
                    .issue(&grant, &state.outcome.refresh_token, now.timestamp_millis())
                    .map_err(|e| e.to_string())?
                    .into();
            }
            Ok((serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?, true))
        }
    }
}

fn parse_now(now: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match now {
        None => Ok(chrono::Utc::now()),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|e| format!("--now: {e}")),
    }
}

fn run(cli: Cli) -> Result<(String, bool), String> {
    match cli.command {
        Command::Run {
            trigger,
            event,
            actions,
            secrets,
        } => {
            let trigger = Trigger::parse(&trigger).ok_or_else(|| format!("unknown trigger '{trigger}'"))?;
            let mut event: Event = json_file(&event)?;
            let (executor, secrets) = executor_with(trigger, &actions, &secrets, Services::default())?;
            event.secrets.extend(secrets);
            let state = executor.start(trigger, event);
            let failed = state.status() == Status::Failed;
            let out = serde_json::json!({
                "status": state.status(),
                "suspension": state.suspension,
                "outcome": state.outcome.redacted(),
            });
            Ok((serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?, !failed))
        }
        Command::Saml {
            command:
                SamlCommand::Response {
                    user,
                    settings,
                    request,
                    acs,
                    relay_state,
                    cert,
                    key,
                    now,
                    tenant,
                    client_id,
                    actions,
                    secrets,
                },
        } => {
            let now = parse_now(now.as_deref())?;
            let user_json: serde_json::Value = json_file(&user)?;
            let addon = AddonSettings::from_json(&read(&settings)?).map_err(|e| format!("{}: {e}", settings.display()))?;
            // The request is parsed first; its signature is checked after the pipeline, because an
            // action's samlResponse.setSigningCert also decides whether requests must be signed.
            let request = match &request {
                None => None,
                Some(p) => {
                    let xml = read(p)?;
                    let req = saml::request::parse_xml(&xml).map_err(|e| format!("{}: {e}", p.display()))?;
                    Some((req, xml, p.clone()))
                }
            };
            let mut event = Event {
                user: serde_json::from_value(user_json).map_err(|e| format!("{}: {e}", user.display()))?,
                ..Default::default()
            };
            event.transaction.protocol = "samlp".into();
            event.client.client_id = client_id.clone();
            let services = Services {
                clock: Arc::new(FixedClock::new(now.timestamp_millis())),
                ..Default::default()
            };
            let (executor, secrets) = executor_with(Trigger::PostLogin, &actions, &secrets, services)?;
            event.secrets.extend(secrets);
            let state = executor.start(Trigger::PostLogin, event);
            let mut request = request;
            if let Some((req, xml, p)) = request.as_mut()
                && let Some(cert) = saml::settings::request_signing_cert(&addon, &state.outcome.saml).map_err(|e| e.to_string())?
            {
                let intake = saml::request::parse_post(
                    &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, xml.as_bytes()),
                    None,
                    Some(&cert),
                    // Freshness and replay are transport concerns of the server, not of this dry run.
                    saml::request::IntakeRules {
                        max_age_seconds: i64::from(u32::MAX),
                        skew_seconds: i64::from(u32::MAX),
                        ..saml::request::IntakeRules::at(now)
                    },
                )
                .map_err(|e| format!("{}: {e}", p.display()))?;
                *req = intake.request;
            }
            let request = request.map(|(r, _, _)| r);
            let tenant_defaults = TenantSamlDefaults::new(&tenant, Arc::new(signing_key(cert, key)?));
            if let Some(f) = &state.outcome.failure {
                // A refused login is answered with a signed SAML error Response (exit code 1).
                let acs = acs
                    .clone()
                    .or_else(|| request.as_ref().and_then(|r| r.assertion_consumer_service_url.clone()))
                    .unwrap_or_default();
                let issuer = addon.issuer.clone().unwrap_or_else(|| tenant_defaults.default_issuer());
                let xml = saml::build_error_response(
                    &issuer,
                    &acs,
                    request.as_ref().map(|r| r.id.as_str()),
                    &tenant_defaults.signing_key,
                    idpipe::pipeline::outcome::SignatureAlgorithm::RsaSha256,
                    idpipe::pipeline::outcome::DigestAlgorithm::Sha256,
                    &saml::denied_status(f),
                    now,
                )
                .map_err(|e| e.to_string())?;
                return Ok((xml, false));
            }
            let mut profile = state.event.user_json();
            let (mut app, mut um) = (state.event.user.app_metadata.clone(), state.event.user.user_metadata.clone());
            state.outcome.apply_user_metadata(&mut app, &mut um);
            profile.insert("app_metadata".into(), app.into());
            profile.insert("user_metadata".into(), um.into());
            let acs_url = acs
                .or_else(|| request.as_ref().and_then(|r| r.assertion_consumer_service_url.clone()))
                .unwrap_or_default();
            let session_index = saml::response::new_id();
            let issued = saml::issue(&saml::IssueInput {
                tenant: &tenant_defaults,
                addon: &addon,
                outcome: &state.outcome,
                profile: &profile,
                request: request.as_ref(),
                acs_url: &acs_url,
                client_id: &client_id,
                relay_state: relay_state.as_deref(),
                session_index: &session_index,
                authn_instant: None,
                now,
            })
            .map_err(|e| e.to_string())?;
            Ok((issued.response.xml, true))
        }
        Command::Oidc { command } => oidc(command),
        Command::User {
            command: UserCommand::Hash,
        } => {
            let password = read_password()?;
            let mut salt = [0u8; 16];
            openssl::rand::rand_bytes(&mut salt).map_err(|e| e.to_string())?;
            let hash =
                argon2::password_hash::PasswordHasher::hash_password_with_salt(&argon2::Argon2::default(), password.as_bytes(), &salt)
                    .map_err(|e| e.to_string())?;
            Ok((hash.to_string(), true))
        }
        Command::User {
            command: UserCommand::Add { db, username, profile },
        } => {
            use idpipe::store::UserStore;
            let mut user: idpipe::pipeline::event::User = match &profile {
                Some(p) => json_file(p)?,
                None => Default::default(),
            };
            if user.user_id.is_empty() {
                user.user_id = format!("auth0|{}", idpipe::util::random_hex(12));
            }
            if user.username.is_none() {
                user.username = Some(username.clone());
            }
            let password = read_password()?;
            let password = password.as_str();
            let store = idpipe::store::SqliteStore::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
            store.add_user(&username, password, &user).map_err(|e| e.to_string())?;
            Ok((user.user_id, true))
        }
        Command::Serve { config, listen, db } => {
            let mut tenant = idpipe::config::load(&config).map_err(|e| e.to_string())?;
            if let Some(db) = db {
                tenant.database = db;
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(idpipe::server::serve(tenant, listen))
                .map_err(|e| format!("{listen}: {e}"))?;
            Ok((String::new(), true))
        }
        Command::Saml {
            command:
                SamlCommand::Metadata {
                    settings,
                    cert,
                    key,
                    tenant,
                    base_url,
                    client_id,
                },
        } => {
            let addon = AddonSettings::from_json(&read(&settings)?).map_err(|e| format!("{}: {e}", settings.display()))?;
            let key = signing_key(cert, key)?;
            let defaults = TenantSamlDefaults::new(&tenant, Arc::new(key));
            let entity_id = addon.issuer.clone().unwrap_or_else(|| defaults.default_issuer());
            let base = base_url.trim_end_matches('/');
            let want_signed = saml::settings::request_signing_cert(&addon, &Default::default())
                .map_err(|e| e.to_string())?
                .is_some();
            let xml = saml::metadata::metadata_xml(&saml::metadata::MetadataInput {
                entity_id: &entity_id,
                signing_cert_b64: defaults.signing_key.cert_b64(),
                next_cert_b64: None,
                sso_url: &format!("{base}/samlp/{client_id}"),
                slo_url: &format!("{base}/samlp/{client_id}/logout"),
                want_authn_requests_signed: want_signed,
            });
            Ok((xml, true))
        }
    }
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=info".into());
    // IDPIPE_LOG_FORMAT=json: one JSON object per line (with the request span's id), for log shippers.
    if std::env::var("IDPIPE_LOG_FORMAT").is_ok_and(|v| v == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok((out, ok)) if out.is_empty() => {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Ok((out, ok)) => {
            // A closed stdout (e.g. `| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{out}");
            if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("idpipe: {}", e.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}
