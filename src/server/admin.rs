//! Account administration, for managers: create accounts, disable or enable them, change roles,
//! reset passwords. The rules around the store's write live here: a manager cannot lock
//! themselves out (`AccountChange::check`), and a change that ends an account's sessions also
//! closes its open boards on this replica at once (other replicas notice at their next heartbeat).

use super::fanout::Hub;
use super::store::AccountStore;
use crate::domain::{Account, AccountChange, Password, Role, UserInfo, Username};
use crate::error::ApiError;
use std::sync::Arc;

pub struct AccountAdmin {
    store: Arc<dyn AccountStore>,
    hub: Arc<Hub>,
}

impl AccountAdmin {
    pub fn new(store: Arc<dyn AccountStore>, hub: Arc<Hub>) -> Self {
        Self { store, hub }
    }

    pub async fn list(&self) -> Result<Vec<Account>, ApiError> {
        Ok(self.store.users().await?)
    }

    pub async fn add(
        &self,
        by: &UserInfo,
        username: Username,
        role: Role,
        password: &Password,
    ) -> Result<Account, ApiError> {
        self.store.add_user(&username, role, password).await?;
        tracing::info!(by = %by.username, user = %username, role = role.as_str(), "account created");
        Ok(Account { username, role, disabled: false, cap: None })
    }

    pub async fn change(&self, by: &UserInfo, username: &Username, change: AccountChange) -> Result<Account, ApiError> {
        change.check(by, username).map_err(|e| ApiError::Forbidden(e.to_string()))?;
        let ends_sessions = change.ends_sessions();
        let account = self.store.update_user(username, change).await?;
        if ends_sessions {
            self.hub.kick(username);
        }
        tracing::info!(by = %by.username, user = %username, ?account, "account changed");
        Ok(account)
    }
}
