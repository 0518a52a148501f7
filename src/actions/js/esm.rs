//! ES modules for actions' dependencies (issue 17): packages that ship only ESM (recent `jose`,
//! `openid-client`) load through QuickJS's own module system, with Node's resolution and the
//! `import` condition; an ES module may import CommonJS modules (default export
//! `module.exports`, named exports its keys) and idpipe's built-ins (`node:crypto`, ...); and
//! `require` of an ES module returns its namespace, as Node 22 does. Each module's bytecode is
//! compiled once per process.

use std::sync::Arc;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::{Ctx, Exception, Function, Module, Object, Value};

use super::modules::ModuleSet;

/// A module name is `/<id>` for a file, `node:<name>` for a built-in.
fn id_of(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

fn dir_of(id: &str) -> &str {
    id.rfind('/').map_or("", |i| &id[..i])
}

/// Names the importer's specifier (Node's ESM resolution over the action's modules).
pub(super) struct EsmResolver(pub Arc<ModuleSet>);

impl Resolver for EsmResolver {
    fn resolve<'js>(&mut self, ctx: &Ctx<'js>, base: &str, name: &str, _: Option<ImportAttributes<'js>>) -> rquickjs::Result<String> {
        // The prelude's list of the built-ins (reading the table itself would load the lazy
        // Node globals for every import).
        let builtin = name.strip_prefix("node:").unwrap_or(name);
        let provided = ctx
            .globals()
            .get::<_, Object>("__idpipe")
            .and_then(|i| i.get::<_, Vec<String>>("BUILTIN_NAMES"))
            .is_ok_and(|names| names.iter().any(|n| n == builtin));
        if provided {
            return Ok(format!("node:{builtin}"));
        }
        match self.0.resolve_as(dir_of(id_of(base)), name, true) {
            Ok(id) => Ok(format!("/{id}")),
            Err(e) => Err(Exception::throw_message(ctx, &e)),
        }
    }
}

/// Declares a module by name: an ES module from its bytecode (compiled once), or a synthetic
/// ES module over a CommonJS module, a JSON file or a built-in.
pub(super) struct EsmLoader(pub Arc<ModuleSet>);

/// `export default m; export const {a, b} = m;` over the value a global expression gives.
fn reexport<'js>(ctx: &Ctx<'js>, name: &str, value: &Value<'js>, expr: &str) -> rquickjs::Result<Module<'js>> {
    let mut names = Vec::new();
    if let Some(o) = value.as_object() {
        for k in o.keys::<String>().flatten() {
            let ident = !k.is_empty()
                && k != "default"
                && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
            if ident {
                names.push(k);
            }
        }
    }
    let named = if names.is_empty() {
        String::new()
    } else {
        format!("export const {{ {} }} = m;\n", names.join(", "))
    };
    Module::declare(ctx.clone(), name, format!("const m = {expr};\nexport default m;\n{named}"))
}

impl Loader for EsmLoader {
    fn load<'js>(&mut self, ctx: &Ctx<'js>, name: &str, _: Option<ImportAttributes<'js>>) -> rquickjs::Result<Module<'js>> {
        if let Some(builtin) = name.strip_prefix("node:") {
            let table: Object = ctx.globals().get("__idpipe_builtins")?;
            let value: Value = table.get(builtin)?;
            return reexport(
                ctx,
                name,
                &value,
                &format!("globalThis.__idpipe_builtins[{}]", serde_json::Value::from(builtin)),
            );
        }
        let id = id_of(name).to_string();
        if id.ends_with(".json") {
            let text = self.0.source(&id).map_err(|e| Exception::throw_message(ctx, &e))?;
            return Module::declare(ctx.clone(), name, format!("export default {text};\n"));
        }
        if !self.0.is_esm(&id) {
            // CommonJS under an import: run it through `require`, re-export what it exports.
            let require: Function = ctx.globals().get("require")?;
            let exports: Value = require.call((name.to_string(),))?;
            let expr = format!("globalThis.require({})", serde_json::Value::from(name));
            return reexport(ctx, name, &exports, &expr);
        }
        self.0.declare_esm(ctx, &id)
    }
}

/// `require` of an ES module: its namespace, once its graph has run.
pub(super) fn require_esm<'js>(ctx: &Ctx<'js>, id: &str) -> rquickjs::Result<Object<'js>> {
    let promise = Module::import(ctx, format!("/{id}"))?;
    promise.finish::<Object>()
}
