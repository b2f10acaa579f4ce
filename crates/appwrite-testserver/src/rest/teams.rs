//! Teams and memberships (`app/controllers/api/teams.php`). Members gain the roles
//! `team:<id>`, `team:<id>/<role>` and `member:<membershipId>`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
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
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<CreateTeam>,
) -> ApiResult<Response> {
    caller.require_scope("teams.write")?;
    let id = ids::custom("teamId", &params.team_id)?;
    let mut store = state.store.lock().expect("store lock");
    if store.teams.contains_key(&id) {
        return Err(ApiError::TeamAlreadyExists);
    }
    let now = time::now();
    let sequence = store.next_sequence();
    let memberships = caller
        .user()
        .map(|user| Membership {
            id: ids::unique(),
            sequence,
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
    store.teams.get(id).filter(|_| caller.auth.has_role(&format!("team:{id}"))).ok_or(ApiError::TeamNotFound)
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

/// `roles` is required. With an API key (an app caller) the membership is confirmed at once
/// and no invitation goes out; a team owner's invitation stays unconfirmed (no invitation
/// mails here, so it cannot be accepted). A confirmed member again gets
/// `409 membership_already_confirmed`.
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
        (Some(user_id), email) => {
            let invitee = store
                .users
                .get(&user_id)
                .ok_or_else(|| ApiError::UserNotFound("User with given userId doesn't exist.".into()))?;
            if email.is_some_and(|email| email.to_lowercase() != invitee.email) {
                return Err(ApiError::UserAlreadyExists("Given userId and email doesn't match".into()));
            }
            invitee.id.clone()
        }
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
    let sequence = store.next_sequence();
    let team = store.teams.get_mut(&id).expect("checked above");
    let membership = match team.memberships.iter_mut().find(|m| m.user_id == user_id) {
        Some(m) if m.confirm && state.version.duplicate_membership_is_invite_error() => {
            return Err(ApiError::TeamInviteAlreadyExists)
        }
        Some(m) if m.confirm => return Err(ApiError::MembershipAlreadyConfirmed),
        // A pending invitation is re-sent, or confirmed by a key; its roles stay as they were.
        Some(m) => {
            m.confirm = caller.is_key();
            m.id.clone()
        }
        None => {
            let membership = Membership {
                id: ids::unique(),
                sequence,
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

pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("teams.read")?;
    let store = state.store.lock().expect("store lock");
    let team = team(&store, &caller, &id)?;
    let memberships: Vec<Value> = team.memberships.iter().map(|m| store.membership_json(team, m)).collect();
    Ok(Json(json!({"total": memberships.len(), "memberships": memberships})))
}

/// `DELETE /v1/teams/{id}/memberships/{membershipId}`: 204, checked in Appwrite's order: an
/// unknown membership is `team_invite_not_found`, an unknown (or unreadable) team
/// `team_not_found`, a membership of another team `team_membership_mismatch`. Without a key
/// only the member themself or a team owner may delete it (the membership's delete
/// permissions); anyone else gets `401 user_unauthorized`.
pub async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, membership_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_scope("teams.write")?;
    let mut store = state.store.lock().expect("store lock");
    let (owner_team, user_id) = store
        .teams
        .values()
        .find_map(|t| t.memberships.iter().find(|m| m.id == membership_id).map(|m| (t.id.clone(), m.user_id.clone())))
        .ok_or(ApiError::TeamInviteNotFound)?;
    if !store.users.contains_key(&user_id) {
        return Err(ApiError::user_not_found());
    }
    team(&store, &caller, &id)?;
    if owner_team != id {
        return Err(ApiError::TeamMembershipMismatch);
    }
    let may_delete =
        caller.auth.has_role(&format!("user:{user_id}")) || caller.auth.has_role(&format!("team:{id}/owner"));
    if !may_delete {
        return Err(ApiError::unauthorized());
    }
    store.teams.get_mut(&id).expect("checked above").memberships.retain(|m| m.id != membership_id);
    Ok(StatusCode::NO_CONTENT)
}
