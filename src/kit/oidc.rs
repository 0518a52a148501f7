//! `idpipe kit oidc`: an ID token and an access token as idpipe issues them, the JWKS that
//! verifies them, and broken variants each a correct relying party or resource server must
//! refuse: expired, `nbf` in the future, wrong `aud`, wrong `iss`, wrong `nonce`, `alg: none`,
//! HS256 keyed with the RSA public key, an unknown `kid`, the `kid` of a retired key, another
//! key's signature, an access token whose `typ` is not `at+jwt` (RFC 9068), a modified payload.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::{Fixture, KitError, Verdict, derived, write};
use crate::oidc::JwtSigner;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What the kit is made for.
#[derive(Debug, Clone)]
pub struct OidcKitInput {
    /// The app's `client_id` (the ID token's audience).
    pub client_id: String,
    /// The issuer the app expects (`iss`).
    pub issuer: String,
    /// The API identifier (the access token's audience).
    pub audience: String,
    /// The user (`sub` = `user_id`, and its email and name if present).
    pub user: Map<String, Value>,
    /// Unix time the tokens are issued at.
    pub now: i64,
    /// Seed of token ids and the nonce.
    pub seed: String,
}

/// The keys: the one the JWKS publishes, one retired (no longer published), and a stranger's.
pub struct OidcKitKeys<'a> {
    /// Signs the valid tokens; its public key is the JWKS.
    pub current: &'a JwtSigner,
    /// A key that used to sign and has been removed from the JWKS.
    pub retired: &'a JwtSigner,
    /// A key the app never trusted.
    pub other: &'a JwtSigner,
    /// The current key's public key in PEM (the HS256 confusion attack keys HMAC with it).
    pub current_public_pem: &'a str,
}

fn encode(v: &Value) -> String {
    B64URL.encode(v.to_string())
}

fn hs256(key: &[u8], header: &Value, claims: &Map<String, Value>) -> Result<String, KitError> {
    let input = format!("{}.{}", encode(header), encode(&Value::Object(claims.clone())));
    let k = openssl::pkey::PKey::hmac(key).map_err(|e| KitError::Sign(e.to_string()))?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &k).map_err(|e| KitError::Sign(e.to_string()))?;
    let sig = signer
        .sign_oneshot_to_vec(input.as_bytes())
        .map_err(|e| KitError::Sign(e.to_string()))?;
    Ok(format!("{input}.{}", B64URL.encode(sig)))
}

/// Writes the kit into `out`; returns the manifest's fixtures.
pub fn write_kit(input: &OidcKitInput, keys: &OidcKitKeys<'_>, out: &std::path::Path) -> Result<Vec<Fixture>, KitError> {
    std::fs::create_dir_all(out).map_err(|e| KitError::Io {
        path: out.display().to_string(),
        reason: e.to_string(),
    })?;
    let sub = input
        .user
        .get("user_id")
        .and_then(Value::as_str)
        .ok_or_else(|| KitError::Input("the user has no user_id".into()))?
        .to_string();
    let nonce = format!("n-{}", derived(&input.seed, "nonce"));
    let now = input.now;
    let mut id = Map::new();
    id.insert("iss".into(), input.issuer.clone().into());
    id.insert("sub".into(), sub.clone().into());
    id.insert("aud".into(), input.client_id.clone().into());
    id.insert("iat".into(), now.into());
    id.insert("exp".into(), (now + 36_000).into());
    id.insert("auth_time".into(), now.into());
    id.insert("nonce".into(), nonce.clone().into());
    for k in ["email", "email_verified", "name"] {
        if let Some(v) = input.user.get(k) {
            id.insert(k.into(), v.clone());
        }
    }
    let mut at = Map::new();
    at.insert("iss".into(), input.issuer.clone().into());
    at.insert("sub".into(), sub.into());
    at.insert("aud".into(), input.audience.clone().into());
    at.insert("client_id".into(), input.client_id.clone().into());
    at.insert("scope".into(), "openid profile email".into());
    at.insert("iat".into(), now.into());
    at.insert("exp".into(), (now + 3_600).into());
    at.insert("jti".into(), derived(&input.seed, "access_token").into());

    let sign = |s: &JwtSigner, c: &Map<String, Value>| s.sign(c).map_err(|e| KitError::Sign(e.to_string()));
    let with = |base: &Map<String, Value>, k: &str, v: Value| {
        let mut c = base.clone();
        c.insert(k.into(), v);
        c
    };
    let kid = keys.current.jwk().kid.clone();
    let mut fixtures: Vec<(Fixture, String)> = Vec::new();
    let mut add = |file: &str, kind: &str, description: &str, check: &str, verdict: Verdict, token: String| {
        fixtures.push((
            Fixture {
                file: file.into(),
                kind: kind.into(),
                description: description.into(),
                check: check.into(),
                verdict,
            },
            token,
        ));
    };
    use Verdict::{Accept, Reject};
    let valid_id = sign(keys.current, &id)?;
    add(
        "id_token.valid.jwt",
        "id_token",
        "A valid ID token (RS256, the JWKS's key).",
        "none",
        Accept,
        valid_id.clone(),
    );
    add(
        "access_token.valid.jwt",
        "access_token",
        "A valid access token (RFC 9068: typ at+jwt).",
        "none",
        Accept,
        keys.current.sign_access_token(&at).map_err(|e| KitError::Sign(e.to_string()))?,
    );
    add(
        "id_token.expired.jwt",
        "id_token",
        "exp is an hour before now.",
        "exp",
        Reject,
        sign(
            keys.current,
            &with(&with(&id, "exp", (now - 3_600).into()), "iat", (now - 7_200).into()),
        )?,
    );
    add(
        "id_token.nbf-future.jwt",
        "id_token",
        "nbf is an hour after now.",
        "nbf",
        Reject,
        sign(keys.current, &with(&id, "nbf", (now + 3_600).into()))?,
    );
    add(
        "id_token.wrong-aud.jwt",
        "id_token",
        "aud is another client.",
        "aud",
        Reject,
        sign(keys.current, &with(&id, "aud", "another-client".into()))?,
    );
    add(
        "id_token.wrong-iss.jwt",
        "id_token",
        "iss is another issuer.",
        "iss",
        Reject,
        sign(keys.current, &with(&id, "iss", "https://evil.example.com/".into()))?,
    );
    add(
        "id_token.wrong-nonce.jwt",
        "id_token",
        "nonce is not the one the app sent.",
        "nonce",
        Reject,
        sign(keys.current, &with(&id, "nonce", "n-forged".into()))?,
    );
    add(
        "id_token.alg-none.jwt",
        "id_token",
        "alg none, no signature.",
        "alg",
        Reject,
        format!(
            "{}.{}.",
            encode(&json!({"alg": "none", "typ": "JWT"})),
            encode(&Value::Object(id.clone()))
        ),
    );
    add(
        "id_token.hs256-public-key.jwt",
        "id_token",
        "HS256 keyed with the RSA public key (PEM) of the JWKS: the algorithm-confusion attack.",
        "alg",
        Reject,
        hs256(
            keys.current_public_pem.as_bytes(),
            &json!({"alg": "HS256", "kid": kid, "typ": "JWT"}),
            &id,
        )?,
    );
    add(
        "id_token.unknown-kid.jwt",
        "id_token",
        "Signed by the JWKS's key but naming a kid the JWKS does not have.",
        "kid",
        Reject,
        keys.current
            .sign_with_header_json(&json!({"alg": "RS256", "kid": "unknown-kid", "typ": "JWT"}), &id)
            .map_err(|e| KitError::Sign(e.to_string()))?,
    );
    add(
        "id_token.retired-kid.jwt",
        "id_token",
        "Signed by a retired key (its kid is no longer in the JWKS).",
        "kid",
        Reject,
        sign(keys.retired, &id)?,
    );
    add(
        "id_token.other-key.jwt",
        "id_token",
        "Names the JWKS's kid but is signed by another key.",
        "signature",
        Reject,
        keys.other
            .sign_with_header_json(&json!({"alg": "RS256", "kid": kid, "typ": "JWT"}), &id)
            .map_err(|e| KitError::Sign(e.to_string()))?,
    );
    // The valid token with its payload changed (the signature no longer matches).
    let parts: Vec<&str> = valid_id.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        encode(&Value::Object(with(&id, "sub", "admin".into()))),
        parts[2]
    );
    add(
        "id_token.modified-payload.jwt",
        "id_token",
        "The valid ID token with sub changed after signing.",
        "signature",
        Reject,
        tampered,
    );
    add(
        "access_token.typ-jwt.jwt",
        "access_token",
        "An access token with typ JWT instead of at+jwt (RFC 9068 section 4): it could be an ID token passed off as an access token.",
        "typ",
        Reject,
        keys.current.sign(&at).map_err(|e| KitError::Sign(e.to_string()))?,
    );
    add(
        "access_token.expired.jwt",
        "access_token",
        "An access token past exp.",
        "exp",
        Reject,
        keys.current
            .sign_access_token(&with(&with(&at, "exp", (now - 60).into()), "iat", (now - 3_660).into()))
            .map_err(|e| KitError::Sign(e.to_string()))?,
    );
    add(
        "access_token.wrong-aud.jwt",
        "access_token",
        "An access token for another API.",
        "aud",
        Reject,
        keys.current
            .sign_access_token(&with(&at, "aud", "https://other-api.example.com".into()))
            .map_err(|e| KitError::Sign(e.to_string()))?,
    );

    let jwks = json!({"keys": [keys.current.jwk().to_json()]});
    write(out, "jwks.json", &serde_json::to_string_pretty(&jwks).unwrap_or_default())?;
    for (f, token) in &fixtures {
        write(out, &f.file, token)?;
    }
    let list: Vec<Fixture> = fixtures.into_iter().map(|(f, _)| f).collect();
    let manifest = json!({
        "kit": "oidc",
        "issuer": input.issuer,
        "client_id": input.client_id,
        "audience": input.audience,
        "nonce": nonce,
        "now": now,
        "seed": input.seed,
        "jwks": "jwks.json",
        "algorithms": ["RS256"],
        "fixtures": list,
    });
    super::write_manifest(out, &manifest)?;
    Ok(list)
}
