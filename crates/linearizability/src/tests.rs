//! Valid histories and known-bad ones; each bad one is also rejected by the search alone.

use super::*;

const ML: u64 = 1_000_000; // one millisecond

fn claim(by: &str, t0: u64, t1: u64, outcome: Outcome) -> Operation {
    Operation { lead: "L1".into(), op: Op::Claim { by: by.into() }, outcome, start: t0 * ML, end: t1 * ML }
}

fn release(by: &str, seen: u64, t0: u64, t1: u64, outcome: Outcome) -> Operation {
    let op = Op::Release { by: by.into(), seen_version: seen, manager: by == "maria" };
    Operation { lead: "L1".into(), op, outcome, start: t0 * ML, end: t1 * ML }
}

fn reassign(to: &str, seen: u64, t0: u64, t1: u64, outcome: Outcome) -> Operation {
    let op = Op::Reassign { by: "maria".into(), seen_version: seen, to: to.into() };
    Operation { lead: "L1".into(), op, outcome, start: t0 * ML, end: t1 * ML }
}

fn outcome(by: &str, seen: u64, closes: bool, t0: u64, t1: u64, outcome: Outcome) -> Operation {
    let op = Op::Outcome { by: by.into(), seen_version: seen, closes };
    Operation { lead: "L1".into(), op, outcome, start: t0 * ML, end: t1 * ML }
}

fn won(version: u64) -> Outcome {
    Outcome::Won { version }
}

fn lost(holder: &str, version: u64) -> Outcome {
    Outcome::Lost { holder: holder.into(), version: Some(version) }
}

fn history(ops: Vec<Operation>) -> History {
    let mut h = History::new();
    h.initial("L1", LeadState::new(None, 1));
    h.ops = ops;
    h
}

fn search_only(h: &History) -> bool {
    let ops: Vec<&Operation> = h.ops.iter().collect();
    linearize(&h.initial["L1"], &ops, DEFAULT_STATE_LIMIT).is_ok()
}

#[track_caller]
fn valid(ops: Vec<Operation>) {
    let h = history(ops);
    if let Err(v) = check(&h) {
        panic!("expected linearizable, got: {v}");
    }
    assert!(search_only(&h));
}

/// Fails with a message containing `words`, and the search alone rejects it too.
#[track_caller]
fn invalid(ops: Vec<Operation>, words: &str) -> String {
    let h = history(ops);
    let v = check(&h).expect_err("expected a violation");
    assert!(!v.inconclusive);
    assert!(v.message.contains(words), "message {:?} should contain {words:?}", v.message);
    assert!(!search_only(&h), "the search alone must reject it too");
    v.message
}

#[test]
fn sequential_claims_and_releases_pass() {
    valid(vec![
        claim("alice", 0, 1, won(2)),
        claim("bob", 2, 3, lost("alice", 2)),
        claim("alice", 4, 5, lost("alice", 2)), // already yours
        release("alice", 2, 6, 7, won(3)),
        claim("bob", 8, 9, won(4)),
        release("alice", 4, 10, 11, Outcome::Rejected { observed: None }), // 403: not hers
        release("bob", 3, 12, 13, Outcome::Rejected { observed: Some(LeadState::new(Some("bob"), 4)) }), // stale
        reassign("carol", 4, 14, 15, won(5)),
        release("maria", 5, 16, 17, won(6)),
    ]);
}

#[test]
fn overlapping_concurrent_claims_pass_whoever_linearizes_first() {
    // Four claimants at once: the one who won may even answer last.
    valid(vec![
        claim("alice", 0, 10, won(2)),
        claim("bob", 1, 3, lost("alice", 2)),
        claim("carol", 1, 4, lost("alice", 2)),
        claim("dave", 2, 12, lost("alice", 2)),
    ]);
    // A lost claim may name a holder who let go before the loser's answer arrived.
    valid(vec![
        claim("alice", 0, 5, won(2)),
        claim("bob", 4, 9, lost("alice", 2)),
        release("alice", 2, 6, 8, won(3)),
        claim("carol", 7, 10, won(4)),
        claim("bob", 9, 11, lost("carol", 4)),
    ]);
    // Without versions, the search still finds the order.
    valid(vec![
        claim("alice", 0, 4, won(2)),
        claim("bob", 1, 6, Outcome::Lost { holder: "alice".into(), version: None }),
        release("alice", 2, 2, 5, won(3)),
        claim("carol", 3, 7, won(4)),
        claim("dave", 5, 8, Outcome::Lost { holder: "carol".into(), version: None }),
    ]);
}

#[test]
fn unknown_outcomes_may_or_may_not_have_happened() {
    // A timed-out claim that took effect (bob lost to alice later) ...
    valid(vec![claim("alice", 0, 5, Outcome::Unknown), claim("bob", 10, 11, lost("alice", 2))]);
    // ... or that did not (bob won instead).
    valid(vec![claim("alice", 0, 5, Outcome::Unknown), claim("bob", 10, 11, won(2))]);
    // A failed release that went through after its client gave up.
    valid(vec![
        claim("alice", 0, 1, won(2)),
        release("alice", 2, 2, 3, Outcome::Unknown),
        claim("bob", 4, 5, lost("alice", 2)),
        claim("bob", 6, 7, won(4)),
    ]);
}

#[test]
fn outcomes_keep_or_close_the_lead_and_only_a_manager_reopens_a_closed_one() {
    let closed_by_alice = LeadState { closed: true, ..LeadState::new(Some("alice"), 4) };
    valid(vec![
        claim("alice", 0, 1, won(2)),
        outcome("alice", 2, false, 2, 3, won(3)), // contacted: still hers
        claim("bob", 4, 5, lost("alice", 3)),
        outcome("alice", 3, true, 6, 7, won(4)), // won: closed
        claim("bob", 8, 9, Outcome::Rejected { observed: Some(closed_by_alice.clone()) }),
        release("alice", 4, 10, 11, Outcome::Rejected { observed: Some(closed_by_alice.clone()) }),
        outcome("alice", 4, false, 12, 13, Outcome::Rejected { observed: Some(closed_by_alice) }),
        release("maria", 4, 14, 15, won(5)), // reopened
        claim("bob", 16, 17, won(6)),
    ]);
}

#[test]
fn a_closed_lead_claimed_or_released_by_its_holder_fails() {
    invalid(
        vec![claim("alice", 0, 1, won(2)), outcome("alice", 2, true, 2, 3, won(3)), claim("bob", 4, 5, won(4))],
        "a second winner with no release in between",
    );
    invalid(
        vec![claim("alice", 0, 1, won(2)), outcome("alice", 2, true, 2, 3, won(3)), release("alice", 3, 4, 5, won(4))],
        "was not allowed",
    );
    // An outcome by someone who does not hold the lead.
    invalid(vec![claim("alice", 0, 1, won(2)), outcome("bob", 2, false, 2, 3, won(3))], "was not allowed");
}

#[test]
fn two_overlapping_winners_fail() {
    invalid(vec![claim("alice", 0, 10, won(2)), claim("bob", 1, 9, won(2))], "two winners at once");
}

#[test]
fn a_winner_with_no_release_in_between_fails() {
    let m = invalid(
        vec![claim("alice", 0, 2, won(2)), claim("bob", 3, 4, won(3))],
        "a second winner with no release in between",
    );
    assert!(m.contains("alice"), "{m}");
    // The same with a release that was refused: it did not make the lead open.
    invalid(
        vec![
            claim("alice", 0, 2, won(2)),
            release("bob", 2, 3, 4, Outcome::Rejected { observed: None }),
            claim("bob", 5, 6, won(3)),
        ],
        "a second winner with no release in between",
    );
}

#[test]
fn a_lost_naming_someone_who_never_held_it_fails() {
    invalid(vec![claim("alice", 0, 2, won(2)), claim("bob", 3, 4, lost("carol", 2))], "carol never held the lead");
    // Naming a real holder of another version is caught too.
    invalid(
        vec![
            claim("alice", 0, 2, won(2)),
            release("alice", 2, 3, 4, won(3)),
            claim("carol", 5, 6, won(4)),
            claim("bob", 7, 8, lost("alice", 4)),
        ],
        "at version 4 the lead was held by carol",
    );
}

#[test]
fn versions_going_backwards_fail() {
    // A stale read: bob was told alice holds version 2 after her release had returned.
    invalid(
        vec![claim("alice", 0, 1, won(2)), release("alice", 2, 2, 3, won(3)), claim("bob", 4, 5, lost("alice", 2))],
        "versions went backwards",
    );
    invalid(vec![claim("alice", 0, 1, won(1))], "versions went backwards");
}

#[test]
fn a_lost_naming_a_holder_outside_its_interval_fails_in_the_search() {
    // No versions reported, so only the search can tell: alice held the lead, but not while
    // bob's claim was running.
    let h = history(vec![
        claim("alice", 0, 1, won(2)),
        release("alice", 2, 2, 3, won(3)),
        claim("bob", 4, 5, Outcome::Lost { holder: "alice".into(), version: None }),
    ]);
    let v = check(&h).expect_err("bob cannot have lost to alice then");
    assert!(v.message.contains("not linearizable") && v.message.contains("bob's claim"), "{v}");
}

#[test]
fn a_change_nobody_made_fails() {
    invalid(vec![claim("alice", 0, 1, won(2)), release("alice", 4, 2, 3, won(5))], "no operation made version 4");
}

#[test]
fn leads_are_checked_independently_and_need_an_initial_state() {
    let mut h = history(vec![claim("alice", 0, 1, won(2))]);
    let mut other = claim("bob", 0, 1, won(8));
    other.lead = "L2".into();
    h.ops.push(other.clone());
    assert!(check(&h).unwrap_err().message.contains("no initial state"));
    h.initial("L2", LeadState::new(None, 7));
    let report = check(&h).unwrap();
    assert_eq!((report.leads, report.operations), (2, 2));
}

#[test]
fn a_bounded_search_is_inconclusive_not_a_pass() {
    let ops: Vec<Operation> =
        (0..40).map(|i| claim(&format!("u{i}"), 0, 100, if i == 0 { won(2) } else { lost("u0", 2) })).collect();
    let h = history(ops);
    assert!(check(&h).is_ok());
    let v = check_with_limit(&h, 5).unwrap_err();
    assert!(v.inconclusive, "{v}");
}

#[test]
fn many_concurrent_losers_stay_fast() {
    // 2,000 operations in rounds of 50 concurrent claimants with releases in between.
    let mut ops = Vec::new();
    let mut version = 1;
    for round in 0..40u64 {
        let t = round * 100;
        version += 1;
        let winner = format!("u{}", round % 7);
        ops.push(claim(&winner, t, t + 50, won(version)));
        for k in 0..48 {
            ops.push(claim(&format!("v{k}"), t + 1 + k % 5, t + 60, lost(&winner, version)));
        }
        ops.push(release(&winner, version, t + 70, t + 80, won(version + 1)));
        version += 1;
    }
    let started = std::time::Instant::now();
    let report = check(&history(ops)).unwrap();
    assert_eq!(report.operations, 40 * 50);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}
