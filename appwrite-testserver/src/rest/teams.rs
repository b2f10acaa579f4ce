//! Teams and memberships (`app/controllers/api/teams.php`). Members gain the roles
//! `team:<id>`, `team:<id>/<role>` and `member:<membershipId>`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::created;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::params::Body;
use crate::store::{Membership, Store, Team};
use crate::{ids, time, AppState};

fn default_roles() -> Vec<String> {
    vec!["owner".into()]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTeam {
    team_id: String,
    name: String,
    #[serde(default = "default_roles")]
    roles: Vec<String>,
}

/// Server-side (API key) creation adds nobody; a user creating a team becomes its member.
pub async fn create(State(state): State<AppState>, caller: Caller, Body(params): Body<CreateTeam>) -> ApiResult<Response> {
    caller.require_scope("teams.write")?;
    let id = ids::custom("teamId", &params.team_id)?;
    let mut store = state.store.lock().expect("store lock");
    if store.teams.contains_key(&id) {
        return Err(ApiError::TeamAlreadyExists);
    }
    let now = time::now();
    let memberships = caller
        .user()
        .map(|user| Membership {
            id: ids::unique(),
            user_id: user.user_id.clone(),
            roles: params.roles,
            created_at: now,
            confirm: true,
        })
        .into_iter()
        .collect();
    let team = Team { id: id.clone(), name: params.name, created_at: now, memberships };
    let body = team.to_json();
    store.teams.insert(id, team);
    Ok(created(body))
}

/// The team, if the caller may read it (API key or member).
fn team<'a>(store: &'a Store, caller: &Caller, id: &str) -> ApiResult<&'a Team> {
    store
        .teams
        .get(id)
        .filter(|_| caller.auth.has_role(&format!("team:{id}")))
        .ok_or(ApiError::TeamNotFound)
}

pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    caller.require_scope("teams.read")?;
    let store = state.store.lock().expect("store lock");
    Ok(Json(team(&store, &caller, &id)?.to_json()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMember {
    user_id: Option<String>,
    email: Option<String>,
    roles: Vec<String>,
}

/// With an API key the membership is confirmed at once; a team owner's invitation stays
/// unconfirmed (no invitation mails here, so it cannot be accepted).
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(params): Body<AddMember>,
) -> ApiResult<Response> {
    caller.require_scope("teams.write")?;
    let mut store = state.store.lock().expect("store lock");
    team(&store, &caller, &id)?;
    let user_id = match (params.user_id.filter(|u| !u.is_empty()), params.email.filter(|e| !e.is_empty())) {
        (Some(user_id), _) => store
            .users
            .get(&user_id)
            .map(|u| u.id.clone())
            .ok_or_else(|| ApiError::UserNotFound("User with given userId doesn't exist.".into()))?,
        (None, Some(email)) => store
            .users
            .values()
            .find(|u| u.email == email.to_lowercase())
            .map(|u| u.id.clone())
            .ok_or_else(|| ApiError::UserNotFound("User with the requested ID could not be found.".into()))?,
        (None, None) => {
            return Err(ApiError::ArgumentInvalid("At least one of userId, email, or phone is required".into()))
        }
    };
    if !caller.is_key() && !caller.auth.has_role(&format!("team:{id}/owner")) {
        return Err(ApiError::UserUnauthorized("User is not allowed to send invitations for this team".into()));
    }
    let team = store.teams.get_mut(&id).expect("checked above");
    let membership = match team.memberships.iter_mut().find(|m| m.user_id == user_id) {
        Some(m) if m.confirm => return Err(ApiError::MembershipAlreadyConfirmed),
        Some(m) => {
            m.confirm = caller.is_key();
            m.roles = params.roles;
            m.id.clone()
        }
        None => {
            let membership = Membership {
                id: ids::unique(),
                user_id,
                roles: params.roles,
                created_at: time::now(),
                confirm: caller.is_key(),
            };
            let membership_id = membership.id.clone();
            team.memberships.push(membership);
            membership_id
        }
    };
    let team = &store.teams[&id];
    let m = team.memberships.iter().find(|m| m.id == membership).expect("just stored");
    Ok(created(store.membership_json(team, m)))
}

pub async fn list_members(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    caller.require_scope("teams.read")?;
    let store = state.store.lock().expect("store lock");
    let team = team(&store, &caller, &id)?;
    let memberships: Vec<Value> = team.memberships.iter().map(|m| store.membership_json(team, m)).collect();
    Ok(Json(json!({"total": memberships.len(), "memberships": memberships})))
}
