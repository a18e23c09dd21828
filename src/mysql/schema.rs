//! The mirror's tables: their DDL (the seed project's columns first, ecomm's after) and the
//! column lists the streams send.

/// The DDL of the mirror's tables (`{name}` is the table name). The seed project's schema comes
/// first, with its names (`timestamp`, `time`, `date`, `hour`, `behavior_name`; `pv_count` … and
/// `last_buy_time`), so its scripts and BI tools run unchanged; ecomm's own columns follow.
/// `time`, `date` and `hour` are local to the DB's analysis zone (Beijing by default), not UTC.
/// `behavior_name` (浏览/收藏/加购/购买) is a VIRTUAL generated column: computed on read, no storage.
pub(crate) const UB_DDL: &str = "CREATE TABLE `{name}` (
    user_id BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL,
    behavior_type ENUM('pv','fav','cart','buy') NOT NULL,
    `timestamp` BIGINT NOT NULL,
    `time` DATETIME NOT NULL,
    `date` DATE NOT NULL,
    `hour` TINYINT UNSIGNED NOT NULL,
    behavior_name VARCHAR(4) GENERATED ALWAYS AS (CASE behavior_type WHEN 'pv' THEN '浏览' WHEN 'fav' THEN '收藏' WHEN 'cart' THEN '加购' ELSE '购买' END) VIRTUAL,
    ingest_id INT UNSIGNED NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
pub(crate) const UB_INDEXES: &str =
    "ALTER TABLE `{name}` ADD INDEX idx_user_id (user_id), ADD INDEX idx_date (`date`), ADD INDEX idx_behavior_type (behavior_type)";
pub(crate) const US_DDL: &str = "CREATE TABLE `{name}` (
    user_id BIGINT NOT NULL PRIMARY KEY,
    pv_count BIGINT NOT NULL, fav_count BIGINT NOT NULL, cart_count BIGINT NOT NULL, buy_count BIGINT NOT NULL,
    last_buy_time DATETIME NULL,
    first_event_at DATETIME NOT NULL, last_event_at DATETIME NOT NULL,
    active_days INT NOT NULL, distinct_items BIGINT NOT NULL,
    recency_days INT NULL, frequency BIGINT NULL, monetary BIGINT NULL,
    r_score TINYINT UNSIGNED NULL, f_score TINYINT UNSIGNED NULL, m_score TINYINT UNSIGNED NULL,
    segment VARCHAR(16) NULL,
    INDEX idx_segment (segment)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
pub(crate) const LOG_DDL: &str = "CREATE TABLE `{name}` (
    generation VARCHAR(32) NOT NULL,
    ingest_id INT UNSIGNED NOT NULL,
    `rows` BIGINT NOT NULL,
    synced_at DATETIME NOT NULL,
    PRIMARY KEY (generation, ingest_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

pub(crate) fn ddl(t: &str, name: &str) -> String {
    t.replace("{name}", name)
}

/// The stored columns, in the order the TSV streams send them (the generated `behavior_name` is not sent).
pub(crate) const UB_COLS: &str = "(user_id, item_id, category_id, behavior_type, `timestamp`, `time`, `date`, `hour`, ingest_id)";
pub(crate) const US_COLS: &str = "(user_id, pv_count, fav_count, cart_count, buy_count, last_buy_time, first_event_at, last_event_at, active_days, distinct_items, recency_days, frequency, monetary, r_score, f_score, m_score, segment)";

/// A column list without its parentheses, for `SELECT`.
pub(crate) fn select_list(cols: &str) -> &str {
    cols.trim_start_matches('(').trim_end_matches(')')
}
