//! The complete check: a Wing & Gong search, in Lowe's "WGL" form with a cache of explored
//! configurations.

use crate::model::step;
use crate::{LeadState, Operation};
use std::collections::HashSet;

pub(crate) enum SearchError {
    NotLinearizable(String),
    TooManyStates(usize),
}

/// A set of operation indices (in invocation order), kept as a bitset with a count of the
/// leading ones, so a cache key holds only the ragged window beyond the ordered prefix.
struct Linearized {
    words: Vec<u64>,
    prefix: usize,
}

impl Linearized {
    fn new(n: usize) -> Self {
        Self { words: vec![0; n.div_ceil(64)], prefix: 0 }
    }

    fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
        while self.prefix < self.words.len() * 64 && self.get(self.prefix) {
            self.prefix += 1;
        }
    }

    fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.prefix = self.prefix.min(i);
    }

    /// The set as a compact key: the length of the prefix, and the words after it up to the last
    /// one with a bit set.
    fn key(&self) -> (usize, Vec<u64>) {
        let from = self.prefix / 64;
        let mut to = self.words.len();
        while to > from && self.words[to - 1] == 0 {
            to -= 1;
        }
        (self.prefix, self.words[from..to].to_vec())
    }

    fn with(&mut self, i: usize) -> (usize, Vec<u64>) {
        self.set(i);
        let k = self.key();
        self.clear(i);
        k
    }
}

const NIL: usize = usize::MAX;

/// Returns the number of states visited.
pub(crate) fn linearize(initial: &LeadState, ops: &[&Operation], limit: usize) -> Result<usize, SearchError> {
    let mut ops: Vec<&Operation> = ops.to_vec();
    ops.sort_by_key(|o| (o.start, o.deadline()));
    let n = ops.len();
    // Entries: 2i is op i's invocation, 2i+1 its response; sorted by time, invocations first at
    // equal instants (equal instants are concurrent).
    let mut order: Vec<usize> = (0..2 * n).collect();
    order.sort_by_key(|&e| {
        let o = ops[e / 2];
        if e % 2 == 0 {
            (o.start, 0, e)
        } else {
            (o.deadline(), 1, e)
        }
    });
    // A doubly linked list over the entries, with a head sentinel at index 2n.
    let head = 2 * n;
    let mut next = vec![NIL; 2 * n + 1];
    let mut prev = vec![NIL; 2 * n + 1];
    let mut last = head;
    for &e in &order {
        next[last] = e;
        prev[e] = last;
        last = e;
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != NIL {
            prev[q] = e;
        }
    };

    let mut state = initial.clone();
    let mut lin = Linearized::new(n);
    let mut cache: HashSet<((usize, Vec<u64>), LeadState)> = HashSet::new();
    let mut stack: Vec<(usize, LeadState)> = Vec::new();
    // The deepest point reached, to explain a failure.
    let mut deepest: (usize, LeadState, Option<usize>) = (0, state.clone(), None);
    let mut entry = next[head];
    while next[head] != NIL {
        if entry.is_multiple_of(2) {
            let i = entry / 2;
            let mut taken = false;
            for s in step(ops[i], &state) {
                let key = (lin.with(i), s);
                if !cache.contains(&key) {
                    if cache.len() >= limit {
                        return Err(SearchError::TooManyStates(cache.len()));
                    }
                    let s = key.1.clone();
                    cache.insert(key);
                    stack.push((entry, std::mem::replace(&mut state, s)));
                    lin.set(i);
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, entry + 1);
                    entry = next[head];
                    taken = true;
                    break;
                }
            }
            if !taken {
                entry = next[entry];
            }
        } else {
            // A response whose operation is not ordered yet: undo the last choice.
            if stack.len() > deepest.0 || deepest.2.is_none() {
                deepest = (stack.len(), state.clone(), Some(entry / 2));
            }
            let Some((e, s)) = stack.pop() else {
                return Err(SearchError::NotLinearizable(explain(&ops, n, deepest)));
            };
            state = s;
            lin.clear(e / 2);
            relink(&mut next, &mut prev, e + 1);
            relink(&mut next, &mut prev, e);
            // Try the same operation's other results (the ones tried are cached), then later ones.
            entry = e;
        }
    }
    Ok(cache.len())
}

fn explain(ops: &[&Operation], n: usize, (depth, state, stuck): (usize, LeadState, Option<usize>)) -> String {
    let stuck = stuck.map(|i| format!("{}", ops[i])).unwrap_or_else(|| "?".into());
    format!(
        "not linearizable: no order of the {n} operations consistent with real time explains every result; \
         at best {depth} could be ordered, then the lead was {state} and this result could not be explained \
         before it returned: {stuck}"
    )
}
