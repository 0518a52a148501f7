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

/// An argon2id PHC hash of `password` with a random salt (the store backends share it).
pub fn hash_password(password: &str) -> Result<String, super::StoreError> {
    use argon2::password_hash::PasswordHasher;
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt).map_err(|e| super::StoreError::Internal(e.to_string()))?;
    with_slot(|| argon2::Argon2::default().hash_password_with_salt(password.as_bytes(), &salt))
        .map(|h| h.to_string())
        .map_err(|e| super::StoreError::Internal(e.to_string()))
}

/// Whether `password` matches the stored PHC `hash`; without a hash (unknown user) a hash is
/// computed anyway, so that an unknown user costs as much time as a wrong password.
pub fn check_password(hash: Option<&str>, password: &str) -> Result<bool, super::StoreError> {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};
    match hash {
        Some(h) => {
            let parsed = argon2::password_hash::phc::PasswordHash::new(h).map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
            Ok(with_slot(|| {
                argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
            }))
        }
        None => {
            let _ = with_slot(|| argon2::Argon2::default().hash_password_with_salt(password.as_bytes(), b"idpipe-no-such-user"));
            Ok(false)
        }
    }
}

/// Refuses what is not an argon2 PHC string (imported hashes, new passwords).
pub fn validate_phc(hash: &str) -> Result<(), super::StoreError> {
    argon2::password_hash::phc::PasswordHash::new(hash)
        .map(|_| ())
        .map_err(|e| super::StoreError::Internal(e.to_string()))
}

/// The user of a stored `(password_hash, profile)` row if `password` matches it; `None` for a
/// wrong password or no row (which costs the same time).
pub fn verified_profile(row: Option<(String, String)>, password: &str) -> Result<Option<crate::pipeline::event::User>, super::StoreError> {
    if !check_password(row.as_ref().map(|(h, _)| h.as_str()), password)? {
        return Ok(None);
    }
    let Some((_, profile)) = row else { return Ok(None) };
    serde_json::from_str(&profile)
        .map(Some)
        .map_err(|e| super::StoreError::Corrupt(e.to_string()))
}
