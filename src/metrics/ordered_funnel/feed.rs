//! The ordered funnel's pass: each key's chains, fed event by event from the read by user and
//! time that the sessions share ([`crate::metrics::user_pass`]), for every key: the keys of a
//! user (the user, or their items or categories) all lie in the user's block of events, each in
//! time order, so one open chain state per key of the current user is enough and no read sorts
//! by item or category.

use super::super::rfm::SEGMENTS;
use super::super::source::{out_of_order, Ctx};
use super::super::MetricsError;
use super::BUCKETS;
use crate::domain::journey::{Breakdown, FunnelKey, Steps};
use std::collections::HashMap;

const NONE: i64 = i64::MIN;

/// One key being read.
struct Run {
    last_ts: i64,
    /// Events at `last_ts` not applied yet: (step, category); applied in step order, so equal
    /// times chain.
    pending: Vec<(usize, i64)>,
    /// Latest start of a chain reaching each level (NONE: not reached).
    start: [i64; 4],
    /// Shortest chain to each level.
    best: [i64; 4],
    /// Category of the earliest step-1 event.
    cat: i64,
}

impl Run {
    fn new(ts: i64) -> Run {
        Run { last_ts: ts, pending: Vec::new(), start: [NONE; 4], best: [i64::MAX; 4], cat: NONE }
    }

    /// Applies the pending events (all at `last_ts`) in step order (ties: smaller category).
    fn flush(&mut self, window: Option<i64>) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable();
        for (step, cat) in pending.drain(..) {
            self.step(self.last_ts, step, cat, window);
        }
        self.pending = pending;
    }

    /// One event at `t` of step `s` (0-based) in category `cat`.
    fn step(&mut self, t: i64, s: usize, cat: i64, window: Option<i64>) {
        if s == 0 {
            if self.start[0] == NONE {
                self.cat = cat;
            }
            self.start[0] = t;
            self.best[0] = 0;
            return;
        }
        let from = self.start[s - 1];
        if from != NONE && window.is_none_or(|w| t - from <= w) {
            self.start[s] = from;
            self.best[s] = self.best[s].min(t - from);
        }
    }

    fn level(&self) -> usize {
        self.start.iter().take_while(|s| **s != NONE).count()
    }
}

/// What the keys add up to.
pub struct Tally {
    pub(super) n: usize,
    pub(super) reached: [u64; 4],
    pub(super) gaps: [Vec<i64>; 4],
    pub(super) hist: [u64; 7],
    /// Keys per step by group (segment code or category id).
    pub(super) groups: HashMap<i64, [u64; 4]>,
}

impl Tally {
    fn close(&mut self, r: &Run, group: Option<i64>) {
        let level = r.level();
        for k in 0..level {
            self.reached[k] += 1;
            if k > 0 {
                self.gaps[k].push(r.best[k]);
            }
        }
        if level == self.n {
            let g = r.best[self.n - 1];
            self.hist[BUCKETS.iter().take_while(|b| g >= **b).count()] += 1;
        }
        if let (Some(g), true) = (group, level > 0) {
            let e = self.groups.entry(g).or_insert([0; 4]);
            for x in e.iter_mut().take(level) {
                *x += 1;
            }
        }
    }
}

/// The user's segment code (index in [`SEGMENTS`], 5 = non_buyer) over the whole window.
fn segments(ctx: &Ctx<'_>) -> Result<HashMap<i64, u8>, MetricsError> {
    let mut st = ctx.conn.prepare("SELECT user_id, segment FROM user_summary WHERE segment IS NOT NULL")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (u, s) = row?;
        out.insert(u, SEGMENTS.iter().position(|x| *x == s).unwrap_or(5) as u8);
    }
    Ok(out)
}

/// A hasher for ids: one multiplication (Fibonacci hashing) instead of SipHash, which took most
/// of an item-keyed pass's time; the keys are ids from the data, and a slow map is their worst case.
#[derive(Clone, Copy, Default)]
pub struct IdHash;

/// The state of [`IdHash`].
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // The map indexes by the low bits: fold the well-mixed high bits into them.
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ *b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, x: i64) {
        self.0 = (x as u64 ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// The funnel of events fed in (user, time) order, one at a time; events of one user at the same
/// time may come in any order (each key applies them in step order, so equal times chain).
pub struct Feed {
    steps: Steps,
    by: FunnelKey,
    window: Option<i64>,
    breakdown: Option<Breakdown>,
    segments: HashMap<i64, u8>,
    /// The current user and the time of their last event.
    user: Option<(i64, i64)>,
    /// The open keys of the current user (by item or category id).
    runs: HashMap<i64, Run, IdHash>,
    /// The current user's key, for the user key.
    one: Option<Run>,
    t: Tally,
}

impl Feed {
    /// A feed for the context's journey options (reads the segments for a segment breakdown).
    pub fn new(ctx: &Ctx<'_>) -> Result<Feed, MetricsError> {
        let j = ctx.journey;
        let segments = if j.breakdown == Some(Breakdown::Segment) { segments(ctx)? } else { HashMap::new() };
        let t = Tally { n: j.steps.masks().len(), reached: [0; 4], gaps: Default::default(), hist: [0; 7], groups: HashMap::new() };
        Ok(Feed {
            steps: j.steps.clone(),
            by: j.by,
            window: j.window.secs(),
            breakdown: j.breakdown,
            segments,
            user: None,
            runs: HashMap::default(),
            one: None,
            t,
        })
    }

    /// Closes every open key of the current user.
    fn close_user(&mut self) {
        let Some((user, _)) = self.user else { return };
        let (window, breakdown, t) = (self.window, self.breakdown, &mut self.t);
        let segment = match breakdown {
            Some(Breakdown::Segment) => *self.segments.get(&user).unwrap_or(&5) as i64,
            _ => 0,
        };
        let mut close = |mut r: Run| {
            r.flush(window);
            let group = match breakdown {
                None => None,
                Some(Breakdown::Segment) => Some(segment),
                Some(Breakdown::Category) => Some(r.cat),
            };
            t.close(&r, group);
        };
        for (_, r) in self.runs.drain() {
            close(r);
        }
        if let Some(r) = self.one.take() {
            close(r);
        }
    }

    /// One event of `user` at `at` with behaviour code `b` on `item` in `cat`.
    pub fn event(&mut self, user: i64, at: i64, b: u8, item: i64, cat: i64) -> Result<(), MetricsError> {
        match self.user {
            Some((u, last)) if u == user => {
                if at < last {
                    return Err(out_of_order("ordered funnel", format!("time {at} after {last} for user {user}")));
                }
            }
            Some((u, _)) if user < u => return Err(out_of_order("ordered funnel", format!("user {user} after user {u}"))),
            _ => self.close_user(),
        }
        self.user = Some((user, at));
        let Some(step) = self.steps.step_of(b as usize) else { return Ok(()) };
        let key = match self.by {
            FunnelKey::User => 0,
            FunnelKey::Item => item,
            FunnelKey::Category => cat,
        };
        let window = self.window;
        // One key per user for the user key: skip the map's hashing (most of the pass's time).
        let r = match (self.by, &mut self.one) {
            (FunnelKey::User, Some(r)) => r,
            (FunnelKey::User, one) => one.insert(Run::new(at)),
            _ => self.runs.entry(key).or_insert_with(|| Run::new(at)),
        };
        if at > r.last_ts {
            r.flush(window);
            r.last_ts = at;
        }
        r.pending.push((step, cat));
        Ok(())
    }

    /// The keys read.
    pub fn finish(mut self) -> Tally {
        self.close_user();
        self.t
    }
}
