//! `POST /api/noop {}`: the benchmark's yardstick. It does what every claim does before touching
//! the store (the session check through the same server-function path: routing, the API
//! boundary, JSON in and out) and nothing else, so claims can be compared with it (`scripts/bench`).

use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// 200 `null` for a signed-in user; 401 otherwise.
#[server(prefix = "/api", endpoint = "noop", input = Json)]
pub async fn noop() -> Result<(), ApiError> {
    crate::server::auth::current_user().await?;
    Ok(())
}
