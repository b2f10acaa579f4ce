//! Accounts (managers only): list, create, disable or enable, reset passwords, change roles.

use crate::domain::{Account, AccountChange, Password, Role, Username};
use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// `POST /api/users {}` (managers): every account.
#[server(prefix = "/api", endpoint = "users", input = Json)]
pub async fn list_users() -> Result<Vec<Account>, ApiError> {
    use crate::server::{auth, AppState};
    auth::require_manager().await?;
    Ok(AppState::current()?.accounts.users().await?)
}

/// `POST /api/users/add {"username","role","password"}` (managers): creates an account.
#[server(prefix = "/api", endpoint = "users/add", input = Json)]
pub async fn add_user(username: Username, role: Role, password: Password) -> Result<Account, ApiError> {
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    let state = AppState::current()?;
    state.accounts.add_user(&username, role, &password).await?;
    tracing::info!(by = %manager.username, user = %username, role = role.as_str(), "account created");
    Ok(Account { username, role, disabled: false })
}

/// `POST /api/users/update {"username","change":{"set":"disabled"|"role"|"password","to":..}}`
/// (managers): disabling an account or resetting its password ends its sessions and closes its
/// boards at once.
#[server(prefix = "/api", endpoint = "users/update", input = Json)]
pub async fn update_user(username: Username, change: AccountChange) -> Result<Account, ApiError> {
    use crate::server::store::UserUpdate;
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    change.check(&manager, &username).map_err(|e| ApiError::Forbidden(e.to_string()))?;
    let state = AppState::current()?;
    let update = match change {
        AccountChange::Disabled(d) => UserUpdate::Disabled(d),
        AccountChange::Role(r) => UserUpdate::Role(r),
        AccountChange::Password(p) => UserUpdate::Password(p),
    };
    let ends_sessions = update.ends_sessions();
    let account = state.accounts.update_user(&username, update).await?;
    if ends_sessions {
        state.hub.kick(&username);
    }
    tracing::info!(by = %manager.username, user = %username, ?account, "account changed");
    Ok(account)
}
