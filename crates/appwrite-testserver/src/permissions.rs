//! Permission strings (`read("user:42")`) and role checks, after UDB `Helpers\Permission`,
//! `Helpers\Role` and `Validator\Authorization`.

use crate::errors::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// What a resource accepts: documents take read/update/delete, collections also create.
pub const DOCUMENT_ACTIONS: &[Action] = &[Action::Read, Action::Update, Action::Delete];
pub const COLLECTION_ACTIONS: &[Action] = &[Action::Read, Action::Create, Action::Update, Action::Delete];

/// Splits `read("role")` into `("read", "role")`.
fn split(permission: &str) -> Option<(&str, &str)> {
    let (action, rest) = permission.split_once("(\"")?;
    let role = rest.strip_suffix("\")")?;
    Some((action, role))
}

fn role_is_valid(role: &str) -> bool {
    let (name, dimension) = match role.split_once('/') {
        Some((name, dimension)) => (name, Some(dimension)),
        None => (role, None),
    };
    let (kind, id) = match name.split_once(':') {
        Some((kind, id)) => (kind, Some(id)),
        None => (name, None),
    };
    let id_ok = id.is_none_or(crate::ids::is_valid);
    let dimension_ok = dimension.is_none_or(|d| !d.is_empty());
    match (kind, id, dimension) {
        ("any" | "guests", None, None) => true,
        ("users", None, Some("verified" | "unverified")) | ("users", None, None) => true,
        ("user", Some(_), None | Some("verified" | "unverified")) => id_ok,
        ("team", Some(_), _) => id_ok && dimension_ok,
        ("member" | "label", Some(_), None) => id_ok,
        _ => false,
    }
}

/// Validates permission strings and expands `write` into the concrete actions the resource
/// supports (`Permission::aggregate`), dropping duplicates.
pub fn normalize(permissions: &[String], allowed: &[Action]) -> ApiResult<Vec<String>> {
    let allowed_names: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
    let mut out: Vec<String> = Vec::new();
    for permission in permissions {
        let invalid = |reason: String| ApiError::invalid_param("permissions", reason);
        let (action, role) =
            split(permission).ok_or_else(|| invalid(format!("Invalid permission string format: \"{permission}\".")))?;
        if !role_is_valid(role) {
            return Err(invalid(format!("Role \"{role}\" is not allowed.")));
        }
        let actions: Vec<&str> = match action {
            "write" => allowed_names.iter().copied().filter(|a| *a != "read").collect(),
            a if allowed_names.contains(&a) => vec![a],
            _ => {
                return Err(invalid(format!(
                    "Permission \"{action}\" is not allowed. Must be one of: {}, write.",
                    allowed_names.join(", ")
                )))
            }
        };
        for action in actions {
            let expanded = format!("{action}(\"{role}\")");
            if !out.contains(&expanded) {
                out.push(expanded);
            }
        }
    }
    Ok(out)
}

/// The roles granted by a set of permissions for one action.
pub fn roles_for(permissions: &[String], action: Action) -> impl Iterator<Item = &str> {
    permissions.iter().filter_map(move |p| split(p).filter(|(a, _)| *a == action.name()).map(|(_, role)| role))
}

/// Who is asking. API keys switch authorization off (`Authorization::setDefaultStatus(false)`
/// in `app/controllers/shared/api.php`); everybody else holds roles, always including `any`.
#[derive(Debug, Clone)]
pub enum Authorization {
    Skip,
    Roles(Vec<String>),
}

impl Authorization {
    pub fn is_skipped(&self) -> bool {
        matches!(self, Authorization::Skip)
    }

    pub fn has_role(&self, role: &str) -> bool {
        match self {
            Authorization::Skip => true,
            Authorization::Roles(roles) => roles.iter().any(|r| r == role),
        }
    }

    /// True if any of the permission lists grants `action` to one of the caller's roles.
    pub fn allows(&self, lists: &[&[String]], action: Action) -> bool {
        self.is_skipped() || lists.iter().any(|list| roles_for(list, action).any(|role| self.has_role(role)))
    }

    /// Non-key callers may only hand out permissions to roles they hold themselves
    /// (`Documents/Create.php`: "Permissions must be one of").
    pub fn check_grantable(&self, permissions: &[String]) -> ApiResult<()> {
        let Authorization::Roles(roles) = self else { return Ok(()) };
        for permission in permissions {
            if let Some((_, role)) = split(permission) {
                if !self.has_role(role) {
                    return Err(ApiError::UserUnauthorized(format!(
                        "Permissions must be one of: ({})",
                        roles.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `read("user:ID")`-style defaults Appwrite gives a document created by a user without
/// explicit permissions.
pub fn owner_defaults(user_id: &str) -> Vec<String> {
    DOCUMENT_ACTIONS.iter().map(|a| format!("{}(\"user:{user_id}\")", a.name())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn write_expands_per_resource() {
        let perms = strings(&[r#"write("users")"#, r#"read("any")"#]);
        assert_eq!(
            normalize(&perms, DOCUMENT_ACTIONS).unwrap(),
            strings(&[r#"update("users")"#, r#"delete("users")"#, r#"read("any")"#])
        );
        assert_eq!(normalize(&perms, COLLECTION_ACTIONS).unwrap().len(), 4);
        assert!(normalize(&strings(&[r#"create("any")"#]), DOCUMENT_ACTIONS).is_err());
        assert!(normalize(&strings(&[r#"read("nobody")"#]), DOCUMENT_ACTIONS).is_err());
        assert!(normalize(&strings(&["read(any)"]), DOCUMENT_ACTIONS).is_err());
    }

    #[test]
    fn roles_grant_actions() {
        let auth = Authorization::Roles(strings(&["any", "users", "user:a", "team:t/owner"]));
        let doc = strings(&[r#"read("user:b")"#, r#"update("team:t/owner")"#]);
        assert!(!auth.allows(&[&doc], Action::Read));
        assert!(auth.allows(&[&doc], Action::Update));
        assert!(Authorization::Skip.allows(&[&doc], Action::Delete));
        assert!(auth.check_grantable(&strings(&[r#"read("user:b")"#])).is_err());
    }
}
