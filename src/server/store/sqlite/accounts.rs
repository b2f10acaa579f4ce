//! Accounts and sessions in SQLite: Argon2id password hashes (`store::passwords`), session
//! tokens stored as hashes, and the rules that need the whole table (no last manager removed),
//! checked inside the write.

use super::sql::{exec, parsed, query_row};
use super::SqliteStore;
use crate::domain::{Account, AccountChange, Cap, Millis, Password, Role, UserInfo, Username};
use crate::server::now_ms;
use crate::server::store::{passwords, AccountStore, StoreError, Verified};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

const ACCOUNT_COLS: &str = "username, role, disabled, max_held";

fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        username: parsed(0, Username::parse(r.get::<_, String>(0)?))?,
        role: parsed(1, Role::parse(&r.get::<_, String>(1)?))?,
        disabled: r.get(2)?,
        // A value no manager could set (edited by hand) is no cap of one's own, not an unreadable account.
        cap: r.get::<_, Option<i64>>(3)?.and_then(|held| Cap::new(u32::try_from(held).ok()?).ok()),
    })
}

pub(super) fn account_named(conn: &Connection, username: &Username) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM users WHERE username = ?1");
    Ok(query_row(conn, &sql, [username.as_str()], account_row).optional()?)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn add_user(&self, username: &Username, role: Role, password: &Password) -> Result<(), StoreError> {
        let password_hash = passwords::hash(password).await?;
        let username = username.clone();
        self.write(move |conn| {
            let n = exec(
                conn,
                "INSERT INTO users (username, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (username) DO NOTHING",
                params![username.as_str(), role.as_str(), password_hash, now_ms()],
            )?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(format!("user {username}")));
            }
            Ok(((), Vec::new()))
        })
        .await
    }

    async fn verify_password(&self, login: &str, password: &str) -> Result<Option<Verified>, StoreError> {
        let found = match Username::parse(login) {
            Ok(username) => {
                self.read(move |conn| {
                    let row = query_row(
                        conn,
                        &format!("SELECT {ACCOUNT_COLS}, credentials, password_hash FROM users WHERE username = ?1"),
                        [username.as_str()],
                        |r| {
                            let verified = Verified { account: account_row(r)?, credentials: Some(r.get(4)?) };
                            Ok((verified, r.get::<_, String>(5)?))
                        },
                    )
                    .optional()?;
                    Ok(row)
                })
                .await?
            }
            Err(_) => None,
        };
        let (verified, hash) = found.unzip();
        let ok = passwords::verify(hash, password).await;
        Ok(verified.filter(|_| ok))
    }

    async fn user(&self, username: &Username) -> Result<Option<Account>, StoreError> {
        let username = username.clone();
        self.read(move |conn| account_named(conn, &username)).await
    }

    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM users ORDER BY username"))?
                .query_map([], account_row)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)
        })
        .await
    }

    async fn update_user(&self, username: &Username, change: AccountChange) -> Result<Account, StoreError> {
        let username = username.clone();
        let new_hash = match &change {
            AccountChange::Password(p) => Some(passwords::hash(p).await?),
            _ => None,
        };
        self.write(move |conn| {
            let (ends_sessions, may_remove_a_manager) = (change.ends_sessions(), change.may_remove_a_manager());
            let n = match change {
                AccountChange::Disabled(d) => {
                    exec(conn, "UPDATE users SET disabled = ?2 WHERE username = ?1", params![username.as_str(), d])?
                }
                AccountChange::Role(r) => exec(
                    conn,
                    "UPDATE users SET role = ?2 WHERE username = ?1",
                    params![username.as_str(), r.as_str()],
                )?,
                AccountChange::Password(_) => exec(
                    conn,
                    "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                    params![username.as_str(), new_hash],
                )?,
                AccountChange::Cap(cap) => exec(
                    conn,
                    "UPDATE users SET max_held = ?2 WHERE username = ?1",
                    params![username.as_str(), cap.map(Cap::get)],
                )?,
            };
            if n == 0 {
                return Err(StoreError::UserNotFound(username));
            }
            // Managers cannot demote or disable themselves, but two can do it to each other at
            // once; checked inside the write, the second finds itself the last one.
            if may_remove_a_manager {
                let sql = "SELECT COUNT(*) FROM users WHERE role = 'manager' AND disabled = 0";
                if query_row(conn, sql, [], |r| r.get::<_, i64>(0))? == 0 {
                    return Err(StoreError::Conflict("that would leave no manager who can sign in".into()));
                }
            }
            if ends_sessions {
                // A sign-in past its password check now finds other credentials, and opens no session.
                exec(conn, "UPDATE users SET credentials = credentials + 1 WHERE username = ?1", [username.as_str()])?;
                exec(conn, "DELETE FROM sessions WHERE username = ?1", [username.as_str()])?;
            }
            let account = account_named(conn, &username)?.ok_or(StoreError::UserNotFound(username))?;
            Ok((account, Vec::new()))
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        verified: &Verified,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        let (token_hash, username) = (token_hash.to_owned(), verified.account.username.clone());
        let credentials = verified.credentials.and_then(|c| i64::try_from(c).ok()).unwrap_or(-1);
        self.write(move |conn| {
            exec(conn, "DELETE FROM sessions WHERE expires_at < ?1", [now_ms()])?;
            // Only while the account still has the credentials the check saw, and is enabled.
            let n = exec(
                conn,
                "INSERT INTO sessions (token_hash, username, expires_at)
                 SELECT ?1, username, ?3 FROM users WHERE username = ?2 AND credentials = ?4 AND disabled = 0",
                params![token_hash, username.as_str(), expires_at, credentials],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("{username}'s password changed or the account was disabled")));
            }
            Ok(((), Vec::new()))
        })
        .await
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<UserInfo>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            let row = query_row(
                conn,
                "SELECT u.username, u.role, u.disabled, u.max_held FROM sessions s JOIN users u ON u.username = s.username
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
                params![token_hash, now],
                account_row,
            )
            .optional()?;
            Ok(row.map(|a| a.info()))
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            exec(conn, "DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(((), Vec::new()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fanout::Hub;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_last_manager_cannot_be_demoted_or_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("leadboard.db"), Arc::new(Hub::new())).unwrap();
        let (maria, tom) = (Username::parse("maria").unwrap(), Username::parse("tom").unwrap());
        let password = Password::parse("s3cret-pass").unwrap();
        store.add_user(&maria, Role::Manager, &password).await.unwrap();
        store.add_user(&tom, Role::Manager, &password).await.unwrap();
        store.update_user(&tom, AccountChange::Role(Role::Employee)).await.unwrap();
        for last in [AccountChange::Role(Role::Employee), AccountChange::Disabled(true)] {
            assert!(matches!(store.update_user(&maria, last).await, Err(StoreError::Conflict(_))));
        }
        let maria_now = store.user(&maria).await.unwrap().unwrap();
        assert_eq!((maria_now.role, maria_now.disabled), (Role::Manager, false), "nothing changed");
    }
}
