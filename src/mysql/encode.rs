//! Tab-separated text as LOAD DATA reads it (dates and times written by hand, fast), and the
//! multi-row INSERT of the fallback path.

use std::io::Write;

/// Turns tab-separated lines into one multi-row INSERT (`\N` is NULL; numbers stay bare; the rest is quoted).
pub(crate) fn tsv_to_insert(table: &str, cols: &str, chunk: &[u8]) -> String {
    let text = String::from_utf8_lossy(chunk);
    let mut sql = String::with_capacity(chunk.len() * 2 + 100);
    let mut first = true;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        sql.push_str(if first { "(" } else { ",(" });
        first = false;
        for (i, f) in line.split('\t').enumerate() {
            if i > 0 {
                sql.push(',');
            }
            if f == "\\N" {
                sql.push_str("NULL");
            } else if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !f[1..].contains('-') {
                sql.push_str(f);
            } else {
                sql.push('\'');
                sql.push_str(&f.replace('\\', "\\\\").replace('\'', "''"));
                sql.push('\'');
            }
        }
        sql.push(')');
    }
    if first {
        return String::new();
    }
    format!("INSERT INTO `{table}` {cols} VALUES {sql}")
}

/// Rows per INSERT statement on the fallback path.
pub const INSERT_BATCH: usize = 10_000;

/// Chunk size of the producer's messages.
pub(crate) const CHUNK: usize = 1 << 20;

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil_from_days).
pub(crate) fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn push_date(out: &mut Vec<u8>, day: i64) {
    let (y, m, d) = civil(day);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

pub(crate) fn push_datetime(out: &mut Vec<u8>, secs: i64) {
    push_date(out, secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let _ = write!(out, " {:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let mut b = vec![];
        push_datetime(&mut b, 1_511_539_200 + 8 * 3600);
        assert_eq!(String::from_utf8(b).unwrap(), "2017-11-25 00:00:00");
        let mut b = vec![];
        push_date(&mut b, -1);
        assert_eq!(String::from_utf8(b).unwrap(), "1969-12-31");
    }

    #[test]
    fn tsv_insert() {
        let s = tsv_to_insert("t", "(a,b,c)", b"1\tpv\t\\N\n-5\t2017-11-25 00:00:00\tx'y\n");
        assert_eq!(s, "INSERT INTO `t` (a,b,c) VALUES (1,'pv',NULL),(-5,'2017-11-25 00:00:00','x''y')");
    }
}
