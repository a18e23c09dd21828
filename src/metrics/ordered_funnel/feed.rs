//! The ordered funnel's pass: each key's chains, fed event by event in (key, time) order (see
//! the algorithm in [`super`]), from its own sorted read (item and category keys) or from the
//! read by user that the sessions share ([`crate::metrics::user_pass`]).

use super::super::rfm::SEGMENTS;
use super::super::source::{out_of_order, Ctx};
use super::super::MetricsError;
use super::BUCKETS;
use crate::domain::journey::{Breakdown, FunnelKey, Steps};
use crate::domain::BEHAVIORS;
use std::collections::HashMap;

const NONE: i64 = i64::MIN;

/// One key being read.
struct Run {
    k1: i64,
    k2: i64,
    last_ts: i64,
    /// Latest start of a chain reaching each level (NONE: not reached).
    start: [i64; 4],
    /// Shortest chain to each level.
    best: [i64; 4],
    /// Category of the earliest step-1 event.
    cat: i64,
}

impl Run {
    fn new(k1: i64, k2: i64, ts: i64) -> Run {
        Run { k1, k2, last_ts: ts, start: [NONE; 4], best: [i64::MAX; 4], cat: NONE }
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

/// The funnel of events fed in (key, time) order, one at a time; events of one key at the same
/// time may come in any order (they are applied in step order, so equal times chain).
pub struct Feed {
    steps: Steps,
    window: Option<i64>,
    breakdown: Option<Breakdown>,
    segments: HashMap<i64, u8>,
    run: Option<Run>,
    /// Events of the current key at time `run.last_ts` not applied yet: (step, category).
    pending: Vec<(usize, i64)>,
    t: Tally,
}

impl Feed {
    /// A feed for the context's journey options (reads the segments for a segment breakdown).
    pub fn new(ctx: &Ctx<'_>) -> Result<Feed, MetricsError> {
        let j = ctx.journey;
        let segments = if j.breakdown == Some(Breakdown::Segment) { segments(ctx)? } else { HashMap::new() };
        let t = Tally { n: j.steps.masks().len(), reached: [0; 4], gaps: Default::default(), hist: [0; 7], groups: HashMap::new() };
        Ok(Feed { steps: j.steps.clone(), window: j.window.secs(), breakdown: j.breakdown, segments, run: None, pending: vec![], t })
    }

    fn flush(&mut self) {
        let Some(r) = self.run.as_mut() else { return };
        self.pending.sort_unstable();
        for (step, cat) in self.pending.drain(..) {
            r.step(r.last_ts, step, cat, self.window);
        }
    }

    fn close(&mut self) {
        self.flush();
        if let Some(r) = self.run.take() {
            let group = match self.breakdown {
                None => None,
                Some(Breakdown::Segment) => Some(*self.segments.get(&r.k1).unwrap_or(&5) as i64),
                Some(Breakdown::Category) => Some(r.cat),
            };
            self.t.close(&r, group);
        }
    }

    /// One event of key (k1, k2) at `at` with behaviour code `b` in category `cat`.
    pub fn event(&mut self, k1: i64, k2: i64, at: i64, b: u8, cat: i64) -> Result<(), MetricsError> {
        match &self.run {
            Some(r) if (r.k1, r.k2) == (k1, k2) => {
                if at < r.last_ts {
                    return Err(out_of_order("ordered funnel", format!("time {at} after {} for user {k1}", r.last_ts)));
                }
                if at > r.last_ts {
                    self.flush();
                    self.run.as_mut().expect("a key").last_ts = at;
                }
            }
            other => {
                if let Some(r) = other {
                    if (k1, k2) < (r.k1, r.k2) {
                        return Err(out_of_order("ordered funnel", format!("user {k1} after user {}", r.k1)));
                    }
                }
                self.close();
                self.run = Some(Run::new(k1, k2, at));
            }
        }
        if let Some(step) = self.steps.step_of(b as usize) {
            self.pending.push((step, cat));
        }
        Ok(())
    }

    /// The keys read.
    pub fn finish(mut self) -> Tally {
        self.close();
        self.t
    }
}

/// The sorted read of the kept step events, for item and category keys (user keys share the
/// read of [`crate::metrics::user_pass`]).
fn sql(ctx: &Ctx<'_>, steps: &Steps, by: FunnelKey) -> String {
    let names: Vec<String> = (0..4).filter(|b| steps.step_of(*b).is_some()).map(|b| format!("'{}'", BEHAVIORS[b])).collect();
    let k2 = if by == FunnelKey::Item { "item_id" } else { "category_id" };
    format!(
        "SELECT user_id, {k2} AS k2, ts, enum_code(behavior_type)::UTINYINT AS b, category_id FROM {}
         WHERE {} AND behavior_type IN ({}) ORDER BY user_id, k2, ts",
        ctx.src.events,
        ctx.between,
        names.join(", ")
    )
}

/// Reads the kept events in key order and tallies each key's level and times.
pub fn tally(ctx: &Ctx<'_>) -> Result<Tally, MetricsError> {
    use duckdb::arrow::array::AsArray;
    use duckdb::arrow::datatypes::{Int64Type, UInt8Type};
    if ctx.journey.by == FunnelKey::User {
        return crate::metrics::user_pass::funnel(ctx);
    }
    let mut feed = Feed::new(ctx)?;
    ctx.ordered_batches(&sql(ctx, &ctx.journey.steps, ctx.journey.by), |batch| {
        let col = |i: usize| batch.column(i).as_primitive::<Int64Type>();
        let (k1s, k2s, ts, cats) = (col(0), col(1), col(2), col(4));
        let bs = batch.column(3).as_primitive::<UInt8Type>();
        for i in 0..batch.num_rows() {
            feed.event(k1s.value(i), k2s.value(i), ts.value(i), bs.value(i), cats.value(i))?;
        }
        Ok(())
    })?;
    Ok(feed.finish())
}
