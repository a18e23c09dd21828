//! **sessions** and paths: each user's kept events in the range, sorted by timestamp (ties: pv,
//! fav, cart, buy, then item_id), split into sessions wherever the gap to the previous event is
//! more than the session gap (`--session-gap`, default 30 minutes; a gap of exactly the session
//! gap stays in the session).
//! - A session's **path** is its sequence of behaviours with consecutive repeats collapsed
//!   (pv pv cart pv → pv → cart → pv), cut to its first 6 nodes with a trailing "…" when longer;
//!   the text joins nodes with " → " and ends with " → …" when cut.
//! - Reported: sessions; sessions per user (users with a kept event); the median session duration
//!   (last − first event, seconds) and the median events per session (`median`, i.e. the mean of
//!   the two middle values for an even count); the share of sessions with a buy; **cart
//!   abandonment** = sessions with a cart and no buy / sessions with a cart; **exits** = the last
//!   behaviour of the sessions without a buy, as shares of those sessions; the 20 most frequent
//!   paths with their session counts and shares of all sessions (ties: path text ascending).
//!
//! Rates are 0 when their denominator is 0.

use super::section::{Analysis, Cell, Computed, Headline, Label, Plot, PlotKind, Section};
use super::source::{out_of_order, quantile_cont_counted, ratio, Ctx, IdHash};
use super::MetricsError;
use crate::domain::BEHAVIORS;
use crate::i18n::prose::Tr;
use serde::Serialize;
use std::collections::HashMap;

/// Nodes of a path before it is cut.
pub const PATH_NODES: usize = 6;
/// Paths reported.
pub const TOP_PATHS: usize = 20;

/// One frequent path.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PathCount {
    /// The path, e.g. "pv → cart → buy".
    pub path: String,
    /// Sessions with this path.
    pub sessions: u64,
    /// sessions / all sessions.
    pub share: f64,
}

/// Last behaviour of the sessions without a buy, as shares of them.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Exits {
    /// Ended on a pv.
    pub pv: f64,
    /// Ended on a fav.
    pub fav: f64,
    /// Ended on a cart.
    pub cart: f64,
}

/// Sessions and paths.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Sessions {
    /// The session gap, seconds.
    pub gap_s: i64,
    /// Sessions.
    pub sessions: u64,
    /// sessions / users with a kept event.
    pub sessions_per_user: f64,
    /// Median of last − first event time, seconds.
    pub median_duration_s: f64,
    /// Median events per session.
    pub median_events: f64,
    /// Sessions with a buy / sessions.
    pub buy_share: f64,
    /// Sessions with a cart and no buy / sessions with a cart.
    pub cart_abandonment: f64,
    /// How the sessions without a buy ended.
    pub exits: Exits,
    /// Up to 20 paths, most sessions first.
    pub top_paths: Vec<PathCount>,
}

/// One session being read.
#[derive(Default)]
struct Open {
    user: i64,
    first: i64,
    last: i64,
    events: u32,
    has_buy: bool,
    has_cart: bool,
    last_b: u8,
    /// The first `PATH_NODES` path nodes (behaviour codes), 2 bits each, the first highest.
    path: u32,
    /// Path nodes so far, counted up to `PATH_NODES + 1` (more means cut).
    nodes: u8,
}

impl Open {
    fn new(user: i64, at: i64, b: u8) -> Open {
        Open { user, first: at, last: at, events: 1, has_buy: b == 3, has_cart: b == 2, last_b: b, path: b as u32, nodes: 1 }
    }

    /// Adds a node to the path (a behaviour other than the last).
    fn node(&mut self, b: u8) {
        if (self.nodes as usize) < PATH_NODES {
            self.path = (self.path << 2) | b as u32;
        }
        self.nodes = self.nodes.saturating_add(1).min(PATH_NODES as u8 + 1);
    }
}

/// What the sessions add up to while they are read.
#[derive(Default)]
pub struct Tally {
    /// Sessions.
    sessions: u64,
    /// Sessions per duration (seconds): counts, not one value per session (49 M sessions at
    /// 100 M rows would take 0.8 GB as two lists).
    durations: HashMap<i64, u64, IdHash>,
    /// Sessions per event count.
    events: HashMap<i64, u64, IdHash>,
    users: u64,
    buy: u64,
    cart: u64,
    cart_no_buy: u64,
    /// Sessions without a buy by last behaviour (pv, fav, cart).
    exits: [u64; 3],
    /// Sessions per path key (see [`path_key`]).
    paths: HashMap<u32, u64, IdHash>,
}

/// A session's path as a number: 2 bits per kept node, then the kept node count, then whether it
/// was cut.
fn path_key(s: &Open) -> u32 {
    let cut = s.nodes as usize > PATH_NODES;
    let kept = (s.nodes as usize).min(PATH_NODES) as u32;
    s.path | (kept << 12) | ((cut as u32) << 15)
}

fn path_text(key: u32) -> String {
    let len = ((key >> 12) & 7) as usize;
    let mut parts: Vec<&str> = (0..len).map(|i| BEHAVIORS[((key >> (2 * (len - 1 - i))) & 3) as usize]).collect();
    if key >> 15 & 1 == 1 {
        parts.push("…");
    }
    parts.join(" → ")
}

impl Tally {
    fn close(&mut self, s: &Open) {
        self.sessions += 1;
        *self.durations.entry(s.last - s.first).or_insert(0) += 1;
        *self.events.entry(s.events as i64).or_insert(0) += 1;
        self.buy += s.has_buy as u64;
        self.cart += s.has_cart as u64;
        self.cart_no_buy += (s.has_cart && !s.has_buy) as u64;
        if !s.has_buy && s.last_b < 3 {
            self.exits[s.last_b as usize] += 1;
        }
        *self.paths.entry(path_key(s)).or_insert(0) += 1;
    }
}

/// `median` as DuckDB computes it (`quantile_cont(0.5)`: the mean of the two middle values for
/// an even count) over values given as (value, count); 0 for none.
fn median(counts: &HashMap<i64, u64, IdHash>) -> f64 {
    let mut sorted: Vec<(i64, u64)> = counts.iter().map(|(v, c)| (*v, *c)).collect();
    sorted.sort_unstable();
    let sorted: Vec<(f64, u64)> = sorted.into_iter().map(|(v, c)| (v as f64, c)).collect();
    quantile_cont_counted(&sorted, 0.5)
}

/// The sessions of events fed in (user, time) order, one at a time.
pub struct Feed {
    gap: i64,
    t: Tally,
    s: Option<Open>,
}

impl Feed {
    /// A feed that splits sessions at gaps of more than `gap` seconds.
    pub fn new(gap: i64) -> Feed {
        Feed { gap, t: Tally::default(), s: None }
    }

    /// One event of `user` at `at` with behaviour code `b` (0..3); events come in (user, time)
    /// order, ties in behaviour then item order.
    pub fn event(&mut self, user: i64, at: i64, b: u8) -> Result<(), MetricsError> {
        if let Some(o) = &self.s {
            // The pass needs the order asked for: an error, never a wrong count.
            if user < o.user || (user == o.user && at < o.last) {
                return Err(out_of_order("sessions", format!("user {user} after user {}", o.user)));
            }
        }
        match &mut self.s {
            Some(o) if o.user == user && at - o.last <= self.gap => {
                o.last = at;
                o.events += 1;
                if o.last_b != b {
                    o.node(b);
                }
                o.last_b = b;
                o.has_buy |= b == 3;
                o.has_cart |= b == 2;
            }
            _ => {
                if let Some(o) = self.s.take() {
                    self.t.users += (o.user != user) as u64;
                    self.t.close(&o);
                } else {
                    self.t.users += 1;
                }
                self.s = Some(Open::new(user, at, b));
            }
        }
        Ok(())
    }

    /// The sessions read.
    pub fn finish(mut self) -> Tally {
        if let Some(o) = self.s.take() {
            self.t.close(&o);
        }
        self.t
    }
}

/// Computes the sessions and paths for the range and filter./// Computes the sessions and paths for the range and filter.
pub fn compute(ctx: &Ctx<'_>) -> Result<Sessions, MetricsError> {
    let t = super::user_pass::sessions(ctx)?;
    let sessions = t.sessions;
    let no_buy = sessions - t.buy;
    let mut paths: Vec<(String, u64)> = t.paths.iter().map(|(k, n)| (path_text(*k), *n)).collect();
    paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    paths.truncate(TOP_PATHS);
    Ok(Sessions {
        gap_s: ctx.journey.gap_secs(),
        sessions,
        sessions_per_user: ratio(sessions, t.users),
        median_duration_s: median(&t.durations),
        median_events: median(&t.events),
        buy_share: ratio(t.buy, sessions),
        cart_abandonment: ratio(t.cart_no_buy, t.cart),
        exits: Exits { pv: ratio(t.exits[0], no_buy), fav: ratio(t.exits[1], no_buy), cart: ratio(t.exits[2], no_buy) },
        top_paths: paths.into_iter().map(|(path, n)| PathCount { path, sessions: n, share: ratio(n, sessions) }).collect(),
    })
}

const TITLE: Tr = Tr { zh: "会话与路径", en: "Sessions and paths" };
const COLUMNS: [Tr; 3] = [Tr { zh: "路径", en: "Path" }, Tr { zh: "会话数", en: "Sessions" }, Tr { zh: "占比", en: "Share" }];
const DEFINITION: Tr = Tr {
    zh: "每个用户的事件按时间排序（同一时间按 pv、fav、cart、buy 再按商品 ID），与上一事件间隔超过会话间隔（默认 30 分钟）即开始新会话（恰好等于间隔仍属同一会话）。路径 = 会话内行为序列合并相邻重复后取前 6 个节点（更长时以 … 结尾）。加购放弃率 = 有加购但无购买的会话 / 有加购的会话；离开行为 = 无购买会话的最后一个行为的占比。",
    en: "Each user's events sorted by time (ties: pv, fav, cart, buy, then item id); a gap of more than the session gap (default 30 minutes) starts a new session (exactly the gap stays in it). Path = the session's behaviours with consecutive repeats collapsed, its first 6 nodes (ending in … when longer). Cart abandonment = sessions with a cart and no buy / sessions with a cart; exits = the last behaviour of the sessions without a buy, as shares of them.",
};

/// Sessions and paths in the registry.
pub struct SessionPaths;

impl Analysis for SessionPaths {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let s = compute(ctx)?;
        let rows = s.top_paths.iter().map(|p| vec![Cell::Text(p.path.clone()), Cell::Int(p.sessions), Cell::Rate(p.share)]).collect();
        let h = |zh: &'static str, en: &'static str, value: Cell| Headline { label: Tr { zh, en }, value };
        let gap = crate::domain::journey::Span(Some(s.gap_s)).to_string();
        let headline = vec![
            h("会话间隔", "Session gap", Cell::Text(gap)),
            h("会话数", "Sessions", Cell::Int(s.sessions)),
            h("人均会话数", "Sessions per user", Cell::Num(s.sessions_per_user)),
            h("会话时长中位数（秒）", "Median session duration (s)", Cell::Num(s.median_duration_s)),
            h("每会话事件数中位数", "Median events per session", Cell::Num(s.median_events)),
            h("含购买的会话占比", "Sessions with a buy", Cell::Rate(s.buy_share)),
            h("加购放弃率", "Cart abandonment", Cell::Rate(s.cart_abandonment)),
            h("无购买会话以浏览结束", "Sessions without a buy ending on pv", Cell::Rate(s.exits.pv)),
            h("无购买会话以收藏结束", "Sessions without a buy ending on fav", Cell::Rate(s.exits.fav)),
            h("无购买会话以加购结束", "Sessions without a buy ending on cart", Cell::Rate(s.exits.cart)),
        ];
        let plot = Plot {
            name: "paths",
            title: Tr { zh: "最常见的 10 条会话路径", en: "The 10 most frequent session paths" },
            kind: PlotKind::Bars {
                bars: s
                    .top_paths
                    .iter()
                    .take(10)
                    .map(|p| {
                        let note = format!("{} ({})", crate::i18n::int(p.sessions), crate::i18n::pct(p.share));
                        (Label::Raw(p.path.clone()), p.sessions as f64, Cell::Text(note))
                    })
                    .collect(),
                horizontal: true,
                axis: COLUMNS[1],
            },
        };
        let conclusion = (s.sessions > 0).then(|| {
            let (ab, buy) = (crate::i18n::pct(s.cart_abandonment), crate::i18n::pct(s.buy_share));
            let top = s.top_paths.first().map(|p| p.path.clone()).unwrap_or_default();
            (
                format!("共 {} 个会话，{buy} 含购买；有加购的会话中 {ab} 没有购买（加购放弃）。最常见的路径是“{top}”。", crate::i18n::int(s.sessions)),
                format!(
                    "Of {} sessions, {buy} include a buy; {ab} of the sessions with a cart end without one (cart abandonment). The most frequent path is \"{top}\".",
                    crate::i18n::int(s.sessions)
                ),
            )
        });
        Ok(Computed {
            json: serde_json::to_value(&s).expect("sessions JSON"),
            section: Section {
                key: "sessions",
                title: TITLE,
                columns: COLUMNS.map(Label::from).to_vec(),
                rows,
                tables: vec![],
                headline,
                plots: vec![plot],
                conclusion,
                definition: DEFINITION,
            },
        })
    }
}
