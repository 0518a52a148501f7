//! libxml2's error reports go through `tracing`, never to stderr.
//!
//! Why: libxml2 prints parser and C14N errors with attacker-controlled text (element names,
//! namespace URIs) to stderr by default, where it would forge or break the JSON log stream
//! (`IDPIPE_LOG_FORMAT=json`). The handler logs one escaped field per report instead. libxml2
//! keeps its error handler per thread, so it is installed on every thread before that thread
//! parses (a thread-local flag makes repeat calls free).

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_void;

use libxml::bindings::{xmlErrorPtr, xmlSetStructuredErrorFunc};
use libxml::error::StructuredError;

thread_local! {
    static INSTALLED: Cell<bool> = const { Cell::new(false) };
}

/// Installs the handler on the current thread (once).
pub fn route_errors() {
    INSTALLED.with(|done| {
        if !done.get() {
            // SAFETY: `report` matches libxml2's structured-error callback type and never
            // unwinds; the context pointer is unused (null).
            unsafe { xmlSetStructuredErrorFunc(std::ptr::null_mut(), Some(report)) };
            done.set(true);
        }
    });
}

unsafe extern "C" fn report(_ctx: *mut c_void, error: xmlErrorPtr) {
    if error.is_null() {
        return;
    }
    // SAFETY: libxml2 passes a valid xmlError for the duration of this call; from_raw copies
    // what it needs out of it.
    let e = unsafe { StructuredError::from_raw(error) };
    let message = e.message.as_deref().unwrap_or("").trim_end().to_string();
    tracing::debug!(domain = e.domain, code = e.code, message = %message, "libxml2 report");
}
