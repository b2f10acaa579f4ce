//! Demo data: accounts and plausible leads, generated deterministically so every run and every
//! test sees the same board.

use super::AppState;
use crate::domain::{NewLead, Password, Role, Username};
use crate::error::ApiError;
use crate::server::store::StoreError;

/// At least 8 characters: Appwrite refuses shorter passwords.
pub const DEMO_PASSWORD: &str = "demo1234";
pub const DEMO_EMPLOYEES: [&str; 3] = ["alice", "bob", "carol"];
pub const DEMO_MANAGER: &str = "maria";

const FIRST: [&str; 16] = [
    "Ada", "Ben", "Chloe", "Dario", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kai", "Lena", "Mateo", "Nora",
    "Omar", "Priya",
];
const LAST: [&str; 12] = [
    "Novak", "Okafor", "Silva", "Tanaka", "Meyer", "Haddad", "Kowalski", "Larsen", "Moreau", "Rossi", "Schmidt",
    "Yilmaz",
];
const COMPANY: [&str; 14] = [
    "Acme Robotics",
    "Brightline Freight",
    "Cobalt Health",
    "Dune Analytics",
    "Evergreen Foods",
    "Fjord Energy",
    "Granite Insurance",
    "Harbor Logistics",
    "Ion Semiconductors",
    "Juniper Retail",
    "Keystone Bank",
    "Lumen Media",
    "Meridian Travel",
    "Nimbus Cloud",
];

/// The n-th demo lead (1-based): `L00001`, with a name, company and value that vary with n.
pub fn demo_lead(n: usize) -> NewLead {
    // A cheap mix so neighbouring leads do not look alike.
    let h = n.wrapping_mul(2_654_435_761) >> 7;
    let name = format!("{} {}", FIRST[h % FIRST.len()], LAST[(h / 16) % LAST.len()]);
    let company = COMPANY[(h / 192) % COMPANY.len()];
    let value = 1_000 + (h % 240) as u64 * 250;
    NewLead::parse(&format!("L{n:05}"), &name, company, value).expect("demo leads are valid")
}

pub fn generated_employee(n: usize) -> Username {
    Username::parse(format!("user{n:03}")).expect("generated names are valid")
}

/// Adds a user unless one of that name exists. Returns whether it was added.
pub async fn ensure_user(
    state: &AppState,
    username: &Username,
    role: Role,
    password: &Password,
) -> Result<bool, ApiError> {
    if state.accounts.user(username).await?.is_some() {
        return Ok(false);
    }
    match state.accounts.add_user(username, role, password).await {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What an empty store gets on start, and the line that says so. With `demo`, the demo accounts
/// and leads (the line names them and their public password); without, nothing: the first manager
/// is made with `leadboard users add`. The line names only accounts this start created, so a
/// store that already had accounts is never said to have demo ones.
pub async fn on_start(state: &AppState, demo: bool) -> Result<Option<String>, ApiError> {
    let empty = state.accounts.users().await?.is_empty();
    Ok(Some(match (empty, demo) {
        (true, true) => {
            let (accounts, leads) = seed(state, 240, 0).await?;
            tracing::info!(accounts, leads, "seeded demo data into an empty store");
            format!(
                "DEMO MODE: demo accounts with the public password \"{DEMO_PASSWORD}\": employees {}; manager \
                 {DEMO_MANAGER}. Anyone who knows this README can sign in: do not put this on a network.",
                DEMO_EMPLOYEES.join(", ")
            )
        }
        (true, false) => {
            "No accounts yet. Create the first manager (the password is read from LEADBOARD_PASSWORD):\n  \
                          leadboard users add NAME --role manager"
                .to_owned()
        }
        (false, true) => "Demo data not added: the store already has accounts.".to_owned(),
        (false, false) => return Ok(None),
    }))
}

/// Seeds the demo accounts, `employees` generated employees and `leads` leads. Idempotent: what
/// exists is kept. Returns (accounts added, leads added).
pub async fn seed(state: &AppState, leads: usize, employees: usize) -> Result<(usize, usize), ApiError> {
    let password = Password::parse(DEMO_PASSWORD).expect("valid");
    let manager = Username::parse(DEMO_MANAGER).expect("valid");
    let mut added = usize::from(ensure_user(state, &manager, Role::Manager, &password).await?);
    let named = DEMO_EMPLOYEES.iter().map(|u| Username::parse(*u).expect("valid"));
    for user in named.chain((1..=employees).map(generated_employee)) {
        added += usize::from(ensure_user(state, &user, Role::Employee, &password).await?);
    }
    let new_leads = state.leads.add_leads((1..=leads).map(demo_lead).collect(), &manager).await?;
    Ok((added, new_leads))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_leads_are_stable_and_distinct() {
        assert_eq!(demo_lead(1), demo_lead(1));
        assert_eq!(demo_lead(42).id.as_str(), "L00042");
        let names: std::collections::HashSet<_> =
            (1..=200).map(|n| (demo_lead(n).name, demo_lead(n).company)).collect();
        assert!(names.len() > 100, "only {} distinct leads", names.len());
    }
}
