//! Password hashes for the adapters that keep passwords themselves (SQLite): Argon2id with the
//! crate's defaults, which are OWASP's minimum (19 MiB, 2 passes, 1 lane). Hashing takes tens of
//! milliseconds of CPU, so it runs on a blocking thread, a few at a time: the blocking pool has
//! hundreds of threads, and a burst of sign-ins each holding 19 MiB could exhaust memory.

use super::StoreError;
use crate::domain::Password;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

fn hash_now(password: &[u8]) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("cannot hash password: {e}")))
}

/// Runs `f` on a blocking thread once one of the few Argon2 slots is free.
async fn argon2<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(2 * cores)
    });
    let _slot = slots.acquire().await.map_err(|e| StoreError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Internal(e.to_string()))
}

pub async fn hash(password: &Password) -> Result<String, StoreError> {
    let password = password.clone();
    argon2(move || hash_now(password.expose().as_bytes())).await?
}

/// Checks `password` against `hash`; with no hash (an unknown user) checks against a decoy, so
/// that a wrong username takes as long as a wrong password.
pub async fn verify(hash: Option<String>, password: &str) -> bool {
    let password = password.to_owned();
    argon2(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(decoy);
        let ok = PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
        ok && known
    })
    .await
    .unwrap_or(false)
}

fn decoy() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now(b"decoy password").unwrap_or_default()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let h = hash(&Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Some(h.clone()), "correct horse").await);
        assert!(!verify(Some(h), "wrong horse").await);
        assert!(!verify(None, "decoy password").await, "the decoy never lets anyone in");
    }
}
