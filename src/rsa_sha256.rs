//! RSASSA-PKCS1-v1_5 signatures with SHA-256 (JOSE's RS256, XML-DSig's rsa-sha256) from
//! signing contexts set up once. OpenSSL's one-shot path (`EVP_DigestSignInit` .. `Final`) looks
//! up the algorithm in its providers, builds a context and copies it again at `Final` for every
//! signature: 3-7 us per signature besides the RSA operation itself (two signatures per OIDC
//! code exchange, one per SAML response). Here the message is hashed with SHA-256 and the digest
//! signed by `EVP_PKEY_sign` on a context that was initialised (padding PKCS#1 v1.5, digest
//! SHA-256) when it was first needed and is then kept in a small pool: a context is used by one
//! thread at a time, and `EVP_PKEY_sign` leaves it ready for the next signature. The signature
//! is the same bytes as the one-shot path's (PKCS#1 v1.5 is deterministic), which the tests
//! check.

use std::sync::{Arc, Mutex};

use openssl::error::ErrorStack;
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;

/// Contexts kept ready; more signatures at once than this make (and drop) extra contexts.
const POOL: usize = 16;

/// An RSA private key with its ready RSA-SHA256 signing contexts. Clones share the contexts.
#[derive(Clone)]
pub struct RsaSha256 {
    key: PKey<Private>,
    ready: Arc<Mutex<Vec<PkeyCtx<Private>>>>,
}

impl RsaSha256 {
    /// Signs with `key` (an RSA private key; checked by the first signature).
    pub fn new(key: PKey<Private>) -> Self {
        RsaSha256 {
            key,
            ready: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The key.
    pub fn key(&self) -> &PKey<Private> {
        &self.key
    }

    fn context(&self) -> Result<PkeyCtx<Private>, ErrorStack> {
        if let Some(ctx) = self.ready.lock().ok().and_then(|mut r| r.pop()) {
            return Ok(ctx);
        }
        let mut ctx = PkeyCtx::new(&self.key)?;
        ctx.sign_init()?;
        ctx.set_rsa_padding(Padding::PKCS1)?;
        ctx.set_signature_md(Md::sha256())?;
        Ok(ctx)
    }

    /// The RSA-SHA256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ErrorStack> {
        let digest = openssl::sha::sha256(message);
        let mut ctx = self.context()?;
        let mut sig = Vec::new();
        ctx.sign_to_vec(&digest, &mut sig)?;
        // Only a context whose signature succeeded goes back (a failed one is dropped).
        if let Ok(mut ready) = self.ready.lock()
            && ready.len() < POOL
        {
            ready.push(ctx);
        }
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::sign::{Signer, Verifier};

    fn test_key() -> PKey<Private> {
        let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/idp-test.key")).expect("the test key");
        PKey::private_key_from_pem(&pem).expect("a PEM key")
    }

    fn one_shot(key: &PKey<Private>, message: &[u8]) -> Vec<u8> {
        let mut s = Signer::new(MessageDigest::sha256(), key).expect("signer");
        s.update(message).expect("update");
        s.sign_to_vec().expect("sign")
    }

    #[test]
    fn signatures_from_reused_contexts_equal_the_one_shot_path_and_verify() {
        let key = test_key();
        let rs = RsaSha256::new(key.clone());
        let messages: [&[u8]; 4] = [b"", b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0", &[0u8; 5000], b"another"];
        // Twice over: the second round signs with contexts that already signed.
        for _ in 0..2 {
            for m in messages {
                let sig = rs.sign(m).expect("sign");
                assert_eq!(sig, one_shot(&key, m), "same bytes as EVP_DigestSign");
                let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
                v.update(m).expect("update");
                assert!(v.verify(&sig).expect("verify"));
            }
        }
        assert_eq!(rs.ready.lock().expect("pool").len(), 1, "one thread reused one context");
    }

    #[test]
    fn threads_signing_at_once_each_get_a_context_and_the_pool_stays_bounded() {
        let key = test_key();
        let rs = RsaSha256::new(key.clone());
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let rs = rs.clone();
                std::thread::spawn(move || {
                    let m = format!("message {i}");
                    (m.clone(), rs.sign(m.as_bytes()).expect("sign"))
                })
            })
            .collect();
        for h in handles {
            let (m, sig) = h.join().expect("thread");
            assert_eq!(sig, one_shot(&key, m.as_bytes()));
        }
        let kept = rs.ready.lock().expect("pool").len();
        assert!((1..=POOL).contains(&kept), "{kept} contexts kept");
    }

    #[test]
    fn a_key_that_is_not_rsa_is_refused_not_used() {
        let ec = openssl::ec::EcKey::generate(&openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).expect("curve"))
            .expect("ec key");
        let rs = RsaSha256::new(PKey::from_ec_key(ec).expect("pkey"));
        assert!(rs.sign(b"x").is_err(), "an EC key cannot make an RSA signature");
        assert!(rs.ready.lock().expect("pool").is_empty());
    }
}
