//! XML Encryption of the (signed) Assertion: AES-GCM by default, RSA-OAEP-MGF1P key transport.

use base64::Engine;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, encrypt, encrypt_aead};

use super::xml::XmlWriter;
use super::{SamlError, ns};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Key transport algorithm (the only one idpipe uses; rsa-1_5 is refused).
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
/// SHA-1, the OAEP digest of rsa-oaep-mgf1p.
pub const SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// The block ciphers idpipe can encrypt the assertion with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCipher {
    /// AES-256-GCM (default).
    Aes256Gcm,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-CBC: only when the SP's settings ask for it.
    Aes256Cbc,
    /// AES-128-CBC: only when the SP's settings ask for it.
    Aes128Cbc,
}

impl BlockCipher {
    /// Parses an `encryptionAlgorithm` URI. rsa-1_5 and 3DES are refused.
    pub fn from_uri(uri: &str) -> Result<Self, SamlError> {
        match uri {
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Ok(Self::Aes256Gcm),
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Ok(Self::Aes128Gcm),
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Ok(Self::Aes256Cbc),
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Ok(Self::Aes128Cbc),
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc" | "http://www.w3.org/2001/04/xmlenc#rsa-1_5" => {
                Err(SamlError::Encryption(format!("encryption algorithm {uri} is not secure")))
            }
            _ => Err(SamlError::Encryption(format!("encryption algorithm not supported: {uri}"))),
        }
    }

    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            Self::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Self::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            Self::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
        }
    }
}

/// The encrypted data: `CipherValue` of the assertion and of the wrapped key.
pub struct Encrypted {
    data_b64: String,
    key_b64: String,
}

/// Where the assertion is encrypted to.
#[derive(Clone)]
pub struct EncryptionTarget {
    /// Base64 DER of the SP's certificate (advertised in the EncryptedKey's KeyInfo).
    pub cert_b64: String,
    /// The SP's public key (wraps the AES key).
    pub public_key: PKey<Public>,
    /// Block cipher.
    pub cipher: BlockCipher,
}

/// Encrypts `plaintext` (the Assertion's XML) for the target: a fresh key and IV every time.
pub fn encrypt_assertion(plaintext: &[u8], target: &EncryptionTarget) -> Result<Encrypted, SamlError> {
    let cipher = target.cipher;
    let mut key = vec![0u8; cipher.key_len()];
    openssl::rand::rand_bytes(&mut key)?;
    let data = match cipher {
        BlockCipher::Aes256Gcm | BlockCipher::Aes128Gcm => {
            let c = if cipher == BlockCipher::Aes256Gcm {
                Cipher::aes_256_gcm()
            } else {
                Cipher::aes_128_gcm()
            };
            let mut iv = [0u8; 12];
            openssl::rand::rand_bytes(&mut iv)?;
            let mut tag = [0u8; 16];
            let ct = encrypt_aead(c, &key, Some(&iv), &[], plaintext, &mut tag)?;
            [&iv[..], &ct, &tag].concat()
        }
        BlockCipher::Aes256Cbc | BlockCipher::Aes128Cbc => {
            let c = if cipher == BlockCipher::Aes256Cbc {
                Cipher::aes_256_cbc()
            } else {
                Cipher::aes_128_cbc()
            };
            let mut iv = [0u8; 16];
            openssl::rand::rand_bytes(&mut iv)?;
            // PKCS#7 padding satisfies XML Encryption's rule (last byte = pad length).
            let ct = encrypt(c, &key, Some(&iv), plaintext)?;
            [&iv[..], &ct].concat()
        }
    };
    let rsa = target.public_key.rsa()?;
    let mut wrapped = vec![0u8; rsa.size() as usize];
    let n = rsa.public_encrypt(&key, &mut wrapped, Padding::PKCS1_OAEP)?;
    wrapped.truncate(n);
    Ok(Encrypted {
        data_b64: B64.encode(data),
        key_b64: B64.encode(wrapped),
    })
}

/// Writes `<saml:EncryptedAssertion>` (the same bytes in document and canonical form).
pub(crate) fn write_encrypted_assertion(w: &mut XmlWriter, enc: &Encrypted, target: &EncryptionTarget) {
    w.open("saml:EncryptedAssertion", &[("xmlns:saml", ns::ASSERTION)]);
    w.open(
        "xenc:EncryptedData",
        &[("xmlns:xenc", ns::XENC), ("Type", "http://www.w3.org/2001/04/xmlenc#Element")],
    );
    w.leaf("xenc:EncryptionMethod", &[("Algorithm", target.cipher.uri())], "");
    w.open("KeyInfo", &[("xmlns", ns::DSIG)]);
    w.open("xenc:EncryptedKey", &[]);
    w.open("xenc:EncryptionMethod", &[("Algorithm", RSA_OAEP_MGF1P)]);
    w.leaf("DigestMethod", &[("Algorithm", SHA1_URI)], "");
    w.close("xenc:EncryptionMethod");
    w.open("KeyInfo", &[]);
    w.open("X509Data", &[]);
    w.leaf("X509Certificate", &[], &target.cert_b64);
    w.close("X509Data");
    w.close("KeyInfo");
    w.open("xenc:CipherData", &[]);
    w.leaf("xenc:CipherValue", &[], &enc.key_b64);
    w.close("xenc:CipherData");
    w.close("xenc:EncryptedKey");
    w.close("KeyInfo");
    w.open("xenc:CipherData", &[]);
    w.leaf("xenc:CipherValue", &[], &enc.data_b64);
    w.close("xenc:CipherData");
    w.close("xenc:EncryptedData");
    w.close("saml:EncryptedAssertion");
}
