//! The ordered funnel's pass: each key's chains, fed event by event from the read by user and
//! time that the sessions share ([`crate::metrics::user_pass`]), for every key: the keys of a
//! user (the user, or their items or categories) all lie in the user's block of events, each in
//! time order, so one open chain state per key of the current user is enough and no read sorts
//! by item or category.

use super::super::rfm::SEGMENTS;
use super::super::source::{out_of_order, Ctx, IdHash};
use super::super::MetricsError;
use super::BUCKETS;
use crate::domain::journey::{Breakdown, FunnelKey, Steps};
use std::collections::HashMap;

const NONE: i64 = i64::MIN;

/// One key being read.
struct Run {
    /// Latest start of a chain reaching each level (NONE: not reached).
    start: [i64; 4],
    /// Shortest chain to each level.
    best: [i64; 4],
    /// Category of the earliest step-1 event.
    cat: i64,
}

impl Run {
    const NEW: Run = Run { start: [NONE; 4], best: [i64::MAX; 4], cat: NONE };

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

/// The funnel of events fed in (user, time) order, one at a time; events of one user at the same
/// time may come in any order: they wait in one buffer until the user's time moves on, and each
/// key then applies its events in step order, so equal times chain.
pub struct Feed {
    steps: Steps,
    by: FunnelKey,
    window: Option<i64>,
    breakdown: Option<Breakdown>,
    segments: HashMap<i64, u8>,
    /// The current user and the time of their last event.
    user: Option<(i64, i64)>,
    /// The current user's events at that time not applied yet: (key, step, category).
    now: Vec<(i64, usize, i64)>,
    /// The open keys of the current user (one for the user key), in the order they opened.
    runs: Vec<Run>,
    /// Where each item's or category's key is in `runs`.
    index: HashMap<i64, u32, IdHash>,
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
            now: Vec::new(),
            runs: Vec::new(),
            index: HashMap::default(),
            t,
        })
    }

    /// Applies the waiting events (all of the current user at one time) to their keys, each
    /// key's in step order (ties: smaller category).
    fn apply_now(&mut self) {
        let Some((_, at)) = self.user else { return };
        if self.now.len() > 1 {
            self.now.sort_unstable();
        }
        let window = self.window;
        for &(key, step, cat) in &self.now {
            // One key per user for the user key: no map (its hashing was most of the pass's time).
            let n = self.runs.len();
            let i = match self.by {
                FunnelKey::User => 0,
                _ => *self.index.entry(key).or_insert(n as u32) as usize,
            };
            if i == n {
                self.runs.push(Run::NEW);
            }
            self.runs[i].step(at, step, cat, window);
        }
        self.now.clear();
    }

    /// Closes every open key of the current user.
    fn close_user(&mut self) {
        self.apply_now();
        let Some((user, _)) = self.user else { return };
        let (breakdown, t) = (self.breakdown, &mut self.t);
        let segment = match breakdown {
            Some(Breakdown::Segment) => *self.segments.get(&user).unwrap_or(&5) as i64,
            _ => 0,
        };
        let mut close = |r: &Run| {
            let group = match breakdown {
                None => None,
                Some(Breakdown::Segment) => Some(segment),
                Some(Breakdown::Category) => Some(r.cat),
            };
            t.close(r, group);
        };
        for r in &self.runs {
            close(r);
        }
        self.runs.clear();
        // Clearing a map costs its capacity: after a user with many keys, give the room back.
        self.index.clear();
        if self.index.capacity() > 256 {
            self.index.shrink_to(64);
        }
    }

    /// One event of `user` at `at` with behaviour code `b` on `item` in `cat`.
    pub fn event(&mut self, user: i64, at: i64, b: u8, item: i64, cat: i64) -> Result<(), MetricsError> {
        match self.user {
            Some((u, last)) if u == user => {
                if at < last {
                    return Err(out_of_order("ordered funnel", format!("time {at} after {last} for user {user}")));
                }
                if at > last {
                    self.apply_now();
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
        self.now.push((key, step, cat));
        Ok(())
    }

    /// The keys read.
    pub fn finish(mut self) -> Tally {
        self.close_user();
        self.t
    }
}
