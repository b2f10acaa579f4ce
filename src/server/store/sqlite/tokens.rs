//! Intake API tokens in SQLite: the hash of each secret, never the secret; and the fingerprint of
//! the first request made with each idempotency key.

use super::sql::{exec, parsed, query_row};
use super::SqliteStore;
use crate::domain::{ApiToken, Millis, Username};
use crate::server::store::{StoreError, TokenStore};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

const TOKEN_COLS: &str = "id, name, created_by, created_at, last_used_at, revoked_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        created_by: parsed(2, Username::parse(r.get::<_, String>(2)?))?,
        created_at: r.get(3)?,
        last_used_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, token: &ApiToken, secret_hash: &str) -> Result<(), StoreError> {
        let (t, hash) = (token.clone(), secret_hash.to_owned());
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO api_tokens (id, name, token_hash, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.id, t.name, hash, t.created_by.as_str(), t.created_at],
            )?;
            Ok(((), Vec::new()))
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_at DESC, id");
            Ok(conn.prepare_cached(&sql)?.query_map([], token_row)?.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_token(&self, id: &str, at: Millis) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            let n = exec(
                conn,
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )?;
            Ok((n == 1, Vec::new()))
        })
        .await
    }

    async fn use_token(&self, secret_hash: &str, now: Millis) -> Result<Option<ApiToken>, StoreError> {
        let hash = secret_hash.to_owned();
        self.write(move |conn| {
            let sql = format!(
                "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL RETURNING {TOKEN_COLS}"
            );
            Ok((query_row(conn, &sql, params![hash, now], token_row).optional()?, Vec::new()))
        })
        .await
    }

    async fn first_request(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
    ) -> Result<String, StoreError> {
        let (token, key, fingerprint) = (token_id.to_owned(), key.to_owned(), fingerprint.to_owned());
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO api_requests (token_id, key, fingerprint, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (token_id, key) DO NOTHING",
                params![token, key, fingerprint, now],
            )?;
            let sql = "SELECT fingerprint FROM api_requests WHERE token_id = ?1 AND key = ?2";
            Ok((query_row(conn, sql, params![token, key], |r| r.get(0))?, Vec::new()))
        })
        .await
    }
}
