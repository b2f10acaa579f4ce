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
    AppState::current()?.admin.list().await
}

/// `POST /api/users/add {"username","role","password"}` (managers): creates an account.
#[server(prefix = "/api", endpoint = "users/add", input = Json)]
pub async fn add_user(username: Username, role: Role, password: Password) -> Result<Account, ApiError> {
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    AppState::current()?.admin.add(&manager, username, role, &password).await
}

/// `POST /api/users/update {"username","change":{"set":"disabled"|"role"|"password","to":..}}`
/// (managers): disabling an account or resetting its password ends its sessions and closes its
/// boards at once.
#[server(prefix = "/api", endpoint = "users/update", input = Json)]
pub async fn update_user(username: Username, change: AccountChange) -> Result<Account, ApiError> {
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    AppState::current()?.admin.change(&manager, &username, change).await
}
