//! SP settings (the hosted service's SAML add-on JSON, accepted verbatim), tenant defaults,
//! and their resolution with the actions' overrides: action call > SP settings > tenant default.

use std::sync::Arc;

use openssl::pkey::PKey;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SamlError;
use super::encryption::{BlockCipher, EncryptionTarget};
use super::signing::SigningKey;
use crate::pipeline::outcome::{DigestAlgorithm, SamlOverrides, SignatureAlgorithm};
use crate::util::normalize_pem;

/// The three standard claim URIs tried for the NameID by default.
pub const DEFAULT_PROBES: [&str; 3] = [
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
];

/// Default add-on mappings (reference 4.3): profile field -> claim URI, in this order.
pub const DEFAULT_MAPPINGS: [(&str, &str); 7] = [
    ("user_id", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"),
    ("email", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
    ("name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"),
    ("given_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"),
    ("family_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"),
    ("upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
    ("groups", "http://schemas.xmlsoap.org/claims/Group"),
];

/// The UPN claim URI.
pub const UPN_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
/// Prefix of identity claims (mapIdentities).
pub const IDENTITY_PREFIX: &str = "http://schemas.auth0.com/identities/default/";
/// Default prefix of pass-through claims.
pub const DEFAULT_PASSTHROUGH_PREFIX: &str = "http://schemas.auth0.com/";
/// At most this many URIs per mapped field.
pub const MAX_URIS_PER_MAPPING: usize = 4;

/// The SP's add-on settings, as the hosted service's JSON. Unknown keys are ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AddonSettings {
    /// The parsed form of the settings below (not part of the JSON).
    #[serde(skip)]
    pub parsed: ParseCache,
    /// `audience`.
    pub audience: Option<String>,
    /// `issuer`.
    pub issuer: Option<String>,
    /// `recipient`.
    pub recipient: Option<String>,
    /// `destination`.
    pub destination: Option<String>,
    /// `relayState` (idpipe also accepts it here).
    pub relay_state: Option<String>,
    /// `lifetimeInSeconds`.
    pub lifetime_in_seconds: Option<Value>,
    /// `signResponse`.
    pub sign_response: Option<bool>,
    /// idpipe extension `signResponseAndAssertion`: sign the Assertion, then the Response
    /// around it (SP libraries that want both, e.g. @node-saml's defaults).
    pub sign_response_and_assertion: Option<bool>,
    /// `nameIdentifierFormat`.
    pub name_identifier_format: Option<String>,
    /// `nameIdentifierProbes`.
    pub name_identifier_probes: Option<Vec<String>>,
    /// `authnContextClassRef`.
    pub authn_context_class_ref: Option<String>,
    /// `signingCert`: AuthnRequests must be signed with it.
    pub signing_cert: Option<String>,
    /// `includeAttributeNameFormat`.
    pub include_attribute_name_format: Option<bool>,
    /// `typedAttributes`.
    pub typed_attributes: Option<bool>,
    /// `encryptionCert`.
    pub encryption_cert: Option<String>,
    /// `encryptionPublicKey`.
    pub encryption_public_key: Option<String>,
    /// `encryptionAlgorithm` (block cipher URI; CBC only when set explicitly).
    pub encryption_algorithm: Option<String>,
    /// `cert` (signing certificate override).
    pub cert: Option<String>,
    /// `key` (signing key override).
    pub key: Option<String>,
    /// `signatureAlgorithm`.
    pub signature_algorithm: Option<String>,
    /// `digestAlgorithm`.
    pub digest_algorithm: Option<String>,
    /// `createUpnClaim`.
    pub create_upn_claim: Option<bool>,
    /// `passthroughClaimsWithNoMapping`.
    pub passthrough_claims_with_no_mapping: Option<bool>,
    /// `mapUnknownClaimsAsIs`.
    pub map_unknown_claims_as_is: Option<bool>,
    /// `mapIdentities`.
    pub map_identities: Option<bool>,
    /// `mappings`: field (dotted path allowed) -> URI, list of URIs, or `""` to suppress.
    pub mappings: Option<serde_json::Map<String, Value>>,
    /// `logout`: `{callback, slo_enabled}`.
    pub logout: Option<Value>,
    /// `binding` of the response (only HTTP-POST is produced).
    pub binding: Option<String>,
}

impl AddonSettings {
    /// Parses the JSON text of an add-on settings object, with a clear error.
    pub fn from_json(text: &str) -> Result<Self, SamlError> {
        serde_json::from_str(text).map_err(|e| SamlError::Settings(e.to_string()))
    }
}

/// Tenant-wide SAML defaults.
#[derive(Clone)]
pub struct TenantSamlDefaults {
    /// Tenant name; the default issuer is `urn:<name>`.
    pub tenant_name: String,
    /// Issuer override for the whole tenant.
    pub issuer: Option<String>,
    /// The tenant's signing key, parsed once.
    pub signing_key: Arc<SigningKey>,
    /// Prefix of pass-through claims.
    pub passthrough_prefix: String,
    /// NotBefore = IssueInstant minus this many seconds.
    pub clock_skew_seconds: i64,
}

impl TenantSamlDefaults {
    /// Defaults for a tenant with this name and key.
    pub fn new(tenant_name: &str, signing_key: Arc<SigningKey>) -> Self {
        TenantSamlDefaults {
            tenant_name: tenant_name.to_string(),
            issuer: None,
            signing_key,
            passthrough_prefix: DEFAULT_PASSTHROUGH_PREFIX.to_string(),
            clock_skew_seconds: 0,
        }
    }

    /// The effective default issuer.
    pub fn default_issuer(&self) -> String {
        self.issuer.clone().unwrap_or_else(|| format!("urn:{}", self.tenant_name))
    }
}

/// One mapping: profile field (dotted path) -> claim URIs (empty: suppressed).
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Field path, e.g. `email` or `user_metadata.color`.
    pub field: String,
    /// Claim URIs; empty suppresses the field.
    pub uris: Vec<String>,
}

/// Settings from the SP's JSON are as untrusted as action input: nothing XML cannot carry.
fn check_xml_text(addon: &AddonSettings, req: &RequestDefaults) -> Result<(), SamlError> {
    for (key, value) in [
        ("audience", &addon.audience),
        ("issuer", &addon.issuer),
        ("recipient", &addon.recipient),
        ("destination", &addon.destination),
        ("relayState", &addon.relay_state),
        ("nameIdentifierFormat", &addon.name_identifier_format),
        ("authnContextClassRef", &addon.authn_context_class_ref),
    ] {
        if value.as_deref().is_some_and(|v| !crate::util::is_xml_text(v)) {
            return Err(SamlError::Settings(format!("{key} contains characters not allowed in XML")));
        }
    }
    if addon.name_identifier_probes.iter().flatten().any(|p| !crate::util::is_xml_text(p)) {
        return Err(SamlError::Settings(
            "nameIdentifierProbes contains characters not allowed in XML".into(),
        ));
    }
    if req.request_issuer.as_deref().is_some_and(|v| !crate::util::is_xml_text(v)) || !crate::util::is_xml_text(&req.acs_url) {
        return Err(SamlError::Settings(
            "the request's Issuer or ACS URL contains characters not allowed in XML".into(),
        ));
    }
    Ok(())
}

/// What an SP's settings fix, parsed once: its signing pair (`None`: the tenant's), its
/// encryption target, its mappings.
#[derive(Clone)]
pub struct ParsedAddon {
    /// `cert` + `key`.
    pub signing_key: Option<Arc<SigningKey>>,
    /// `encryptionCert` + `encryptionPublicKey` + `encryptionAlgorithm`.
    pub encryption: Option<EncryptionTarget>,
    /// Default mappings merged with `mappings`.
    pub mappings: Vec<Mapping>,
}

/// The parsed form of an [`AddonSettings`], made on first use (at start-up, where the tenant is
/// validated) and reused by every login. Not part of the settings' value: never serialized,
/// empty in a clone, equal to any other.
#[derive(Default)]
pub struct ParseCache(std::sync::OnceLock<ParsedAddon>);

impl std::fmt::Debug for ParseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ParseCache(parsed)"
        } else {
            "ParseCache(empty)"
        })
    }
}

impl Clone for ParseCache {
    fn clone(&self) -> Self {
        ParseCache::default()
    }
}

impl PartialEq for ParseCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ParseCache {
    /// The parsed settings, parsing them the first time (a failure is not cached).
    pub fn get_or_parse(&self, addon: &AddonSettings) -> Result<&ParsedAddon, SamlError> {
        if let Some(p) = self.0.get() {
            return Ok(p);
        }
        let parsed = ParsedAddon {
            signing_key: signing_key_of(addon.cert.clone(), addon.key.clone())?,
            encryption: encryption_of(
                addon.encryption_cert.clone(),
                addon.encryption_public_key.clone(),
                addon.encryption_algorithm.as_deref(),
            )?,
            mappings: match &addon.mappings {
                Some(m) => parse_mappings(m)?,
                None => parse_mappings(&serde_json::Map::new())?,
            },
        };
        Ok(self.0.get_or_init(|| parsed))
    }
}

/// A signing pair from PEM text: both or neither (`None`: the tenant's key); the pair must match.
fn signing_key_of(cert: Option<String>, key: Option<String>) -> Result<Option<Arc<SigningKey>>, SamlError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => Ok(Some(Arc::new(SigningKey::from_pem(c.as_bytes(), k.as_bytes())?))),
        (Some(_), None) => Err(SamlError::Key(
            "a signing certificate was set without its private key (setKey / key)".into(),
        )),
        (None, Some(_)) => Err(SamlError::Key(
            "a signing key was set without its certificate (setCert / cert)".into(),
        )),
    }
}

/// An encryption target from the SP's certificate and public key (both or neither).
fn encryption_of(cert: Option<String>, key: Option<String>, algorithm: Option<&str>) -> Result<Option<EncryptionTarget>, SamlError> {
    let (c, k) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(SamlError::Encryption(
                "encryptionCert is set but encryptionPublicKey is missing".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(SamlError::Encryption(
                "encryptionPublicKey is set but encryptionCert is missing".into(),
            ));
        }
        (Some(c), Some(k)) => (c, k),
    };
    let cert = parse_cert("encryptionCert", &c)?;
    let pem = normalize_pem(&k);
    let public_key = match PKey::public_key_from_pem(pem.as_bytes()) {
        Ok(p) => p,
        Err(_) => parse_cert("encryptionPublicKey", &k)?.public_key()?,
    };
    if public_key.rsa().is_err() {
        return Err(SamlError::Encryption("encryptionPublicKey must be an RSA key".into()));
    }
    let cipher = match algorithm {
        None => BlockCipher::Aes256Gcm,
        Some(uri) => BlockCipher::from_uri(uri)?,
    };
    use base64::Engine;
    Ok(Some(EncryptionTarget {
        cert_b64: base64::engine::general_purpose::STANDARD.encode(cert.to_der()?),
        public_key,
        cipher,
    }))
}

/// Every setting resolved for one response.
pub struct ResolvedSettings {
    /// Issuer of Response and Assertion.
    pub issuer: String,
    /// Audience (always emitted).
    pub audience: String,
    /// `SubjectConfirmationData/@Recipient`.
    pub recipient: String,
    /// `Response/@Destination`.
    pub destination: String,
    /// Assertion lifetime in seconds.
    pub lifetime_seconds: u64,
    /// Sign the Response instead of the Assertion.
    pub sign_response: bool,
    /// Sign the Assertion too when the Response is signed (`signResponseAndAssertion`).
    pub sign_both: bool,
    /// NameID format.
    pub name_identifier_format: String,
    /// Claim names tried for the NameID.
    pub name_identifier_probes: Vec<String>,
    /// AuthnContextClassRef.
    pub authn_context_class_ref: String,
    /// Infer NameFormat.
    pub include_attribute_name_format: bool,
    /// Infer xsi:type.
    pub typed_attributes: bool,
    /// Signature algorithm.
    pub signature_algorithm: SignatureAlgorithm,
    /// Digest algorithm.
    pub digest_algorithm: DigestAlgorithm,
    /// Create the UPN claim.
    pub create_upn_claim: bool,
    /// Pass unmapped claims through.
    pub passthrough_claims_with_no_mapping: bool,
    /// Pass them without prefix.
    pub map_unknown_claims_as_is: bool,
    /// Add identity claims.
    pub map_identities: bool,
    /// Default mappings merged with the SP's.
    pub mappings: Vec<Mapping>,
    /// Prefix of pass-through claims.
    pub passthrough_prefix: String,
    /// The key that signs.
    pub signing_key: Arc<SigningKey>,
    /// Encryption, when both cert and public key are set.
    pub encryption: Option<EncryptionTarget>,
    /// NotBefore backdating.
    pub clock_skew_seconds: i64,
}

/// What the request side contributes to resolution.
#[derive(Debug, Clone, Default)]
pub struct RequestDefaults {
    /// Issuer of the AuthnRequest (default audience).
    pub request_issuer: Option<String>,
    /// The ACS URL in use (default Recipient and Destination).
    pub acs_url: String,
    /// The SP's client id (audience of last resort for IdP-initiated logins).
    pub client_id: String,
    /// The NameID format the request's policy decided (used unless the settings fix one).
    pub name_id_format: Option<String>,
    /// The AuthnContextClassRef the login met (used unless the settings set one).
    pub authn_context_class_ref: Option<String>,
}

fn positive_lifetime(v: &Value) -> Result<u64, SamlError> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 1.0 && n.fract() == 0.0 => Ok(n as u64),
        _ => Err(SamlError::Settings(format!(
            "lifetimeInSeconds must be a positive whole number, got {v}"
        ))),
    }
}

fn parse_mappings(m: &serde_json::Map<String, Value>) -> Result<Vec<Mapping>, SamlError> {
    let mut merged: Vec<Mapping> = DEFAULT_MAPPINGS
        .iter()
        .map(|(f, u)| Mapping {
            field: f.to_string(),
            uris: vec![u.to_string()],
        })
        .collect();
    for (field, target) in m {
        let uris: Vec<String> = match target {
            Value::String(s) if s.is_empty() => vec![],
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => {
                let uris: Option<Vec<String>> = items.iter().map(|i| i.as_str().map(str::to_string)).collect();
                let uris = uris.ok_or_else(|| SamlError::Settings(format!("mappings.{field}: must be a string or an array of strings")))?;
                if uris.len() > MAX_URIS_PER_MAPPING {
                    return Err(SamlError::Settings(format!(
                        "mappings.{field}: at most {MAX_URIS_PER_MAPPING} URIs"
                    )));
                }
                uris.into_iter().filter(|u| !u.is_empty()).collect()
            }
            _ => {
                return Err(SamlError::Settings(format!(
                    "mappings.{field}: must be a string or an array of strings"
                )));
            }
        };
        if field.is_empty() {
            return Err(SamlError::Settings("mappings: a field name must not be empty".into()));
        }
        match merged.iter_mut().find(|x| &x.field == field) {
            Some(existing) => existing.uris = uris,
            None => merged.push(Mapping {
                field: field.clone(),
                uris,
            }),
        }
    }
    Ok(merged)
}

fn parse_sig(s: &str) -> Result<SignatureAlgorithm, SamlError> {
    SignatureAlgorithm::parse(s).ok_or_else(|| SamlError::Settings(format!("signatureAlgorithm must be rsa-sha256 or rsa-sha1, got '{s}'")))
}

fn parse_digest(s: &str) -> Result<DigestAlgorithm, SamlError> {
    DigestAlgorithm::parse(s).ok_or_else(|| SamlError::Settings(format!("digestAlgorithm must be sha256 or sha1, got '{s}'")))
}

/// Parses a PEM certificate (line breaks repaired).
pub fn parse_cert(what: &str, pem: &str) -> Result<X509, SamlError> {
    X509::from_pem(normalize_pem(pem).as_bytes()).map_err(|_| SamlError::Key(format!("{what} is not a valid PEM certificate")))
}

fn pick<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
    a.clone().or_else(|| b.clone())
}

/// The signature and digest algorithms: the action's, else the SP's, else RSA-SHA256/SHA-256.
fn algorithms(addon: &AddonSettings, ov: &SamlOverrides) -> Result<(SignatureAlgorithm, DigestAlgorithm), SamlError> {
    let signature = match (ov.signature_algorithm, &addon.signature_algorithm) {
        (Some(a), _) => a,
        (None, Some(s)) => parse_sig(s)?,
        (None, None) => SignatureAlgorithm::RsaSha256,
    };
    let digest = match (ov.digest_algorithm, &addon.digest_algorithm) {
        (Some(a), _) => a,
        (None, Some(s)) => parse_digest(s)?,
        (None, None) => DigestAlgorithm::Sha256,
    };
    Ok((signature, digest))
}

/// The signing pair and the encryption target. What the SP's settings fix is parsed once
/// (cached on the settings); an action's override is parsed for its login only.
fn keys(
    tenant: &TenantSamlDefaults,
    addon: &AddonSettings,
    ov: &SamlOverrides,
) -> Result<(Arc<SigningKey>, Option<EncryptionTarget>), SamlError> {
    let parsed = addon.parsed.get_or_parse(addon)?;
    let signing_key = if ov.cert.is_none() && ov.key.is_none() {
        parsed.signing_key.clone().unwrap_or_else(|| tenant.signing_key.clone())
    } else {
        signing_key_of(pick(&ov.cert, &addon.cert), pick(&ov.key, &addon.key))?.unwrap_or_else(|| tenant.signing_key.clone())
    };
    let encryption = if ov.encryption_cert.is_none() && ov.encryption_public_key.is_none() {
        parsed.encryption.clone()
    } else {
        encryption_of(
            pick(&ov.encryption_cert, &addon.encryption_cert),
            pick(&ov.encryption_public_key, &addon.encryption_public_key),
            addon.encryption_algorithm.as_deref(),
        )?
    };
    Ok((signing_key, encryption))
}

/// Resolves every setting: action override, else SP settings, else tenant default.
pub fn resolve(
    tenant: &TenantSamlDefaults,
    addon: &AddonSettings,
    ov: &SamlOverrides,
    req: &RequestDefaults,
) -> Result<ResolvedSettings, SamlError> {
    let lifetime_seconds = match (ov.lifetime_in_seconds, &addon.lifetime_in_seconds) {
        (Some(n), _) => n,
        (None, Some(v)) => positive_lifetime(v)?,
        (None, None) => 3600,
    };
    let (signature_algorithm, digest_algorithm) = algorithms(addon, ov)?;
    check_xml_text(addon, req)?;
    let audience = pick(&ov.audience, &addon.audience)
        .or_else(|| req.request_issuer.clone())
        .unwrap_or_else(|| req.client_id.clone());
    if audience.is_empty() {
        return Err(SamlError::Settings("no audience: set `audience` in the SP settings".into()));
    }
    if req.acs_url.is_empty() && (pick(&ov.recipient, &addon.recipient).is_none() || pick(&ov.destination, &addon.destination).is_none()) {
        return Err(SamlError::Settings(
            "no ACS URL: the request has none and the SP has no callback".into(),
        ));
    }
    let (signing_key, encryption) = keys(tenant, addon, ov)?;
    let mappings = addon.parsed.get_or_parse(addon)?.mappings.clone();

    Ok(ResolvedSettings {
        issuer: pick(&ov.issuer, &addon.issuer).unwrap_or_else(|| tenant.default_issuer()),
        audience,
        recipient: pick(&ov.recipient, &addon.recipient).unwrap_or_else(|| req.acs_url.clone()),
        destination: pick(&ov.destination, &addon.destination).unwrap_or_else(|| req.acs_url.clone()),
        lifetime_seconds,
        sign_response: pick(&ov.sign_response, &addon.sign_response).unwrap_or(false) || addon.sign_response_and_assertion == Some(true),
        sign_both: addon.sign_response_and_assertion == Some(true),
        name_identifier_format: pick(&ov.name_identifier_format, &addon.name_identifier_format)
            .or_else(|| req.name_id_format.clone())
            .unwrap_or_else(|| super::ns::NAMEID_UNSPECIFIED.to_string()),
        name_identifier_probes: pick(&ov.name_identifier_probes, &addon.name_identifier_probes)
            .unwrap_or_else(|| DEFAULT_PROBES.iter().map(|s| s.to_string()).collect()),
        authn_context_class_ref: pick(&ov.authn_context_class_ref, &addon.authn_context_class_ref)
            .filter(|s| !s.is_empty())
            .or_else(|| req.authn_context_class_ref.clone())
            .unwrap_or_else(|| super::ns::AC_UNSPECIFIED.to_string()),
        include_attribute_name_format: pick(&ov.include_attribute_name_format, &addon.include_attribute_name_format).unwrap_or(true),
        typed_attributes: pick(&ov.typed_attributes, &addon.typed_attributes).unwrap_or(true),
        signature_algorithm,
        digest_algorithm,
        create_upn_claim: pick(&ov.create_upn_claim, &addon.create_upn_claim).unwrap_or(true),
        passthrough_claims_with_no_mapping: pick(&ov.passthrough_claims_with_no_mapping, &addon.passthrough_claims_with_no_mapping)
            .unwrap_or(true),
        map_unknown_claims_as_is: pick(&ov.map_unknown_claims_as_is, &addon.map_unknown_claims_as_is).unwrap_or(false),
        map_identities: pick(&ov.map_identities, &addon.map_identities).unwrap_or(true),
        mappings,
        passthrough_prefix: tenant.passthrough_prefix.clone(),
        signing_key,
        encryption,
        clock_skew_seconds: tenant.clock_skew_seconds,
    })
}

/// The request-signing certificate in force (action override, else SP settings), if any.
pub fn request_signing_cert(addon: &AddonSettings, ov: &SamlOverrides) -> Result<Option<X509>, SamlError> {
    match ov.signing_cert.as_ref().or(addon.signing_cert.as_ref()) {
        None => Ok(None),
        Some(pem) => parse_cert("signingCert", pem).map(Some),
    }
}
