//! JavaScript actions on embedded QuickJS (rquickjs), behind the same [`Action`] trait as native
//! actions: the pipeline core does not know scripts exist.
//!
//! * Each script is a CommonJS module exporting `onExecutePostLogin` / `onContinuePostLogin` /
//!   `onExecutePostChallenge` / `onContinuePostChallenge` (usually `async`). It is compiled once at
//!   start-up to QuickJS bytecode; a syntax error is reported with file, line and column.
//! * Sandboxes: one runtime and context each, built ahead of time by a background thread (the
//!   prelude installed, the module evaluated). Warm (default): a sandbox serves invocation after
//!   invocation, each with a fresh `event` and `api`; fresh: one sandbox per invocation.
//! * The Node and web globals (`node.js`, `web.js`, `nodelib.js`, `crypto.js`, with `node.rs` and
//!   `keys.rs` on the host) load on a sandbox's first use of one of them; `require` serves them
//!   and the action's installed npm modules (`modules.rs`, `esm.rs`).
//! * An invocation runs an event loop (`invoke.rs`): promise jobs, timers and `fetch` answers.
//! * Limits: a memory limit per runtime, a stack limit, and a CPU time limit: the interrupt
//!   handler stops the script at the action's deadline; the event loop never waits past it.

mod esm;
mod fetch;
mod host;
mod invoke;
mod keys;
mod modules;
mod node;
mod pool;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rquickjs::{CatchResultExt, CaughtError, Context, Function, Module, Runtime};

pub use fetch::FetchPolicy;

use crate::ffi::CurrentApi;
use crate::pipeline::{Action, ActionError, Event, Phase, PostChallengeApi, PostLoginApi, SendPhoneMessageApi};

const PRELUDE: &str = include_str!("prelude.js");
/// Node and web globals, and the built-in modules `require` serves.
const NODE: &str = include_str!("node.js");
/// Timers, events, AbortController, Headers, FormData and `fetch`.
const WEB: &str = include_str!("web.js");
/// util, events, querystring, path, string_decoder, zlib and `process`.
const NODELIB: &str = include_str!("nodelib.js");
/// crypto.subtle keys and signatures, node:crypto's KeyObject, sign and verify.
const CRYPTO: &str = include_str!("crypto.js");

/// Pre-builds one api maker per trigger whose handlers the module exports.
const WARM_UP: &str = r#"(function () {
  const h = globalThis.__idpipe_handlers || {};
  // One api maker per trigger whose handlers the module exports; each invocation gets a fresh api.
  const apis = {};
  if (h.onExecutePostLogin || h.onContinuePostLogin) apis["post-login"] = __idpipe.makeApi("post-login");
  if (h.onExecutePostChallenge || h.onContinuePostChallenge) {
    apis["post-challenge"] = __idpipe.makeApi("post-challenge");
    apis["password-reset-post-challenge"] = __idpipe.makeApi("password-reset-post-challenge");
  }
  if (h.onExecuteSendPhoneMessage) apis["send-phone-message"] = __idpipe.makeApi("send-phone-message");
  // One call from Rust per invocation: handler lookup, event parse and call happen here.
  globalThis.__idpipe_invoke = function (trigger, handler, eventJson) {
    const f = h[handler];
    if (typeof f !== "function") return __idpipe_missing;
    return f(JSON.parse(eventJson), (apis[trigger] || (apis[trigger] = __idpipe.makeApi(trigger)))());
  };
  globalThis.__idpipe_missing = Object.freeze({});
  __idpipe_host("warm-up", JSON.stringify([]));
})();"#;

/// Configuration of the script runtime.
#[derive(Debug, Clone)]
pub struct JsConfig {
    /// Memory limit of each action's runtime, in bytes.
    pub memory_limit: usize,
    /// Maximum JS stack size, in bytes.
    pub max_stack: usize,
    /// Contexts kept ready per action.
    pub pool_size: usize,
    /// What `fetch` may reach.
    pub fetch: FetchPolicy,
    /// Longest time a sandbox build (the module's top-level code) may take; a build past it is
    /// discarded and reported.
    pub build_timeout: Duration,
    /// How sandboxes are used across logins.
    pub sandbox: SandboxMode,
    /// The action's installed npm modules (its folder under `action_modules`), if it declares
    /// dependencies: `require` resolves in it.
    pub modules: Option<std::path::PathBuf>,
    /// After this long without an invocation, the pool drops the sandboxes it holds beyond
    /// `pool_size` (a burst can leave twice as many) and collects the others' garbage: an idle
    /// server gives that memory back.
    pub idle_trim: Duration,
}

/// How an action's sandboxes are used across logins (`action_sandbox` in the tenant file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxMode {
    /// A sandbox serves one invocation after another (the hosted service's model: module-level
    /// code runs once per instance, module-level variables survive between logins), each with a
    /// fresh `event` and the current login's `api`. A sandbox is dropped instead of reused after
    /// an error or a time-out, when a promise or job of the invocation is still pending (it could
    /// otherwise run during another login), and after [`MAX_USES`] invocations.
    #[default]
    Warm,
    /// A fresh sandbox per invocation (built ahead of time): nothing survives a login.
    Fresh,
}

/// Invocations a warm sandbox serves before it is replaced (bounds slow leaks in module state).
pub const MAX_USES: u32 = 1000;

impl Default for JsConfig {
    fn default() -> Self {
        JsConfig {
            memory_limit: 32 * 1024 * 1024,
            max_stack: 512 * 1024,
            pool_size: 4,
            fetch: FetchPolicy::default(),
            build_timeout: Duration::from_secs(5),
            sandbox: SandboxMode::Warm,
            modules: None,
            idle_trim: Duration::from_secs(5),
        }
    }
}

/// Why a script could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JsError {
    /// The file could not be read.
    #[error("{file}: {reason}")]
    Io {
        /// Path.
        file: String,
        /// Why.
        reason: String,
    },
    /// The script does not compile.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// Path.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// QuickJS's message.
        message: String,
    },
    /// The engine failed.
    #[error("{file}: {message}")]
    Engine {
        /// Path.
        file: String,
        /// Why.
        message: String,
    },
}

/// Monotonic nanoseconds since the first use (for the interrupt deadline).
fn mono_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Wraps a CommonJS source as an ES module that stores its exports on a global. The prefix is on
/// the first line, so line numbers are the file's own.
fn wrap(source: &str) -> String {
    format!(
        "{PREFIX}{source}\n}})(globalThis.__idpipe_module.exports, globalThis.require, globalThis.__idpipe_module);\nglobalThis.__idpipe_handlers = globalThis.__idpipe_module.exports;\n"
    )
}
const PREFIX: &str = "globalThis.__idpipe_module = { exports: {} }; (function (exports, require, module) {";

fn caught_message(e: CaughtError<'_>) -> (String, Option<String>) {
    match e {
        CaughtError::Exception(ex) => {
            let msg = ex.message().unwrap_or_default();
            let name: Option<String> = ex.get("name").ok();
            let text = match name {
                Some(n) if !n.is_empty() => format!("{n}: {msg}"),
                _ => msg,
            };
            (text, ex.stack())
        }
        CaughtError::Value(v) => {
            let s = v.as_string().and_then(|s| s.to_string().ok()).unwrap_or_else(|| format!("{v:?}"));
            (format!("Uncaught {s}"), None)
        }
        CaughtError::Error(e) => (e.to_string(), None),
    }
}

/// Finds `file:line:col` in a QuickJS stack trace.
fn position(stack: &str, file: &str) -> Option<(u32, u32)> {
    let at = stack.find(file)? + file.len();
    let rest = stack.get(at..)?.strip_prefix(':')?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let line = parts.next()?.parse().ok()?;
    let col = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
    Some((line, col))
}

/// idpipe's own scripts as module bytecode, in the order a sandbox loads them (the action's
/// module goes between `node` and `warm_up`).
struct Builtins {
    prelude: Vec<u8>,
    node: Vec<u8>,
    web: Vec<u8>,
    nodelib: Vec<u8>,
    crypto: Vec<u8>,
    warm_up: Vec<u8>,
}

/// The prelude, the Node globals and the warm-up compiled once per process to module bytecode.
/// Why: parsing them from source in every sandbox was the largest cost of a sandbox (QuickJS's
/// parser).
fn builtin_bytecode() -> Result<&'static Builtins, String> {
    static COMPILED: std::sync::OnceLock<Result<Builtins, String>> = std::sync::OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        let runtime = Runtime::new().map_err(|e| e.to_string())?;
        let ctx = Context::full(&runtime).map_err(|e| e.to_string())?;
        ctx.with(|ctx| -> Result<Builtins, String> {
            let compile = |name: &str, src: &str| -> Result<Vec<u8>, String> {
                let m = Module::declare(ctx.clone(), name, src)
                    .catch(&ctx)
                    .map_err(|e| caught_message(e).0)?;
                m.write(Default::default()).map_err(|e| e.to_string())
            };
            Ok(Builtins {
                prelude: compile("idpipe:prelude", PRELUDE)?,
                node: compile("idpipe:node", NODE)?,
                web: compile("idpipe:web", WEB)?,
                nodelib: compile("idpipe:nodelib", NODELIB)?,
                crypto: compile("idpipe:crypto", CRYPTO)?,
                warm_up: compile("idpipe:warm-up", WARM_UP)?,
            })
        })
    });
    compiled.as_ref().map_err(Clone::clone)
}

/// One isolated script environment: its own runtime (memory limit, interrupt deadline) and one
/// context with the prelude installed and the module evaluated. Used by one login, then dropped.
struct Sandbox {
    // Field order matters: the context must be dropped before its runtime.
    ctx: Context,
    #[allow(dead_code)]
    runtime: Runtime,
    deadline_ns: Arc<AtomicU64>,
    /// Invocations served.
    uses: u32,
}

struct Inner {
    name: String,
    file: String,
    bytecode: Vec<u8>,
    ready: Mutex<Vec<Sandbox>>,
    used: Mutex<Vec<Sandbox>>,
    /// When a sandbox was last taken ([`mono_ns`]).
    last_take_ns: AtomicU64,
    wake: Condvar,
    config: JsConfig,
    fetch: Arc<FetchPolicy>,
    modules: Option<Arc<modules::ModuleSet>>,
}

/// A runtime with the limits and the CPU-time interrupt installed.
fn limited_runtime(config: &JsConfig) -> Result<(Runtime, Arc<AtomicU64>), String> {
    let runtime = Runtime::new_with_alloc(crate::ffi::MiAllocator).map_err(|e| e.to_string())?;
    runtime.set_memory_limit(config.memory_limit);
    runtime.set_max_stack_size(config.max_stack);
    // A fresh sandbox lives for one login: collecting garbage during it is wasted time unless the
    // script allocates a lot, so GC starts at a quarter of the memory limit. A warm one serves
    // many logins: its cycles are collected early, so that idle pools stay small.
    runtime.set_gc_threshold(match config.sandbox {
        SandboxMode::Fresh => config.memory_limit / 4,
        SandboxMode::Warm => (config.memory_limit / 16).max(1024 * 1024),
    });
    let deadline_ns = Arc::new(AtomicU64::new(0));
    let d = deadline_ns.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || {
        let at = d.load(Ordering::Relaxed);
        at != 0 && mono_ns() > at
    })));
    Ok((runtime, deadline_ns))
}

impl Inner {
    /// A fresh sandbox. Why a runtime each: a runtime is locked while in use, so sandboxes built
    /// by the background thread never make a running login wait.
    ///
    /// The module's top-level code runs under `deadline` (the interrupt handler stops it); a
    /// build past it fails and the sandbox is dropped.
    fn build_sandbox(&self, deadline: Instant) -> Result<Sandbox, String> {
        let (runtime, deadline_ns) = limited_runtime(&self.config)?;
        let left = deadline.saturating_duration_since(Instant::now());
        deadline_ns.store(mono_ns() + left.as_nanos() as u64 + 1, Ordering::Relaxed);
        if let Some(m) = &self.modules {
            runtime.set_loader(esm::EsmResolver(m.clone()), esm::EsmLoader(m.clone()));
        }
        let ctx = Context::full(&runtime).map_err(|e| e.to_string())?;
        ctx.with(|ctx| -> Result<(), String> {
            let host = Function::new(ctx.clone(), host::host_call).map_err(|e| e.to_string())?;
            ctx.globals().set("__idpipe_host", host).map_err(|e| e.to_string())?;
            let node = Function::new(
                ctx.clone(),
                |ctx: rquickjs::Ctx<'_>, op: String, a: String, b: String, c: String| -> rquickjs::Result<String> {
                    node::node_call(op, a, b, c).map_err(|e| rquickjs::Exception::throw_message(&ctx, &e))
                },
            )
            .map_err(|e| e.to_string())?;
            ctx.globals().set("__idpipe_node", node).map_err(|e| e.to_string())?;
            // Taken off the global object by the prelude, which keeps it for makeApi.
            let untouched = Function::new(
                ctx.clone(),
                |ctx: rquickjs::Ctx<'_>, holder: rquickjs::Value<'_>, template: rquickjs::Value<'_>| {
                    crate::ffi::api_untouched(&ctx, &holder, &template)
                },
            )
            .map_err(|e| e.to_string())?;
            ctx.globals().set("__idpipe_untouched", untouched).map_err(|e| e.to_string())?;
            let builtins = builtin_bytecode()?;
            // Off the login path: the prelude, the action's module, then the api objects this
            // sandbox will hand out. The sandbox is used by one login only, so nothing here can
            // leak between logins.
            // (bytecode, whether `require` for the action's modules goes in first)
            // The Node and web globals, evaluated on first use (the prelude's lazy globals).
            let load = Function::new(ctx.clone(), |ctx: rquickjs::Ctx<'_>| -> rquickjs::Result<()> {
                let builtins = builtin_bytecode().map_err(|e| rquickjs::Exception::throw_message(&ctx, &e))?;
                for bytecode in [&builtins.node, &builtins.web, &builtins.nodelib, &builtins.crypto] {
                    let (_, promise) = crate::ffi::load_module(&ctx, bytecode)?.eval()?;
                    promise.finish::<()>()?;
                }
                ctx.globals().set("__idpipe_loaded", true)
            })
            .map_err(|e| e.to_string())?;
            ctx.globals().set("__idpipe_load_builtins", load).map_err(|e| e.to_string())?;
            let order = [(&builtins.prelude, false), (&self.bytecode, true), (&builtins.warm_up, false)];
            for (bytecode, is_action) in order {
                if is_action && let Some(m) = &self.modules {
                    modules::install_require(&ctx, m).catch(&ctx).map_err(|e| caught_message(e).0)?;
                }
                let module = crate::ffi::load_module(&ctx, bytecode)
                    .catch(&ctx)
                    .map_err(|e| caught_message(e).0)?;
                let (_, promise) = module.eval().catch(&ctx).map_err(|e| caught_message(e).0)?;
                promise.finish::<()>().catch(&ctx).map_err(|e| caught_message(e).0)?;
            }
            Ok(())
        })
        .map_err(|e| {
            if Instant::now() >= deadline {
                format!("the module's top-level code did not finish within its time limit ({e})")
            } else {
                e
            }
        })?;
        deadline_ns.store(0, Ordering::Relaxed);
        Ok(Sandbox {
            ctx,
            runtime,
            deadline_ns,
            uses: 0,
        })
    }

    /// A sandbox built by the refill thread or at start-up.
    fn build_ahead(&self) -> Result<Sandbox, String> {
        self.build_sandbox(Instant::now() + self.config.build_timeout)
    }
}

/// A JavaScript action.
pub struct JsAction {
    inner: Arc<Inner>,
}

impl JsAction {
    /// Loads and compiles a script file (with its file name for errors and traces).
    pub fn from_file(path: &std::path::Path, config: JsConfig) -> Result<Self, JsError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| JsError::Io {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.clone());
        Self::from_source(&name, &file, &source, config)
    }

    /// Compiles a script given as text.
    pub fn from_source(name: &str, file: &str, source: &str, config: JsConfig) -> Result<Self, JsError> {
        let engine = |message: String| JsError::Engine {
            file: file.to_string(),
            message,
        };
        let (runtime, _) = limited_runtime(&config).map_err(engine)?;
        let bytecode = {
            let ctx = Context::full(&runtime).map_err(|e| engine(e.to_string()))?;
            ctx.with(|ctx| -> Result<Vec<u8>, JsError> {
                let declared = Module::declare(ctx.clone(), file, wrap(source)).catch(&ctx).map_err(|e| {
                    let (message, stack) = caught_message(e);
                    let (line, column) = stack
                        .as_deref()
                        .and_then(|s| position(s, file))
                        .or_else(|| position(&message, file))
                        .unwrap_or((0, 0));
                    let column = if line == 1 {
                        column.saturating_sub(PREFIX.len() as u32)
                    } else {
                        column
                    };
                    JsError::Syntax {
                        file: file.to_string(),
                        line,
                        column,
                        message,
                    }
                })?;
                declared.write(Default::default()).map_err(|e| engine(e.to_string()))
            })?
        };
        let inner = Arc::new(Inner {
            name: name.to_string(),
            file: file.to_string(),
            bytecode,
            ready: Mutex::new(Vec::new()),
            used: Mutex::new(Vec::new()),
            last_take_ns: AtomicU64::new(0),
            wake: Condvar::new(),
            fetch: Arc::new(config.fetch.clone()),
            modules: config.modules.clone().map(|root| Arc::new(modules::ModuleSet::new(root))),
            config,
        });
        // Top-level code must run too: build one context now so load errors surface at start-up.
        let first = inner.build_ahead().map_err(|message| JsError::Engine {
            file: file.to_string(),
            message,
        })?;
        if let Ok(mut r) = inner.ready.lock() {
            r.push(first);
        }
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name(format!("js-pool-{name}"))
            .spawn(move || pool::refill_loop(weak))
            .map_err(|e| engine(e.to_string()))?;
        Ok(JsAction { inner })
    }

    /// Waits (up to `timeout`) until the pool holds its configured number of contexts.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self
                .inner
                .ready
                .lock()
                .map(|r| r.len() >= self.inner.config.pool_size)
                .unwrap_or(false)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    /// Sandboxes ready in the pool.
    pub fn pooled(&self) -> usize {
        self.inner.ready.lock().map_or(0, |r| r.len())
    }

    /// Runs the handler on this thread. A built-in that ignores the interrupt is bounded by the
    /// prelude's length guard; the login-level watchdog (`pipeline::watch`) answers the login at
    /// the deadline whatever the script does.
    fn run(&self, phase: Phase, mut api: CurrentApi<'_, '_>) -> Result<(), ActionError> {
        let core = api.core();
        let (trigger, deadline) = (core.trigger(), core.deadline());
        let event_json = core.event_json().map_err(|e| ActionError::new(e.to_string()))?;
        host::with_invocation(api, self.inner.fetch.clone(), || {
            self.inner.invoke(trigger, phase, &event_json, deadline)
        })
    }
}

impl Action for JsAction {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn on_execute_post_login(&self, _event: &Event, api: &mut PostLoginApi<'_>) -> Result<(), ActionError> {
        self.run(Phase::Execute, CurrentApi::PostLogin(api))
    }

    fn on_continue_post_login(&self, _event: &Event, api: &mut PostLoginApi<'_>) -> Result<(), ActionError> {
        self.run(Phase::Continue, CurrentApi::PostLogin(api))
    }

    fn on_execute_post_challenge(&self, _event: &Event, api: &mut PostChallengeApi<'_>) -> Result<(), ActionError> {
        self.run(Phase::Execute, CurrentApi::PostChallenge(api))
    }

    fn on_continue_post_challenge(&self, _event: &Event, api: &mut PostChallengeApi<'_>) -> Result<(), ActionError> {
        self.run(Phase::Continue, CurrentApi::PostChallenge(api))
    }

    fn on_execute_send_phone_message(&self, _event: &Event, api: &mut SendPhoneMessageApi<'_>) -> Result<(), ActionError> {
        self.run(Phase::Execute, CurrentApi::SendPhoneMessage(api))
    }
}

impl std::fmt::Debug for JsAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsAction")
            .field("name", &self.inner.name)
            .field("file", &self.inner.file)
            .finish()
    }
}
