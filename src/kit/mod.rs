//! The test kit (issue 18): signed fixtures, valid and deliberately broken, for the SPs and apps
//! that trust idpipe to prove their own verification. Each kit writes its files and a
//! `manifest.json` saying, per file, what it is, which check must refuse it, and the verdict a
//! correct verifier reaches. Deterministic with `now` and `seed`.

pub mod oidc;
pub mod saml;

use serde::Serialize;

/// What a correct verifier concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Valid: must be accepted.
    Accept,
    /// Broken: must be refused.
    Reject,
}

/// One fixture of a kit.
#[derive(Debug, Clone, Serialize)]
pub struct Fixture {
    /// The file, relative to the kit folder.
    pub file: String,
    /// What kind of artefact (`id_token`, `access_token`, ...).
    pub kind: String,
    /// What it is.
    pub description: String,
    /// The check that must refuse it (`none` for valid ones): `signature`, `alg`, `kid`, `exp`,
    /// `nbf`, `aud`, `iss`, `nonce`, `typ`.
    pub check: String,
    /// The expected verdict.
    pub verdict: Verdict,
}

/// Why a kit could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// An input file is missing or invalid.
    #[error("{0}")]
    Input(String),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
    /// The output could not be written.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

pub(crate) fn write(dir: &std::path::Path, file: &str, text: &str) -> Result<(), KitError> {
    let path = dir.join(file);
    std::fs::write(&path, text).map_err(|e| KitError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// A deterministic value for `name` from the seed (token ids, nonces).
pub(crate) fn derived(seed: &str, name: &str) -> String {
    openssl::sha::sha256(format!("{seed}\0{name}").as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `manifest.json`.
pub(crate) fn write_manifest(dir: &std::path::Path, manifest: &serde_json::Value) -> Result<(), KitError> {
    write(
        dir,
        "manifest.json",
        &(serde_json::to_string_pretty(manifest).unwrap_or_default() + "\n"),
    )
}
