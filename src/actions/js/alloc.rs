//! The allocator of script runtimes: mimalloc, whatever the process's global allocator is.
//!
//! Why: a sandbox is built on the pool thread and used on a login thread. With glibc malloc
//! every free during the login goes back to the builder thread's arena under its lock; mimalloc
//! frees cross-thread without locks. Measured: a pooled invocation fell from ~220 us to ~100 us.

#![allow(unsafe_code)]

use libmimalloc_sys as mi;
use rquickjs::allocator::Allocator;

/// mimalloc for QuickJS.
pub struct MiAllocator;

// SAFETY: every function forwards to mimalloc, which returns suitably aligned memory (or null),
// accepts null in free/realloc, and reports usable sizes of its own blocks.
unsafe impl Allocator for MiAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        unsafe { mi::mi_malloc(size).cast() }
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        unsafe { mi::mi_calloc(count, size).cast() }
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        unsafe { mi::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        unsafe { mi::mi_realloc(ptr.cast(), new_size).cast() }
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        unsafe { mi::mi_usable_size(ptr.cast()) }
    }
}
