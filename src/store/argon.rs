//! argon2id with bounded memory: each password hash or check takes 19 MiB of working memory, so
//! at most one runs per core at a time (more would not finish sooner on a busy machine, only
//! hold more memory). Every argon2 call of the server goes through [`with_slot`].

use std::sync::{Condvar, LazyLock, Mutex};

struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

static SLOTS: LazyLock<Slots> = LazyLock::new(|| Slots {
    free: Mutex::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
    freed: Condvar::new(),
});

/// Runs `f` (an argon2 hash or check) when a slot is free.
pub fn with_slot<R>(f: impl FnOnce() -> R) -> R {
    {
        let mut free = SLOTS.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = SLOTS.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
    }
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            let mut free = SLOTS.free.lock().unwrap_or_else(|p| p.into_inner());
            *free += 1;
            SLOTS.freed.notify_one();
        }
    }
    let _release = Release;
    f()
}
