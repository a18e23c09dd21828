//! Window detection: the shortest run of consecutive local dates that holds at least 99.9 % of
//! the valid rows (ties: the run with more rows, then the earlier run).

/// Share of valid rows the detected window must hold.
pub const WINDOW_SHARE_PER_MILLE: u64 = 999;

/// `hist` holds (local day number, rows), sorted by day. Returns the first and last day of the
/// window, or None when there are no rows.
pub fn detect(hist: &[(i64, u64)]) -> Option<(i64, i64)> {
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
}
