//! `require` inside an action's sandbox (issue 17): Node's CommonJS resolution over the action's
//! installed `node_modules` (relative paths, `.js`/`.cjs`/`.json`, folders with `index.js`,
//! package `main` and `exports` with the `require`, `node` and `default` conditions). Every
//! module is compiled to QuickJS bytecode once per process, the first time a sandbox loads it
//! (at start-up for what the action requires at its top level); each sandbox evaluates its own
//! copy, so sandboxes stay isolated.
//!
//! Ids are paths relative to the action's modules folder; nothing outside it can be named.
//! Node's built-in modules are not available (yet): requiring one fails with a clear message.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use rquickjs::{CatchResultExt, Ctx, Module};
use serde_json::Value;

/// Largest module file read.
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// Node's built-in module names (`node:` prefix or bare).
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// The installed modules of one action.
pub(super) struct ModuleSet {
    root: PathBuf,
    compiled: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for ModuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleSet").field("root", &self.root).finish_non_exhaustive()
    }
}

/// `a/b/../c` -> `a/c`; `None` when it would leave the root.
fn normalize(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(parts.join("/"))
}

impl ModuleSet {
    /// The modules installed in `root` (an action's folder).
    pub fn new(root: PathBuf) -> ModuleSet {
        ModuleSet {
            root,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    fn is_file(&self, id: &str) -> bool {
        !id.is_empty() && self.root.join(id).is_file()
    }

    fn read(&self, id: &str) -> Result<String, String> {
        let path = self.root.join(id);
        let meta = std::fs::metadata(&path).map_err(|e| format!("{id}: {e}"))?;
        if meta.len() > MAX_FILE {
            return Err(format!("{id}: larger than {MAX_FILE} bytes"));
        }
        std::fs::read_to_string(&path).map_err(|e| format!("{id}: {e}"))
    }

    fn package_json(&self, dir: &str) -> Option<Value> {
        let id = if dir.is_empty() {
            "package.json".to_string()
        } else {
            format!("{dir}/package.json")
        };
        self.read(&id).ok().and_then(|t| serde_json::from_str(&t).ok())
    }

    /// The id (`node_modules/x/lib/a.js`) `spec` names when required from a module in folder
    /// `from` ("" = the action).
    pub fn resolve(&self, from: &str, spec: &str) -> Result<String, String> {
        self.resolve_as(from, spec, false)
    }

    /// As [`ModuleSet::resolve`], for an `import` (`esm`: the `import` condition of `exports`
    /// instead of `require`).
    pub fn resolve_as(&self, from: &str, spec: &str, esm: bool) -> Result<String, String> {
        let not_found = || format!("Cannot find module '{spec}'");
        let builtin = spec.strip_prefix("node:").unwrap_or(spec);
        if spec.starts_with("node:") || NODE_BUILTINS.contains(&builtin.split('/').next().unwrap_or_default()) {
            return Err(format!(
                "Cannot find module '{spec}': Node's built-in '{builtin}' is not available to actions"
            ));
        }
        if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." || spec.starts_with('/') {
            let joined = if spec.starts_with('/') {
                PathBuf::from(spec)
            } else {
                Path::new(from).join(spec)
            };
            let id = normalize(&joined).ok_or_else(not_found)?;
            return self.as_file(&id).or_else(|| self.as_dir(&id)).ok_or_else(not_found);
        }
        // A bare name: `name` or `@scope/name`, and a subpath.
        let mut segments = spec.splitn(if spec.starts_with('@') { 3 } else { 2 }, '/');
        let name = if spec.starts_with('@') {
            format!("{}/{}", segments.next().unwrap_or_default(), segments.next().unwrap_or_default())
        } else {
            segments.next().unwrap_or_default().to_string()
        };
        let sub = segments.next();
        if name.is_empty() || name.contains("..") {
            return Err(not_found());
        }
        let mut dir = from.to_string();
        loop {
            let base = if dir.is_empty() {
                format!("node_modules/{name}")
            } else {
                format!("{dir}/node_modules/{name}")
            };
            if self.root.join(&base).is_dir() {
                return self.in_package(&base, sub, esm).ok_or_else(not_found);
            }
            if dir.is_empty() {
                return Err(not_found());
            }
            dir = match dir.rfind('/') {
                Some(i) => dir[..i].to_string(),
                None => String::new(),
            };
        }
    }

    /// A package folder and an optional subpath: `exports` first (conditions `require`,
    /// `node`, `default`), then `main` or `index.js`.
    fn in_package(&self, base: &str, sub: Option<&str>, esm: bool) -> Option<String> {
        let pkg = self.package_json(base);
        if let Some(exports) = pkg.as_ref().and_then(|p| p.get("exports")) {
            let key = sub.map_or(".".to_string(), |s| format!("./{s}"));
            let target = export_target(exports, &key, esm)?;
            let id = normalize(&Path::new(base).join(target.trim_start_matches("./")))?;
            return self.is_file(&id).then_some(id);
        }
        match sub {
            Some(s) => {
                let id = normalize(&Path::new(base).join(s))?;
                self.as_file(&id).or_else(|| self.as_dir(&id))
            }
            None => self.as_dir(base),
        }
    }

    fn as_file(&self, id: &str) -> Option<String> {
        if self.is_file(id) {
            return Some(id.to_string());
        }
        [".js", ".cjs", ".json"]
            .iter()
            .map(|ext| format!("{id}{ext}"))
            .find(|candidate| self.is_file(candidate))
    }

    fn as_dir(&self, id: &str) -> Option<String> {
        if let Some(main) = self
            .package_json(id)
            .and_then(|p| p.get("main").and_then(Value::as_str).map(str::to_string))
        {
            let m = normalize(&Path::new(id).join(&main))?;
            if let Some(found) = self.as_file(&m).or_else(|| self.index(&m)) {
                return Some(found);
            }
        }
        self.index(id)
    }

    fn index(&self, id: &str) -> Option<String> {
        ["index.js", "index.cjs", "index.json"]
            .iter()
            .map(|f| if id.is_empty() { f.to_string() } else { format!("{id}/{f}") })
            .find(|candidate| self.is_file(candidate))
    }

    /// Whether a module is an ES module (`.mjs`, or `.js` in a package of `"type": "module"`).
    pub fn is_esm(&self, id: &str) -> bool {
        if id.ends_with(".mjs") {
            return true;
        }
        if !id.ends_with(".js") {
            return false;
        }
        let mut dir = id;
        while let Some(i) = dir.rfind('/') {
            dir = &dir[..i];
            if let Some(pkg) = self.package_json(dir) {
                return pkg.get("type").and_then(Value::as_str) == Some("module");
            }
        }
        self.package_json("")
            .and_then(|p| p.get("type").and_then(Value::as_str).map(|t| t == "module"))
            == Some(true)
    }

    /// The text of a module (JSON modules are parsed by the caller).
    pub fn source(&self, id: &str) -> Result<String, String> {
        self.read(id)
    }

    /// An ES module declared in `ctx` (name `/<id>`): from the bytecode compiled by the first
    /// sandbox that loaded it, or compiled now and its bytecode kept.
    pub fn declare_esm<'js>(&self, ctx: &Ctx<'js>, id: &str) -> rquickjs::Result<Module<'js>> {
        let key = format!("esm:{id}");
        if let Some(b) = self.compiled.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return crate::ffi::load_module(ctx, &b);
        }
        let source = self.read(id).map_err(|e| rquickjs::Exception::throw_message(ctx, &e))?;
        let declared = Module::declare(ctx.clone(), format!("/{id}"), source)?;
        if let Ok(bytes) = declared.write(Default::default())
            && let Ok(mut c) = self.compiled.lock()
        {
            c.insert(key, Arc::new(bytes));
        }
        Ok(declared)
    }

    /// The bytecode of a CommonJS module: an ES module that stores the module's function
    /// `(exports, require, module, __filename, __dirname)` on a global. Compiled once.
    pub fn bytecode(&self, ctx: &Ctx<'_>, id: &str) -> Result<Arc<Vec<u8>>, String> {
        if let Some(b) = self.compiled.lock().ok().and_then(|c| c.get(id).cloned()) {
            return Ok(b);
        }
        let source = self.read(id)?;
        // A `#!` line is a comment to Node.
        let body = if source.starts_with("#!") { format!("//{source}") } else { source };
        let wrapped = format!("globalThis.__idpipe_factory = function (exports, require, module, __filename, __dirname) {{{body}\n}};\n");
        let declared = Module::declare(ctx.clone(), format!("/{id}"), wrapped)
            .catch(ctx)
            .map_err(|e| format!("{id}: {}", super::caught_message(e).0))?;
        let bytes = Arc::new(declared.write(Default::default()).map_err(|e| format!("{id}: {e}"))?);
        if let Ok(mut c) = self.compiled.lock() {
            c.insert(id.to_string(), bytes.clone());
        }
        Ok(bytes)
    }
}

/// The file an `exports` map gives for `key` (`.` or `./sub`), with Node's CommonJS conditions.
fn export_target(exports: &Value, key: &str, esm: bool) -> Option<String> {
    let conditional = |v: &Value| -> Option<String> { pick_condition(v, esm) };
    match exports {
        Value::String(s) if key == "." => Some(s.clone()),
        Value::Object(map) if map.keys().any(|k| k.starts_with('.')) => {
            if let Some(v) = map.get(key) {
                return conditional(v);
            }
            // Patterns: "./features/*": "./src/features/*.js".
            map.iter().find_map(|(k, v)| {
                let (prefix, suffix) = k.split_once('*')?;
                let middle = key.strip_prefix(prefix)?.strip_suffix(suffix)?;
                conditional(v).map(|t| t.replace('*', middle))
            })
        }
        // Conditions at the top: the package's "." export.
        Value::Object(_) if key == "." => conditional(exports),
        _ => None,
    }
}

fn pick_condition(v: &Value, esm: bool) -> Option<String> {
    let conditions: &[&str] = if esm {
        &["import", "node", "default"]
    } else {
        &["require", "node", "default"]
    };
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(|i| pick_condition(i, esm)),
        // In the order the package lists them, the first that applies.
        Value::Object(map) => map
            .iter()
            .find(|(k, _)| conditions.contains(&k.as_str()))
            .and_then(|(_, v)| pick_condition(v, esm)),
        _ => None,
    }
}

/// Installs `require` for an action whose modules are in `modules` (before the action's own
/// module runs): two host functions (resolve; load a module's function) behind the prelude's
/// CommonJS loader.
pub(super) fn install_require<'js>(ctx: &Ctx<'js>, modules: &Arc<ModuleSet>) -> rquickjs::Result<()> {
    use rquickjs::{Exception, Function, Object};
    let m = modules.clone();
    let resolve = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, from: String, spec: String| -> rquickjs::Result<String> {
            m.resolve(&from, &spec).map_err(|e| Exception::throw_message(&ctx, &e))
        },
    )?;
    let m = modules.clone();
    let source = Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: String| -> rquickjs::Result<String> {
        m.source(&id).map_err(|e| Exception::throw_message(&ctx, &e))
    })?;
    let m = modules.clone();
    let load = Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: String| -> rquickjs::Result<Function<'js>> {
        let bytes = m.bytecode(&ctx, &id).map_err(|e| Exception::throw_message(&ctx, &e))?;
        let module = crate::ffi::load_module(&ctx, &bytes)?;
        let (_, promise) = module.eval()?;
        promise.finish::<()>()?;
        let globals = ctx.globals();
        let factory: Function = globals.get("__idpipe_factory")?;
        globals.remove("__idpipe_factory")?;
        Ok(factory)
    })?;
    let m = modules.clone();
    let is_esm = Function::new(ctx.clone(), move |id: String| m.is_esm(&id))?;
    let esm = Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: String| -> rquickjs::Result<Object<'js>> {
        super::esm::require_esm(&ctx, &id)
    })?;
    let idpipe: Object = ctx.globals().get("__idpipe")?;
    let make: Function = idpipe.get("makeRequire")?;
    let require: Function = make.call((resolve, load, source, is_esm, esm))?;
    ctx.globals().set("require", require)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
    }

    #[test]
    fn resolution_follows_node() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            &[
                ("node_modules/plain/package.json", r#"{"main": "lib/plain"}"#),
                ("node_modules/plain/lib/plain.js", ""),
                ("node_modules/plain/lib/util.json", "{}"),
                ("node_modules/noindex/index.js", ""),
                (
                    "node_modules/@s/x/package.json",
                    r#"{"exports": {".": {"import": "./esm.mjs", "require": "./cjs.js"}, "./sub": "./sub/index.js", "./f/*": "./features/*.js"}}"#,
                ),
                ("node_modules/@s/x/cjs.js", ""),
                ("node_modules/@s/x/sub/index.js", ""),
                ("node_modules/@s/x/features/a.js", ""),
                ("node_modules/@s/x/node_modules/plain/index.js", ""),
            ],
        );
        let m = ModuleSet::new(dir.path().to_path_buf());
        assert_eq!(m.resolve("", "plain").as_deref(), Ok("node_modules/plain/lib/plain.js"));
        assert_eq!(
            m.resolve("node_modules/plain/lib", "./util").as_deref(),
            Ok("node_modules/plain/lib/util.json")
        );
        assert_eq!(m.resolve("", "noindex").as_deref(), Ok("node_modules/noindex/index.js"));
        assert_eq!(m.resolve("", "@s/x").as_deref(), Ok("node_modules/@s/x/cjs.js"));
        assert_eq!(m.resolve("", "@s/x/sub").as_deref(), Ok("node_modules/@s/x/sub/index.js"));
        assert_eq!(m.resolve("", "@s/x/f/a").as_deref(), Ok("node_modules/@s/x/features/a.js"));
        assert!(m.resolve("", "@s/x/cjs.js").is_err(), "not exported");
        // The nearest node_modules wins.
        assert_eq!(
            m.resolve("node_modules/@s/x", "plain").as_deref(),
            Ok("node_modules/@s/x/node_modules/plain/index.js")
        );
        // Nothing outside the folder, and no built-ins yet.
        for spec in ["../../etc/passwd", "/../etc/passwd", "../x", "missing", "@s/../../x"] {
            assert!(m.resolve("", spec).is_err(), "{spec}");
        }
        let fs = m.resolve("", "node:fs").expect_err("builtin");
        assert!(fs.contains("built-in 'fs'"), "{fs}");
        assert!(m.resolve("", "child_process").is_err());
    }
}
