//! The npm registry: package documents ("packuments"), version choice by npm's range rules, and
//! tarballs checked against their integrity hash and unpacked safely (no path leaves the
//! package's folder, no links, bounded sizes).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path};

use base64::Engine;
use nodejs_semver::{Range, Version};
use serde_json::Value;

use super::NpmError;

/// Largest packument read (big packages with thousands of versions are several MB).
const MAX_PACKUMENT: u64 = 64 * 1024 * 1024;
/// Largest tarball read.
const MAX_TARBALL: u64 = 32 * 1024 * 1024;
/// Largest unpacked package, in bytes, and in files.
const MAX_UNPACKED: u64 = 128 * 1024 * 1024;
const MAX_FILES: usize = 20_000;

/// One version of a package, as the registry describes it.
#[derive(Debug, Clone)]
pub(super) struct Release {
    pub name: String,
    pub version: String,
    pub tarball: String,
    pub integrity: String,
    /// `dependencies` (name -> range).
    pub dependencies: Vec<(String, String)>,
    /// Why it is a native addon, if it is one.
    pub native: Option<String>,
}

/// A registry client with a packument cache for one install run.
pub(super) struct Registry {
    base: String,
    agent: ureq::Agent,
    packuments: HashMap<String, Value>,
}

impl Registry {
    /// A client of the registry at `base` (e.g. `https://registry.npmjs.org`).
    pub fn new(base: &str) -> Registry {
        // The operating system's trust store (a corporate proxy's CA included), not only the
        // bundled web roots.
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        Registry {
            base: base.trim_end_matches('/').to_string(),
            agent,
            packuments: HashMap::new(),
        }
    }

    fn packument(&mut self, name: &str) -> Result<&Value, NpmError> {
        if !self.packuments.contains_key(name) {
            // Scoped names keep their '@' and encode the '/'.
            let url = format!("{}/{}", self.base, name.replace('/', "%2F"));
            let mut r = self
                .agent
                .get(&url)
                .header("accept", "application/json")
                .call()
                .map_err(|e| NpmError::Registry(format!("{url}: {e}")))?;
            if r.status().as_u16() == 404 {
                return Err(NpmError::NotFound(name.to_string()));
            }
            if !r.status().is_success() {
                return Err(NpmError::Registry(format!("{url}: HTTP {}", r.status())));
            }
            let text = r
                .body_mut()
                .with_config()
                .limit(MAX_PACKUMENT)
                .read_to_string()
                .map_err(|e| NpmError::Registry(format!("{url}: {e}")))?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| NpmError::Registry(format!("{url}: {e}")))?;
            self.packuments.insert(name.to_string(), doc);
        }
        self.packuments
            .get(name)
            .ok_or_else(|| NpmError::Registry(format!("{name}: no package document")))
    }

    /// The highest version of `name` that `range` accepts (`latest`, a dist-tag, an exact
    /// version or an npm range).
    pub fn pick(&mut self, name: &str, range: &str) -> Result<Release, NpmError> {
        let doc = self.packument(name)?;
        let versions = doc.get("versions").and_then(Value::as_object).cloned().unwrap_or_default();
        let tagged = doc
            .get("dist-tags")
            .and_then(|t| t.get(if range.is_empty() || range == "*" { "latest" } else { range }))
            .and_then(Value::as_str)
            .map(str::to_string);
        let chosen = match tagged {
            Some(v) => v,
            None => {
                let wanted = Range::parse(range).map_err(|e| NpmError::BadSpec(format!("{name}@{range}: {e}")))?;
                let all: Vec<Version> = versions.keys().filter_map(|v| Version::parse(v).ok()).collect();
                wanted
                    .max_satisfying(&all)
                    .map(ToString::to_string)
                    .ok_or_else(|| NpmError::NoMatch(format!("{name}@{range}")))?
            }
        };
        let meta = versions.get(&chosen).ok_or_else(|| NpmError::NoMatch(format!("{name}@{range}")))?;
        release(name, &chosen, meta)
    }

    /// The exact `version` of `name` (from a lock file).
    pub fn exact(&mut self, name: &str, version: &str) -> Result<Release, NpmError> {
        let doc = self.packument(name)?;
        let meta = doc
            .get("versions")
            .and_then(|v| v.get(version))
            .ok_or_else(|| NpmError::NoMatch(format!("{name}@{version}")))?
            .clone();
        release(name, version, &meta)
    }

    /// Downloads a release's tarball, checks its integrity, and unpacks it into `into`.
    pub fn fetch_into(&self, release: &Release, into: &Path) -> Result<(), NpmError> {
        let mut r = self
            .agent
            .get(&release.tarball)
            .call()
            .map_err(|e| NpmError::Registry(format!("{}: {e}", release.tarball)))?;
        if !r.status().is_success() {
            return Err(NpmError::Registry(format!("{}: HTTP {}", release.tarball, r.status())));
        }
        let bytes = r
            .body_mut()
            .with_config()
            .limit(MAX_TARBALL)
            .read_to_vec()
            .map_err(|e| NpmError::Registry(format!("{}: {e}", release.tarball)))?;
        check_integrity(&release.integrity, &bytes).map_err(|why| NpmError::Integrity {
            module: format!("{}@{}", release.name, release.version),
            why,
        })?;
        unpack(&bytes, into).map_err(|why| NpmError::Unpack {
            module: format!("{}@{}", release.name, release.version),
            why,
        })?;
        if into.join("binding.gyp").exists() {
            return Err(NpmError::NativeAddon {
                module: release.name.clone(),
                why: "it ships a binding.gyp (a native addon)".into(),
            });
        }
        Ok(())
    }
}

fn release(name: &str, version: &str, meta: &Value) -> Result<Release, NpmError> {
    let dist = meta.get("dist").cloned().unwrap_or_default();
    let tarball = dist
        .get("tarball")
        .and_then(Value::as_str)
        .ok_or_else(|| NpmError::Registry(format!("{name}@{version}: no tarball")))?
        .to_string();
    // `integrity` (SRI, sha512) where the registry has it; old releases only have a sha1.
    let integrity = match (
        dist.get("integrity").and_then(Value::as_str),
        dist.get("shasum").and_then(Value::as_str),
    ) {
        (Some(i), _) => i.to_string(),
        (None, Some(sha1)) => format!("sha1-hex-{sha1}"),
        (None, None) => return Err(NpmError::Registry(format!("{name}@{version}: no integrity hash"))),
    };
    let dependencies = meta
        .get("dependencies")
        .and_then(Value::as_object)
        .map(|d| d.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("*").to_string())).collect())
        .unwrap_or_default();
    Ok(Release {
        name: name.to_string(),
        version: version.to_string(),
        tarball,
        integrity,
        dependencies,
        native: native_reason(meta),
    })
}

/// Why a release is a native addon (which actions cannot load), from its metadata.
fn native_reason(meta: &Value) -> Option<String> {
    if meta.get("gypfile").and_then(Value::as_bool) == Some(true) {
        return Some("it builds a native addon (gypfile)".into());
    }
    let scripts = meta.get("scripts").and_then(Value::as_object)?;
    for hook in ["preinstall", "install", "postinstall"] {
        if let Some(cmd) = scripts.get(hook).and_then(Value::as_str)
            && ["node-gyp", "prebuild-install", "node-pre-gyp", "cmake-js", "node-gyp-build"]
                .iter()
                .any(|tool| cmd.contains(tool))
        {
            return Some(format!("its {hook} script builds or downloads a native addon ({cmd})"));
        }
    }
    None
}

/// Checks `bytes` against an SRI string (`sha512-BASE64`, several allowed: one must match) or
/// the legacy `sha1-hex-HEX`.
fn check_integrity(sri: &str, bytes: &[u8]) -> Result<(), String> {
    if let Some(hex) = sri.strip_prefix("sha1-hex-") {
        let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha1(), bytes).map_err(|e| e.to_string())?;
        let got: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        return if crate::util::constant_time_eq(got.as_bytes(), hex.as_bytes()) {
            Ok(())
        } else {
            Err("the sha1 does not match".into())
        };
    }
    let mut tried = Vec::new();
    for entry in sri.split_whitespace() {
        let Some((alg, b64)) = entry.split_once('-') else { continue };
        let digest = match alg {
            "sha512" => openssl::sha::sha512(bytes).to_vec(),
            "sha384" => openssl::sha::sha384(bytes).to_vec(),
            "sha256" => openssl::sha::sha256(bytes).to_vec(),
            _ => continue,
        };
        let want = base64::engine::general_purpose::STANDARD
            .decode(b64.split('?').next().unwrap_or_default())
            .map_err(|e| format!("bad integrity value: {e}"))?;
        if crate::util::constant_time_eq(&digest, &want) {
            return Ok(());
        }
        tried.push(alg);
    }
    if tried.is_empty() {
        Err(format!("no supported hash in '{sri}'"))
    } else {
        Err(format!("the {} digest does not match the lock/registry", tried.join("/")))
    }
}

/// Unpacks an npm tarball (gzip'd tar whose entries sit under one top folder, usually
/// `package/`) into `into`: regular files and folders only, every path inside `into`.
fn unpack(gz: &[u8], into: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let (mut total, mut files) = (0u64, 0usize);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        // Drop the top folder; refuse anything that could leave `into`.
        let mut parts = path.components();
        parts.next();
        let rel = parts.as_path().to_path_buf();
        if rel.as_os_str().is_empty() {
            continue;
        }
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(format!("the archive names a path outside the package: {}", path.display()));
        }
        let dest = into.join(&rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
            continue;
        }
        if !kind.is_file() {
            // Links, devices, pax headers: never followed or created.
            continue;
        }
        files += 1;
        total += entry.header().size().unwrap_or(0);
        if files > MAX_FILES || total > MAX_UNPACKED {
            return Err("the package is too large".into());
        }
        if rel.extension().is_some_and(|e| e == "node") {
            return Err(format!("it contains a compiled native addon ({})", rel.display()));
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut data = Vec::new();
        entry
            .by_ref()
            .take(MAX_UNPACKED)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        std::fs::write(&dest, data).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_accepts_the_right_digest_only() {
        let body = b"package bytes";
        let good = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha512(body))
        );
        assert!(check_integrity(&good, body).is_ok());
        assert!(check_integrity(&good, b"other bytes").is_err());
        assert!(check_integrity("md5-AAAA", body).is_err(), "an unsupported hash is no check");
        assert!(check_integrity(&format!("md5-AAAA {good}"), body).is_ok());
    }

    fn tarball(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Raw path bytes: the builder's own checks would refuse '..'.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).expect("append");
        }
        builder.into_inner().expect("tar").finish().expect("gzip")
    }

    #[test]
    fn unpacking_stays_inside_the_package_folder() {
        let dir = tempfile::tempdir().expect("tmp");
        let ok = tarball(&[("package/package.json", b"{}"), ("package/lib/a.js", b"1")]);
        unpack(&ok, &dir.path().join("p")).expect("unpacks");
        assert!(dir.path().join("p/lib/a.js").exists());
        for evil in ["package/../../escaped.js", "package/../escaped.js", "package//etc/x"] {
            let t = tarball(&[(evil, b"x")]);
            let out = dir.path().join("q");
            let r = unpack(&t, &out);
            assert!(r.is_err() || out.join("etc/x").exists(), "{evil}: must be refused or stay inside");
            assert!(!dir.path().join("escaped.js").exists(), "{evil} escaped");
        }
        let native = tarball(&[("package/build/Release/addon.node", b"\x7fELF")]);
        assert!(unpack(&native, &dir.path().join("n")).is_err());
    }
}
