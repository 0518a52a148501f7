//! The `idpipe` command line: dry runs of the pipeline and the issuers, users, the server.

pub(crate) mod args;
mod oidc;
mod saml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use idpipe::pipeline::executor::Status;
use idpipe::pipeline::{Event, Executor, Services, Trigger};

use args::{ActionsCommand, Cli, Command, KitCommand, SamlCommand, SpCommand, UserCommand};

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

/// A file's text, or an error naming it.
pub(super) fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A JSON file, parsed.
pub(super) fn json_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// An executor with the given scripts on `trigger`, plus the secrets map.
pub(super) fn executor_with(
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

/// Runs a command; the text to print and whether it succeeded.
pub(crate) fn run(cli: Cli) -> Result<(String, bool), String> {
    match cli.command {
        Command::Run {
            trigger,
            event,
            actions,
            secrets,
        } => run_pipeline(&trigger, &event, &actions, &secrets),
        Command::Saml {
            command: cmd @ SamlCommand::Response { .. },
        } => saml::response(cmd),
        Command::Saml {
            command: cmd @ SamlCommand::Metadata { .. },
        } => saml::metadata(cmd),
        Command::Oidc { command } => oidc::oidc(command),
        Command::Sp {
            command:
                SpCommand::Import {
                    metadata,
                    client_id,
                    name,
                    settings_out,
                },
        } => saml::sp_import(&metadata, &client_id, name.as_deref(), &settings_out),
        Command::User {
            command: UserCommand::Hash,
        } => user_hash(),
        Command::User {
            command: UserCommand::Add { db, username, profile },
        } => user_add(&db, &username, profile.as_deref()),
        Command::User {
            command: UserCommand::Mfa { what, db, username },
        } => user_mfa(&what, &db, &username),
        Command::Serve { config, listen, db } => serve(&config, listen, db),
        Command::Migrate { config, db } => migrate(&config, db),
        Command::Actions {
            command: ActionsCommand::Install { config },
        } => actions_install(&config),
        Command::Kit {
            command: cmd @ KitCommand::Oidc { .. },
        } => oidc::kit(cmd),
        Command::Kit {
            command: cmd @ KitCommand::Saml { .. },
        } => saml::kit(cmd),
    }
}

/// `idpipe actions install`.
fn actions_install(config: &Path) -> Result<(String, bool), String> {
    let deps = idpipe::config::action_dependencies(config).map_err(|e| e.to_string())?;
    if deps.actions.is_empty() {
        return Ok(("no action declares dependencies ([action_dependencies])".into(), true));
    }
    let registry = std::env::var("IDPIPE_NPM_REGISTRY").unwrap_or_else(|_| idpipe::actions::npm::DEFAULT_REGISTRY.to_string());
    let reports = idpipe::actions::npm::install(&deps.modules_dir, &deps.actions, &registry).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for r in reports {
        let how = if r.from_lock { "from the lock file" } else { "resolved" };
        out.push_str(&format!("{} ({how}):\n", r.script));
        for (path, module) in r.packages {
            out.push_str(&format!("  {module}  {path}\n"));
        }
    }
    out.push_str(&format!(
        "lock file: {}",
        deps.modules_dir.join(idpipe::actions::npm::LOCK_FILE).display()
    ));
    Ok((out, true))
}

/// `idpipe run`: one trigger's pipeline over an event file.
fn run_pipeline(trigger: &str, event: &Path, actions: &[PathBuf], secrets: &[String]) -> Result<(String, bool), String> {
    let trigger = Trigger::parse(trigger).ok_or_else(|| format!("unknown trigger '{trigger}'"))?;
    let mut event: Event = json_file(event)?;
    let (executor, secrets) = executor_with(trigger, actions, secrets, Services::default())?;
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

/// `idpipe user hash`: the argon2id hash of the password on stdin.
fn user_hash() -> Result<(String, bool), String> {
    let password = read_password()?;
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt).map_err(|e| e.to_string())?;
    let hash = argon2::password_hash::PasswordHasher::hash_password_with_salt(&argon2::Argon2::default(), password.as_bytes(), &salt)
        .map_err(|e| e.to_string())?;
    Ok((hash.to_string(), true))
}

/// `idpipe user add`: a user in the database, with the password on stdin.
fn user_add(db: &Path, username: &str, profile: Option<&Path>) -> Result<(String, bool), String> {
    use idpipe::store::UserStore;
    let mut user: idpipe::pipeline::event::User = match profile {
        Some(p) => json_file(p)?,
        None => Default::default(),
    };
    if user.user_id.is_empty() {
        user.user_id = format!("auth0|{}", idpipe::util::random_hex(12));
    }
    if user.username.is_none() {
        user.username = Some(username.to_string());
    }
    let password = read_password()?;
    let store = idpipe::store::SqliteStore::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
    store.add_user(username, &password, &user).map_err(|e| e.to_string())?;
    Ok((user.user_id, true))
}

/// `idpipe user mfa list|reset`.
fn user_mfa(what: &str, db: &Path, username: &str) -> Result<(String, bool), String> {
    use idpipe::store::{MfaStore, UserStore};
    let store = idpipe::store::SqliteStore::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
    let user_id = store
        .user_id_of(username)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user '{username}'"))?;
    match what {
        "reset" => {
            let n = store.reset_factors(&user_id).map_err(|e| e.to_string())?;
            Ok((format!("{n} factor(s) removed from {username} ({user_id})"), true))
        }
        _ => {
            let factors = store.enrolled_factors(&user_id).map_err(|e| e.to_string())?;
            let out = serde_json::json!({"username": username, "user_id": user_id, "factors": factors});
            Ok((serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?, true))
        }
    }
}

/// The tenant file with the command line's and the environment's database choice.
fn tenant_with_database(config: &Path, db: Option<PathBuf>) -> Result<idpipe::config::Tenant, String> {
    let mut tenant = idpipe::config::load(config).map_err(|e| e.to_string())?;
    if let Some(db) = db {
        tenant.database = db;
        tenant.database_url = None;
    }
    if let Ok(url) = std::env::var("IDPIPE_DATABASE_URL")
        && !url.is_empty()
    {
        tenant.database_url = Some(url);
    }
    Ok(tenant)
}

/// `idpipe migrate`.
fn migrate(config: &Path, db: Option<PathBuf>) -> Result<(String, bool), String> {
    let tenant = tenant_with_database(config, db)?;
    let (version, shown) = idpipe::server::migrate(&tenant).map_err(|e| e.to_string())?;
    Ok((format!("{shown}: schema version {version}"), true))
}

/// `idpipe serve`.
fn serve(config: &Path, listen: std::net::SocketAddr, db: Option<PathBuf>) -> Result<(String, bool), String> {
    let tenant = tenant_with_database(config, db)?;
    // Blocking work (store, argon2, JS actions, signing) runs on a bounded pool
    // (`login::pool::max_threads`).
    // The async workers only read requests, route them and write responses (every login step
    // is one task on the blocking pool): one per two cores leaves the cores to the blocking work
    // and saves thread wake-ups (measured: ~5 % less CPU per round trip on 2 cores than one
    // worker per core). `TOKIO_WORKER_THREADS` overrides it.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or((cores / 2).max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(workers)
        .max_blocking_threads(idpipe::login::pool::max_threads(cores))
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(idpipe::server::serve(tenant, listen))
        .map_err(|e| format!("{listen}: {e}"))?;
    Ok((String::new(), true))
}
