//! `idpipe oidc`: tokens and JWKS without a server.

use std::path::PathBuf;

use idpipe::pipeline::{Event, Services, Trigger};

use super::args::OidcCommand;
use super::{executor_with, json_file};

/// The OIDC signing key from `--key`, or the TEST-ONLY one in `certs/`.
pub(super) fn jwt_signer(key: Option<PathBuf>) -> Result<idpipe::oidc::JwtSigner, String> {
    let path = key.unwrap_or_else(|| {
        eprintln!("idpipe: warning: signing with the TEST-ONLY key in certs/");
        PathBuf::from("certs/idp-test.key")
    });
    idpipe::oidc::JwtSigner::from_file(&path).map_err(|e| e.to_string())
}

/// Runs `oidc tokens` / `oidc jwks`.
pub(super) fn oidc(command: OidcCommand) -> Result<(String, bool), String> {
    match command {
        OidcCommand::Jwks { key, next_key } => {
            let mut set = idpipe::oidc::KeySet::new(jwt_signer(key)?);
            if let Some(n) = next_key {
                set = set.with_next(&idpipe::oidc::JwtSigner::from_file(&n).map_err(|e| e.to_string())?);
            }
            Ok((serde_json::to_string_pretty(&set.jwks()).map_err(|e| e.to_string())?, true))
        }
        cmd @ OidcCommand::Tokens { .. } => tokens(cmd),
    }
}

/// The post-login event of `oidc tokens`.
fn token_event(user: &std::path::Path, client: &std::path::Path, scopes: &[String], audience: Option<&str>) -> Result<Event, String> {
    let mut event = Event {
        user: json_file(user)?,
        client: json_file(client)?,
        ..Default::default()
    };
    if event.client.client_id.is_empty() {
        return Err(format!("{}: client_id is missing", client.display()));
    }
    event.transaction.protocol = "oidc-basic-profile".into();
    event.transaction.requested_scopes = scopes.to_vec();
    if let Some(a) = audience {
        event.resource_server = Some(idpipe::pipeline::event::ResourceServer {
            identifier: a.to_string(),
            ..Default::default()
        });
    }
    Ok(event)
}

/// Runs `oidc tokens`.
fn tokens(cmd: OidcCommand) -> Result<(String, bool), String> {
    use idpipe::oidc::{ApiResource, OidcClient, TokenContext};
    let OidcCommand::Tokens {
        user,
        client,
        audience,
        scope,
        nonce,
        key,
        issuer,
        actions,
        secrets,
    } = cmd
    else {
        return Err("not an oidc tokens command".into());
    };
    let keys = jwt_signer(key)?;
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    let mut event = token_event(&user, &client, &scopes, audience.as_deref())?;
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
        claims: None,
        acr_values: &[],
    };
    let issued = idpipe::oidc::issue_tokens(&keys, &state.event, &state.outcome, &ctx, None).map_err(|e| e.to_string())?;
    let mut out = serde_json::json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
        "scope": issued.scopes.join(" "),
    });
    if let Some(id) = &issued.id_token {
        out["id_token"] = id.clone().into();
    }
    if issued.scopes.iter().any(|s| s == "offline_access") {
        out["refresh_token"] = refresh_token(&state, &oidc_client, &issued.scopes, api.as_ref(), now)?.into();
    }
    Ok((serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?, true))
}

/// A refresh token (from an in-memory store: the dry run has no database).
fn refresh_token(
    state: &idpipe::pipeline::TransactionState,
    client: &idpipe::oidc::OidcClient,
    scopes: &[String],
    api: Option<&idpipe::oidc::ApiResource>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    use idpipe::oidc::refresh;
    let store = refresh::RefreshTokens {
        store: refresh::MemoryRefreshStore::default(),
        limits: Default::default(),
    };
    let grant = refresh::Grant {
        user_id: &state.event.user.user_id,
        client_id: &client.client_id,
        scopes,
        audience: api.map(|a| a.identifier.as_str()),
        session_id: None,
        auth_time: None,
    };
    store
        .issue(&grant, &state.outcome.refresh_token, now.timestamp_millis())
        .map_err(|e| e.to_string())
}

/// The kit's other keys: publicly known TEST-ONLY keys from certs/, built in so that the kit
/// is reproducible anywhere. They only ever sign the fixtures a verifier must refuse.
const RETIRED_KEY: &str = include_str!("../../certs/idp-next-test.key");
const OTHER_KEY: &str = include_str!("../../certs/sp-test.key");

/// Runs `kit oidc`.
pub(super) fn kit(cmd: super::args::KitCommand) -> Result<(String, bool), String> {
    let super::args::KitCommand::Oidc {
        client,
        user,
        issuer,
        audience,
        now,
        seed,
        key,
        out,
    } = cmd
    else {
        return Err("not an OIDC kit".into());
    };
    let client: serde_json::Value = json_file(&client)?;
    let client_id = client
        .get("client_id")
        .and_then(serde_json::Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or("the client file has no client_id")?
        .to_string();
    let user: serde_json::Map<String, serde_json::Value> = match user {
        Some(p) => json_file(&p)?,
        None => {
            serde_json::json!({"user_id": "auth0|kit-user", "email": "kit.user@example.com", "email_verified": true, "name": "Kit User"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        }
    };
    let current = jwt_signer(key)?;
    let retired = idpipe::oidc::JwtSigner::from_pem(RETIRED_KEY).map_err(|e| e.to_string())?;
    let other = idpipe::oidc::JwtSigner::from_pem(OTHER_KEY).map_err(|e| e.to_string())?;
    let public_pem = current.public_pem().map_err(|e| e.to_string())?;
    let input = idpipe::kit::oidc::OidcKitInput {
        client_id,
        issuer,
        audience,
        user,
        now: now.unwrap_or_else(|| chrono::Utc::now().timestamp()),
        seed,
    };
    let keys = idpipe::kit::oidc::OidcKitKeys {
        current: &current,
        retired: &retired,
        other: &other,
        current_public_pem: &public_pem,
    };
    let fixtures = idpipe::kit::oidc::write_kit(&input, &keys, &out).map_err(|e| e.to_string())?;
    Ok((format!("{} fixtures and manifest.json in {}", fixtures.len(), out.display()), true))
}

/// The kit's user: `--user`, or a kit user.
pub(super) fn kit_user(user: Option<PathBuf>) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match user {
        Some(p) => json_file(&p),
        None => Ok(serde_json::json!({"user_id": "auth0|kit-user", "email": "kit.user@example.com", "email_verified": true, "name": "Kit User", "user_metadata": {"color": "blue"}})
            .as_object()
            .cloned()
            .unwrap_or_default()),
    }
}
