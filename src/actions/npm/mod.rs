//! npm dependencies of actions (issue 17): declared per script in the tenant file
//! (`[action_dependencies]`, `name@version` or `name`), installed by `idpipe actions install` from
//! the npm registry into one folder per action with a lock file (exact versions, integrity hashes,
//! checked like `npm ci`), never fetched at start-up or at login time: a server whose declared
//! dependencies are not installed refuses to start, naming the module.
//!
//! Layout: `<action_modules>/idpipe-actions.lock.json` and `<action_modules>/<script>-<hash>/
//! node_modules/...` (npm's nested layout: a package is hoisted to the action's top
//! `node_modules` unless another version is already there).

mod registry;
mod resolve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use resolve::Installed;

/// The public npm registry (`IDPIPE_NPM_REGISTRY` overrides it, e.g. for a mirror).
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org";
/// The lock file's name in the modules folder.
pub const LOCK_FILE: &str = "idpipe-actions.lock.json";

/// Why dependencies could not be installed or are not usable.
#[derive(Debug, thiserror::Error)]
pub enum NpmError {
    /// `name@version` could not be read.
    #[error("'{0}' is not a dependency (name@version, or name)")]
    BadSpec(String),
    /// The registry has no such package.
    #[error("the npm registry has no package '{0}'")]
    NotFound(String),
    /// No version matches.
    #[error("no published version matches {0}")]
    NoMatch(String),
    /// The registry could not be reached or answered nonsense.
    #[error("npm registry: {0}")]
    Registry(String),
    /// A tarball does not match its integrity hash.
    #[error("{module}: integrity check failed: {why}")]
    Integrity {
        /// name@version.
        module: String,
        /// What did not match.
        why: String,
    },
    /// A tarball could not be unpacked safely.
    #[error("{module}: cannot unpack: {why}")]
    Unpack {
        /// name@version.
        module: String,
        /// Why.
        why: String,
    },
    /// A native addon (actions run JavaScript only, as on the hosted service).
    #[error("the module '{module}' is a native addon, which actions cannot load: {why}")]
    NativeAddon {
        /// The package.
        module: String,
        /// How it was recognised.
        why: String,
    },
    /// A declared dependency is not installed (at start-up).
    #[error("the module '{module}' declared for {script} is not installed: run `idpipe actions install --config <tenant file>` ({why})")]
    NotInstalled {
        /// The module.
        module: String,
        /// The action script.
        script: String,
        /// What is missing.
        why: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> NpmError + '_ {
    move |e| NpmError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// One declared dependency: a package name and a version, range or dist-tag (`latest` when
/// none is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package name (scoped names included: `@xmldom/xmldom`).
    pub name: String,
    /// What version: exact, an npm range, or a dist-tag.
    pub spec: String,
}

/// Whether `name` is a valid npm package name (and so a safe path segment: no `..`, no
/// separators but the scope's).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 214
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~@/".contains(c))
        && !name.starts_with('.')
        && !name.contains("..")
        && name.matches('@').count() <= usize::from(name.starts_with('@'))
        && (name.matches('/').count() == usize::from(name.starts_with('@')))
        && !name.ends_with('/')
        && !name.contains("/.")
}

/// Whether a lock file's install path is `node_modules/<name>` nested any number of times.
pub(crate) fn valid_install_path(path: &str) -> bool {
    let mut rest = path;
    while let Some(after) = rest.strip_prefix("node_modules/") {
        let (name, next) = if after.starts_with('@') {
            let mut it = after.splitn(3, '/');
            let (scope, pkg) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
            (format!("{scope}/{pkg}"), it.next())
        } else {
            let mut it = after.splitn(2, '/');
            (it.next().unwrap_or_default().to_string(), it.next())
        };
        if !valid_name(&name) {
            return false;
        }
        match next {
            None => return true,
            Some(n) => rest = n,
        }
    }
    // Only reached when what follows a name is not another `node_modules/...`.
    false
}

impl std::str::FromStr for Dependency {
    type Err = NpmError;

    fn from_str(s: &str) -> Result<Self, NpmError> {
        let s = s.trim();
        // The version separator is the last '@' that is not the scope's.
        let (name, spec) = match s.get(1..).and_then(|rest| rest.rfind('@')) {
            Some(i) => (&s[..i + 1], &s[i + 2..]),
            None => (s, "latest"),
        };
        if !valid_name(name) || spec.is_empty() {
            return Err(NpmError::BadSpec(s.to_string()));
        }
        Ok(Dependency {
            name: name.to_string(),
            spec: spec.to_string(),
        })
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.spec)
    }
}

/// The lock file: per action script, what was declared and what was installed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Lock {
    /// Lock format version.
    pub version: u32,
    /// Keyed by the script path as written in the tenant file.
    pub actions: BTreeMap<String, ActionLock>,
}

/// The installed tree of one action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionLock {
    /// The dependencies as declared when installed (a change means: install again).
    pub declared: Vec<String>,
    /// Keyed by install path (`node_modules/a`, `node_modules/a/node_modules/b`).
    pub packages: BTreeMap<String, LockedPackage>,
}

/// One installed package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockedPackage {
    /// The package name.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// Where the tarball came from.
    pub resolved: String,
    /// Its integrity hash (SRI).
    pub integrity: String,
}

/// The folder of one action's modules, inside `modules_dir`: the script's file name and a hash
/// of its path (two scripts with one name do not share).
pub fn action_folder(modules_dir: &Path, script: &Path) -> PathBuf {
    let key = script.display().to_string();
    let hash: String = openssl::sha::sha256(key.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stem = script
        .file_stem()
        .map(|s| s.to_string_lossy().replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"))
        .unwrap_or_default();
    modules_dir.join(format!("{stem}-{hash}"))
}

fn read_lock(modules_dir: &Path) -> Result<Lock, NpmError> {
    let path = modules_dir.join(LOCK_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| NpmError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
        Err(e) => Err(io(&path)(e)),
    }
}

fn declared(deps: &[Dependency]) -> Vec<String> {
    deps.iter().map(ToString::to_string).collect()
}

/// At start-up: the folder of `script`'s installed modules, after checking that what the
/// tenant file declares is what the lock file says was installed and that every locked package
/// is on disk at its version. Never touches the network.
pub fn check_installed(modules_dir: &Path, script: &Path, deps: &[Dependency]) -> Result<PathBuf, NpmError> {
    let key = script.display().to_string();
    let missing = |module: &str, why: String| NpmError::NotInstalled {
        module: module.to_string(),
        script: key.clone(),
        why,
    };
    let lock = read_lock(modules_dir)?;
    let first = deps.first().map(|d| d.name.as_str()).unwrap_or_default();
    let Some(entry) = lock.actions.get(&key) else {
        return Err(missing(
            first,
            format!("{} has no entry for this script", modules_dir.join(LOCK_FILE).display()),
        ));
    };
    if entry.declared != declared(deps) {
        let changed = deps
            .iter()
            .find(|d| !entry.declared.contains(&d.to_string()))
            .map_or(first, |d| d.name.as_str());
        return Err(missing(changed, "the declared dependencies changed since the install".into()));
    }
    let folder = action_folder(modules_dir, script);
    for (path, p) in &entry.packages {
        if !valid_install_path(path) {
            return Err(missing(&p.name, format!("the lock file names '{path}'")));
        }
        let manifest = folder.join(path).join("package.json");
        let on_disk: Option<String> = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_string));
        if on_disk.as_deref() != Some(p.version.as_str()) {
            return Err(missing(
                &p.name,
                format!("{} is missing or not version {}", manifest.display(), p.version),
            ));
        }
    }
    Ok(folder)
}

/// What `idpipe actions install` did for one action.
#[derive(Debug)]
pub struct ActionReport {
    /// The script.
    pub script: String,
    /// Packages installed (install path, name@version).
    pub packages: Vec<(String, String)>,
    /// Whether the lock file's versions were used (else resolved afresh).
    pub from_lock: bool,
}

/// Installs every action's dependencies from `registry` into `modules_dir` and writes the lock
/// file. An action whose declared list matches its lock entry gets exactly the locked versions
/// (integrity checked); otherwise its tree is resolved afresh. Each action's folder is replaced
/// only once its whole tree is in place.
pub fn install(modules_dir: &Path, actions: &BTreeMap<PathBuf, Vec<Dependency>>, registry: &str) -> Result<Vec<ActionReport>, NpmError> {
    std::fs::create_dir_all(modules_dir).map_err(io(modules_dir))?;
    let mut lock = read_lock(modules_dir)?;
    lock.version = 1;
    let mut client = registry::Registry::new(registry);
    let mut reports = Vec::new();
    for (script, deps) in actions {
        let key = script.display().to_string();
        let wanted = declared(deps);
        let locked = lock.actions.get(&key).filter(|l| l.declared == wanted).cloned();
        let from_lock = locked.is_some();
        let folder = action_folder(modules_dir, script);
        let staging = folder.with_extension(format!("installing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let result = match locked {
            Some(l) => resolve::install_locked(&mut client, &l, &staging),
            None => resolve::install_fresh(&mut client, deps, &staging),
        };
        let installed = match result {
            Ok(i) => i,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::rename(&staging, &folder).map_err(io(&folder))?;
        reports.push(ActionReport {
            script: key.clone(),
            packages: installed
                .packages
                .iter()
                .map(|(path, p)| (path.clone(), format!("{}@{}", p.name, p.version)))
                .collect(),
            from_lock,
        });
        lock.actions.insert(
            key,
            ActionLock {
                declared: wanted,
                packages: installed.packages,
            },
        );
    }
    // Actions no longer declared leave the lock (their folders stay until removed by hand).
    let keep: Vec<String> = actions.keys().map(|s| s.display().to_string()).collect();
    lock.actions.retain(|k, _| keep.contains(k));
    let path = modules_dir.join(LOCK_FILE);
    let text = serde_json::to_string_pretty(&lock).map_err(|e| NpmError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_read_like_npm_install_arguments() {
        let d: Dependency = "ipaddr.js@2.2.0".parse().expect("dep");
        assert_eq!((d.name.as_str(), d.spec.as_str()), ("ipaddr.js", "2.2.0"));
        let d: Dependency = "@xmldom/xmldom@^0.8.10".parse().expect("dep");
        assert_eq!((d.name.as_str(), d.spec.as_str()), ("@xmldom/xmldom", "^0.8.10"));
        let d: Dependency = "@xmldom/xmldom".parse().expect("dep");
        assert_eq!((d.name.as_str(), d.spec.as_str()), ("@xmldom/xmldom", "latest"));
        assert_eq!("xpath".parse::<Dependency>().expect("dep").spec, "latest");
        for bad in [
            "",
            "@",
            "../evil@1",
            "a/b@1",
            "@scope/a/b",
            "Caps@1",
            "x@",
            ".hidden",
            "a b@1",
            "@s/..@1",
            "@s/.x@1",
            "é@1",
            "éa",
        ] {
            assert!(bad.parse::<Dependency>().is_err(), "{bad}");
        }
        // Names and paths from the registry or a lock file are checked the same way.
        for good in [
            "node_modules/a",
            "node_modules/@s/x",
            "node_modules/a/node_modules/@s/b/node_modules/c",
        ] {
            assert!(valid_install_path(good), "{good}");
        }
        for bad in [
            "node_modules/../../x",
            "node_modules/a/../../../x",
            "x/node_modules/a",
            "node_modules/",
            "node_modules/a/",
            "node_modules/@s/../x",
            "/node_modules/a",
            "node_modules/a//b",
        ] {
            assert!(!valid_install_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_missing_or_changed_install_is_reported_with_the_module() {
        let dir = tempfile::tempdir().expect("tmp");
        let script = Path::new("actions/ip.js");
        let deps = vec!["ipaddr.js@2.2.0".parse::<Dependency>().expect("dep")];
        let err = check_installed(dir.path(), script, &deps).expect_err("nothing installed");
        assert!(
            err.to_string().contains("'ipaddr.js'") && err.to_string().contains("idpipe actions install"),
            "{err}"
        );
        // A lock entry whose package is not on disk.
        let mut lock = Lock {
            version: 1,
            ..Default::default()
        };
        let mut packages = BTreeMap::new();
        packages.insert(
            "node_modules/ipaddr.js".to_string(),
            LockedPackage {
                name: "ipaddr.js".into(),
                version: "2.2.0".into(),
                resolved: "https://registry.npmjs.org/ipaddr.js/-/ipaddr.js-2.2.0.tgz".into(),
                integrity: "sha512-x".into(),
            },
        );
        lock.actions.insert(
            "actions/ip.js".into(),
            ActionLock {
                declared: vec!["ipaddr.js@2.2.0".into()],
                packages,
            },
        );
        std::fs::write(dir.path().join(LOCK_FILE), serde_json::to_string(&lock).expect("json")).expect("write");
        let err = check_installed(dir.path(), script, &deps).expect_err("not on disk");
        assert!(err.to_string().contains("not version 2.2.0"), "{err}");
        // On disk: accepted.
        let pkg = action_folder(dir.path(), script).join("node_modules/ipaddr.js");
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::write(pkg.join("package.json"), r#"{"name":"ipaddr.js","version":"2.2.0"}"#).expect("write");
        assert_eq!(
            check_installed(dir.path(), script, &deps).expect("installed"),
            action_folder(dir.path(), script)
        );
        // Declared differently now.
        let other = vec!["ipaddr.js@2.1.0".parse::<Dependency>().expect("dep")];
        let err = check_installed(dir.path(), script, &other).expect_err("changed");
        assert!(err.to_string().contains("changed"), "{err}");
    }
}
