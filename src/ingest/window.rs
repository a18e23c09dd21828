//! Window detection, in two steps:
//! 1. **Far-away rows are set aside.** The local dates that hold valid rows are split into groups
//!    wherever two of them are more than [`GROUP_GAP_DAYS`] days apart. A group holding less than
//!    1 % of the valid rows ([`FAR_SHARE_PER_MILLE`]) is far away: its rows cannot be in the window
//!    (they become `out_of_window`). If every group is that small, none is set aside.
//! 2. The window is the shortest run of consecutive local dates that holds at least 99.9 % of the
//!    remaining rows (ties: the run with more rows, then the earlier run).
//!
//! So a handful of rows at 1970 or 2200 beside a week of data never stretch the window, while
//! data spread evenly over months is kept whole. (Timestamps outside the years 1900..2200 never
//! reach this: the caller drops them first.)

/// Share of the (remaining) valid rows the detected window must hold.
pub const WINDOW_SHARE_PER_MILLE: u64 = 999;
/// The longest window detected without `--start/--end`; longer data needs them.
pub const MAX_DETECTED_DAYS: i64 = 366;
/// Dates with rows more than this many days apart start a new group.
pub const GROUP_GAP_DAYS: i64 = 30;
/// A group with less than this share (per mille) of the valid rows is far away.
pub const FAR_SHARE_PER_MILLE: u64 = 10;

/// The days of `hist` (sorted) without the far-away groups (see the module doc).
fn without_far_groups(hist: &[(i64, u64)]) -> Vec<(i64, u64)> {
    let total: u64 = hist.iter().map(|(_, n)| n).sum();
    let mut groups: Vec<&[(i64, u64)]> = Vec::new();
    let mut start = 0;
    for i in 1..=hist.len() {
        if i == hist.len() || hist[i].0 - hist[i - 1].0 > GROUP_GAP_DAYS {
            groups.push(&hist[start..i]);
            start = i;
        }
    }
    let big = |g: &&[(i64, u64)]| g.iter().map(|(_, n)| n).sum::<u64>() * 1000 >= total * FAR_SHARE_PER_MILLE;
    if !groups.iter().any(big) {
        return hist.to_vec();
    }
    groups.into_iter().filter(big).flatten().copied().collect()
}

/// `hist` holds (local day number, rows), sorted by day. Returns the first and last day of the
/// window, or None when there are no rows.
pub fn detect(hist: &[(i64, u64)]) -> Option<(i64, i64)> {
    let hist = &without_far_groups(hist)[..];
    let total: u64 = hist.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let need = (total * WINDOW_SHARE_PER_MILLE).div_ceil(1000);
    let mut best: Option<(i64, u64, i64, i64)> = None; // (length, rows, first, last)
    let mut l = 0;
    let mut sum = 0u64;
    for r in 0..hist.len() {
        sum += hist[r].1;
        while l < r && sum - hist[l].1 >= need {
            sum -= hist[l].1;
            l += 1;
        }
        if sum >= need {
            let len = hist[r].0 - hist[l].0 + 1;
            let better = match best {
                None => true,
                Some((bl, bn, _, _)) => len < bl || (len == bl && sum > bn),
            };
            if better {
                best = Some((len, sum, hist[l].0, hist[r].0));
            }
        }
    }
    best.map(|(_, _, a, b)| (a, b))
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn finds_the_dense_run_and_ignores_outliers() {
        // 1000 rows on days 10..=12, 1 stray row far away.
        let h = vec![(-20000, 1), (10, 300), (11, 400), (12, 300), (20000, 0)];
        assert_eq!(detect(&h), Some((10, 12)));
        // 1001 rows need 1000 in the run: days 10-11 hold 999, so the run must reach day 5 or 30;
        // 5..=11 is shorter.
        let h = vec![(5, 1), (10, 998), (11, 1), (30, 1)];
        assert_eq!(detect(&h), Some((5, 11)));
        assert_eq!(detect(&[]), None);
        // ties on length: more rows wins, then the earlier run.
        assert_eq!(detect(&[(1, 1000), (3, 1000)]), Some((1, 3)));
        assert_eq!(detect(&[(1, 5)]), Some((1, 1)));
    }

    #[test]
    fn a_few_far_away_rows_do_not_move_the_window() {
        // 1000 rows on days 100..=108 plus 2 rows far before or after: 99.9 % of 1002 would need
        // one of them, but they are a far-away group of 0.2 %.
        let days: Vec<(i64, u64)> = (100..=108).map(|d| (d, if d == 108 { 112 } else { 111 })).collect();
        for far in [-25_000, 0, 80_000] {
            let mut h = days.clone();
            h.push((far, 2));
            h.sort_unstable();
            assert_eq!(detect(&h), Some((100, 108)), "outliers at day {far}");
        }
        // Rows 31+ days away from the rest but holding 1 % or more are data, not outliers.
        let h = vec![(0, 10), (100, 500), (101, 490)];
        assert_eq!(detect(&h), Some((0, 101)));
        // Evenly spread groups, each under 1 %: none is set aside.
        let h: Vec<(i64, u64)> = (0..200).map(|k| (k * 40, 1)).collect();
        assert_eq!(detect(&h), Some((0, 199 * 40)));
    }
}
