//! The orchestration of a sync: stage, verify, swap (full) or move in one transaction
//! (incremental), record. See the module doc of [`super`].

use super::mirror::Mirror;
use super::schema::{ddl, select_list, LOG_DDL, UB_COLS, UB_DDL, UB_INDEXES, US_COLS, US_DDL};
use super::source::{batch_rows, duck_counts, ingest_ids, produce_behavior, produce_summary, summary_rows};
use super::transfer::transfer;
use super::{url, SyncConfig, SyncError, SyncSummary, Table, TableOut};
use crate::store::{self, Mode, OpenOptions};
use std::time::Instant;

/// Drops the stage tables a killed sync may have left.
fn drop_leftovers(m: &mut Mirror) -> Result<(), SyncError> {
    for t in [
        "user_behavior__stage",
        "user_behavior__old",
        "user_behavior__inc",
        "user_summary__stage",
        "user_summary__old",
        "ecomm_sync_log__stage",
        "ecomm_sync_log__old",
    ] {
        m.exec(&format!("DROP TABLE IF EXISTS `{t}`"))?;
    }
    let parts: Vec<String> = m.query(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '{}' AND table_name LIKE 'user\\_behavior\\_\\_stage\\_p%'",
        m.db
    ))?;
    for t in parts {
        m.exec(&format!("DROP TABLE IF EXISTS `{t}`"))?;
    }
    Ok(())
}

/// What the DuckDB side holds: its generation, ingest batches and row counts (total, per behaviour).
/// The read-only connection keeps writers out, so none of it changes during the sync.
struct DuckState {
    generation: String,
    all_ids: Vec<u32>,
    all_counts: [u64; 5],
}

/// Syncs `user_behavior` (full or incremental, see the module doc) and says what it did.
#[allow(clippy::too_many_arguments)]
fn sync_behavior(
    m: &mut Mirror,
    duck: &duckdb::Connection,
    cfg: &SyncConfig,
    method_insert: bool,
    ds: &DuckState,
    staged_summary: bool,
    have_summary: bool,
    summary: &mut SyncSummary,
) -> Result<TableOut, SyncError> {
    let have_ub = m.table_exists("user_behavior")?;
    let have_log = m.table_exists("ecomm_sync_log")?;
    let mirrored: Vec<(String, u32)> = if have_log { m.query("SELECT generation, ingest_id FROM ecomm_sync_log")? } else { vec![] };
    let same_gen = !mirrored.is_empty() && mirrored.iter().all(|(g, _)| *g == ds.generation);
    let full_reason = if cfg.full {
        Some("--full")
    } else if !have_ub || !have_log {
        Some("no mirror yet")
    } else if !mirrored.is_empty() && !same_gen {
        Some("the DuckDB file was rebuilt (ingest --replace)")
    } else if mirrored.iter().any(|(_, id)| !ds.all_ids.contains(id)) {
        Some("the mirror holds batches the DuckDB file no longer has")
    } else if staged_summary && !have_summary {
        Some("the mirror has no user_summary yet")
    } else {
        None
    };
    let t1 = Instant::now();
    let (sent, stream_s) = if let Some(reason) = full_reason {
        summary.mode = "full".into();
        summary.reason = reason.into();
        summary.batches = ds.all_ids.clone();
        let swap = Swap { have_ub, have_log, summary: staged_summary, have_summary };
        (ds.all_counts[0], full_behavior(m, duck, cfg, method_insert, ds.all_counts, &ds.generation, &ds.all_ids, swap)?)
    } else {
        let have: Vec<u32> = mirrored.iter().map(|(_, id)| *id).collect();
        let new_ids: Vec<u32> = ds.all_ids.iter().copied().filter(|id| !have.contains(id)).collect();
        summary.batches = new_ids.clone();
        incremental_behavior(m, duck, cfg, method_insert, &ds.generation, new_ids, staged_summary)?
    };
    let secs = t1.elapsed().as_secs_f64();
    // A full sync's mirror is exactly the stage it verified; an incremental one is counted.
    let mirror_rows = if summary.mode == "full" { ds.all_counts[0] } else { m.count("user_behavior")? };
    Ok(TableOut {
        table: "user_behavior".into(),
        rows: sent,
        mirror_rows,
        seconds: secs,
        rows_per_sec: sent as f64 / secs.max(1e-9),
        load_seconds: stream_s,
        load_rows_per_sec: sent as f64 / f64::max(stream_s, 1e-9),
    })
}

/// Verification of the whole mirror. A full sync verified its stage before the atomic swap (the
/// rename moves exactly that table), so only an incremental sync counts the result again.
fn verify(m: &mut Mirror, duck: &duckdb::Connection, cfg: &SyncConfig, ds: &DuckState, mode: &str) -> Result<(), SyncError> {
    if cfg.tables.contains(&Table::UserBehavior) && mode != "full" {
        let expected = ds.all_counts;
        let got = m.behavior_counts("user_behavior")?;
        if got != expected {
            return Err(SyncError::Verify(format!(
                "MySQL user_behavior counts {got:?} (total, pv, fav, cart, buy) differ from DuckDB's {expected:?}"
            )));
        }
    }
    if cfg.tables.contains(&Table::UserSummary) {
        let n = summary_rows(duck)?;
        let got = m.count("user_summary")?;
        if got != n {
            return Err(SyncError::Verify(format!("MySQL user_summary has {got} rows, DuckDB {n}")));
        }
    }
    Ok(())
}

/// Runs a sync.
pub fn run(cfg: &SyncConfig) -> Result<SyncSummary, SyncError> {
    let t0 = Instant::now();
    let duck = store::open(&cfg.db, Mode::ReadOnly, &OpenOptions::default())?;
    store::require_window(&duck, &cfg.db)?;
    let ds = DuckState {
        generation: store::meta_get(&duck, "generation")?.unwrap_or_default(),
        all_ids: ingest_ids(&duck)?,
        all_counts: duck_counts(&duck, None)?,
    };
    let mut m = Mirror::connect(&cfg.url, cfg.timeout, true)?;
    let method_insert = cfg.no_local_infile || !m.local_infile_works()?;
    if method_insert && !cfg.no_local_infile {
        eprintln!(
            "note: the server refuses LOAD DATA LOCAL INFILE (local_infile is OFF); falling back to multi-row INSERT batches, which is several times slower. Enable it with SET GLOBAL local_infile = 1 (the bundled docker-compose.yml does). / 服务器未开启 local_infile，改用批量 INSERT"
        );
    }
    drop_leftovers(&mut m)?;
    let mut summary = SyncSummary {
        target: url::redact(&cfg.url),
        database: m.db.clone(),
        mode: "incremental".into(),
        reason: String::new(),
        method: if method_insert { "insert" } else { "load_data" }.into(),
        batches: vec![],
        tables: vec![],
        verified: false,
        seconds: 0.0,
    };

    // `user_summary` is staged (and verified) before anything visible changes, so that it can
    // move in together with `user_behavior` and the sync log: in the same RENAME TABLE for a full
    // sync, in the same transaction for an incremental one. A kill at any point leaves exactly
    // the old mirror or exactly the new one.
    let staged_summary =
        if cfg.tables.contains(&Table::UserSummary) { Some(stage_summary(&mut m, &duck, cfg, method_insert)?) } else { None };
    pause_hook("summary_staged");
    let have_summary = m.table_exists("user_summary")?;

    if cfg.tables.contains(&Table::UserBehavior) {
        let out = sync_behavior(&mut m, &duck, cfg, method_insert, &ds, staged_summary.is_some(), have_summary, &mut summary)?;
        summary.tables.push(out);
    } else if staged_summary.is_some() {
        // Only user_summary: swap it in alone.
        swap_in(&mut m, &[("user_summary", have_summary)])?;
    }
    if let Some((n, secs, stream_s)) = staged_summary {
        summary.tables.push(TableOut {
            table: "user_summary".into(),
            rows: n,
            mirror_rows: n,
            seconds: secs,
            rows_per_sec: n as f64 / secs.max(1e-9),
            load_seconds: stream_s,
            load_rows_per_sec: n as f64 / stream_s.max(1e-9),
        });
    }
    verify(&mut m, &duck, cfg, &ds, &summary.mode)?;
    summary.verified = true;
    drop(duck);
    record_in_duckdb(cfg, &summary, &ds.generation)?;
    summary.seconds = t0.elapsed().as_secs_f64();
    Ok(summary)
}

/// Loads DuckDB's `user_summary` into `user_summary__stage` and checks its row count. Returns
/// (rows, seconds, streaming seconds).
pub(crate) fn stage_summary(
    m: &mut Mirror,
    duck: &duckdb::Connection,
    cfg: &SyncConfig,
    insert: bool,
) -> Result<(u64, f64, f64), SyncError> {
    let t1 = Instant::now();
    let n = summary_rows(duck)? as i64;
    m.exec(&ddl(US_DDL, "user_summary__stage"))?;
    let stream_s = transfer(
        std::slice::from_mut(m),
        duck,
        &["user_summary__stage".to_string()],
        US_COLS,
        insert,
        n as u64,
        cfg.progress,
        Box::new(produce_summary),
    )?;
    let got = m.count("user_summary__stage")?;
    if got != n as u64 {
        return Err(SyncError::Verify(format!("staged user_summary has {got} rows, DuckDB {n}")));
    }
    Ok((n as u64, t1.elapsed().as_secs_f64(), stream_s))
}

/// Swaps `<table>__stage` in for each `(table, exists)` with one atomic `RENAME TABLE`, then drops
/// the old tables.
pub(crate) fn swap_in(m: &mut Mirror, tables: &[(&str, bool)]) -> Result<(), SyncError> {
    let mut renames = vec![];
    for (t, exists) in tables {
        if *exists {
            renames.push(format!("{t} TO {t}__old"));
        }
        renames.push(format!("{t}__stage TO {t}"));
    }
    pause_hook("before_rename");
    m.exec(&format!("RENAME TABLE {}", renames.join(", ")))?;
    pause_hook("after_rename");
    let olds: Vec<String> = tables.iter().map(|(t, _)| format!("{t}__old")).collect();
    m.exec(&format!("DROP TABLE IF EXISTS {}", olds.join(", ")))?;
    Ok(())
}

/// Which tables a full sync swaps in, and which of them exist already.
pub(crate) struct Swap {
    have_ub: bool,
    have_log: bool,
    /// `user_summary__stage` is ready and moves in too.
    summary: bool,
    have_summary: bool,
}

/// A full sync of `user_behavior`: stage, verify, then swap it, the sync log and the staged
/// `user_summary` in together. Returns the streaming seconds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn full_behavior(
    m: &mut Mirror,
    duck: &duckdb::Connection,
    cfg: &SyncConfig,
    insert: bool,
    expected: [u64; 5],
    generation: &str,
    all_ids: &[u32],
    swap: Swap,
) -> Result<f64, SyncError> {
    // The stage is partitioned by user_id into `streams` parts. With LOAD DATA each part is
    // loaded on its own connection into its own table, the loads in parallel (the server
    // then works on several tables at once), the tables are indexed in parallel, and each is
    // swapped into its partition with EXCHANGE PARTITION, which checks that every row belongs
    // there. The INSERT fallback sends one stream to the stage itself, indexes in place.
    m.exec(&format!("{} PARTITION BY HASH (user_id) PARTITIONS {}", ddl(UB_DDL, "user_behavior__stage"), cfg.streams))?;
    m.exec(&ddl(UB_INDEXES, "user_behavior__stage"))?;
    let tables: Vec<String> =
        if insert { vec!["user_behavior__stage".into()] } else { (0..cfg.streams).map(|k| format!("user_behavior__stage_p{k}")).collect() };
    let mut conns = Vec::with_capacity(tables.len());
    for t in &tables {
        if !insert {
            m.exec(&ddl(UB_DDL, t))?;
        }
        conns.push(Mirror::connect(&cfg.url, cfg.timeout, false)?);
    }
    let load_s = transfer(
        &mut conns,
        duck,
        &tables,
        UB_COLS,
        insert,
        expected[0],
        cfg.progress,
        Box::new(|c, tx, s| produce_behavior(c, None, tx, s)),
    )?;
    // The per-stream tables get their indexes after the load, each built by one sort on its own
    // connection, all at once: 10 M rows measured 236-240k rows/s this way against 217-232k with
    // the indexes maintained row by row during the load (2-core machine, MariaDB 10.11).
    if !insert {
        let t1 = Instant::now();
        let res: Vec<Result<(), SyncError>> = std::thread::scope(|sc| {
            let hs: Vec<_> = conns.iter_mut().zip(&tables).map(|(c, t)| sc.spawn(move || c.exec(&ddl(UB_INDEXES, t)))).collect();
            hs.into_iter().map(|h| h.join().expect("index thread")).collect()
        });
        for r in res {
            r?;
        }
        crate::domain::trace_here(&format!("indexes built in {:.2} s", t1.elapsed().as_secs_f64()));
    }
    drop(conns);
    pause_hook("after_stream");
    if !insert {
        for (k, t) in tables.iter().enumerate() {
            m.exec(&format!("ALTER TABLE user_behavior__stage EXCHANGE PARTITION p{k} WITH TABLE `{t}`"))?;
            m.exec(&format!("DROP TABLE `{t}`"))?;
        }
        crate::domain::trace_here("partitions exchanged");
    }
    crate::domain::trace_here(&format!("user_behavior streamed in {load_s:.2} s"));
    let got = m.behavior_counts("user_behavior__stage")?;
    crate::domain::trace_here("stage verified");
    if got != expected {
        return Err(SyncError::Verify(format!(
            "staged user_behavior counts {got:?} (total, pv, fav, cart, buy) differ from DuckDB's {expected:?}"
        )));
    }
    m.exec(&ddl(LOG_DDL, "ecomm_sync_log__stage"))?;
    if !all_ids.is_empty() {
        let per = batch_rows(duck)?;
        let values: Vec<String> = per.iter().map(|(id, n)| format!("('{generation}', {id}, {n}, UTC_TIMESTAMP())")).collect();
        m.exec(&format!("INSERT INTO ecomm_sync_log__stage VALUES {}", values.join(",")))?;
    }
    let mut tables = vec![("user_behavior", swap.have_ub), ("ecomm_sync_log", swap.have_log)];
    if swap.summary {
        tables.push(("user_summary", swap.have_summary));
    }
    swap_in(m, &tables)?;
    Ok(load_s)
}

/// An incremental sync: the batches `new_ids` go to `user_behavior__inc`, are verified, then move
/// into `user_behavior` with their log rows, and the staged `user_summary` replaces the mirror's
/// rows, in one InnoDB transaction. Returns (rows sent, streaming seconds).
pub(crate) fn incremental_behavior(
    m: &mut Mirror,
    duck: &duckdb::Connection,
    cfg: &SyncConfig,
    insert: bool,
    generation: &str,
    new_ids: Vec<u32>,
    with_summary: bool,
) -> Result<(u64, f64), SyncError> {
    if new_ids.is_empty() {
        // The behaviour mirror is current; the staged summary (of the same data) moves in alone.
        if with_summary {
            swap_in(m, &[("user_summary", true)])?;
        }
        return Ok((0, 0.0));
    }
    let expected = duck_counts(duck, Some(&new_ids))?;
    m.exec(&ddl(UB_DDL, "user_behavior__inc"))?;
    let ids = new_ids.clone();
    let stream_s = transfer(
        std::slice::from_mut(m),
        duck,
        &["user_behavior__inc".to_string()],
        UB_COLS,
        insert,
        expected[0],
        cfg.progress,
        Box::new(move |c, tx, s| produce_behavior(c, Some(ids), tx, s)),
    )?;
    let got = m.behavior_counts("user_behavior__inc")?;
    if got != expected {
        return Err(SyncError::Verify(format!("staged batch counts {got:?} differ from DuckDB's {expected:?}")));
    }
    let per = batch_rows(duck)?;
    let values: Vec<String> =
        per.iter().filter(|(id, _)| new_ids.contains(id)).map(|(id, n)| format!("('{generation}', {id}, {n}, UTC_TIMESTAMP())")).collect();
    pause_hook("before_commit");
    m.exec("START TRANSACTION")?;
    m.exec(&format!("INSERT INTO user_behavior {UB_COLS} SELECT {} FROM user_behavior__inc", select_list(UB_COLS)))?;
    m.exec(&format!("INSERT INTO ecomm_sync_log VALUES {}", values.join(",")))?;
    if with_summary {
        m.exec("DELETE FROM user_summary")?;
        m.exec(&format!("INSERT INTO user_summary {US_COLS} SELECT {} FROM user_summary__stage", select_list(US_COLS)))?;
    }
    pause_hook("in_commit");
    m.exec("COMMIT")?;
    pause_hook("after_commit");
    m.exec("DROP TABLE IF EXISTS user_behavior__inc, user_summary__stage")?;
    Ok((expected[0], stream_s))
}

/// Keeps a sync log in the DuckDB file too (`mysql_sync_log`).
pub(crate) fn record_in_duckdb(cfg: &SyncConfig, s: &SyncSummary, generation: &str) -> Result<(), SyncError> {
    let conn = store::open(&cfg.db, Mode::ReadWrite, &OpenOptions::default())?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS mysql_sync_log (target VARCHAR, generation VARCHAR, mode VARCHAR, method VARCHAR, batches VARCHAR, rows UBIGINT, seconds DOUBLE, synced_at VARCHAR)",
    )?;
    let rows: u64 = s.tables.iter().map(|t| t.rows).sum();
    conn.execute(
        "INSERT INTO mysql_sync_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        duckdb::params![
            s.target,
            generation,
            s.mode,
            s.method,
            s.batches.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(","),
            rows,
            t_secs(s),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        ],
    )?;
    Ok(())
}

pub(crate) fn t_secs(s: &SyncSummary) -> f64 {
    s.tables.iter().map(|t| t.seconds).sum()
}

/// Test hook: with `ECOMM_TEST_SYNC_PAUSE=<point>:<marker file>`, writes the marker and sleeps at that point.
pub(crate) fn pause_hook(point: &str) {
    if let Ok(v) = std::env::var("ECOMM_TEST_SYNC_PAUSE") {
        if let Some((p, marker)) = v.split_once(':') {
            if p == point {
                let _ = std::fs::write(marker, point);
                std::thread::sleep(std::time::Duration::from_secs(120));
            }
        }
    }
}
