//! The secrets of second factors: TOTP (RFC 6238 via `totp-rs`: SHA-1, 6 digits, 30 s, one step
//! of drift either way), the TOTP secret encrypted at rest (AES-256-GCM with a key derived from
//! the server secret), one-time email codes and recovery codes (stored as keyed hashes), the
//! `otpauth://` URI and its QR code (SVG, server-side).

use base64::Engine;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use totp_rs::{Algorithm, Secret, TOTP};

/// The keys of the MFA secrets, derived from the server key (domain-separated).
#[derive(Clone)]
pub struct MfaKeys {
    secret_key: [u8; 32],
    code_key: [u8; 32],
    remember_key: [u8; 32],
}

impl std::fmt::Debug for MfaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaKeys(..)")
    }
}

fn derive(server_key: &[u8; 32], label: &str) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(label.as_bytes());
    h.update(b"\0");
    h.update(server_key);
    h.finish()
}

/// Why a secret could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// OpenSSL failed or the stored secret does not decrypt (another server key).
    #[error("the MFA secret cannot be used: {0}")]
    Crypto(String),
}

impl MfaKeys {
    /// The keys of a server key.
    pub fn new(server_key: &[u8; 32]) -> Self {
        MfaKeys {
            secret_key: derive(server_key, "idpipe mfa secrets v1"),
            code_key: derive(server_key, "idpipe mfa codes v1"),
            remember_key: derive(server_key, "idpipe mfa remember browser v1"),
        }
    }

    fn remember_mac(&self, user_id: &str, expires_s: i64) -> String {
        let mut h = openssl::sha::Sha256::new();
        h.update(&self.remember_key);
        h.update(user_id.as_bytes());
        h.update(b"\0");
        h.update(expires_s.to_string().as_bytes());
        hex::encode(h.finish())
    }

    /// A remembered-browser token for a user until `expires_s`: `EXPIRY.MAC` (the MAC binds the
    /// user, so the cookie skips MFA for that user only).
    pub fn remember_token(&self, user_id: &str, expires_s: i64) -> String {
        format!("{expires_s}.{}", self.remember_mac(user_id, expires_s))
    }

    /// Whether a token remembers this browser for this user at `now_s`.
    pub fn remembered(&self, token: &str, user_id: &str, now_s: i64) -> bool {
        let Some((exp, mac)) = token.split_once('.') else {
            return false;
        };
        let Ok(exp) = exp.parse::<i64>() else {
            return false;
        };
        exp > now_s && crate::util::constant_time_eq(mac.as_bytes(), self.remember_mac(user_id, exp).as_bytes())
    }

    /// Encrypts a TOTP secret for storage: nonce || ciphertext || tag.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CodeError> {
        let mut nonce = [0u8; 12];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| CodeError::Crypto(e.to_string()))?;
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.secret_key,
            Some(&nonce),
            b"idpipe-totp",
            plain,
            &mut tag,
        )
        .map_err(|e| CodeError::Crypto(e.to_string()))?;
        Ok([&nonce[..], &ct, &tag].concat())
    }

    /// Decrypts what [`seal`](Self::seal) made.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CodeError> {
        if sealed.len() < 12 + 16 {
            return Err(CodeError::Crypto("the sealed secret is too short".into()));
        }
        let (nonce, rest) = sealed.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(Cipher::aes_256_gcm(), &self.secret_key, Some(nonce), b"idpipe-totp", ct, tag)
            .map_err(|e| CodeError::Crypto(e.to_string()))
    }

    /// The stored form of a one-time code (email code, recovery code): a keyed hash, so that
    /// the store never holds the code.
    pub fn hash_code(&self, code: &str) -> Vec<u8> {
        let mut h = openssl::sha::Sha256::new();
        h.update(&self.code_key);
        h.update(normalize(code).as_bytes());
        h.finish().to_vec()
    }
}

/// A code as typed: spaces and dashes dropped, upper case.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new TOTP secret (160 bits, RFC 4226's recommendation).
pub fn new_totp_secret() -> Result<Vec<u8>, CodeError> {
    let mut s = vec![0u8; 20];
    openssl::rand::rand_bytes(&mut s).map_err(|e| CodeError::Crypto(e.to_string()))?;
    Ok(s)
}

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, secret.to_vec())
}

/// The time step a TOTP code matches at `now_s` (one step of drift either way), if any; the
/// comparison is constant-time.
pub fn totp_step(secret: &[u8], code: &str, now_s: i64) -> Option<i64> {
    let code = normalize(code);
    if code.len() != 6 || now_s < 30 {
        return None;
    }
    let t = totp(secret);
    let step = now_s / 30;
    (step - 1..=step + 1).find(|s| {
        let expected = t.generate((*s * 30) as u64);
        crate::util::constant_time_eq(expected.as_bytes(), code.as_bytes())
    })
}

/// The secret in base32 (what an authenticator app's "enter a key" wants).
pub fn base32(secret: &[u8]) -> String {
    match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    }
}

/// The `otpauth://totp/ISSUER:ACCOUNT?...` URI of an enrolment (the Key URI format: issuer and
/// account each percent-encoded, joined by a literal colon).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// The QR code of `text` as an SVG document.
pub fn qr_svg(text: &str) -> Result<String, CodeError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| CodeError::Crypto(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// A six-digit one-time code (email).
pub fn six_digits() -> Result<String, CodeError> {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).map_err(|e| CodeError::Crypto(e.to_string()))?;
    Ok(format!("{:06}", u32::from_be_bytes(b) % 1_000_000))
}

/// A recovery code: 24 characters from an unambiguous alphabet (120 bits), shown in groups.
pub fn recovery_code() -> Result<String, CodeError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 24];
    openssl::rand::rand_bytes(&mut b).map_err(|e| CodeError::Crypto(e.to_string()))?;
    let s: String = b.iter().map(|x| ALPHABET[(*x as usize) % ALPHABET.len()] as char).collect();
    Ok(s)
}

/// A data: URL for an inline image (the QR code), allowed by the pages' CSP (`img-src data:`).
pub fn svg_data_url(svg: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
        let seed = b"12345678901234567890";
        for (t, expected) in [
            (59i64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp(seed).generate(t as u64), expected);
            assert_eq!(totp_step(seed, expected, t), Some(t / 30));
            assert_eq!(totp_step(seed, expected, t + 30), Some(t / 30), "one step of drift");
            assert_eq!(totp_step(seed, expected, t + 61), None, "two steps late");
        }
    }

    #[test]
    fn sealed_secrets_need_the_same_key() {
        let a = MfaKeys::new(&[1; 32]);
        let sealed = a.seal(b"secret").expect("seal");
        assert_eq!(a.open(&sealed).expect("open"), b"secret");
        assert!(MfaKeys::new(&[2; 32]).open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[14] ^= 1;
        assert!(a.open(&tampered).is_err());
    }
}
