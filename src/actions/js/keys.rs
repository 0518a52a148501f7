//! Keys for actions' `crypto.subtle` and `node:crypto` (importKey/exportKey, sign/verify,
//! createPublicKey, createVerify): parsing and signing are OpenSSL's. A key crosses into the
//! script as `{type, der}`: the raw secret (HMAC), SPKI (public) or PKCS#8 (private) DER in
//! base64, never as an object the script could use to reach OpenSSL otherwise.

use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

fn md(name: &str) -> Result<MessageDigest, String> {
    Ok(match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "SHA-1" | "SHA1" | "RSA-SHA1" => MessageDigest::sha1(),
        "SHA-256" | "SHA256" | "RSA-SHA256" => MessageDigest::sha256(),
        "SHA-384" | "SHA384" | "RSA-SHA384" => MessageDigest::sha384(),
        "SHA-512" | "SHA512" | "RSA-SHA512" => MessageDigest::sha512(),
        other => return Err(format!("NotSupportedError: unsupported hash {other}")),
    })
}

fn curve(name: &str) -> Result<EcGroup, String> {
    let nid = match name {
        "P-256" | "prime256v1" => Nid::X9_62_PRIME256V1,
        "P-384" | "secp384r1" => Nid::SECP384R1,
        "P-521" | "secp521r1" => Nid::SECP521R1,
        other => return Err(format!("NotSupportedError: unsupported curve {other}")),
    };
    EcGroup::from_curve_name(nid).map_err(e)
}

fn curve_name(group: &openssl::ec::EcGroupRef) -> &'static str {
    match group.curve_name() {
        Some(Nid::X9_62_PRIME256V1) => "P-256",
        Some(Nid::SECP384R1) => "P-384",
        Some(Nid::SECP521R1) => "P-521",
        _ => "unknown",
    }
}

fn field_bytes(group: &openssl::ec::EcGroupRef) -> usize {
    (group.degree() as usize).div_ceil(8)
}

fn bn(jwk: &Value, k: &str) -> Result<BigNum, String> {
    let s = jwk
        .get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("DataError: the JWK has no '{k}'"))?;
    BigNum::from_slice(&B64URL.decode(s.trim_end_matches('=')).map_err(e)?).map_err(e)
}

fn padded(n: &openssl::bn::BigNumRef, len: usize) -> Result<String, String> {
    Ok(B64URL.encode(n.to_vec_padded(len as i32).map_err(e)?))
}

/// A key as the script holds it.
fn handle(kind: &str, der: &[u8], extra: Value) -> String {
    let mut v = json!({"type": kind, "der": B64.encode(der)});
    if let (Some(o), Value::Object(x)) = (v.as_object_mut(), extra) {
        o.extend(x);
    }
    v.to_string()
}

fn describe_public(p: &PKey<Public>) -> Value {
    match p.id() {
        Id::RSA => p.rsa().map_or(json!({}), |r| json!({"kty": "RSA", "modulusLength": r.size() * 8})),
        Id::EC => p
            .ec_key()
            .map_or(json!({}), |k| json!({"kty": "EC", "namedCurve": curve_name(k.group())})),
        _ => json!({}),
    }
}

fn from_public(p: PKey<Public>) -> Result<String, String> {
    Ok(handle("public", &p.public_key_to_der().map_err(e)?, describe_public(&p)))
}

fn from_private(p: PKey<Private>) -> Result<String, String> {
    let public = PKey::public_key_from_der(&p.public_key_to_der().map_err(e)?).map_err(e)?;
    Ok(handle("private", &p.private_key_to_pkcs8().map_err(e)?, describe_public(&public)))
}

/// `key-import`: `format` raw | spki | pkcs8 | jwk | pem; `data` the bytes (JSON text for a JWK).
pub(super) fn import(format: &str, data: &[u8]) -> Result<String, String> {
    match format {
        "raw" => Ok(handle("secret", data, json!({"length": data.len() * 8}))),
        "spki" => from_public(PKey::public_key_from_der(data).map_err(|x| format!("DataError: {x}"))?),
        "pkcs8" => from_private(PKey::private_key_from_pkcs8(data).map_err(|x| format!("DataError: {x}"))?),
        "pem" => {
            let text = std::str::from_utf8(data).map_err(e)?;
            if text.contains("PRIVATE KEY-----") {
                from_private(PKey::private_key_from_pem(data).map_err(|x| format!("DataError: {x}"))?)
            } else if text.contains("BEGIN CERTIFICATE") {
                let cert = openssl::x509::X509::from_pem(data).map_err(e)?;
                from_public(cert.public_key().map_err(e)?)
            } else if text.contains("BEGIN RSA PUBLIC KEY") {
                from_public(PKey::from_rsa(Rsa::public_key_from_pem_pkcs1(data).map_err(e)?).map_err(e)?)
            } else {
                from_public(PKey::public_key_from_pem(data).map_err(|x| format!("DataError: {x}"))?)
            }
        }
        "jwk" => {
            let jwk: Value = serde_json::from_slice(data).map_err(e)?;
            match jwk.get("kty").and_then(Value::as_str) {
                Some("oct") => {
                    let k = B64URL
                        .decode(jwk.get("k").and_then(Value::as_str).unwrap_or_default().trim_end_matches('='))
                        .map_err(e)?;
                    Ok(handle("secret", &k, json!({"length": k.len() * 8})))
                }
                Some("RSA") if jwk.get("d").is_some() => {
                    let rsa = Rsa::from_private_components(
                        bn(&jwk, "n")?,
                        bn(&jwk, "e")?,
                        bn(&jwk, "d")?,
                        bn(&jwk, "p")?,
                        bn(&jwk, "q")?,
                        bn(&jwk, "dp")?,
                        bn(&jwk, "dq")?,
                        bn(&jwk, "qi")?,
                    )
                    .map_err(e)?;
                    from_private(PKey::from_rsa(rsa).map_err(e)?)
                }
                Some("RSA") => {
                    from_public(PKey::from_rsa(Rsa::from_public_components(bn(&jwk, "n")?, bn(&jwk, "e")?).map_err(e)?).map_err(e)?)
                }
                Some("EC") => {
                    let group = curve(jwk.get("crv").and_then(Value::as_str).unwrap_or_default())?;
                    let (x, y) = (bn(&jwk, "x")?, bn(&jwk, "y")?);
                    let public = EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(|x| format!("DataError: {x}"))?;
                    if jwk.get("d").is_some() {
                        let d = bn(&jwk, "d")?;
                        let key = EcKey::from_private_components(&group, &d, public.public_key()).map_err(e)?;
                        key.check_key().map_err(|x| format!("DataError: {x}"))?;
                        from_private(PKey::from_ec_key(key).map_err(e)?)
                    } else {
                        from_public(PKey::from_ec_key(public).map_err(e)?)
                    }
                }
                other => Err(format!("NotSupportedError: JWK kty {other:?}")),
            }
        }
        other => Err(format!("NotSupportedError: key format {other}")),
    }
}

fn der_of(key: &Value) -> Result<Vec<u8>, String> {
    B64.decode(key.get("der").and_then(Value::as_str).unwrap_or_default()).map_err(e)
}

fn public_of(key: &Value) -> Result<PKey<Public>, String> {
    let der = der_of(key)?;
    match key.get("type").and_then(Value::as_str) {
        Some("public") => PKey::public_key_from_der(&der).map_err(e),
        Some("private") => {
            let p = PKey::private_key_from_pkcs8(&der).map_err(e)?;
            PKey::public_key_from_der(&p.public_key_to_der().map_err(e)?).map_err(e)
        }
        _ => Err("InvalidAccessError: not an asymmetric key".into()),
    }
}

/// `key-export`: `jwk` (JSON text), `raw` (a secret's bytes), `spki`, `pkcs8`, or `pem`.
pub(super) fn export(format: &str, key: &Value) -> Result<Vec<u8>, String> {
    let der = der_of(key)?;
    let kind = key.get("type").and_then(Value::as_str).unwrap_or_default();
    match (format, kind) {
        ("raw", "secret") | ("spki", "public") | ("pkcs8", "private") => Ok(der),
        // The public half of a private key.
        ("spki", "private") => public_of(key)?.public_key_to_der().map_err(e),
        ("pem", "public") => PKey::public_key_from_der(&der).and_then(|p| p.public_key_to_pem()).map_err(e),
        ("pem", "private") => PKey::private_key_from_pkcs8(&der)
            .and_then(|p| p.private_key_to_pem_pkcs8())
            .map_err(e),
        ("jwk", "secret") => Ok(json!({"kty": "oct", "k": B64URL.encode(&der)}).to_string().into_bytes()),
        ("jwk", "public") | ("jwk", "private") => {
            let private = if kind == "private" {
                Some(PKey::private_key_from_pkcs8(&der).map_err(e)?)
            } else {
                None
            };
            let public = public_of(key)?;
            let jwk = match public.id() {
                Id::RSA => {
                    let r = public.rsa().map_err(e)?;
                    let mut j = json!({"kty": "RSA", "n": B64URL.encode(r.n().to_vec()), "e": B64URL.encode(r.e().to_vec())});
                    if let Some(p) = &private {
                        let r = p.rsa().map_err(e)?;
                        let enc = |x: Option<&openssl::bn::BigNumRef>| x.map(|b| B64URL.encode(b.to_vec()));
                        j["d"] = B64URL.encode(r.d().to_vec()).into();
                        j["p"] = enc(r.p()).into();
                        j["q"] = enc(r.q()).into();
                        j["dp"] = enc(r.dmp1()).into();
                        j["dq"] = enc(r.dmq1()).into();
                        j["qi"] = enc(r.iqmp()).into();
                    }
                    j
                }
                Id::EC => {
                    let k = public.ec_key().map_err(e)?;
                    let (mut x, mut y) = (BigNum::new().map_err(e)?, BigNum::new().map_err(e)?);
                    let mut ctx = BigNumContext::new().map_err(e)?;
                    k.public_key().affine_coordinates(k.group(), &mut x, &mut y, &mut ctx).map_err(e)?;
                    let n = field_bytes(k.group());
                    let mut j = json!({"kty": "EC", "crv": curve_name(k.group()), "x": padded(&x, n)?, "y": padded(&y, n)?});
                    if let Some(p) = &private {
                        j["d"] = padded(p.ec_key().map_err(e)?.private_key(), n)?.into();
                    }
                    j
                }
                _ => return Err("NotSupportedError: key type".into()),
            };
            Ok(jwk.to_string().into_bytes())
        }
        _ => Err(format!("InvalidAccessError: cannot export a {kind} key as {format}")),
    }
}

/// Signs `data`. `alg`: `{name, hash, saltLength}` (WebCrypto names; ECDSA signatures as r||s),
/// or `{name: "node", hash, dsaEncoding}` (`node:crypto`: PKCS#1 v1.5 for RSA, DER for ECDSA).
pub(super) fn sign(alg: &Value, key: &Value, data: &[u8]) -> Result<Vec<u8>, String> {
    let name = alg.get("name").and_then(Value::as_str).unwrap_or_default();
    let digest = md(alg.get("hash").and_then(Value::as_str).unwrap_or("SHA-256"))?;
    let der = der_of(key)?;
    if name == "HMAC" {
        let k = PKey::hmac(&der).map_err(e)?;
        return Signer::new(digest, &k).and_then(|mut s| s.sign_oneshot_to_vec(data)).map_err(e);
    }
    if key.get("type").and_then(Value::as_str) != Some("private") {
        return Err("InvalidAccessError: signing needs a private key".into());
    }
    let p = PKey::private_key_from_pkcs8(&der).map_err(e)?;
    let mut signer = Signer::new(digest, &p).map_err(e)?;
    if name == "RSA-PSS" {
        signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(e)?;
        let salt = alg.get("saltLength").and_then(Value::as_i64).unwrap_or(32) as i32;
        signer.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt)).map_err(e)?;
        signer.set_rsa_mgf1_md(digest).map_err(e)?;
    }
    let sig = signer.sign_oneshot_to_vec(data).map_err(e)?;
    if p.id() == Id::EC && (name == "ECDSA" || alg.get("dsaEncoding").and_then(Value::as_str) == Some("ieee-p1363")) {
        let n = field_bytes(p.ec_key().map_err(e)?.group());
        let s = EcdsaSig::from_der(&sig).map_err(e)?;
        let mut out = s.r().to_vec_padded(n as i32).map_err(e)?;
        out.extend(s.s().to_vec_padded(n as i32).map_err(e)?);
        return Ok(out);
    }
    Ok(sig)
}

/// Verifies `sig` over `data` (the forms of [`sign`]); a malformed signature is `false`.
pub(super) fn verify(alg: &Value, key: &Value, sig: &[u8], data: &[u8]) -> Result<bool, String> {
    let name = alg.get("name").and_then(Value::as_str).unwrap_or_default();
    let digest = md(alg.get("hash").and_then(Value::as_str).unwrap_or("SHA-256"))?;
    if name == "HMAC" {
        let expected = sign(alg, key, data)?;
        return Ok(crate::util::constant_time_eq(&expected, sig));
    }
    let p = public_of(key)?;
    let sig = if p.id() == Id::EC && (name == "ECDSA" || alg.get("dsaEncoding").and_then(Value::as_str) == Some("ieee-p1363")) {
        let n = field_bytes(p.ec_key().map_err(e)?.group());
        if sig.len() != 2 * n {
            return Ok(false);
        }
        let r = BigNum::from_slice(&sig[..n]).map_err(e)?;
        let s = BigNum::from_slice(&sig[n..]).map_err(e)?;
        EcdsaSig::from_private_components(r, s).and_then(|s| s.to_der()).map_err(e)?
    } else {
        sig.to_vec()
    };
    let mut verifier = Verifier::new(digest, &p).map_err(e)?;
    if name == "RSA-PSS" {
        verifier.set_rsa_padding(Padding::PKCS1_PSS).map_err(e)?;
        let salt = alg.get("saltLength").and_then(Value::as_i64).unwrap_or(32) as i32;
        verifier.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt)).map_err(e)?;
        verifier.set_rsa_mgf1_md(digest).map_err(e)?;
    }
    Ok(verifier.verify_oneshot(&sig, data).unwrap_or(false))
}

/// `generateKey`: HMAC secrets, RSA (2048-4096 bits) and EC key pairs.
pub(super) fn generate(alg: &Value) -> Result<String, String> {
    match alg.get("name").and_then(Value::as_str).unwrap_or_default() {
        "HMAC" => {
            let bits = alg.get("length").and_then(Value::as_u64).unwrap_or(256).clamp(128, 1024) as usize;
            let mut k = vec![0u8; bits / 8];
            openssl::rand::rand_bytes(&mut k).map_err(e)?;
            import("raw", &k)
        }
        "RSASSA-PKCS1-v1_5" | "RSA-PSS" => {
            let bits = alg.get("modulusLength").and_then(Value::as_u64).unwrap_or(2048);
            if !(2048..=4096).contains(&bits) {
                return Err("NotSupportedError: RSA keys of 2048 to 4096 bits".into());
            }
            from_private(PKey::from_rsa(Rsa::generate(bits as u32).map_err(e)?).map_err(e)?)
        }
        "ECDSA" => {
            let group = curve(alg.get("namedCurve").and_then(Value::as_str).unwrap_or_default())?;
            from_private(PKey::from_ec_key(EcKey::generate(&group).map_err(e)?).map_err(e)?)
        }
        other => Err(format!("NotSupportedError: generateKey for {other}")),
    }
}
