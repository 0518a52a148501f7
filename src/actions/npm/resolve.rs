//! The dependency tree of one action, laid out as npm does: each package goes to the action's
//! top `node_modules` unless another version of it is already there; then it goes under the
//! package that needs it. Node's resolution (each folder's `node_modules`, then the parents')
//! finds for every package the version it asked for.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use nodejs_semver::{Range, Version};

use super::registry::{Registry, Release};
use super::{ActionLock, Dependency, LockedPackage, NpmError};

/// The packages installed for one action, by install path.
#[derive(Debug, Default)]
pub struct Installed {
    /// `node_modules/a`, `node_modules/a/node_modules/b`, ...
    pub packages: BTreeMap<String, LockedPackage>,
}

/// The `node_modules` paths Node looks in for `name`, from a package at `parent` ("" = the
/// action itself): the nearest first.
fn lookup_chain(parent: &str, name: &str) -> Vec<String> {
    let mut chain = Vec::new();
    let mut at = parent.to_string();
    loop {
        chain.push(if at.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{at}/node_modules/{name}")
        });
        if at.is_empty() {
            return chain;
        }
        // Up one package: strip "/node_modules/<name>" (a scoped name has two parts).
        match at.rfind("node_modules/") {
            Some(i) => at = at[..i].trim_end_matches('/').to_string(),
            None => at.clear(),
        }
    }
}

fn satisfies(range: &str, version: &str) -> bool {
    match (Range::parse(range), Version::parse(version)) {
        (Ok(r), Ok(v)) => r.satisfies(&v),
        // A dist-tag ("latest") is satisfied by whatever is installed.
        _ => !range.chars().next().is_some_and(|c| c.is_ascii_digit()),
    }
}

/// Resolves the declared dependencies afresh (highest matching versions) and installs them
/// into `into`.
pub(super) fn install_fresh(client: &mut Registry, deps: &[Dependency], into: &Path) -> Result<Installed, NpmError> {
    let mut tree: BTreeMap<String, Release> = BTreeMap::new();
    let mut queue: VecDeque<(String, String, String)> = deps.iter().map(|d| (d.name.clone(), d.spec.clone(), String::new())).collect();
    while let Some((name, range, parent)) = queue.pop_front() {
        // A name from the registry becomes a folder: refuse anything that is not a package name.
        if !super::valid_name(&name) {
            return Err(NpmError::BadSpec(format!("{name} (a dependency of {parent})")));
        }
        let chain = lookup_chain(&parent, &name);
        // Already visible from here at a version that fits: nothing to add.
        if let Some(found) = chain.iter().find_map(|p| tree.get(p))
            && satisfies(&range, &found.version)
        {
            continue;
        }
        let release = client.pick(&name, &range)?;
        if let Some(why) = &release.native {
            return Err(NpmError::NativeAddon {
                module: name,
                why: why.clone(),
            });
        }
        // As high as possible (hoisted), but nearer than any other version of it on the way
        // up, which would otherwise shadow it.
        let nearest_taken = chain.iter().position(|p| tree.contains_key(p)).unwrap_or(chain.len());
        let slot = chain[..nearest_taken].last().unwrap_or(&chain[0]).clone();
        for (dep, r) in &release.dependencies {
            queue.push_back((dep.clone(), r.clone(), slot.clone()));
        }
        tree.insert(slot, release);
    }
    fetch_all(client, tree, into)
}

/// Installs exactly the packages of a lock entry (the registry's metadata for each locked
/// version, its tarball checked against the locked integrity).
pub(super) fn install_locked(client: &mut Registry, lock: &ActionLock, into: &Path) -> Result<Installed, NpmError> {
    let mut tree = BTreeMap::new();
    for (path, p) in &lock.packages {
        // A lock file is input too: its paths must be node_modules paths of valid names.
        if !super::valid_install_path(path) || !super::valid_name(&p.name) {
            return Err(NpmError::BadSpec(format!("the lock file names '{path}'")));
        }
        let mut release = client.exact(&p.name, &p.version)?;
        if let Some(why) = &release.native {
            return Err(NpmError::NativeAddon {
                module: p.name.clone(),
                why: why.clone(),
            });
        }
        // The lock is the authority: its integrity must match the tarball.
        release.integrity = p.integrity.clone();
        release.tarball = p.resolved.clone();
        tree.insert(path.clone(), release);
    }
    fetch_all(client, tree, into)
}

fn fetch_all(client: &Registry, tree: BTreeMap<String, Release>, into: &Path) -> Result<Installed, NpmError> {
    let mut installed = Installed::default();
    for (path, release) in tree {
        client.fetch_into(&release, &into.join(&path))?;
        installed.packages.insert(
            path,
            LockedPackage {
                name: release.name,
                version: release.version,
                resolved: release.tarball,
                integrity: release.integrity,
            },
        );
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_looks_in_the_nearest_node_modules_first() {
        assert_eq!(lookup_chain("", "a"), ["node_modules/a"]);
        assert_eq!(
            lookup_chain("node_modules/x/node_modules/@s/y", "a"),
            [
                "node_modules/x/node_modules/@s/y/node_modules/a",
                "node_modules/x/node_modules/a",
                "node_modules/a"
            ]
        );
    }

    #[test]
    fn ranges_follow_npm() {
        assert!(satisfies("^0.8.10", "0.8.11"));
        assert!(!satisfies("^0.8.10", "0.9.0"));
        assert!(satisfies("1.x || >=2.5.0", "2.6.1"));
        assert!(satisfies("latest", "9.9.9"));
    }
}
