//! Password hashes for the adapters that keep passwords themselves (SQLite): Argon2id with the
//! crate's defaults, which are OWASP's minimum (19 MiB, 2 passes, 1 lane). Hashing takes tens of
//! milliseconds of CPU, so it runs on a blocking thread.

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

pub async fn hash(password: &Password) -> Result<String, StoreError> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || hash_now(password.expose().as_bytes()))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
}

/// Checks `password` against `hash`; with no hash (an unknown user) checks against a decoy, so
/// that a wrong username takes as long as a wrong password.
pub async fn verify(hash: Option<String>, password: &str) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(decoy);
        let ok =
            PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
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
