//! Intake API tokens, for managers: list, create (the secret is in this answer only), revoke.

use crate::domain::{ApiToken, NewToken};
use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// `POST /api/tokens {}` (managers): every token, newest first.
#[server(prefix = "/api", endpoint = "tokens", input = Json)]
pub async fn list_tokens() -> Result<Vec<ApiToken>, ApiError> {
    use crate::server::{auth, AppState};
    auth::require_manager().await?;
    AppState::current()?.tokens.list().await
}

/// `POST /api/tokens/create {"name"}` (managers): a new token and its secret, shown once.
#[server(prefix = "/api", endpoint = "tokens/create", input = Json)]
pub async fn create_token(name: String) -> Result<NewToken, ApiError> {
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    AppState::current()?.tokens.create(&manager, &name).await
}

/// `POST /api/tokens/revoke {"id"}` (managers): the token stops working at once.
#[server(prefix = "/api", endpoint = "tokens/revoke", input = Json)]
pub async fn revoke_token(id: String) -> Result<(), ApiError> {
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    AppState::current()?.tokens.revoke(&manager, &id).await
}
