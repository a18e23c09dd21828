//! The rows between the pipeline's stages: a parsed batch in the columns of `user_behavior`, the
//! reasons a row is rejected, a row's provenance key and its duplicate hash. Sources produce
//! [`Parsed`] batches; the store appends them and applies the rules that need the whole table.

/// Why a row was rejected. The order is the order in which the rules are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not 5 fields, a bad integer, or invalid UTF-8.
    Malformed,
    /// A behaviour other than pv/fav/cart/buy.
    BadBehavior,
    /// A timestamp outside the analysis window.
    OutOfWindow,
    /// Identical in all 5 fields to a row already loaded.
    Duplicate,
}

impl Reason {
    /// All reasons, in rule order.
    pub const ALL: [Reason; 4] = [Reason::Malformed, Reason::BadBehavior, Reason::OutOfWindow, Reason::Duplicate];
    /// The name used in JSON, the rejects file and the ingest log.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::BadBehavior => "bad_behavior",
            Reason::OutOfWindow => "out_of_window",
            Reason::Duplicate => "duplicate",
        }
    }
}

/// A row's provenance in one number: `file_id << 40 | line`. Orders rows by file, then line.
#[inline]
pub fn source_key(file_id: i32, line: u64) -> u64 {
    ((file_id as u64) << 40) | line
}

/// Splits a [`source_key`].
pub fn split_key(key: u64) -> (i32, u64) {
    ((key >> 40) as i32, key & ((1 << 40) - 1))
}

/// The hash used to find duplicate candidates.
#[inline]
pub fn row_hash(user: i64, item: i64, cat: i64, beh: u8, ts: i64) -> u64 {
    let mut b = [0u8; 33];
    b[0..8].copy_from_slice(&user.to_le_bytes());
    b[8..16].copy_from_slice(&item.to_le_bytes());
    b[16..24].copy_from_slice(&cat.to_le_bytes());
    b[24] = beh;
    b[25..33].copy_from_slice(&ts.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&b)
}

/// A concurrent filter over row hashes: a row that may have been seen already is a duplicate
/// candidate ("maybe"). False positives are resolved exactly in SQL; there are no false negatives.
pub struct SeenSet {
    ptr: *mut std::sync::atomic::AtomicU64,
    words: usize,
    mask: u64,
}

// SAFETY: the words are only accessed atomically.
unsafe impl Send for SeenSet {}
unsafe impl Sync for SeenSet {}

const HUGE: usize = 2 << 20;

impl SeenSet {
    /// A set sized for about `rows` rows (about 16 bits per row, 2^16..2^31 bits). The memory is
    /// zeroed lazily by the OS and, where available, backed by huge pages (random access).
    pub fn for_rows(rows: u64) -> SeenSet {
        let bits = (rows.saturating_mul(16)).next_power_of_two().clamp(1 << 16, 1 << 31);
        let words = (bits / 64) as usize;
        let layout = std::alloc::Layout::from_size_align(words * 8, HUGE).expect("layout");
        // SAFETY: non-zero size; zeroed memory is a valid AtomicU64 array.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut std::sync::atomic::AtomicU64;
        assert!(!ptr.is_null(), "out of memory for the duplicate filter");
        #[cfg(target_os = "linux")]
        // SAFETY: advisory call on memory we own.
        unsafe {
            libc::madvise(ptr as *mut libc::c_void, words * 8, libc::MADV_HUGEPAGE);
        }
        SeenSet { ptr, words, mask: bits - 1 }
    }
    /// Hints the CPU to fetch the word of `h` (random access is the cost of this set).
    #[inline]
    pub fn prefetch(&self, h: u64) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch never faults; the address is inside the allocation.
        unsafe {
            let p = self.ptr.add(((h & self.mask) >> 6) as usize) as *const i8;
            std::arch::x86_64::_mm_prefetch(p, std::arch::x86_64::_MM_HINT_T0);
        }
    }

    /// [`test_and_set`](Self::test_and_set) for many hashes, with prefetching; `out[i]` is true
    /// when `hashes[i]` was already set.
    pub fn test_and_set_all(&self, hashes: &[u64], out: &mut Vec<bool>) {
        const AHEAD: usize = 24;
        for h in hashes.iter().take(AHEAD) {
            self.prefetch(*h);
        }
        for (i, h) in hashes.iter().enumerate() {
            if let Some(n) = hashes.get(i + AHEAD) {
                self.prefetch(*n);
            }
            out.push(self.test_and_set(*h));
        }
    }

    /// Adds `h`; true if it may have been added before (all three of its bits in its word were
    /// set). A blocked Bloom filter: one word (one memory access) per row, three bits in it, which
    /// keeps false positives near 0.3 % at 100 M rows in 256 MiB.
    #[inline]
    pub fn test_and_set(&self, h: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let bits = (1u64 << ((h >> 40) & 63)) | (1u64 << ((h >> 46) & 63)) | (1u64 << ((h >> 52) & 63));
        // SAFETY: the index is masked below `words`.
        let w = unsafe { &*self.ptr.add(((h & self.mask) >> 6) as usize) };
        if w.load(Relaxed) & bits == bits {
            return true;
        }
        w.fetch_or(bits, Relaxed) & bits == bits
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.words as u64 * 8
    }
}

impl Drop for SeenSet {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.words * 8, HUGE).expect("layout");
        // SAFETY: allocated in for_rows with this layout.
        unsafe { std::alloc::dealloc(self.ptr as *mut u8, layout) }
    }
}

/// The rows of one block in the columns of `user_behavior`, plus what the SQL steps need.
#[derive(Default)]
pub struct Parsed {
    /// [`source_key`] of each valid row.
    pub key: Vec<u64>,
    /// user_id of each valid row.
    pub user: Vec<i64>,
    /// item_id of each valid row.
    pub item: Vec<i64>,
    /// category_id of each valid row.
    pub cat: Vec<i64>,
    /// Behaviour code (index into [`super::behavior::BEHAVIORS`]).
    pub beh: Vec<u8>,
    /// Unix seconds.
    pub ts: Vec<i64>,
    /// Local time in microseconds since 1970-01-01 (the `event_time` TIMESTAMP).
    pub time_us: Vec<i64>,
    /// Local date in days since 1970-01-01.
    pub date: Vec<i32>,
    /// Local hour.
    pub hour: Vec<u8>,
    /// Duplicate candidate (its hash was seen before).
    pub maybe_dup: Vec<bool>,
    /// Keys of valid rows whose text is not the canonical rendering of their values.
    pub raw_key: Vec<u64>,
    /// Their raw text.
    pub raw: Vec<String>,
    /// Keys of rejected rows.
    pub rej_key: Vec<u64>,
    /// Reasons of rejected rows.
    pub rej_reason: Vec<Reason>,
    /// Raw text of rejected rows (invalid UTF-8 replaced by U+FFFD).
    pub rej_raw: Vec<String>,
    /// Rows read (valid + rejected).
    pub rows_read: u64,
    /// Valid rows (rules 1-3) per local day, for window detection.
    pub days: std::collections::HashMap<i64, u64>,
}
