//! The seeded synthetic data generator behind `ecomm gen`.
//!
//! It writes rows in the UserBehavior format (`user_id,item_id,category_id,behavior_type,timestamp`,
//! no header) that look like the public Taobao dataset:
//! - events per user are heavy-tailed (log-normal weights, mean about 101 events per user);
//! - item and category popularity follow a power law;
//! - the behaviour mix is near pv 89.6 %, cart 5.5 %, fav 2.9 %, buy 2.0 %;
//! - the daily cycle is in Beijing time, lowest around 04:00 and peaking 20:00–22:00,
//!   with a lift on the last two days of the window;
//! - every fav, cart and buy follows an earlier (or same-second) pv of the same item by the same user;
//! - about 68 % of users buy something.
//!
//! `--dirty F` replaces a fraction F of the rows with malformed rows, unknown behaviours,
//! out-of-window timestamps and exact duplicates (in equal parts). The output is a pure
//! function of the arguments: every user draws from its own random stream seeded by
//! `(seed, user)`, so the thread count never changes a byte.

mod rng;
pub use rng::Rng;

use crate::domain::BEHAVIORS;
use chrono::NaiveDate;
use rayon::prelude::*;
use std::io::Write;
use std::path::PathBuf;

/// A generated file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct GenError {
    /// What was being done, naming the path.
    pub what: String,
    /// The I/O error.
    pub source: std::io::Error,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> GenError {
    move |source| GenError { what, source }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Exact number of rows written.
    pub rows: u64,
    /// Number of users the rows are spread over.
    pub users: u64,
    /// Random seed; equal seeds give equal files.
    pub seed: u64,
    /// Fraction of rows replaced by dirty rows, 0..=1.
    pub dirty: f64,
    /// First local (Beijing) date of the window.
    pub start: NaiveDate,
    /// Number of days in the window.
    pub days: u32,
    /// Output file; `.gz` means gzip.
    pub out: PathBuf,
}

impl GenConfig {
    /// Default number of users for `rows`: the real dataset's 101.4 events per user.
    pub fn default_users(rows: u64) -> u64 {
        (rows / 101).max(1)
    }
}

/// Share of events per Beijing hour 0..23 (low at 04:00, peak at 21:00).
const HOUR_WEIGHTS: [f64; 24] =
    [3.5, 1.8, 1.1, 0.8, 0.7, 0.8, 1.4, 2.4, 3.2, 3.8, 4.3, 4.2, 4.3, 4.5, 4.4, 4.5, 4.4, 4.2, 4.3, 5.4, 6.5, 7.0, 6.6, 5.1];
/// Beijing is UTC+8 all year.
const BEIJING: i64 = 8 * 3600;
/// Share of users who buy at least once.
const BUYER_SHARE: f64 = 0.68;
/// Mean rates per event of buy, cart and fav.
const BUY_RATE: f64 = 0.020;
const CART_RATE: f64 = 0.055;
const FAV_RATE: f64 = 0.029;
/// Share of users who ever cart / fav (real: about 74 % and 37 %).
const CART_USERS: f64 = 0.74;
const FAV_USERS: f64 = 0.40;

/// Power-law sampler over `[0, n)`: density proportional to `(x + x0)^-s`.
struct PowerLaw {
    n: f64,
    a: f64,
    b: f64,
    inv: f64,
    x0: f64,
}

impl PowerLaw {
    fn new(n: u64, s: f64, x0: f64) -> Self {
        let e = 1.0 - s;
        let a = x0.powf(e);
        let b = (n as f64 + x0).powf(e);
        PowerLaw { n: n as f64, a, b, inv: 1.0 / e, x0 }
    }
    #[inline]
    fn sample(&self, u: f64) -> u64 {
        let x = (self.a + u * (self.b - self.a)).powf(self.inv) - self.x0;
        x.clamp(0.0, self.n - 1.0) as u64
    }
}

/// Everything shared by all users.
struct World {
    cfg: GenConfig,
    items: PowerLaw,
    n_items: u64,
    cats: PowerLaw,
    n_cats: u64,
    item_space: u64,
    cat_space: u64,
    slot_cdf: Vec<f64>,
    hour_cdf: Vec<f64>,
    day_weight: Vec<f64>,
    window_start: i64,
    window_end: i64,
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a, b).next_u64()
}

impl World {
    fn new(cfg: &GenConfig) -> World {
        let n_items = (cfg.rows / 24).max(100);
        let n_cats = (n_items / 440).clamp(20, 9439);
        let mut cdf = Vec::with_capacity(cfg.days as usize * 24);
        let mut acc = 0.0;
        for d in 0..cfg.days {
            let lift = if d + 2 >= cfg.days { 1.3 } else { 1.0 };
            for w in HOUR_WEIGHTS {
                acc += w * lift;
                cdf.push(acc);
            }
        }
        for c in cdf.iter_mut() {
            *c /= acc;
        }
        let start = cfg.start.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() - BEIJING;
        World {
            items: PowerLaw::new(n_items, 0.8, 50.0),
            n_items,
            cats: PowerLaw::new(n_cats, 0.9, 5.0),
            n_cats,
            item_space: 5_163_070u64.max(n_items * 2),
            cat_space: 5_162_429u64.max(n_cats * 2),
            slot_cdf: cdf,
            hour_cdf: {
                let t: f64 = HOUR_WEIGHTS.iter().sum();
                HOUR_WEIGHTS
                    .iter()
                    .scan(0.0, |a, w| {
                        *a += w / t;
                        Some(*a)
                    })
                    .collect()
            },
            day_weight: (0..cfg.days).map(|d| if d + 2 >= cfg.days { 1.3 } else { 1.0 }).collect(),
            window_start: start,
            window_end: start + cfg.days as i64 * 86400,
            cfg: cfg.clone(),
        }
    }

    fn item_id(&self, idx: u64) -> u64 {
        1 + (idx.wrapping_mul(1_000_003) % self.item_space)
    }

    fn category_of(&self, idx: u64) -> u64 {
        let u = (mix(self.cfg.seed ^ 0xCA7, idx) >> 11) as f64 / (1u64 << 53) as f64;
        let c = self.cats.sample(u);
        1 + ((c.wrapping_mul(1_000_003) + 4_099_999) % self.cat_space)
    }

    fn user_id(idx: u64) -> u64 {
        idx + 1 + idx / 30
    }

    /// A time on one of the user's active days.
    fn user_time(&self, days: &[(u32, f64)], rng: &mut Rng) -> i64 {
        let u = rng.f64() * days.last().map_or(1.0, |d| d.1);
        let day = days[days.partition_point(|d| d.1 <= u).min(days.len() - 1)].0;
        let uh = rng.f64();
        let h = self.hour_cdf.partition_point(|c| *c <= uh).min(23);
        self.window_start + day as i64 * 86400 + h as i64 * 3600 + rng.below(3600) as i64
    }

    /// The user's active days (with cumulative weights): heavier users are active on more days.
    fn active_days(&self, n: u64, rng: &mut Rng) -> Vec<(u32, f64)> {
        let days = self.day_weight.len() as u32;
        let p = (0.2 + 0.12 * (n as f64).ln()).clamp(0.05, 0.92);
        let mut k = 1 + (1..days).filter(|_| rng.f64() < p).count() as u32;
        k = k.min(n.max(1) as u32);
        let mut chosen: Vec<u32> = (0..days).collect();
        // Partial Fisher-Yates with the lift on the last days as a mild preference.
        for i in 0..k as usize {
            let j = i + rng.below((days as usize - i) as u64) as usize;
            chosen.swap(i, j);
        }
        chosen.truncate(k as usize);
        chosen.sort_unstable();
        let mut acc = 0.0;
        chosen
            .into_iter()
            .map(|d| {
                acc += self.day_weight[d as usize];
                (d, acc)
            })
            .collect()
    }

    fn time(&self, rng: &mut Rng) -> i64 {
        let u = rng.f64();
        let slot = self.slot_cdf.partition_point(|c| *c <= u).min(self.slot_cdf.len() - 1);
        self.window_start + slot as i64 * 3600 + rng.below(3600) as i64
    }
}

/// Per-user event counts that add up to exactly `rows`.
fn user_counts(cfg: &GenConfig) -> Vec<u32> {
    let users = cfg.users.max(1) as usize;
    let weights: Vec<f64> = (0..users)
        .into_par_iter()
        .map(|u| {
            let mut r = Rng::new(cfg.seed ^ 0x5EED, u as u64);
            (1.05 * r.normal()).exp()
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut counts: Vec<u32> = weights.iter().map(|w| (cfg.rows as f64 * w / total).floor() as u32).collect();
    let assigned: u64 = counts.iter().map(|c| *c as u64).sum();
    let mut rest = cfg.rows.saturating_sub(assigned);
    let mut u = 0;
    while rest > 0 {
        counts[u % users] += 1;
        rest -= 1;
        u += 1;
    }
    counts
}

struct Event {
    ts: i64,
    beh: u8,
    item: u64,
}

/// Appends one user's rows to `out`.
///
/// Length: one user's events in draw order; the generated bytes depend on that order, so it stays in one piece.
fn gen_user(w: &World, uidx: u64, n: u32, out: &mut Vec<u8>) {
    if n == 0 {
        return;
    }
    let mut rng = Rng::new(w.cfg.seed, uidx.wrapping_add(1) << 1);
    let mut n_dirty = 0u32;
    if w.cfg.dirty > 0.0 {
        for _ in 0..n {
            n_dirty += u32::from(rng.f64() < w.cfg.dirty);
        }
    }
    let n_clean = (n - n_dirty) as u64;
    let mut events: Vec<Event> = Vec::with_capacity(n as usize);
    if n_clean > 0 {
        let noise = |rng: &mut Rng| (0.6 * rng.normal() - 0.18).exp();
        let buyer = n_clean >= 2 && rng.f64() < BUYER_SHARE;
        let carter = rng.f64() < CART_USERS;
        let faver = rng.f64() < FAV_USERS;
        let (nb, nc, nf) = (noise(&mut rng), noise(&mut rng), noise(&mut rng));
        let mut n_buy = if buyer { rng.round(n_clean as f64 * BUY_RATE / BUYER_SHARE * nb).max(1) } else { 0 };
        let mut n_cart = if carter { rng.round(n_clean as f64 * CART_RATE / CART_USERS * nc) } else { 0 };
        let mut n_fav = if faver { rng.round(n_clean as f64 * FAV_RATE / FAV_USERS * nf) } else { 0 };
        let days = w.active_days(n_clean, &mut rng);
        // Keep at least half of the events as page views.
        let cap = n_clean / 2;
        while n_buy + n_cart + n_fav > cap {
            if n_fav > 0 {
                n_fav -= 1;
            } else if n_cart > 0 {
                n_cart -= 1;
            } else {
                n_buy -= 1;
            }
        }
        let n_pv = n_clean - n_buy - n_cart - n_fav;
        for i in 0..n_pv {
            let item = if i > 0 && rng.f64() < 0.25 { events[rng.below(i) as usize].item } else { w.items.sample(rng.f64()) };
            events.push(Event { ts: w.user_time(&days, &mut rng), beh: 0, item });
        }
        let last = w.window_end - 1;
        for (beh, k) in [(1u8, n_fav), (2, n_cart), (3, n_buy)] {
            for _ in 0..k {
                let j = rng.below(n_pv) as usize;
                let delay = 1 + (-(rng.f64().max(1e-12)).ln() * 600.0) as i64;
                let (ts, item) = (events[j].ts, events[j].item);
                events.push(Event { ts: (ts + delay).min(last).max(ts), beh, item });
            }
        }
        // Clean data holds no exact duplicates: nudge the rare collision by a second.
        for _ in 0..4 {
            events.sort_by_key(|e| (e.ts, e.beh, e.item));
            let mut clash = false;
            for i in 1..events.len() {
                if (events[i].ts, events[i].beh, events[i].item) == (events[i - 1].ts, events[i - 1].beh, events[i - 1].item) {
                    events[i].ts += if events[i].ts < last { 1 } else { -1 };
                    clash = true;
                }
            }
            if !clash {
                break;
            }
        }
    }
    let uid = World::user_id(uidx);
    let mut dirty_left = n_dirty;
    let mut clean_left = events.len() as u32;
    let mut ev = events.iter();
    let mut prev: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::with_capacity(64);
    while dirty_left + clean_left > 0 {
        let take_dirty = dirty_left > 0 && rng.below((dirty_left + clean_left) as u64) < dirty_left as u64;
        line.clear();
        if take_dirty {
            dirty_left -= 1;
            dirty_row(w, uid, &prev, &mut rng, &mut line);
        } else {
            clean_left -= 1;
            let e = ev.next().expect("event");
            write_row(&mut line, uid, w.item_id(e.item), w.category_of(e.item), BEHAVIORS[e.beh as usize], e.ts);
            prev.clear();
            prev.extend_from_slice(&line);
        }
        out.extend_from_slice(&line);
    }
}

fn write_row(line: &mut Vec<u8>, uid: u64, item: u64, cat: u64, beh: &str, ts: i64) {
    let mut b = itoa::Buffer::new();
    line.extend_from_slice(b.format(uid).as_bytes());
    line.push(b',');
    line.extend_from_slice(b.format(item).as_bytes());
    line.push(b',');
    line.extend_from_slice(b.format(cat).as_bytes());
    line.push(b',');
    line.extend_from_slice(beh.as_bytes());
    line.push(b',');
    line.extend_from_slice(b.format(ts).as_bytes());
    line.push(b'\n');
}

/// One dirty row: malformed, unknown behaviour, out of window, or a duplicate of `prev`.
fn dirty_row(w: &World, uid: u64, prev: &[u8], rng: &mut Rng, line: &mut Vec<u8>) {
    let item = w.item_id(w.items.sample(rng.f64()));
    let cat = w.category_of(item);
    let ts = w.time(rng);
    match rng.below(4) {
        0 => {
            let shapes: [String; 6] = [
                format!("{uid},{item},{cat},pv"),
                format!("{uid},{item},{cat},pv,{ts},1"),
                format!("u{uid},{item},{cat},pv,{ts}"),
                format!("{uid},-{item},{cat},cart,{ts}"),
                format!("{uid},{item},{cat},buy,{ts}.5"),
                format!("{uid},{item},,fav,{ts}"),
            ];
            line.extend_from_slice(shapes[rng.below(6) as usize].as_bytes());
            line.push(b'\n');
        }
        1 => {
            let beh = ["click", "view", "favorite", "purchase"][rng.below(4) as usize];
            write_row(line, uid, item, cat, beh, ts);
        }
        2 => {
            let far = [
                1_505_117_799,
                w.window_start - 1 - rng.below(86400 * 30) as i64,
                w.window_end + rng.below(86400 * 30) as i64,
                -2_114_380_800,
                2_114_380_800,
            ];
            write_row(line, uid, item, cat, "pv", far[rng.below(5) as usize]);
        }
        _ if !prev.is_empty() => line.extend_from_slice(prev),
        _ => write_row(line, uid, item, cat, "view", ts),
    }
}

/// Summary of a finished `gen`.
#[derive(Debug, serde::Serialize)]
pub struct GenSummary {
    /// Rows written.
    pub rows: u64,
    /// Users that got at least one row.
    pub users: u64,
    /// Distinct item index space.
    pub items: u64,
    /// Distinct category index space.
    pub categories: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes the file described by `cfg`, reporting progress (rows) through `progress`.
pub fn generate(cfg: &GenConfig, progress: &dyn Fn(u64)) -> Result<GenSummary, GenError> {
    let world = World::new(cfg);
    let counts = user_counts(cfg);
    let gz = cfg.out.extension().is_some_and(|e| e == "gz");
    if let Some(dir) = cfg.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create folder {}", dir.display())))?;
    }
    let tmp = cfg.out.with_extension(format!("{}.tmp", cfg.out.extension().and_then(|e| e.to_str()).unwrap_or("csv")));
    let file = std::fs::File::create(&tmp).map_err(io(format!("cannot write {}", tmp.display())))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    const BLOCK: usize = 2048;
    let blocks: Vec<(usize, usize)> = (0..counts.len()).step_by(BLOCK).map(|s| (s, (s + BLOCK).min(counts.len()))).collect();
    let group = rayon::current_num_threads().max(1) * 4;
    let (mut rows, mut bytes) = (0u64, 0u64);
    for chunk in blocks.chunks(group) {
        let bufs: Vec<Vec<u8>> = chunk
            .par_iter()
            .map(|&(s, e)| {
                let n: u64 = counts[s..e].iter().map(|c| *c as u64).sum();
                let mut buf = Vec::with_capacity(n as usize * 40);
                for (u, c) in counts.iter().enumerate().take(e).skip(s) {
                    gen_user(&world, u as u64, *c, &mut buf);
                }
                if gz {
                    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(buf.len() / 3), flate2::Compression::fast());
                    enc.write_all(&buf).expect("in-memory gzip");
                    enc.finish().expect("in-memory gzip")
                } else {
                    buf
                }
            })
            .collect();
        for (b, &(s, e)) in bufs.iter().zip(chunk) {
            out.write_all(b).map_err(io(format!("cannot write {}", tmp.display())))?;
            bytes += b.len() as u64;
            rows += counts[s..e].iter().map(|c| *c as u64).sum::<u64>();
        }
        progress(rows);
    }
    out.flush().map_err(io(format!("cannot write {}", tmp.display())))?;
    drop(out);
    std::fs::rename(&tmp, &cfg.out).map_err(io(format!("cannot move {} into place", tmp.display())))?;
    Ok(GenSummary { rows, users: counts.iter().filter(|c| **c > 0).count() as u64, items: world.n_items, categories: world.n_cats, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_exactly() {
        let cfg = GenConfig {
            rows: 12_345,
            users: 100,
            seed: 7,
            dirty: 0.0,
            start: NaiveDate::from_ymd_opt(2017, 11, 25).unwrap(),
            days: 9,
            out: PathBuf::new(),
        };
        let c = user_counts(&cfg);
        assert_eq!(c.iter().map(|x| *x as u64).sum::<u64>(), 12_345);
    }

    #[test]
    fn power_law_is_in_range_and_skewed() {
        let p = PowerLaw::new(1000, 0.8, 50.0);
        let mut r = Rng::new(1, 1);
        let xs: Vec<u64> = (0..10_000).map(|_| p.sample(r.f64())).collect();
        assert!(xs.iter().all(|x| *x < 1000));
        let low = xs.iter().filter(|x| **x < 100).count();
        assert!(low > 1500, "head should be heavier than uniform: {low}");
    }
}
