//! The claim rules. The store's atomic write decides *who* got there first; these functions decide
//! what that means for each caller and who may change a held lead (release, reassign, extend).

use super::{Account, Lead, LeadStatus, Millis, Outcome, UserInfo, Username};
use serde::{Deserialize, Serialize};

/// What a claim attempt came to, from the claimant's point of view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ClaimOutcome {
    Won,
    /// Someone else holds the lead. `margin_ms`: how long before this attempt was decided the
    /// winner got it.
    Lost {
        winner: Username,
        margin_ms: Millis,
    },
    AlreadyYours,
}

impl ClaimOutcome {
    /// The `outcome` it carries on the wire.
    pub fn label(&self) -> &'static str {
        self.into()
    }
}

/// The reply to `POST /api/claim`: the outcome and the lead as it stands after the attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimReply {
    #[serde(flatten)]
    pub outcome: ClaimOutcome,
    pub lead: Lead,
}

/// The order "Next lead" picks open leads in (`claims.next_order`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextOrder {
    /// The lead that has waited longest (by its created time; leads without one first, as the
    /// oldest), then by ID.
    #[default]
    Oldest,
    /// The open lead of the highest value, the oldest first among equals.
    HighestValue,
}

impl NextOrder {
    /// Why a lead was picked, as the answer says it.
    pub fn reason(self) -> &'static str {
        match self {
            NextOrder::Oldest => "the oldest open lead",
            NextOrder::HighestValue => "the open lead of the highest value",
        }
    }

    /// How two open leads rank: the one to pick first is `Less`.
    pub fn rank(self, a: &Lead, b: &Lead) -> std::cmp::Ordering {
        let oldest = |l: &Lead| (l.details.created_at, l.id.clone());
        match self {
            NextOrder::Oldest => oldest(a).cmp(&oldest(b)),
            NextOrder::HighestValue => b.value.cmp(&a.value).then_with(|| oldest(a).cmp(&oldest(b))),
        }
    }
}

/// The reply to `POST /api/next`: the claim "Next lead" made, and why that lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextReply {
    #[serde(flatten)]
    pub claim: ClaimReply,
    pub reason: String,
}

/// The terms a claim is held on, as the team configured them (`[claims]`). Plain values, so the
/// browser can show them (how long a lease runs, when the reminder comes) as the server applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimTerms {
    /// A lease's length; None: claims are held until released.
    pub lease_ms: Option<Millis>,
    /// How long before the lease runs out the holder is reminded.
    pub remind_ms: Millis,
    /// Times the holder may extend one claim's lease.
    pub max_extensions: u32,
    /// Leads one person may hold at once unless they have a cap of their own; None: no cap.
    pub default_cap: Option<u32>,
    /// Which open lead "Next lead" claims.
    pub next_order: NextOrder,
}

impl ClaimTerms {
    /// Claims held until released, by anyone however many they hold (but a person's own cap).
    pub fn is_unlimited(&self) -> bool {
        self.lease_ms.is_none() && self.default_cap.is_none()
    }

    /// The deadline of a lease that starts at `now`.
    pub fn lease_until(&self, now: Millis) -> Option<Millis> {
        self.lease_ms.map(|ms| now + ms)
    }
}

/// Whether someone holding `held` leads may claim another under `cap` (None: no cap).
pub fn check_cap(held: u32, cap: Option<u32>) -> Result<(), RuleError> {
    match cap {
        Some(cap) if held >= cap => Err(RuleError::CapReached { held, cap }),
        _ => Ok(()),
    }
}

/// Judges an attempt whose conditional write did not apply, from the lead as it now stands.
/// Returns None when the lead is open, which means the write should have applied: the caller
/// reports a failure instead of inventing an outcome.
pub fn judge_unapplied(current: &Lead, claimant: &Username, decided_at: Millis) -> Option<ClaimOutcome> {
    let holder = current.assignee.as_ref()?;
    Some(if holder == claimant {
        ClaimOutcome::AlreadyYours
    } else {
        ClaimOutcome::Lost {
            winner: holder.clone(),
            margin_ms: (decided_at - current.claimed_at.unwrap_or(decided_at)).max(0),
        }
    })
}

/// Why a claim, release, reassign or extend was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the lead changed since you saw it (now at version {current})")]
    StaleVersion { current: u64 },
    #[error("you don't hold this lead")]
    NotYours,
    #[error("only managers can do that")]
    ManagersOnly,
    #[error("the lead is not claimed")]
    NotClaimed,
    #[error("{0} is already the assignee")]
    AlreadyAssigned(Username),
    #[error("{0}'s account is disabled")]
    AssigneeDisabled(Username),
    /// A claim past the claimant's cap on leads held at once.
    #[error("you already hold {held} of {cap}")]
    CapReached { held: u32, cap: u32 },
    #[error("the lead has no lease to extend")]
    NoLease,
    #[error("the lease has run out")]
    LeaseOver,
    #[error("the lease was extended {max} times already, the most allowed")]
    ExtensionsUsed { max: u32 },
    #[error("the lead is closed ({})", outcome.as_str())]
    Closed { outcome: Outcome },
    /// An expiry of a lease that has not run out (or was extended meanwhile).
    #[error("the lease has not run out")]
    LeaseRunning,
}

/// A closed lead cannot be claimed: the attempt is refused, not lost (nobody won it).
pub fn check_claimable(current: &Lead) -> Result<(), RuleError> {
    match current.outcome {
        Some(outcome) if current.status() == LeadStatus::Closed => Err(RuleError::Closed { outcome }),
        _ => Ok(()),
    }
}

/// Only the holder records an outcome, against the version they saw, and not on a closed lead.
pub fn check_outcome(current: &Lead, seen_version: u64, actor: &Username) -> Result<(), RuleError> {
    check_version(current, seen_version)?;
    match &current.assignee {
        None => return Err(RuleError::NotClaimed),
        Some(holder) if holder != actor => return Err(RuleError::NotYours),
        Some(_) => {}
    }
    check_claimable(current)
}

/// Who may release a lead: its holder, or a manager; always against the version the caller saw.
/// Releasing a closed lead reopens it, which only a manager may do.
pub fn check_release(current: &Lead, seen_version: u64, actor: &UserInfo) -> Result<(), RuleError> {
    check_version(current, seen_version)?;
    match &current.assignee {
        None => Err(RuleError::NotClaimed),
        Some(_) if actor.is_manager() => Ok(()),
        Some(holder) if holder == &actor.username => check_claimable(current),
        Some(_) => Err(RuleError::NotYours),
    }
}

/// Only managers reassign, against the version they saw, and only to an account that can sign
/// in (a lead held by a disabled account would be stuck).
pub fn check_reassign(current: &Lead, seen_version: u64, to: &Account, actor: &UserInfo) -> Result<(), RuleError> {
    if !actor.is_manager() {
        return Err(RuleError::ManagersOnly);
    }
    check_version(current, seen_version)?;
    if current.is_held_by(&to.username) {
        return Err(RuleError::AlreadyAssigned(to.username.clone()));
    }
    if to.disabled {
        return Err(RuleError::AssigneeDisabled(to.username.clone()));
    }
    Ok(())
}

/// Only the holder extends a lease, against the version they saw, while it still runs, and at most
/// `max_extensions` times.
pub fn check_extend(
    current: &Lead,
    seen_version: u64,
    actor: &Username,
    now: Millis,
    max_extensions: u32,
) -> Result<(), RuleError> {
    check_version(current, seen_version)?;
    match &current.assignee {
        None => return Err(RuleError::NotClaimed),
        Some(holder) if holder != actor => return Err(RuleError::NotYours),
        Some(_) => {}
    }
    match current.lease_until {
        None => Err(RuleError::NoLease),
        Some(until) if until <= now => Err(RuleError::LeaseOver),
        Some(_) if current.extensions >= max_extensions => Err(RuleError::ExtensionsUsed { max: max_extensions }),
        Some(_) => Ok(()),
    }
}

/// A lease gives its lead back once it ran out, out of the version it was found at (so an
/// extension or a release in between wins over it).
pub fn check_expire(current: &Lead, seen_version: u64, now: Millis) -> Result<(), RuleError> {
    check_version(current, seen_version)?;
    match (&current.assignee, current.lease_until) {
        (None, _) => Err(RuleError::NotClaimed),
        (Some(_), Some(until)) if until <= now => Ok(()),
        (Some(_), _) => Err(RuleError::LeaseRunning),
    }
}

fn check_version(current: &Lead, seen: u64) -> Result<(), RuleError> {
    if current.version == seen {
        Ok(())
    } else {
        Err(RuleError::StaleVersion { current: current.version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(name: &str, role: Role) -> UserInfo {
        UserInfo { username: Username::parse(name).unwrap(), role }
    }

    fn lead(assignee: Option<&str>, version: u64) -> Lead {
        Lead::sample(assignee, version)
    }

    #[test]
    fn a_taken_lead_is_lost_to_its_holder_with_the_margin() {
        let bob = Username::parse("bob").unwrap();
        let alice = Username::parse("alice").unwrap();
        let taken = lead(Some("bob"), 2);
        assert_eq!(
            judge_unapplied(&taken, &alice, 1_012),
            Some(ClaimOutcome::Lost { winner: bob.clone(), margin_ms: 12 })
        );
        assert_eq!(judge_unapplied(&taken, &bob, 1_012), Some(ClaimOutcome::AlreadyYours));
        assert_eq!(judge_unapplied(&lead(None, 1), &alice, 5), None);
    }

    #[test]
    fn claim_reply_json_is_flat() {
        let reply = ClaimReply {
            outcome: ClaimOutcome::Lost { winner: Username::parse("bob").unwrap(), margin_ms: 3 },
            lead: lead(Some("bob"), 2),
        };
        let v = serde_json::to_value(&reply).unwrap();
        assert_eq!(v["outcome"], "lost");
        assert_eq!(v["winner"], "bob");
        assert_eq!(v["lead"]["assignee"], "bob");
        assert_eq!(serde_json::from_value::<ClaimReply>(v).unwrap(), reply);
        for outcome in [ClaimOutcome::Won, ClaimOutcome::AlreadyYours] {
            assert_eq!(serde_json::to_value(&outcome).unwrap()["outcome"], outcome.label());
        }
    }

    #[test]
    fn release_needs_the_holder_or_a_manager_and_the_current_version() {
        let held = lead(Some("bob"), 4);
        assert_eq!(check_release(&held, 4, &user("bob", Role::Employee)), Ok(()));
        assert_eq!(check_release(&held, 4, &user("maria", Role::Manager)), Ok(()));
        assert_eq!(check_release(&held, 4, &user("alice", Role::Employee)), Err(RuleError::NotYours));
        assert_eq!(check_release(&held, 3, &user("bob", Role::Employee)), Err(RuleError::StaleVersion { current: 4 }));
        assert_eq!(check_release(&lead(None, 4), 4, &user("bob", Role::Employee)), Err(RuleError::NotClaimed));
    }

    #[test]
    fn only_managers_reassign_and_only_to_an_enabled_account() {
        let held = lead(Some("bob"), 4);
        let account = |name: &str, disabled| Account {
            username: Username::parse(name).unwrap(),
            role: Role::Employee,
            disabled,
            cap: None,
        };
        let (carol, maria) = (account("carol", false), user("maria", Role::Manager));
        assert_eq!(check_reassign(&held, 4, &carol, &user("bob", Role::Employee)), Err(RuleError::ManagersOnly));
        assert_eq!(check_reassign(&held, 4, &carol, &maria), Ok(()));
        assert!(check_reassign(&held, 4, &account("bob", false), &maria).is_err());
        assert_eq!(
            check_reassign(&held, 4, &account("dave", true), &maria),
            Err(RuleError::AssigneeDisabled(Username::parse("dave").unwrap()))
        );
    }

    #[test]
    fn only_the_holder_extends_a_running_lease_a_limited_number_of_times() {
        let bob = Username::parse("bob").unwrap();
        let mut held = lead(Some("bob"), 4);
        assert_eq!(check_extend(&held, 4, &bob, 2_000, 2), Err(RuleError::NoLease));
        held.lease_until = Some(5_000);
        assert_eq!(check_extend(&held, 4, &bob, 2_000, 2), Ok(()));
        assert_eq!(check_extend(&held, 3, &bob, 2_000, 2), Err(RuleError::StaleVersion { current: 4 }));
        assert_eq!(check_extend(&held, 4, &Username::parse("alice").unwrap(), 2_000, 2), Err(RuleError::NotYours));
        assert_eq!(check_extend(&held, 4, &bob, 5_000, 2), Err(RuleError::LeaseOver), "the deadline itself is over");
        held.extensions = 2;
        assert_eq!(check_extend(&held, 4, &bob, 2_000, 2), Err(RuleError::ExtensionsUsed { max: 2 }));
        assert_eq!(check_extend(&lead(None, 4), 4, &bob, 2_000, 2), Err(RuleError::NotClaimed));
    }

    #[test]
    fn next_lead_ranks_the_oldest_or_the_most_valuable_first() {
        let at = |id: &str, created: Option<Millis>, value: u64| {
            let mut l = lead(None, 1);
            l.id = crate::domain::LeadId::parse(id).unwrap();
            (l.details.created_at, l.value) = (created, value);
            l
        };
        let mut leads =
            [at("L3", Some(30), 900), at("L1", Some(20), 100), at("L2", None, 100), at("L4", Some(20), 900)];
        leads.sort_by(|a, b| NextOrder::Oldest.rank(a, b));
        assert_eq!(leads.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["L2", "L1", "L4", "L3"]);
        leads.sort_by(|a, b| NextOrder::HighestValue.rank(a, b));
        assert_eq!(leads.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["L4", "L3", "L2", "L1"]);
        assert_eq!(serde_json::to_value(NextOrder::HighestValue).unwrap(), "highest_value");
    }

    #[test]
    fn the_holder_records_outcomes_until_one_closes_the_lead_which_only_a_manager_reopens() {
        let (bob, alice) = (Username::parse("bob").unwrap(), Username::parse("alice").unwrap());
        let mut held = lead(Some("bob"), 4);
        assert_eq!(check_outcome(&held, 4, &bob), Ok(()));
        assert_eq!(check_outcome(&held, 3, &bob), Err(RuleError::StaleVersion { current: 4 }));
        assert_eq!(check_outcome(&held, 4, &alice), Err(RuleError::NotYours));
        assert_eq!(check_outcome(&lead(None, 4), 4, &bob), Err(RuleError::NotClaimed));
        held.outcome = Some(Outcome::Contacted);
        assert_eq!(check_outcome(&held, 4, &bob), Ok(()), "contacted again, then something else");
        assert_eq!(check_release(&held, 4, &user("bob", Role::Employee)), Ok(()));
        held.outcome = Some(Outcome::Won);
        let closed = Err(RuleError::Closed { outcome: Outcome::Won });
        assert_eq!(check_outcome(&held, 4, &bob), closed);
        assert_eq!(check_claimable(&held), closed);
        assert_eq!(check_release(&held, 4, &user("bob", Role::Employee)), closed);
        assert_eq!(check_release(&held, 4, &user("maria", Role::Manager)), Ok(()));
        assert_eq!(RuleError::Closed { outcome: Outcome::Won }.to_string(), "the lead is closed (won)");
    }

    #[test]
    fn a_cap_refusal_names_the_numbers() {
        assert_eq!(check_cap(4, Some(5)), Ok(()));
        assert_eq!(check_cap(7, None), Ok(()));
        assert_eq!(check_cap(5, Some(5)), Err(RuleError::CapReached { held: 5, cap: 5 }));
        assert_eq!(RuleError::CapReached { held: 5, cap: 5 }.to_string(), "you already hold 5 of 5");
    }
}
