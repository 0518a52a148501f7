//! All of idpipe's `unsafe`, in one small module: the five places where Rust meets C through
//! a raw pointer, each behind a safe function with its SAFETY reason. The crate root denies
//! `unsafe_code` everywhere else.
//!
//! 1. The api of the JS action running on this thread ([`with_api`], [`current_api`]): QuickJS
//!    calls the host function without a Rust borrow to hand it, so the api is lent to it for
//!    the length of the invocation.
//! 2. Loading module bytecode ([`load_module`]) compiled at start-up by the same QuickJS build.
//! 3. The script runtimes' allocator ([`MiAllocator`]).
//! 4. libxml2's error handler ([`route_libxml_errors`]), so that attacker-controlled parser
//!    text never reaches stderr.
//! 5. The api reuse check ([`api_untouched`]), a function of idpipe's QuickJS patch.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_void;

use crate::pipeline::{PostChallengeApi, PostLoginApi, SendPhoneMessageApi};

// ---- 1. The api lent to the running JS invocation -------------------------------------------

/// The api of an action invocation.
pub enum CurrentApi<'a, 'b> {
    /// A post-login api.
    PostLogin(&'a mut PostLoginApi<'b>),
    /// A post-challenge api.
    PostChallenge(&'a mut PostChallengeApi<'b>),
    /// The send-phone-message api.
    SendPhoneMessage(&'a mut SendPhoneMessageApi<'b>),
}

impl<'b> CurrentApi<'_, 'b> {
    /// The core every api shares (the event, the trace, the deadline).
    pub fn core(&mut self) -> &mut crate::pipeline::api::ApiCore<'b> {
        match self {
            CurrentApi::PostLogin(a) => &mut a.core,
            CurrentApi::PostChallenge(a) => &mut a.core,
            CurrentApi::SendPhoneMessage(a) => &mut a.core,
        }
    }
}

/// The lent api with its lifetimes erased: only dereferenced by [`current_api`], while
/// [`with_api`] (which owns the borrow) is still on the stack.
#[derive(Clone, Copy)]
enum Erased {
    PostLogin(*mut ()),
    PostChallenge(*mut ()),
    SendPhoneMessage(*mut ()),
}

thread_local! {
    static LENT: Cell<Option<Erased>> = const { Cell::new(None) };
}

/// Lends `api` to [`current_api`] on this thread while `run` runs (the previous loan, if any,
/// is restored after, however `run` ends).
pub fn with_api<R>(api: CurrentApi<'_, '_>, run: impl FnOnce() -> R) -> R {
    struct Restore(Option<Erased>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LENT.with(|l| l.set(self.0));
        }
    }
    let erased = match api {
        CurrentApi::PostLogin(a) => Erased::PostLogin((a as *mut PostLoginApi<'_>).cast()),
        CurrentApi::PostChallenge(a) => Erased::PostChallenge((a as *mut PostChallengeApi<'_>).cast()),
        CurrentApi::SendPhoneMessage(a) => Erased::SendPhoneMessage((a as *mut SendPhoneMessageApi<'_>).cast()),
    };
    let _restore = Restore(LENT.with(|l| l.replace(Some(erased))));
    run()
}

/// Calls `f` with the api lent on this thread; `None` outside an invocation. While `f` runs the
/// loan is taken out, so a nested call sees none (two `&mut` to one api never exist).
pub fn current_api<R>(f: impl for<'a, 'b> FnOnce(CurrentApi<'a, 'b>) -> R) -> Option<R> {
    struct PutBack(Erased);
    impl Drop for PutBack {
        fn drop(&mut self) {
            LENT.with(|l| l.set(Some(self.0)));
        }
    }
    let erased = LENT.with(Cell::take)?;
    let _put_back = PutBack(erased);
    // SAFETY: the pointer was made by `with_api` from a `&mut` api whose borrow lasts until
    // `with_api` returns, and `with_api` clears the loan before that (its guard runs on unwind
    // too). The loan is taken out while `f` runs, so this is the only reference to the api.
    // `f` is generic over both lifetimes, so it cannot keep the reference beyond this call or
    // assume anything about the erased lifetime of what the api borrows.
    let api = unsafe {
        match erased {
            Erased::PostLogin(p) => CurrentApi::PostLogin(&mut *(p as *mut PostLoginApi<'_>)),
            Erased::PostChallenge(p) => CurrentApi::PostChallenge(&mut *(p as *mut PostChallengeApi<'_>)),
            Erased::SendPhoneMessage(p) => CurrentApi::SendPhoneMessage(&mut *(p as *mut SendPhoneMessageApi<'_>)),
        }
    };
    Some(f(api))
}

// ---- 2. Module bytecode ---------------------------------------------------------------------

/// Loads module bytecode made by [`rquickjs::Module::write`] at start-up.
pub fn load_module<'js>(ctx: &rquickjs::Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<rquickjs::Module<'js, rquickjs::module::Declared>> {
    // SAFETY: the bytes were produced by `Module::write` of this same QuickJS build in this
    // process (the prelude, the warm-up and each action are compiled at start-up); they never
    // come from outside.
    unsafe { rquickjs::Module::load(ctx.clone(), bytecode) }
}

// ---- 3. The script runtimes' allocator ------------------------------------------------------

/// mimalloc for QuickJS, whatever the process's global allocator is.
///
/// Why: a sandbox is built on the pool thread and used on a login thread. With glibc malloc
/// every free during the login goes back to the builder thread's arena under its lock; mimalloc
/// frees cross-thread without locks. Measured: a pooled invocation fell from ~220 us to ~100 us.
pub struct MiAllocator;

// SAFETY: every function forwards to mimalloc, which returns suitably aligned memory (or null),
// accepts null in free/realloc, and reports usable sizes of its own blocks.
unsafe impl rquickjs::allocator::Allocator for MiAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        // SAFETY: mi_malloc has no preconditions.
        unsafe { libmimalloc_sys::mi_malloc(size).cast() }
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        // SAFETY: mi_calloc has no preconditions (it checks the multiplication).
        unsafe { libmimalloc_sys::mi_calloc(count, size).cast() }
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: QuickJS frees only what this allocator returned (or null).
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: as for dealloc.
        unsafe { libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast() }
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: as for dealloc.
        unsafe { libmimalloc_sys::mi_usable_size(ptr.cast()) }
    }
}

// ---- 4. libxml2's error reports -------------------------------------------------------------

thread_local! {
    static LIBXML_ROUTED: Cell<bool> = const { Cell::new(false) };
}

/// Sends libxml2's error reports on this thread to `tracing` (once per thread).
///
/// Why: libxml2 prints parser and C14N errors with attacker-controlled text (element names,
/// namespace URIs) to stderr by default, where it would forge or break the JSON log stream
/// (`IDPIPE_LOG_FORMAT=json`). libxml2 keeps its handler per thread, so it is installed on
/// every thread before that thread parses (a thread-local flag makes repeat calls free).
pub fn route_libxml_errors() {
    LIBXML_ROUTED.with(|done| {
        if !done.get() {
            // SAFETY: `libxml_report` matches libxml2's structured-error callback type and never
            // unwinds; the context pointer is unused (null).
            unsafe { libxml::bindings::xmlSetStructuredErrorFunc(std::ptr::null_mut(), Some(libxml_report)) };
            done.set(true);
        }
    });
}

unsafe extern "C" fn libxml_report(_ctx: *mut c_void, error: libxml::bindings::xmlErrorPtr) {
    if error.is_null() {
        return;
    }
    // SAFETY: libxml2 passes a valid xmlError for the duration of this call; from_raw copies
    // what it needs out of it.
    let e = unsafe { libxml::error::StructuredError::from_raw(error) };
    let message = e.message.as_deref().unwrap_or("").trim_end().to_string();
    tracing::debug!(domain = e.domain, code = e.code, message = %message, "libxml2 report");
}

/// mimalloc's `mi_option_purge_delay` (mimalloc v2's `mi_option_e`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc give freed memory back to the system at once instead of after 10 ms: argon2id
/// frees 19 MiB per password check, and under a burst of logins the delayed purges pile up into
/// the process's peak (measured in the README). `MIMALLOC_PURGE_DELAY` in the environment wins.
pub fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set writes one option value (an atomic store in mimalloc); the option id
    // is mimalloc v2's purge_delay, the version libmimalloc-sys builds by default.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

// ---- 5. The api reuse check -----------------------------------------------------------------

unsafe extern "C" {
    /// Added to QuickJS by `vendor/rquickjs-sys/idpipe-api.patch`.
    fn JS_IdpipeApiUntouched(
        ctx: *mut rquickjs::qjs::JSContext,
        holder: rquickjs::qjs::JSValue,
        template: rquickjs::qjs::JSValue,
    ) -> std::ffi::c_int;
}

/// Whether the api object at `holder.api` may serve the next invocation of its sandbox: no code
/// can tell it from a fresh one (`idpipe-api.patch`: one reference, its holder's; the shape of
/// `template` down to the namespaces; the template's very methods).
pub fn api_untouched(ctx: &rquickjs::Ctx<'_>, holder: &rquickjs::Value<'_>, template: &rquickjs::Value<'_>) -> bool {
    // SAFETY: `ctx` is a live context whose runtime this thread holds (a `Ctx` exists only
    // inside `Context::with`), and both values are live values of it, borrowed for the call.
    // The C function only reads them (any value: it answers 0 for anything but the expected
    // plain objects), takes and leaves no reference, and allocates nothing but one atom it frees.
    unsafe { JS_IdpipeApiUntouched(ctx.as_raw().as_ptr(), holder.as_raw(), template.as_raw()) != 0 }
}
