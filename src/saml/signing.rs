//! XML-DSig: signing our own canonical bytes with OpenSSL on a key parsed once, and the
//! redirect binding's query signatures. (Enveloped signatures of incoming requests are verified
//! in [`super::xmldsig`], on the tree the fields are read from.)

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;

use super::xml::XmlWriter;
use super::{SamlError, ns};
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};
use crate::rsa_sha256::RsaSha256;
use crate::util::normalize_pem;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A signing key and its certificate, parsed once and reused for every signature.
pub struct SigningKey {
    /// The key, with its rsa-sha256 signing contexts set up once.
    key: RsaSha256,
    cert: X509,
    cert_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("cert", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PEM certificate and RSA private key (PKCS#1 or PKCS#8; lost line breaks are
    /// repaired) and checks that they belong together.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, SamlError> {
        let cert_text = normalize_pem(&String::from_utf8_lossy(cert_pem));
        let key_text = normalize_pem(&String::from_utf8_lossy(key_pem));
        let cert = X509::from_pem(cert_text.as_bytes())
            .map_err(|_| SamlError::Key("the signing certificate is not a valid PEM certificate".into()))?;
        let key = PKey::private_key_from_pem(key_text.as_bytes())
            .map_err(|_| SamlError::Key("the signing key is not a valid PEM private key".into()))?;
        if key.rsa().is_err() {
            return Err(SamlError::Key("the signing key must be an RSA key".into()));
        }
        if !cert.public_key()?.public_eq(&key) {
            return Err(SamlError::Key("the signing key does not match the signing certificate".into()));
        }
        let cert_b64 = B64.encode(cert.to_der()?);
        Ok(SigningKey {
            key: RsaSha256::new(key),
            cert,
            cert_b64,
        })
    }

    /// Reads the PEM files of a certificate and key.
    pub fn from_files(cert_path: &std::path::Path, key_path: &std::path::Path) -> Result<Self, SamlError> {
        let cert = std::fs::read(cert_path).map_err(|e| SamlError::Key(format!("{}: {e}", cert_path.display())))?;
        let key = std::fs::read(key_path).map_err(|e| SamlError::Key(format!("{}: {e}", key_path.display())))?;
        Self::from_pem(&cert, &key)
    }

    /// The certificate.
    pub fn cert(&self) -> &X509 {
        &self.cert
    }

    /// Base64 DER of the certificate (the `X509Certificate` text).
    pub fn cert_b64(&self) -> &str {
        &self.cert_b64
    }

    /// The private key (for the OIDC issuer, which signs with the same tenant key).
    pub fn private_key(&self) -> &PKey<Private> {
        self.key.key()
    }

    /// RSA PKCS#1 v1.5 signature of `data`.
    pub fn sign(&self, alg: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, SamlError> {
        match alg {
            SignatureAlgorithm::RsaSha256 => Ok(self.key.sign(data)?),
            SignatureAlgorithm::RsaSha1 => {
                let mut signer = Signer::new(MessageDigest::sha1(), self.key.key())?;
                signer.update(data)?;
                Ok(signer.sign_to_vec()?)
            }
        }
    }
}

/// The URI of a signature algorithm.
pub fn signature_uri(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        SignatureAlgorithm::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    }
}

/// The URI of a digest algorithm.
pub fn digest_uri(alg: DigestAlgorithm) -> &'static str {
    match alg {
        DigestAlgorithm::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
        DigestAlgorithm::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
    }
}

fn digest(alg: DigestAlgorithm, data: &[u8]) -> Result<Vec<u8>, SamlError> {
    let md = match alg {
        DigestAlgorithm::Sha256 => MessageDigest::sha256(),
        DigestAlgorithm::Sha1 => MessageDigest::sha1(),
    };
    Ok(openssl::hash::hash(md, data)?.to_vec())
}

fn write_signed_info(w: &mut XmlWriter, with_ns: bool, sig: SignatureAlgorithm, dig: DigestAlgorithm, id: &str, digest_b64: &str) {
    if with_ns {
        w.open("SignedInfo", &[("xmlns", ns::DSIG)]);
    } else {
        w.open("SignedInfo", &[]);
    }
    w.leaf("CanonicalizationMethod", &[("Algorithm", ns::EXC_C14N)], "");
    w.leaf("SignatureMethod", &[("Algorithm", signature_uri(sig))], "");
    let uri = format!("#{id}");
    w.open("Reference", &[("URI", &uri)]);
    w.open("Transforms", &[]);
    w.leaf("Transform", &[("Algorithm", ns::ENVELOPED)], "");
    w.leaf("Transform", &[("Algorithm", ns::EXC_C14N)], "");
    w.close("Transforms");
    w.leaf("DigestMethod", &[("Algorithm", digest_uri(dig))], "");
    w.leaf("DigestValue", &[], digest_b64);
    w.close("Reference");
    w.close("SignedInfo");
}

/// Builds the enveloped `<Signature>` element for the element with `id` whose exclusive-C14N
/// bytes (without the signature: the enveloped transform) are `canonical`.
pub fn signature_element(
    key: &SigningKey,
    sig: SignatureAlgorithm,
    dig: DigestAlgorithm,
    id: &str,
    canonical: &[u8],
) -> Result<String, SamlError> {
    let digest_b64 = B64.encode(digest(dig, canonical)?);
    // SignedInfo as a verifier canonicalizes it: it renders the default dsig namespace itself.
    let mut si = XmlWriter::new();
    write_signed_info(&mut si, true, sig, dig, id, &digest_b64);
    let signature_b64 = B64.encode(key.sign(sig, si.out.as_bytes())?);

    let mut w = XmlWriter::new();
    w.open("Signature", &[("xmlns", ns::DSIG)]);
    write_signed_info(&mut w, false, sig, dig, id, &digest_b64);
    w.leaf("SignatureValue", &[], &signature_b64);
    w.open("KeyInfo", &[]);
    w.open("X509Data", &[]);
    w.leaf("X509Certificate", &[], key.cert_b64());
    w.close("X509Data");
    w.close("KeyInfo");
    w.close("Signature");
    Ok(w.out)
}

/// Verifies an HTTP-Redirect binding signature over the raw query octets (`md` comes from the
/// `SigAlg`, checked against the tenant's algorithm policy by the caller).
pub fn verify_redirect_signature(signed_octets: &[u8], md: MessageDigest, signature: &[u8], cert: &X509) -> Result<(), String> {
    let key: PKey<Public> = cert.public_key().map_err(|e| e.to_string())?;
    let mut v = Verifier::new(md, &key).map_err(|e| e.to_string())?;
    v.update(signed_octets).map_err(|e| e.to_string())?;
    match v.verify(signature) {
        Ok(true) => Ok(()),
        _ => Err("the signature does not match".into()),
    }
}
