//! The activity feed's lines, newest first: one per event, except that leads one person added
//! together (an import's batch) are one line, "maria added 500 leads (I00001–I00500)".

use crate::domain::{BoardEvent, Change, LeadId};
use std::collections::VecDeque;

const FEED_LEN: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedItem {
    /// The line's newest event.
    pub event: BoardEvent,
    /// The sequence and lead of the line's first event (the event's own for a single one).
    pub first_seq: u64,
    pub first_lead: LeadId,
    /// Events on this line.
    pub count: usize,
}

impl FeedItem {
    fn of(event: BoardEvent) -> Self {
        FeedItem { first_seq: event.seq, first_lead: event.lead.id.clone(), count: 1, event }
    }

    fn covers(&self, seq: u64) -> bool {
        (self.first_seq..=self.event.seq).contains(&seq)
    }

    /// Whether `ev` continues this line: the next lead created in the same write by the same person.
    fn continued_by(&self, ev: &BoardEvent) -> bool {
        matches!((&self.event.change, &ev.change), (Change::Created, Change::Created))
            && ev.seq == self.event.seq + 1
            && ev.actor == self.event.actor
            && ev.at == self.event.at
    }
}

/// Adds `ev` to a feed kept newest first, once: an event reported ahead of a gap comes again
/// with the catch-up, and the first page of the feed may already hold events the socket replays.
pub fn add(feed: &mut VecDeque<FeedItem>, ev: BoardEvent) {
    if feed.iter().any(|item| item.covers(ev.seq)) {
        return;
    }
    if let Some(front) = feed.front_mut().filter(|f| f.continued_by(&ev)) {
        front.event = ev;
        front.count += 1;
        return;
    }
    let at = feed.iter().position(|item| item.event.seq < ev.seq).unwrap_or(feed.len());
    feed.insert(at, FeedItem::of(ev));
    feed.truncate(FEED_LEN);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Lead, Username};

    fn ev(seq: u64, change: Change, at: i64) -> BoardEvent {
        BoardEvent { seq, at, actor: Username::parse("bob").unwrap(), lead: Lead::sample(Some("bob"), seq), change }
    }

    #[test]
    fn the_feed_holds_each_event_once_newest_first() {
        let mut feed = VecDeque::new();
        // 5 arrives ahead of a gap; the catch-up then sends 3, 4 and 5 again.
        for seq in [1, 2, 5, 3, 4, 5, 2] {
            add(&mut feed, ev(seq, Change::Claimed, 0));
        }
        assert_eq!(feed.iter().map(|i| i.event.seq).collect::<Vec<_>>(), [5, 4, 3, 2, 1]);
        for seq in 6..6 + FEED_LEN as u64 {
            add(&mut feed, ev(seq, Change::Claimed, 0));
        }
        assert_eq!((feed.len(), feed[0].event.seq), (FEED_LEN, 5 + FEED_LEN as u64));
    }

    #[test]
    fn leads_added_together_are_one_line() {
        let mut feed = VecDeque::new();
        add(&mut feed, ev(1, Change::Claimed, 0));
        for seq in 2..=501 {
            add(&mut feed, ev(seq, Change::Created, 7));
        }
        add(&mut feed, ev(300, Change::Created, 7));
        add(&mut feed, ev(502, Change::Created, 8));
        let lines: Vec<(u64, u64, usize)> = feed.iter().map(|i| (i.first_seq, i.event.seq, i.count)).collect();
        assert_eq!(lines, [(502, 502, 1), (2, 501, 500), (1, 1, 1)], "a later write is a line of its own");
    }
}
