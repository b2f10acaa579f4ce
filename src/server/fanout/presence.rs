//! Who is looking at which lead right now, on this replica: each open board says which lead's page
//! it shows (`ClientMsg::Viewing`), at most one at a time, and every board hears who views a lead
//! when that changes. Ephemeral: never stored, gone with the board; nothing is sent while nobody
//! looks.

use crate::domain::{LeadId, Username};
use crate::protocol::{ServerMsg, Viewers};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Presence updates buffered for a board that is momentarily slow; one further behind is sent
/// the whole picture again.
const BUFFER: usize = 256;

/// One open board's place in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct BoardId(u64);

pub struct Presence {
    next: AtomicU64,
    inner: Mutex<Registry>,
    tx: broadcast::Sender<Bytes>,
}

#[derive(Default)]
struct Registry {
    /// The lead each board looks at.
    boards: HashMap<BoardId, (Username, LeadId)>,
    /// Each viewed lead's boards (several boards of one person count once when told).
    leads: BTreeMap<LeadId, BTreeSet<(Username, BoardId)>>,
}

impl Registry {
    fn viewers(&self, lead: &LeadId) -> Viewers {
        let mut users: Vec<Username> = self.leads.get(lead).into_iter().flatten().map(|(u, _)| u.clone()).collect();
        users.dedup();
        Viewers { lead: lead.clone(), users }
    }
}

impl Default for Presence {
    fn default() -> Self {
        Self { next: AtomicU64::new(1), inner: Mutex::new(Registry::default()), tx: broadcast::channel(BUFFER).0 }
    }
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a newly connected board of `user`, with the updates it will hear from now on.
    /// Leaving it (dropping it) takes the board's look away.
    pub fn join(&self, user: Username) -> Place<'_> {
        let id = BoardId(self.next.fetch_add(1, Ordering::Relaxed));
        Place { presence: self, id, user, updates: self.tx.subscribe() }
    }

    /// The whole picture, for a board that just connected or fell behind.
    pub fn everyone(&self) -> ServerMsg {
        let inner = self.lock();
        ServerMsg::Presence { viewing: inner.leads.keys().map(|lead| inner.viewers(lead)).collect(), whole: true }
    }

    /// Board `board` of `user` now looks at `lead` (None: at no lead). Tells every board about the
    /// leads whose viewers changed.
    fn set(&self, board: BoardId, user: &Username, lead: Option<LeadId>) {
        let mut inner = self.lock();
        let before = inner.boards.get(&board).map(|(_, l)| l.clone());
        if before == lead {
            return;
        }
        let mut changed = Vec::new();
        if let Some(old) = before {
            inner.boards.remove(&board);
            if let Some(set) = inner.leads.get_mut(&old) {
                set.remove(&(user.clone(), board));
                if set.is_empty() {
                    inner.leads.remove(&old);
                }
            }
            changed.push(old);
        }
        if let Some(new) = lead {
            inner.boards.insert(board, (user.clone(), new.clone()));
            inner.leads.entry(new.clone()).or_default().insert((user.clone(), board));
            changed.push(new);
        }
        let viewing = changed.iter().map(|lead| inner.viewers(lead)).collect();
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(super::frame(&ServerMsg::Presence { viewing, whole: false }));
    }
}

/// A connected board's place: what it looks at, and the presence updates for it.
pub struct Place<'a> {
    presence: &'a Presence,
    id: BoardId,
    user: Username,
    pub updates: broadcast::Receiver<Bytes>,
}

impl Place<'_> {
    pub fn look_at(&self, lead: Option<LeadId>) {
        self.presence.set(self.id, &self.user, lead);
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.presence.set(self.id, &self.user, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    fn lead(id: &str) -> LeadId {
        LeadId::parse(id).unwrap()
    }

    fn told(rx: &mut broadcast::Receiver<Bytes>) -> Vec<(String, Vec<String>)> {
        let msg: ServerMsg = serde_json::from_slice(&rx.try_recv().unwrap()).unwrap();
        let ServerMsg::Presence { viewing, whole: false } = msg else { panic!("{msg:?}") };
        viewing.into_iter().map(|v| (v.lead.to_string(), v.users.iter().map(|u| u.to_string()).collect())).collect()
    }

    #[test]
    fn boards_hear_who_looks_at_a_lead_and_a_person_with_two_boards_counts_once() {
        let p = Presence::default();
        assert_eq!(p.everyone(), ServerMsg::Presence { viewing: vec![], whole: true });
        let mut watcher = p.join(user("carol"));
        let rx = &mut watcher.updates;
        let (a1, a2, b) = (p.join(user("alice")), p.join(user("alice")), p.join(user("bob")));
        a1.look_at(Some(lead("L1")));
        assert_eq!(told(rx), [("L1".into(), vec!["alice".into()])]);
        a2.look_at(Some(lead("L1")));
        assert_eq!(told(rx), [("L1".into(), vec!["alice".into()])]);
        b.look_at(Some(lead("L1")));
        assert_eq!(told(rx), [("L1".into(), vec!["alice".into(), "bob".into()])]);
        // Moving to another lead changes both.
        b.look_at(Some(lead("L2")));
        assert_eq!(told(rx), [("L1".into(), vec!["alice".into()]), ("L2".into(), vec!["bob".into()])]);
        b.look_at(Some(lead("L2")));
        assert!(rx.try_recv().is_err(), "no change, no message");
        drop(a1);
        assert_eq!(told(rx), [("L1".into(), vec!["alice".into()])], "her other board still looks");
        drop(a2);
        assert_eq!(told(rx), [("L1".into(), vec![])]);
        drop(b);
        assert_eq!(told(rx), [("L2".into(), vec![])]);
        assert_eq!(p.everyone(), ServerMsg::Presence { viewing: vec![], whole: true });
        drop(p.join(user("dave")));
        assert!(rx.try_recv().is_err(), "a board that looked at nothing leaves quietly");
    }
}
