//! Every number ecomm shows, defined once.
//!
//! [`Metrics::compute`] is the one function behind `ecomm analyze` (table and JSON) and every
//! later consumer. All metrics cover the events in the analysis range `[from, to]` (local dates
//! in the DB's time zone; default: the whole window).
//!
//! Definitions:
//! - **totals**: events; distinct users, items and categories with any event.
//! - **funnel**: for each stage pv, fav, cart, buy: event count and distinct users with at least
//!   one such event. `rate_from_prev` = users of the stage / users of the previous stage;
//!   `rate_from_first` = users of the stage / pv users. The stages are counted independently
//!   (not an ordered funnel), so a later stage can exceed an earlier one (cart > fav is normal).
//!   **Overall conversion** = buy users / pv users.
//! - **hourly**: for each local hour 0–23, events per behaviour.
//! - **daily**: for each date, distinct active users and events per behaviour.
//! - **retention** (day 1): for each date d of the range except the last, `cohort` = users active
//!   on d and `retained` = those of them also active on d+1. Average day-1 retention = mean of
//!   `retained / cohort` over dates with a non-empty cohort.
//! - **repurchase**: `buyers` = users with ≥1 buy event; `repeat_buyers` = users with ≥2 buy
//!   events; repurchase rate = repeat_buyers / buyers.
//! - **top_categories**: the 10 categories with the most buy events (ties: smaller category_id),
//!   among categories with at least one buy.
//! - **rfm**: see [`rfm`].
//!
//! Rates are 0 when their denominator is 0.
//!
//! **Filters** ([`Filter`]): besides the date range, the events can be narrowed to some behaviours
//! and/or some categories. A filter keeps only the matching events and every metric above is then
//! computed over the kept events with the same definitions, exactly as if the DB held only them.
//! So with behaviours `pv,buy` the fav and cart stages are 0 (and cart→buy has rate 0), UV counts
//! users with a kept event, retention means activity in the kept events, and with one category
//! the buyers, repurchase and RFM are those of that category.

pub mod rfm;
pub mod summary;

use crate::store::{self, sql_date, StoreError, Window};
use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

/// Errors in the requested range.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// from > to.
    #[error("--from {0} is after --to {1}; swap them / 开始日期晚于结束日期")]
    Reversed(NaiveDate, NaiveDate),
    /// The range misses the data.
    #[error("the range {0}..{1} does not overlap the data window {2}..{3}; pick dates inside the window / 日期范围与数据窗口没有交集")]
    OutsideWindow(NaiveDate, NaiveDate, NaiveDate, NaiveDate),
    /// A behaviour name that is not pv, fav, cart or buy.
    #[error("unknown behaviour '{0}': use pv, fav, cart or buy / 未知行为类型")]
    UnknownBehavior(String),
    /// A category with no events in the DB.
    #[error("category {0} has no events in this DB; check the id / 该类目在数据库中没有记录")]
    UnknownCategory(i64),
    /// Too many categories in one filter.
    #[error("at most {max} categories per filter, got {got} / 类目过多")]
    TooManyCategories {
        /// The limit.
        max: usize,
        /// Asked for.
        got: usize,
    },
    /// Store errors.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which events the metrics count besides the date range (see the module docs). Empty lists
/// mean "all".
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Behaviours kept, in pv, fav, cart, buy order, no repeats (empty: all four).
    pub behaviors: Vec<String>,
    /// Categories kept, ascending, no repeats (empty: all).
    pub categories: Vec<i64>,
}

/// Most categories one filter may name.
pub const MAX_FILTER_CATEGORIES: usize = 50;

impl Filter {
    /// A filter from user input: behaviour names (any case, any order, repeats allowed; all four
    /// means no behaviour filter) and category ids.
    pub fn new<S: AsRef<str>>(behaviors: &[S], categories: &[i64]) -> Result<Filter, MetricsError> {
        let mut keep = [false; 4];
        for b in behaviors {
            let b = b.as_ref().trim().to_ascii_lowercase();
            match crate::ingest::parse::BEHAVIORS.iter().position(|x| *x == b) {
                Some(i) => keep[i] = true,
                None => return Err(MetricsError::UnknownBehavior(b)),
            }
        }
        let behaviors = if keep.iter().all(|k| *k) {
            vec![]
        } else {
            crate::ingest::parse::BEHAVIORS.iter().zip(keep).filter(|(_, k)| *k).map(|(b, _)| b.to_string()).collect()
        };
        let mut categories = categories.to_vec();
        categories.sort_unstable();
        categories.dedup();
        if categories.len() > MAX_FILTER_CATEGORIES {
            return Err(MetricsError::TooManyCategories { max: MAX_FILTER_CATEGORIES, got: categories.len() });
        }
        Ok(Filter { behaviors, categories })
    }

    /// True when the filter keeps every event.
    pub fn is_all(&self) -> bool {
        self.behaviors.is_empty() && self.categories.is_empty()
    }

    /// Whether behaviour `b` is kept.
    pub fn keeps(&self, b: &str) -> bool {
        self.behaviors.is_empty() || self.behaviors.iter().any(|x| x == b)
    }

    /// A short description for cover pages and the fact sheet, e.g. "behaviours pv, buy · categories 2520377"
    /// (`zh`: "行为 pv, buy · 类目 2520377"); empty when the filter keeps every event.
    pub fn describe(&self, zh: bool) -> String {
        let mut parts = Vec::new();
        if !self.behaviors.is_empty() {
            parts.push(format!("{}{}", if zh { "行为 " } else { "behaviours " }, self.behaviors.join(", ")));
        }
        if !self.categories.is_empty() {
            let ids: Vec<String> = self.categories.iter().map(|c| c.to_string()).collect();
            parts.push(format!("{}{}", if zh { "类目 " } else { "categories " }, ids.join(", ")));
        }
        parts.join(" · ")
    }
}

impl From<duckdb::Error> for MetricsError {
    fn from(e: duckdb::Error) -> Self {
        MetricsError::Store(StoreError::Db(e))
    }
}

/// The analysis range actually used (the request clipped to the window).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Range {
    /// First date.
    pub from: NaiveDate,
    /// Last date (inclusive).
    pub to: NaiveDate,
    /// Time zone of dates and hours.
    pub timezone: String,
    /// The DB's full window.
    pub window_start: NaiveDate,
    /// The DB's full window.
    pub window_end: NaiveDate,
}

impl Range {
    /// Validates `[from, to]` against the DB's window; missing ends default to the window's.
    pub fn new(window: &Window, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Range, MetricsError> {
        let f = from.unwrap_or(window.start);
        let t = to.unwrap_or(window.end);
        if f > t {
            return Err(MetricsError::Reversed(f, t));
        }
        if t < window.start || f > window.end {
            return Err(MetricsError::OutsideWindow(f, t, window.start, window.end));
        }
        Ok(Range {
            from: f.max(window.start),
            to: t.min(window.end),
            timezone: window.timezone.clone(),
            window_start: window.start,
            window_end: window.end,
        })
    }

    /// Dates in the range.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while({
            let to = self.to;
            move |d| *d <= to
        })
    }
}

/// Totals.
#[derive(Clone, Debug, Serialize, Default, PartialEq)]
pub struct Totals {
    /// Events.
    pub events: u64,
    /// Distinct users.
    pub users: u64,
    /// Distinct items.
    pub items: u64,
    /// Distinct categories.
    pub categories: u64,
}

/// One funnel stage.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Stage {
    /// pv, fav, cart or buy.
    pub stage: String,
    /// Events.
    pub events: u64,
    /// Distinct users.
    pub users: u64,
    /// users / previous stage's users (1 for pv).
    pub rate_from_prev: f64,
    /// users / pv users.
    pub rate_from_first: f64,
}

/// Events per behaviour in one local hour.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Hour {
    /// 0–23.
    pub hour: u32,
    /// Events.
    pub pv: u64,
    /// Events.
    pub fav: u64,
    /// Events.
    pub cart: u64,
    /// Events.
    pub buy: u64,
}

/// One date.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Day {
    /// The date.
    pub date: NaiveDate,
    /// Distinct active users.
    pub users: u64,
    /// Events.
    pub pv: u64,
    /// Events.
    pub fav: u64,
    /// Events.
    pub cart: u64,
    /// Events.
    pub buy: u64,
}

/// Day-1 retention of one date.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Retention {
    /// The cohort's date.
    pub date: NaiveDate,
    /// Users active on the date.
    pub cohort: u64,
    /// Of them, users active the next day.
    pub retained: u64,
    /// retained / cohort.
    pub rate: f64,
}

/// Repurchase.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Repurchase {
    /// Users with ≥1 buy.
    pub buyers: u64,
    /// Users with ≥2 buys.
    pub repeat_buyers: u64,
    /// repeat_buyers / buyers.
    pub rate: f64,
}

/// A top category.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Category {
    /// The category.
    pub category_id: i64,
    /// Buy events.
    pub buys: u64,
}

/// One RFM segment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Segment {
    /// champions, loyal, potential, at_risk, hibernating.
    pub segment: String,
    /// Buyers in the segment.
    pub users: u64,
    /// users / buyers.
    pub share: f64,
    /// Mean R (days).
    pub avg_recency: f64,
    /// Mean F (buy events).
    pub avg_frequency: f64,
    /// Mean M (distinct items bought).
    pub avg_monetary: f64,
    /// Suggested action, Chinese.
    pub action_zh: String,
    /// Suggested action, English.
    pub action_en: String,
}

/// RFM over buyers.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rfm {
    /// Buyers scored.
    pub buyers: u64,
    /// The five segments in fixed order.
    pub segments: Vec<Segment>,
    /// q1..q4 of R, F and M.
    pub thresholds: Thresholds,
}

/// Quantile thresholds.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Thresholds {
    /// Of R.
    pub recency: Vec<f64>,
    /// Of F.
    pub frequency: Vec<f64>,
    /// Of M.
    pub monetary: Vec<f64>,
}

/// Headline numbers derived from the metrics above (for KPI cards and reports).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Kpis {
    /// pv events.
    pub pv: u64,
    /// Distinct users (UV).
    pub uv: u64,
    /// buy events.
    pub buys: u64,
    /// Users with ≥1 buy.
    pub buyers: u64,
    /// buy users / pv users.
    pub pv_to_buy_conversion: f64,
    /// repeat_buyers / buyers.
    pub repurchase_rate: f64,
    /// Mean day-1 retention over dates with a non-empty cohort.
    pub avg_day1_retention: f64,
    /// Hour with most events (ties: earlier hour).
    pub peak_hour: u32,
}

/// Everything `ecomm analyze` prints.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Metrics {
    /// The range used.
    pub range: Range,
    /// The event filter used (omitted from JSON when it keeps every event).
    #[serde(skip_serializing_if = "Filter::is_all")]
    pub filter: Filter,
    /// Totals.
    pub totals: Totals,
    /// Funnel stages pv, fav, cart, buy.
    pub funnel: Vec<Stage>,
    /// Headline numbers.
    pub kpis: Kpis,
    /// 24 hours.
    pub hourly: Vec<Hour>,
    /// One per date.
    pub daily: Vec<Day>,
    /// One per date except the last.
    pub retention: Vec<Retention>,
    /// Repurchase.
    pub repurchase: Repurchase,
    /// Up to 10 categories.
    pub top_categories: Vec<Category>,
    /// RFM.
    pub rfm: Rfm,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

impl Metrics {
    /// Computes every metric for `range` and `filter` from the rollups.
    pub fn compute(conn: &Connection, range: &Range, filter: &Filter) -> Result<Metrics, MetricsError> {
        let (f, t) = (sql_date(range.from), sql_date(range.to));
        let between = format!("event_date BETWEEN {f} AND {t}");
        // With day bitmaps (windows up to 64 days) distinct users and items come from one small scan
        // each; without them, from the per-day rollups. Both compute the same definitions (a test
        // compares them).
        let Sources { user_day, hourly: hourly_t, category_day, buy_items, events, bitmaps } = &Sources::new(conn, range, filter)?;

        // Per-user sums: users, funnel, repurchase.
        let (users, pv_u, fav_u, cart_u, buy_u, repeat, pv, fav, cart, buy): (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) =
            if let Some(b) = bitmaps {
                let m = b.mask;
                let (users, pv_u, fav_u, cart_u, buy_u): (i64, i64, i64, i64, i64) = conn.query_row(
                    &format!(
                        "SELECT count(*) FILTER (WHERE active & {m} <> 0), count(*) FILTER (WHERE pv_days & {m} <> 0),
                            count(*) FILTER (WHERE fav_days & {m} <> 0), count(*) FILTER (WHERE cart_days & {m} <> 0),
                            count(*) FILTER (WHERE buy_days & {m} <> 0)
                     FROM {}",
                        b.user_days
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?;
                let repeat: i64 = conn.query_row(
                    &format!(
                        "SELECT count(*) FROM (SELECT user_id FROM {buy_items} WHERE {between} GROUP BY user_id HAVING sum(buys) >= 2)"
                    ),
                    [],
                    |r| r.get(0),
                )?;
                let (pv, fav, cart, buy): (i64, i64, i64, i64) = conn.query_row(
                &format!(
                    "SELECT coalesce(sum(pv), 0)::BIGINT, coalesce(sum(fav), 0)::BIGINT, coalesce(sum(cart), 0)::BIGINT, coalesce(sum(buy), 0)::BIGINT
                     FROM {hourly_t} WHERE {between}"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
                (users, pv_u, fav_u, cart_u, buy_u, repeat, pv, fav, cart, buy)
            } else {
                conn.query_row(
                &format!(
                    "WITH u AS (SELECT user_id, sum(pv) AS pv, sum(fav) AS fav, sum(cart) AS cart, sum(buy) AS buy
                                FROM {user_day} WHERE {between} GROUP BY user_id)
                     SELECT count(*), count(*) FILTER (WHERE pv > 0), count(*) FILTER (WHERE fav > 0),
                            count(*) FILTER (WHERE cart > 0), count(*) FILTER (WHERE buy > 0), count(*) FILTER (WHERE buy >= 2),
                            coalesce(sum(pv), 0)::BIGINT, coalesce(sum(fav), 0)::BIGINT, coalesce(sum(cart), 0)::BIGINT, coalesce(sum(buy), 0)::BIGINT
                     FROM u"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?)),
            )?
            };
        crate::ingest::trace_here("metrics: per-user sums");
        let items: i64 = match bitmaps {
            Some(b) => conn.query_row(&format!("SELECT count(*) FROM {} WHERE days & {} <> 0", b.item_days, b.mask), [], |r| r.get(0))?,
            None => conn.query_row(&format!("SELECT count(DISTINCT item_id) FROM {events} WHERE {between}"), [], |r| r.get(0))?,
        };
        let categories: i64 =
            conn.query_row(&format!("SELECT count(DISTINCT category_id) FROM {category_day} WHERE {between}"), [], |r| r.get(0))?;
        crate::ingest::trace_here("metrics: distinct items and categories");
        let totals = Totals { events: u(pv + fav + cart + buy), users: u(users), items: u(items), categories: u(categories) };

        let stage_users = [u(pv_u), u(fav_u), u(cart_u), u(buy_u)];
        let stage_events = [u(pv), u(fav), u(cart), u(buy)];
        let funnel: Vec<Stage> = crate::ingest::parse::BEHAVIORS
            .iter()
            .enumerate()
            .map(|(i, s)| Stage {
                stage: s.to_string(),
                events: stage_events[i],
                users: stage_users[i],
                rate_from_prev: if i == 0 { ratio(stage_users[0], stage_users[0]) } else { ratio(stage_users[i], stage_users[i - 1]) },
                rate_from_first: ratio(stage_users[i], stage_users[0]),
            })
            .collect();

        let mut hourly: Vec<Hour> = (0..24).map(|h| Hour { hour: h, pv: 0, fav: 0, cart: 0, buy: 0 }).collect();
        {
            let mut st = conn.prepare(&format!(
                "SELECT event_hour, sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT FROM {hourly_t} WHERE {between} GROUP BY event_hour"
            ))?;
            let rows = st.query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
            })?;
            for row in rows {
                let (h, a, b, c, d) = row?;
                hourly[h as usize] = Hour { hour: h as u32, pv: u(a), fav: u(b), cart: u(c), buy: u(d) };
            }
        }

        let mut daily: Vec<Day> = range.dates().map(|d| Day { date: d, users: 0, pv: 0, fav: 0, cart: 0, buy: 0 }).collect();
        // Per date: active users and retained users (bitmaps), if available.
        let per_day = match bitmaps {
            Some(b) => Some(b.per_day(conn, range)?),
            None => None,
        };
        {
            let sql = if per_day.is_some() {
                format!(
                    "SELECT event_date::VARCHAR, 0::BIGINT, sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT
                     FROM {hourly_t} WHERE {between} GROUP BY event_date"
                )
            } else {
                format!(
                    "SELECT event_date::VARCHAR, count(*), sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT
                     FROM {user_day} WHERE {between} GROUP BY event_date"
                )
            };
            let mut st = conn.prepare(&sql)?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            for row in rows {
                let (ds, n, a, b, c, d) = row?;
                let date: NaiveDate = ds.parse().expect("DuckDB date");
                let i = (date - range.from).num_days() as usize;
                daily[i] = Day { date, users: u(n), pv: u(a), fav: u(b), cart: u(c), buy: u(d) };
            }
        }
        if let Some(pd) = &per_day {
            for (i, d) in daily.iter_mut().enumerate() {
                d.users = pd[i].0;
            }
        }

        crate::ingest::trace_here("metrics: hourly and daily");
        let mut retention: Vec<Retention> =
            range.dates().filter(|d| *d < range.to).map(|d| Retention { date: d, cohort: 0, retained: 0, rate: 0.0 }).collect();
        if let Some(pd) = &per_day {
            for (i, r) in retention.iter_mut().enumerate() {
                let (c, k) = (pd[i].0, pd[i].1);
                *r = Retention { date: r.date, cohort: c, retained: k, rate: ratio(k, c) };
            }
        } else {
            let mut st = conn.prepare(&format!(
                "SELECT a.event_date::VARCHAR, count(*), count(b.user_id)
                 FROM {user_day} a LEFT JOIN {user_day} b ON b.user_id = a.user_id AND b.event_date = a.event_date + 1
                 WHERE a.event_date BETWEEN {f} AND {t} - 1
                 GROUP BY a.event_date"
            ))?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
            for row in rows {
                let (ds, c, k) = row?;
                let date: NaiveDate = ds.parse().expect("DuckDB date");
                let i = (date - range.from).num_days() as usize;
                retention[i] = Retention { date, cohort: u(c), retained: u(k), rate: ratio(u(k), u(c)) };
            }
        }

        crate::ingest::trace_here("metrics: retention");
        let repurchase = Repurchase { buyers: u(buy_u), repeat_buyers: u(repeat), rate: ratio(u(repeat), u(buy_u)) };

        let mut top_categories = Vec::new();
        {
            let mut st = conn.prepare(&format!(
                "SELECT category_id, sum(buy)::BIGINT AS buys FROM {category_day} WHERE {between}
                 GROUP BY category_id HAVING sum(buy) > 0 ORDER BY buys DESC, category_id ASC LIMIT 10"
            ))?;
            let rows = st.query_map([], |r| Ok(Category { category_id: r.get(0)?, buys: u(r.get(1)?) }))?;
            for row in rows {
                top_categories.push(row?);
            }
        }

        crate::ingest::trace_here("metrics: top categories");
        // Over the whole window with every buy kept, the buyers' RFM rows are the ones `user_summary`
        // stored at ingest (same definition: rfm::per_buyer_sql over the window).
        let stored = range.from == range.window_start
            && range.to == range.window_end
            && filter.categories.is_empty()
            && filter.keeps("buy")
            && std::env::var_os("ECOMM_NO_STORED_RFM").is_none();
        let rfm = rfm_metrics(conn, range, buy_items, stored)?;
        crate::ingest::trace_here("metrics: rfm");

        let cohorts: Vec<&Retention> = retention.iter().filter(|r| r.cohort > 0).collect();
        let avg_ret = if cohorts.is_empty() { 0.0 } else { cohorts.iter().map(|r| r.rate).sum::<f64>() / cohorts.len() as f64 };
        let peak_hour = hourly
            .iter()
            .map(|h| (h.pv + h.fav + h.cart + h.buy, h.hour))
            .fold((0u64, 0u32), |best, x| if x.0 > best.0 { x } else { best })
            .1;
        let kpis = Kpis {
            pv: u(pv),
            uv: u(users),
            buys: u(buy),
            buyers: u(buy_u),
            pv_to_buy_conversion: ratio(u(buy_u), u(pv_u)),
            repurchase_rate: repurchase.rate,
            avg_day1_retention: avg_ret,
            peak_hour,
        };
        Ok(Metrics {
            range: range.clone(),
            filter: filter.clone(),
            totals,
            funnel,
            kpis,
            hourly,
            daily,
            retention,
            repurchase,
            top_categories,
            rfm,
        })
    }

    /// Opens nothing: convenience for callers that hold a connection and a DB path.
    pub fn for_db(
        conn: &Connection,
        db: &std::path::Path,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        filter: &Filter,
    ) -> Result<Metrics, MetricsError> {
        let w = store::require_window(conn, db)?;
        let range = Range::new(&w, from, to)?;
        Metrics::compute(conn, &range, filter)
    }
}

/// The day-bitmap rollups (`user_days`, `item_days`, or relations over them) and the range's bit mask.
struct Bitmaps {
    /// Bits of the range's days (bit k = window day k).
    mask: u64,
    /// Bit index of the range's first day.
    first: i64,
    /// Relation with `user_id, active, pv_days, fav_days, cart_days, buy_days`.
    user_days: String,
    /// Relation with `item_id, days`.
    item_days: String,
}

/// The relations the queries read, each with the columns of the stored rollup of the same name:
/// the stored rollups themselves; for a behaviour filter, the stored rollups with the other
/// behaviours' counts set to 0 (and rows left without events dropped); for a category filter,
/// connection-local rollups of the matching events ([`store::load::filtered_rollups`]).
struct Sources {
    user_day: String,
    hourly: String,
    category_day: String,
    buy_items: String,
    /// Events (`user_behavior` columns).
    events: String,
    bitmaps: Option<Bitmaps>,
}

impl Sources {
    fn new(conn: &Connection, range: &Range, filter: &Filter) -> Result<Sources, MetricsError> {
        const B: [&str; 4] = crate::ingest::parse::BEHAVIORS;
        let kept: Vec<&str> = B.iter().copied().filter(|b| filter.keeps(b)).collect();
        let in_list = kept.iter().map(|b| format!("'{b}'")).collect::<Vec<_>>().join(", ");
        if !filter.categories.is_empty() {
            let ids = filter.categories.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
            let known: Vec<i64> = {
                let mut st = conn.prepare(&format!("SELECT DISTINCT category_id FROM category_day WHERE category_id IN ({ids})"))?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            if let Some(c) = filter.categories.iter().find(|c| !known.contains(c)) {
                return Err(MetricsError::UnknownCategory(*c));
            }
            let mut pred = format!("category_id IN ({ids}) AND event_date BETWEEN {} AND {}", sql_date(range.from), sql_date(range.to));
            if !filter.behaviors.is_empty() {
                pred.push_str(&format!(" AND behavior_type IN ({in_list})"));
            }
            store::load::filtered_rollups(conn, &pred)?;
            crate::ingest::trace_here("metrics: filtered rollups");
            return Ok(Sources {
                user_day: "f_user_day".into(),
                hourly: "f_hourly".into(),
                category_day: "f_category_day".into(),
                buy_items: "f_buy_items".into(),
                events: "f_events".into(),
                bitmaps: None,
            });
        }
        let dropped: Vec<&str> = B.iter().copied().filter(|b| !filter.keeps(b)).collect();
        let bitmaps = Bitmaps::for_range(conn, range, &kept, &dropped)?;
        if dropped.is_empty() {
            return Ok(Sources {
                user_day: "user_day".into(),
                hourly: "hourly".into(),
                category_day: "category_day".into(),
                buy_items: "buy_items".into(),
                events: "user_behavior".into(),
                bitmaps,
            });
        }
        let zero = dropped.iter().map(|b| format!("0::UINTEGER AS {b}")).collect::<Vec<_>>().join(", ");
        let any = kept.iter().map(|b| format!("{b} > 0")).collect::<Vec<_>>().join(" OR ");
        let any = if any.is_empty() { "false".to_string() } else { any };
        Ok(Sources {
            user_day: format!("(SELECT * REPLACE ({zero}) FROM user_day WHERE {any})"),
            hourly: format!("(SELECT * REPLACE ({zero}) FROM hourly)"),
            category_day: format!("(SELECT * REPLACE ({zero}) FROM category_day WHERE {any})"),
            buy_items: if filter.keeps("buy") { "buy_items".into() } else { "(SELECT * FROM buy_items WHERE false)".into() },
            events: format!("(SELECT * FROM user_behavior WHERE behavior_type IN ({in_list}))"),
            bitmaps,
        })
    }
}

impl Bitmaps {
    /// Some when the bitmaps exist (windows up to 64 days; per-behaviour item bitmaps when some
    /// behaviours are dropped) and `ECOMM_NO_BITMAPS` is unset.
    fn for_range(conn: &Connection, range: &Range, kept: &[&str], dropped: &[&str]) -> Result<Option<Bitmaps>, MetricsError> {
        if std::env::var_os("ECOMM_NO_BITMAPS").is_some()
            || (range.window_end - range.window_start).num_days() >= crate::store::load::MASK_DAYS
            || kept.is_empty()
        {
            return Ok(None);
        }
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name IN ('user_days', 'item_days')",
            [],
            |r| r.get(0),
        )?;
        if n < 2 {
            return Ok(None);
        }
        let (user_days, item_days) = if dropped.is_empty() {
            ("user_days".to_string(), "item_days".to_string())
        } else {
            // Per-behaviour item days exist for windows up to LANE_DAYS days (and in DBs ingested
            // since they were added).
            let lanes: i64 = conn.query_row(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'item_days' AND column_name = 'lanes'",
                [],
                |r| r.get(0),
            )?;
            if lanes == 0 {
                return Ok(None);
            }
            let any = kept.iter().map(|b| format!("{b}_days")).collect::<Vec<_>>().join(" | ");
            let zero = dropped.iter().map(|b| format!("0::UBIGINT AS {b}_days")).collect::<Vec<_>>().join(", ");
            let lane = kept
                .iter()
                .map(|b| {
                    let k = crate::ingest::parse::BEHAVIORS.iter().position(|x| x == b).expect("behaviour") as i64;
                    format!("(lanes >> {})", k * crate::store::load::LANE_DAYS)
                })
                .collect::<Vec<_>>()
                .join(" | ");
            (
                format!("(SELECT user_id, ({any}) AS active, * EXCLUDE (user_id, active) REPLACE ({zero}) FROM user_days)"),
                format!("(SELECT item_id, ({lane}) & 65535 AS days FROM item_days)"),
            )
        };
        let first = (range.from - range.window_start).num_days();
        let len = (range.to - range.from).num_days() + 1;
        let ones = if len >= 64 { u64::MAX } else { (1u64 << len) - 1 };
        Ok(Some(Bitmaps { mask: ones << first, first, user_days, item_days }))
    }

    /// For each date of the range: (users active that day, of them also active the next day).
    fn per_day(&self, conn: &Connection, range: &Range) -> Result<Vec<(u64, u64)>, MetricsError> {
        let days = (range.to - range.from).num_days() + 1;
        let mut cols = Vec::new();
        for i in 0..days {
            let k = self.first + i;
            cols.push(format!("count(*) FILTER (WHERE (active >> {k}) & 1 = 1)"));
            cols.push(if i + 1 < days { format!("count(*) FILTER (WHERE (active >> {k}) & 3 = 3)") } else { "0".into() });
        }
        let sql = format!("SELECT {} FROM {}", cols.join(", "), self.user_days);
        Ok(conn.query_row(&sql, [], |r| {
            let mut out = Vec::with_capacity(days as usize);
            for i in 0..days as usize {
                out.push((u(r.get(2 * i)?), u(r.get(2 * i + 1)?)));
            }
            Ok(out)
        })?)
    }
}

fn list_f64(v: duckdb::types::Value) -> Vec<f64> {
    match v {
        duckdb::types::Value::List(xs) => xs
            .into_iter()
            .map(|x| match x {
                duckdb::types::Value::Double(d) => d,
                duckdb::types::Value::Float(d) => d as f64,
                duckdb::types::Value::BigInt(d) => d as f64,
                duckdb::types::Value::Int(d) => d as f64,
                _ => f64::NAN,
            })
            .collect(),
        _ => vec![],
    }
}

/// RFM segment sizes, averages and thresholds: from [`rfm::per_buyer_sql_from`] over `buy_items`,
/// or, with `stored` (whole window, all buys kept), from the same per-buyer rows that `user_summary`
/// holds, which skips grouping the buys (`ECOMM_NO_STORED_RFM` turns that off; a test compares both).
fn rfm_metrics(conn: &Connection, range: &Range, buy_items: &str, stored: bool) -> Result<Rfm, MetricsError> {
    let per = if stored { rfm::stored_per_buyer_sql() } else { rfm::per_buyer_sql_from(buy_items, range.from, range.to) };
    let mut by: std::collections::HashMap<String, (u64, f64, f64, f64)> = Default::default();
    let mut thresholds = Thresholds::default();
    {
        // One pass: segment sizes and averages, and the quantile thresholds (equal on every row).
        let mut st = conn.prepare(&format!(
            "SELECT segment, count(*), avg(recency), avg(frequency), avg(monetary), any_value(qr), any_value(qf), any_value(qm)
             FROM ({per}) GROUP BY segment"
        ))?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, f64>(4)?,
                Thresholds { recency: list_f64(r.get(5)?), frequency: list_f64(r.get(6)?), monetary: list_f64(r.get(7)?) },
            ))
        })?;
        for row in rows {
            let (s, n, a, b, c, t) = row?;
            by.insert(s, (u(n), a, b, c));
            thresholds = t;
        }
    }
    let buyers: u64 = by.values().map(|v| v.0).sum();
    let segments = rfm::SEGMENTS
        .iter()
        .map(|s| {
            let (n, a, b, c) = by.get(*s).cloned().unwrap_or((0, 0.0, 0.0, 0.0));
            let (zh, en) = rfm::action(s);
            Segment {
                segment: s.to_string(),
                users: n,
                share: ratio(n, buyers),
                avg_recency: a,
                avg_frequency: b,
                avg_monetary: c,
                action_zh: zh.into(),
                action_en: en.into(),
            }
        })
        .collect();
    Ok(Rfm { buyers, segments, thresholds })
}
