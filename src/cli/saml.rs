//! `idpipe saml response`: a SAML Response for a user and an SP's settings, without a server.

use std::path::PathBuf;
use std::sync::Arc;

use idpipe::pipeline::executor::FixedClock;
use idpipe::pipeline::{Event, Services, Trigger};
use idpipe::saml::{self, AddonSettings, SigningKey, TenantSamlDefaults};

use super::args::SamlCommand;
use super::{executor_with, json_file, read};

/// The signing pair from `--cert`/`--key`, or the TEST-ONLY pair in `certs/`.
pub(super) fn signing_key(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<SigningKey, String> {
    let (c, k) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        _ => {
            eprintln!("idpipe: warning: signing with the TEST-ONLY key in certs/");
            (PathBuf::from("certs/idp-test.crt"), PathBuf::from("certs/idp-test.key"))
        }
    };
    SigningKey::from_files(&c, &k).map_err(|e| e.to_string())
}

/// `--now` (RFC 3339), or the current time.
pub(super) fn parse_now(now: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match now {
        None => Ok(chrono::Utc::now()),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|e| format!("--now: {e}")),
    }
}

/// A request file, parsed (its signature is checked by [`check_request`]).
struct RequestFile {
    request: saml::AuthnRequest,
    xml: String,
    path: PathBuf,
}

fn load_request(path: &std::path::Path) -> Result<RequestFile, String> {
    let xml = read(path)?;
    let request = saml::request::parse_xml(&xml).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(RequestFile {
        request,
        xml,
        path: path.to_path_buf(),
    })
}

/// The request, its signature verified when the SP settings (or an action) name a request
/// signing certificate.
fn check_request(
    r: RequestFile,
    addon: &AddonSettings,
    overrides: &idpipe::pipeline::outcome::SamlOverrides,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<saml::AuthnRequest, String> {
    let Some(cert) = saml::settings::request_signing_cert(addon, overrides).map_err(|e| e.to_string())? else {
        return Ok(r.request);
    };
    let intake = saml::request::parse_post(
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, r.xml.as_bytes()),
        None,
        Some(&cert),
        // Freshness and replay are transport concerns of the server, not of this dry run.
        saml::request::IntakeRules {
            max_age_seconds: i64::from(u32::MAX),
            skew_seconds: i64::from(u32::MAX),
            ..saml::request::IntakeRules::at(now)
        },
    )
    .map_err(|e| format!("{}: {e}", r.path.display()))?;
    Ok(intake.request)
}

/// The user's profile with the actions' metadata changes applied (what the server would store).
fn profile_after(state: &idpipe::pipeline::TransactionState) -> serde_json::Map<String, serde_json::Value> {
    let mut profile = state.event.user_json();
    let (mut app, mut um) = (state.event.user.app_metadata.clone(), state.event.user.user_metadata.clone());
    state.outcome.apply_user_metadata(&mut app, &mut um);
    profile.insert("app_metadata".into(), app.into());
    profile.insert("user_metadata".into(), um.into());
    profile
}

/// Runs `saml response`.
pub(super) fn response(cmd: SamlCommand) -> Result<(String, bool), String> {
    let SamlCommand::Response {
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
    } = cmd
    else {
        return Err("not a saml response command".into());
    };
    let now = parse_now(now.as_deref())?;
    let user_json: serde_json::Value = json_file(&user)?;
    let addon = AddonSettings::from_json(&read(&settings)?).map_err(|e| format!("{}: {e}", settings.display()))?;
    // The request is parsed first; its signature is checked after the pipeline, because an
    // action's samlResponse.setSigningCert also decides whether requests must be signed.
    let request = request.map(|p| load_request(&p)).transpose()?;
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
    let request = match request {
        Some(r) => Some(check_request(r, &addon, &state.outcome.saml, now)?),
        None => None,
    };
    let tenant_defaults = TenantSamlDefaults::new(&tenant, Arc::new(signing_key(cert, key)?));
    let acs_url = acs
        .or_else(|| request.as_ref().and_then(|r| r.assertion_consumer_service_url.clone()))
        .unwrap_or_default();
    if let Some(f) = &state.outcome.failure {
        // A refused login is answered with a signed SAML error Response (exit code 1).
        let issuer = addon.issuer.clone().unwrap_or_else(|| tenant_defaults.default_issuer());
        let xml = saml::build_error_response(
            &issuer,
            &acs_url,
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
    let profile = profile_after(&state);
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
        name_id: None,
        authn_context_class_ref: None,
        ids: None,
    })
    .map_err(|e| e.to_string())?;
    Ok((issued.response.xml, true))
}

/// Runs `saml metadata`.
pub(super) fn metadata(cmd: SamlCommand) -> Result<(String, bool), String> {
    let SamlCommand::Metadata {
        settings,
        cert,
        key,
        tenant,
        base_url,
        client_id,
    } = cmd
    else {
        return Err("not a saml metadata command".into());
    };
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

/// Runs `sp import`: the SP's add-on settings JSON (written to `settings_out`) and the tenant
/// entry (printed).
pub(super) fn sp_import(
    metadata: &std::path::Path,
    client_id: &str,
    name: Option<&str>,
    settings_out: &std::path::Path,
) -> Result<(String, bool), String> {
    let m = saml::sp_metadata::parse(&read(metadata)?).map_err(|e| format!("{}: {e}", metadata.display()))?;
    let acs = m.post_acs();
    if acs.is_empty() {
        return Err(format!(
            "{}: no AssertionConsumerService with the HTTP-POST binding",
            metadata.display()
        ));
    }
    let mut settings = serde_json::json!({ "audience": m.entity_id });
    if let Some(slo) = &m.slo_url {
        settings["logout"] = serde_json::json!({"callback": slo, "slo_enabled": true});
    }
    // The SP signs its AuthnRequests: idpipe then requires and checks the signature.
    if m.authn_requests_signed
        && let Some(c) = &m.signing_cert
    {
        settings["signingCert"] = c.clone().into();
    }
    if let Some(c) = &m.encryption_cert {
        let public = openssl::x509::X509::from_pem(c.as_bytes())
            .and_then(|x| x.public_key())
            .and_then(|k| k.public_key_to_pem())
            .map_err(|e| format!("{}: the encryption certificate: {e}", metadata.display()))?;
        settings["encryptionCert"] = c.clone().into();
        settings["encryptionPublicKey"] = String::from_utf8_lossy(&public).into_owned().into();
    }
    let json = serde_json::to_string_pretty(&settings).map_err(|e| e.to_string())?;
    std::fs::write(settings_out, json + "\n").map_err(|e| format!("{}: {e}", settings_out.display()))?;
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let callbacks: Vec<String> = acs.iter().map(|a| q(&a.location)).collect();
    let mut toml = format!(
        "[[saml_sps]]\nclient_id = {}\nname = {}\ncallbacks = [{}]\nsettings = {}\n",
        q(client_id),
        q(name.unwrap_or(&m.entity_id)),
        callbacks.join(", "),
        q(&settings_out.display().to_string()),
    );
    toml.push_str("[saml_sps.acs_indexes]\n");
    for a in &acs {
        toml.push_str(&format!("{} = {}\n", q(&a.index.to_string()), q(&a.location)));
    }
    Ok((toml, true))
}

/// A key nobody trusts for the kit's "another key" fixture: the publicly known TEST-ONLY SP key
/// of certs/, built in so that the kit is reproducible anywhere.
const OTHER_CERT: &str = include_str!("../../certs/sp-test.crt");
const OTHER_KEY: &str = include_str!("../../certs/sp-test.key");

/// Runs `kit saml`.
pub(super) fn kit(cmd: super::args::KitCommand) -> Result<(String, bool), String> {
    let super::args::KitCommand::Saml {
        sp,
        user,
        acs,
        tenant,
        audience,
        now,
        seed,
        cert,
        key,
        out,
    } = cmd
    else {
        return Err("not a SAML kit".into());
    };
    let mut settings: serde_json::Value = json_file(&sp)?;
    let acs = acs
        .or_else(|| {
            ["recipient", "destination"]
                .iter()
                .find_map(|k| settings.get(*k).and_then(serde_json::Value::as_str).map(str::to_string))
        })
        .ok_or("--acs is needed (the SP settings name no recipient or destination)")?;
    if let Some(a) = audience {
        settings["audience"] = a.into();
    }
    let input = idpipe::kit::saml::SamlKitInput {
        sp: settings,
        user: super::oidc::kit_user(user)?,
        acs,
        now: parse_now(now.as_deref())?,
        seed,
        tenant,
    };
    let keys = idpipe::kit::saml::SamlKitKeys {
        current: Arc::new(signing_key(cert, key)?),
        other: Arc::new(SigningKey::from_pem(OTHER_CERT.as_bytes(), OTHER_KEY.as_bytes()).map_err(|e| e.to_string())?),
    };
    let fixtures = idpipe::kit::saml::write_kit(&input, &keys, &out).map_err(|e| e.to_string())?;
    Ok((format!("{} fixtures and manifest.json in {}", fixtures.len(), out.display()), true))
}
