//! The ingest's row parser (rules 1-4) on arbitrary bytes: it never panics, every row read is
//! either loaded or rejected, the columns stay aligned, and a valid row written back canonically
//! parses to the same values.
#![no_main]

use ecomm::domain::rows::SeenSet;
use ecomm::domain::BEHAVIORS;
use ecomm::ingest::parse::{parse_block, parse_row, Block, Cleaning};
use ecomm::domain::tz::{OffsetCache, Zone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let zone = Zone::parse("Asia/Shanghai").expect("zone");
    let mut cache = OffsetCache::new(&zone);
    let seen = SeenSet::for_rows(4096);
    // Without a window (it is detected later) and with the public dataset's.
    for window in [None, Some((1_511_539_200, 1_512_316_800))] {
        for is_file_start in [true, false] {
            let b = Block { data: data.to_vec(), first_line: 1, file_id: 3, is_file_start };
            let p = parse_block(&b, &mut cache, &Cleaning { window, seen: &seen });
            assert_eq!(p.rows_read as usize, p.key.len() + p.rej_key.len(), "a row was lost");
            for col in [p.user.len(), p.item.len(), p.cat.len(), p.beh.len(), p.ts.len(), p.time_us.len(), p.date.len(), p.hour.len()] {
                assert_eq!(col, p.key.len());
            }
            assert_eq!(p.rej_key.len(), p.rej_reason.len());
            assert_eq!(p.rej_key.len(), p.rej_raw.len());
            assert_eq!(p.raw_key.len(), p.raw.len());
            assert!(p.hour.iter().all(|h| *h < 24));
            let valid_days: u64 = p.days.values().sum();
            assert!(valid_days >= p.key.len() as u64);
        }
    }
    for line in data.split(|c| *c == b'\n') {
        if let Ok(r) = parse_row(line) {
            let canon = format!("{},{},{},{},{}", r.user, r.item, r.cat, BEHAVIORS[r.beh as usize], r.ts);
            let again = parse_row(canon.as_bytes()).expect("the canonical form parses");
            assert_eq!((again.user, again.item, again.cat, again.beh, again.ts), (r.user, r.item, r.cat, r.beh, r.ts));
            assert!(again.canonical);
        }
    }
});
