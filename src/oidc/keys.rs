//! RS256 signing keys: parsed once, `kid` = RFC 7638 thumbprint, JWKS with rotation.

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use serde_json::{Value, json};

use super::OidcError;
use crate::rsa_sha256::RsaSha256;
use crate::util::normalize_pem;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The public half of a key as a JWK.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicJwk {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
}

impl PublicJwk {
    /// The JWK JSON.
    pub fn to_json(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": self.n, "e": self.e})
    }

    fn from_key<T: openssl::pkey::HasPublic>(key: &PKey<T>) -> Result<Self, OidcError> {
        let rsa = key.rsa().map_err(|_| OidcError::Key("the signing key must be an RSA key".into()))?;
        let n = B64URL.encode(rsa.n().to_vec());
        let e = B64URL.encode(rsa.e().to_vec());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!("{{\"e\":\"{e}\",\"kty\":\"RSA\",\"n\":\"{n}\"}}");
        let digest = openssl::hash::hash(MessageDigest::sha256(), canonical.as_bytes())?;
        Ok(PublicJwk {
            kid: B64URL.encode(digest),
            n,
            e,
        })
    }
}

/// Verifies a compact RS256 JWT with the key `key_of` finds for its header's `kid`, and returns
/// its claims. Any other algorithm (`none`, HS256, ...) is refused before any crypto.
fn verify_rs256<'k, T: openssl::pkey::HasPublic + 'k>(
    token: &str,
    key_of: impl Fn(&str) -> Option<&'k openssl::pkey::PKeyRef<T>>,
) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&B64URL.decode(h).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "RS256" {
        return None;
    }
    let key = key_of(header.get("kid")?.as_str()?)?;
    let sig = B64URL.decode(sig).ok()?;
    let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), key).ok()?;
    v.update(h.as_bytes()).ok()?;
    v.update(b".").ok()?;
    v.update(p.as_bytes()).ok()?;
    if !v.verify(&sig).ok()? {
        return None;
    }
    serde_json::from_slice(&B64URL.decode(p).ok()?).ok()
}

/// A private key that signs JWTs, parsed once.
#[derive(Clone)]
pub struct JwtSigner {
    key: RsaSha256,
    jwk: PublicJwk,
    header_b64: String,
    /// The header of access tokens (RFC 9068: `typ` `at+jwt`).
    at_header_b64: String,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner").field("kid", &self.jwk.kid).finish_non_exhaustive()
    }
}

impl JwtSigner {
    /// Parses a PEM RSA private key (PKCS#1 or PKCS#8).
    pub fn from_pem(pem: &str) -> Result<Self, OidcError> {
        let key =
            PKey::private_key_from_pem(normalize_pem(pem).as_bytes()).map_err(|_| OidcError::Key("not a valid PEM private key".into()))?;
        Self::from_key(key)
    }

    /// Wraps an already parsed key (e.g. the tenant key shared with the SAML issuer).
    pub fn from_key(key: PKey<Private>) -> Result<Self, OidcError> {
        let jwk = PublicJwk::from_key(&key)?;
        let header = json!({"alg": "RS256", "kid": jwk.kid, "typ": "JWT"});
        let header_b64 = B64URL.encode(header.to_string());
        let at_header = json!({"alg": "RS256", "kid": jwk.kid, "typ": "at+jwt"});
        let at_header_b64 = B64URL.encode(at_header.to_string());
        Ok(JwtSigner {
            key: RsaSha256::new(key),
            jwk,
            header_b64,
            at_header_b64,
        })
    }

    /// Reads a PEM file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, OidcError> {
        let pem = std::fs::read_to_string(path).map_err(|e| OidcError::Key(format!("{}: {e}", path.display())))?;
        Self::from_pem(&pem)
    }

    /// The public JWK.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// The public key in PEM (SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> Result<String, OidcError> {
        let pem = self.key.key().public_key_to_pem()?;
        String::from_utf8(pem).map_err(|e| OidcError::Key(e.to_string()))
    }

    /// Verifies a compact RS256 JWT this key signed (header `kid` must be this key's) and
    /// returns its claims. Expiry and audience are the caller's to check.
    pub fn verify(&self, token: &str) -> Option<serde_json::Map<String, Value>> {
        verify_rs256(token, |kid| (kid == self.jwk.kid).then_some(&**self.key.key()))
    }

    /// Signs the claims as a compact RS256 JWT (`typ` `JWT`).
    pub fn sign(&self, claims: &serde_json::Map<String, Value>) -> Result<String, OidcError> {
        self.sign_with_header(&self.header_b64, claims)
    }

    /// Signs an access token (RFC 9068: `typ` `at+jwt`).
    pub fn sign_access_token(&self, claims: &serde_json::Map<String, Value>) -> Result<String, OidcError> {
        self.sign_with_header(&self.at_header_b64, claims)
    }

    /// Signs claims under any JOSE header (`alg` must say RS256: this key signs with it); for
    /// test fixtures that need an unusual header (another `kid`, another `typ`).
    pub fn sign_with_header_json(&self, header: &Value, claims: &serde_json::Map<String, Value>) -> Result<String, OidcError> {
        self.sign_with_header(&B64URL.encode(header.to_string()), claims)
    }

    /// Signs a token with another `typ` (e.g. `logout+jwt`).
    pub fn sign_typed(&self, typ: &str, claims: &serde_json::Map<String, Value>) -> Result<String, OidcError> {
        let header = B64URL.encode(json!({"alg": "RS256", "kid": self.jwk.kid, "typ": typ}).to_string());
        self.sign_with_header(&header, claims)
    }

    fn sign_with_header(&self, header_b64: &str, claims: &serde_json::Map<String, Value>) -> Result<String, OidcError> {
        let payload = serde_json::to_vec(claims).map_err(|e| OidcError::Key(e.to_string()))?;
        let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 350);
        token.push_str(header_b64);
        token.push('.');
        B64URL.encode_string(payload, &mut token);
        let sig = self.key.sign(token.as_bytes())?;
        token.push('.');
        B64URL.encode_string(sig, &mut token);
        Ok(token)
    }

    /// A raw RS256 signature of `data` (the benchmark's baseline).
    pub fn raw_sign(&self, data: &[u8]) -> Result<Vec<u8>, OidcError> {
        Ok(self.key.sign(data)?)
    }
}

/// The keys of a tenant: the one that signs, a next one published before it signs, and retired
/// ones still published so tokens they signed keep verifying.
#[derive(Debug)]
pub struct KeySet {
    /// Signs every token.
    pub current: JwtSigner,
    /// Published, not yet signing.
    pub next: Option<PublicJwk>,
    /// Published, no longer signing.
    pub retired: Vec<PublicJwk>,
    /// The retired keys' public halves, parsed once: tokens they signed still verify.
    retired_keys: Vec<(String, PKey<openssl::pkey::Public>)>,
}

impl KeySet {
    /// A key set with only a current key.
    pub fn new(current: JwtSigner) -> Self {
        KeySet {
            current,
            next: None,
            retired: Vec::new(),
            retired_keys: Vec::new(),
        }
    }

    /// Publishes the public half of `next` ahead of the rotation.
    pub fn with_next(mut self, next: &JwtSigner) -> Self {
        self.next = Some(next.jwk().clone());
        self
    }

    /// Rotates: `next` starts signing; the old current key stays published as retired.
    pub fn rotate(self, next: JwtSigner) -> Self {
        let mut retired = self.retired;
        retired.push(self.current.jwk().clone());
        let mut retired_keys = self.retired_keys;
        let public = self
            .current
            .key
            .key()
            .public_key_to_der()
            .and_then(|der| PKey::public_key_from_der(&der));
        match public {
            Ok(k) => retired_keys.push((self.current.jwk.kid.clone(), k)),
            // Published but not verifiable here: tokens it signed are refused (fail closed).
            Err(e) => tracing::error!(error = %e, "cannot keep the retired key's public half"),
        }
        KeySet {
            current: next,
            next: None,
            retired,
            retired_keys,
        }
    }

    /// Verifies a token signed by the current key or a retired one (by `kid`), and returns its
    /// claims. A key published as `next` has signed nothing yet, so it verifies nothing.
    pub fn verify(&self, token: &str) -> Option<serde_json::Map<String, Value>> {
        if let Some(claims) = self.current.verify(token) {
            return Some(claims);
        }
        verify_rs256(token, |kid| self.retired_keys.iter().find(|(k, _)| k == kid).map(|(_, key)| &**key))
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = std::iter::once(self.current.jwk())
            .chain(self.next.iter())
            .chain(self.retired.iter())
            .map(PublicJwk::to_json)
            .collect();
        json!({ "keys": keys })
    }
}
