//! Accounts in the Appwrite mode: employees are Appwrite users and managers are the members of
//! the configured team (`managers_team`). Appwrite checks passwords (through its account API,
//! with the API key, so no abuse limit is shared by every user behind this server's address);
//! Leadboard keeps no password, only its own sessions (token hashes) in the `sessions`
//! collection, so that a session check never needs a user's Appwrite secret.
//!
//! A Leadboard username is the Appwrite user ID. Users whose ID is not a valid username (upper
//! case, say) and the bridge's service user are not Leadboard accounts.

use super::client::{AwError, Call};
use super::docs::{docs_path, parse_time, SESSIONS};
use super::AppwriteStore;
use crate::domain::{Account, AccountChange, Millis, Password, Role, UserInfo, Username};
use crate::server::store::{AccountStore, StoreError, Verified};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Users and memberships read per page.
const PAGE: usize = 100;

impl AppwriteStore {
    fn team_path(&self) -> String {
        format!("/teams/{}/memberships", self.core.cfg.managers_team)
    }

    /// The user document, if the ID names a Leadboard account.
    async fn appwrite_user(&self, username: &Username) -> Result<Option<Value>, StoreError> {
        if username.as_str() == self.core.cfg.service_user_id {
            return Ok(None);
        }
        match self.core.api.send(Call::get(format!("/users/{username}"))).await {
            Ok(user) => Ok(Some(user)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The user whose `attribute` is `value`, read by a list: up to Appwrite 1.9.0 a GET may
    /// answer from a cached copy, and sign-in must see a reset or block that committed. Only an
    /// exact match counts (the database compares IDs and emails without case).
    async fn listed_user(&self, attribute: &str, value: &str) -> Result<Option<(Username, Value)>, StoreError> {
        let call = Call::get("/users")
            .query(json!({"method": "equal", "attribute": attribute, "values": [value]}))
            .query(json!({"method": "limit", "values": [2]}));
        let found = self.core.api.send(call).await?;
        let Some(user) = found["users"].as_array().into_iter().flatten().find(|u| u[attribute] == value).cloned()
        else {
            return Ok(None);
        };
        let id = user["$id"].as_str().unwrap_or_default();
        match Username::parse(id) {
            Ok(username) if id != self.core.cfg.service_user_id => Ok(Some((username, user))),
            _ => Ok(None),
        }
    }

    /// The account a sign-in names: a username, or an email address as Appwrite stores them
    /// (lower case).
    async fn find_login(&self, login: &str) -> Result<Option<(Username, Value)>, StoreError> {
        if login.contains('@') {
            self.listed_user("email", &login.to_lowercase()).await
        } else if Username::parse(login).is_ok() {
            self.listed_user("$id", login).await
        } else {
            Ok(None)
        }
    }

    /// The user's confirmed membership of the managers team, if any. From 1.7 the list is
    /// paged (25 by default), so it is asked for that team only; before, it is always whole.
    async fn manager_membership(&self, username: &Username) -> Result<Option<String>, StoreError> {
        let team = self.core.cfg.managers_team.as_str();
        let mut call = Call::get(format!("/users/{username}/memberships"));
        if self.core.version().await?.pages_user_memberships() {
            call = call
                .query(json!({"method": "equal", "attribute": "teamId", "values": [team]}))
                .query(json!({"method": "limit", "values": [PAGE]}));
        }
        let list = self.core.api.send(call).await?;
        Ok(list["memberships"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["teamId"].as_str() == Some(self.core.cfg.managers_team.as_str())
                    && m["confirm"].as_bool() != Some(false)
            })
            .and_then(|m| m["$id"].as_str().map(str::to_owned)))
    }

    async fn account(&self, username: &Username, user: &Value) -> Result<Account, StoreError> {
        Ok(account_of(username, user, self.manager_membership(username).await?.is_some()))
    }

    /// A password check that always fails, as long as a real one: Appwrite answers an unknown
    /// email before hashing anything, so an unknown login is checked against the service user
    /// with a password that cannot be its own, and timing does not tell which logins exist.
    async fn check_decoy(&self) {
        let cfg = &self.core.cfg;
        let wrong = format!("{}\u{1}", cfg.service_password.expose_secret());
        let check = Call::post("/account/sessions/email", json!({"email": cfg.service_email, "password": wrong}));
        match self.core.api.send(check).await {
            Err(e) if e.is("user_invalid_credentials") => {}
            Ok(_) => tracing::error!("the decoy password check succeeded; it never should"),
            Err(e) => tracing::debug!(error = %e, "the decoy password check failed otherwise"),
        }
    }

    /// Every page of a list call (`key` names the array in the answer), by cursor.
    pub(super) async fn all_pages(&self, path: String, key: &str) -> Result<Vec<Value>, StoreError> {
        let mut out = Vec::new();
        loop {
            let mut call = Call::get(path.clone()).query(json!({"method": "limit", "values": [PAGE]}));
            if let Some(last) = out.last().and_then(|d: &Value| d["$id"].as_str()) {
                call = call.query(json!({"method": "cursorAfter", "values": [last]}));
            }
            let page = self.core.api.send(call).await?;
            let items = page[key].as_array().cloned().unwrap_or_default();
            let full = items.len() == PAGE;
            out.extend(items);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Makes the user a member of the managers team, or no longer one.
    async fn set_manager(&self, username: &Username, manager: bool) -> Result<(), StoreError> {
        let current = self.manager_membership(username).await?;
        match (manager, current) {
            (true, None) => {
                let body = json!({"userId": username.as_str(), "roles": ["manager"]});
                match self.core.api.send(Call::post(self.team_path(), body)).await {
                    Ok(_) => Ok(()),
                    // A retry of our own call, or a concurrent promotion (1.6.2+; before, the
                    // same answer has the invitation's type).
                    Err(e) if e.is("membership_already_confirmed") || e.is("team_invite_already_exists") => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            (false, Some(id)) => match self.core.api.send(Call::delete(format!("{}/{id}", self.team_path()))).await {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(404) => Ok(()),
                Err(e) => Err(e.into()),
            },
            _ => Ok(()),
        }
    }

    /// Ends the user's Appwrite sessions and Leadboard's.
    async fn end_sessions(&self, username: &Username) -> Result<(), StoreError> {
        self.core.api.send(Call::delete(format!("/users/{username}/sessions"))).await?;
        loop {
            let call = Call::get(docs_path(&self.core.db, SESSIONS))
                .query(json!({"method": "equal", "attribute": "username", "values": [username.as_str()]}))
                .query(json!({"method": "limit", "values": [PAGE]}));
            let page = self.core.api.send(call).await?;
            let ids: Vec<&str> =
                page["documents"].as_array().into_iter().flatten().filter_map(|d| d["$id"].as_str()).collect();
            if ids.is_empty() {
                return Ok(());
            }
            for id in ids {
                self.core.delete_doc(SESSIONS, id).await?;
            }
        }
    }
}

/// An Appwrite user as a Leadboard account: blocked users are disabled ones.
fn account_of(username: &Username, user: &Value, manager: bool) -> Account {
    let role = if manager { Role::Manager } else { Role::Employee };
    Account { username: username.clone(), role, disabled: user["status"].as_bool() == Some(false), cap: None }
}

/// The user's credential version: the time of their last password change, read before the
/// password check. A block is checked apart (`status`), as Appwrite keeps no time for it.
fn credentials_of(user: &Value) -> u64 {
    user["passwordUpdate"].as_str().and_then(parse_time).and_then(|t| u64::try_from(t).ok()).unwrap_or(0)
}

/// Appwrite's refusal of a value (its password rules, an address it does not accept).
fn invalid_or(e: AwError) -> StoreError {
    match e {
        AwError::Api { code: 400, message, .. } => StoreError::Invalid(format!("Appwrite refused it: {message}")),
        e => e.into(),
    }
}

/// The session document ID for a token hash (64 hex digits; IDs hold 36 characters).
fn session_id(token_hash: &str) -> String {
    let hex: String = token_hash.chars().filter(char::is_ascii_hexdigit).take(35).collect();
    format!("s{hex}")
}

#[async_trait]
impl AccountStore for AppwriteStore {
    async fn add_user(&self, username: &Username, role: Role, password: &Password) -> Result<(), StoreError> {
        let body = json!({
            "userId": username.as_str(),
            "email": format!("{username}@{}", self.core.cfg.email_domain),
            "password": password.expose(),
            "name": username.as_str(),
        });
        match self.core.api.send(Call::post("/users", body)).await {
            Ok(_) => {}
            Err(e) if e.is("user_already_exists") => return Err(StoreError::AlreadyExists(format!("user {username}"))),
            Err(e) => return Err(invalid_or(e)),
        }
        self.set_manager(username, role == Role::Manager).await
    }

    async fn verify_password(&self, login: &str, password: &str) -> Result<Option<Verified>, StoreError> {
        let Some((username, user)) = self.find_login(login).await? else {
            self.check_decoy().await;
            return Ok(None);
        };
        let email = user["email"].as_str().unwrap_or_default();
        let check = Call::post("/account/sessions/email", json!({"email": email, "password": password}));
        let blocked = match self.core.api.send(check).await {
            Ok(session) => {
                // Only the check was wanted: Leadboard keeps its own session, and Appwrite keeps
                // at most a few per user.
                let id = session["$id"].as_str().unwrap_or_default();
                if let Err(e) = self.core.api.send(Call::delete(format!("/users/{username}/sessions/{id}"))).await {
                    tracing::warn!(error = %e, "could not delete the Appwrite session made to check a password");
                }
                false
            }
            // Appwrite checks the password before the status: a right password, blocked user.
            Err(e) if e.is("user_blocked") => true,
            Err(e) if e.is("user_invalid_credentials") || e.status() == Some(400) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut account = self.account(&username, &user).await?;
        account.disabled |= blocked;
        Ok(Some(Verified { account, credentials: Some(credentials_of(&user)) }))
    }

    async fn login_key(&self, login: &str) -> Result<String, StoreError> {
        if !login.contains('@') {
            return Ok(login.to_owned());
        }
        Ok(self.find_login(login).await?.map_or_else(|| login.to_owned(), |(username, _)| username.to_string()))
    }

    async fn user(&self, username: &Username) -> Result<Option<Account>, StoreError> {
        // Every session check comes here: read the user and their teams at once.
        let (user, membership) = tokio::join!(self.appwrite_user(username), self.manager_membership(username));
        let Some(user) = user? else { return Ok(None) };
        Ok(Some(account_of(username, &user, membership?.is_some())))
    }

    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        let managers: HashSet<String> = self
            .all_pages(self.team_path(), "memberships")
            .await?
            .iter()
            .filter(|m| m["confirm"].as_bool() != Some(false))
            .filter_map(|m| m["userId"].as_str().map(str::to_owned))
            .collect();
        let mut out: Vec<Account> = self
            .all_pages("/users".into(), "users")
            .await?
            .iter()
            .filter_map(|u| {
                let id = u["$id"].as_str()?;
                let username = Username::parse(id).ok().filter(|_| id != self.core.cfg.service_user_id)?;
                let role = if managers.contains(id) { Role::Manager } else { Role::Employee };
                Some(Account { username, role, disabled: u["status"].as_bool() == Some(false), cap: None })
            })
            .collect();
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(out)
    }

    async fn update_user(&self, username: &Username, change: AccountChange) -> Result<Account, StoreError> {
        if self.appwrite_user(username).await?.is_none() {
            return Err(StoreError::UserNotFound(username.clone()));
        }
        match &change {
            AccountChange::Disabled(d) => {
                self.core.api.send(Call::patch(format!("/users/{username}/status"), json!({"status": !d}))).await?;
            }
            AccountChange::Role(r) => self.set_manager(username, *r == Role::Manager).await?,
            AccountChange::Password(p) => {
                let call = Call::patch(format!("/users/{username}/password"), json!({"password": p.expose()}));
                self.core.api.send(call).await.map_err(invalid_or)?;
            }
            AccountChange::Cap(_) => return Err(StoreError::Invalid(super::CAPS_UNKEPT.into())),
        }
        if change.ends_sessions() {
            self.end_sessions(username).await?;
        }
        self.user(username).await?.ok_or_else(|| StoreError::UserNotFound(username.clone()))
    }

    /// Appwrite has no transaction over users and documents, so the session is written first
    /// and the account read again after (by a list, never cached): a reset or block that
    /// committed before the write is seen here and the session deleted; one that commits after
    /// it finds the session when it ends the account's sessions.
    async fn create_session(
        &self,
        token_hash: &str,
        verified: &Verified,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        let username = &verified.account.username;
        let id = session_id(token_hash);
        let body = json!({"documentId": id, "data": {
            "token_hash": token_hash, "username": username.as_str(), "expires_at": expires_at,
        }});
        match self.core.api.send(Call::post(docs_path(&self.core.db, SESSIONS), body)).await {
            Ok(_) => {}
            // A retry of our own create after a timeout.
            Err(e) if e.is("document_already_exists") => {}
            Err(e) => return Err(e.into()),
        }
        let now = self.listed_user("$id", username.as_str()).await?;
        let still = now.as_ref().is_some_and(|(_, user)| {
            user["status"].as_bool() != Some(false) && Some(credentials_of(user)) == verified.credentials
        });
        if still {
            return Ok(());
        }
        self.core.delete_doc(SESSIONS, &id).await?;
        Err(StoreError::Conflict(format!("the account {username} changed during the sign-in")))
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<UserInfo>, StoreError> {
        let Some(doc) = self.find_doc(SESSIONS, &session_id(token_hash)).await? else { return Ok(None) };
        if doc["token_hash"].as_str() != Some(token_hash) || doc["expires_at"].as_i64().is_none_or(|e| e <= now) {
            return Ok(None);
        }
        let Ok(username) = Username::parse(doc["username"].as_str().unwrap_or_default()) else { return Ok(None) };
        Ok(self.user(&username).await?.filter(|a| !a.disabled).map(|a| a.info()))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.core.delete_doc(SESSIONS, &session_id(token_hash)).await
    }
}
