//! Tables of a MySQL/MariaDB or PostgreSQL server: `mysql://user:pass@host:3306/db?table=t` or
//! `postgres://user@host:5432/db?table=t` (or `&query=SELECT …` instead of `table=`). The table is
//! read inside one read-only transaction (MySQL `WITH CONSISTENT SNAPSHOT`, PostgreSQL
//! `REPEATABLE READ`), so the rows, their count and their latest time all come from one snapshot,
//! and streamed row by row (never held whole). Only the five mapped columns are selected, each
//! converted by the server to a value the mapping reads (integers, floats, texts; a `TIMESTAMP`
//! / `timestamptz` as an instant, a `DATETIME` / `timestamp` / `date` as wall-clock time in the
//! analysis zone).
//!
//! Idempotence: a table's key is a hash of its URL without the password; its state is its row
//! count and the latest value of its time column (and of its primary key, when that is one
//! integer column). Reading a table whose state is the one last loaded is skipped; a grown table
//! loads only the rows past the last primary key (or, without one, at or after the last time:
//! rows of that very second are offered again and the duplicate rule rejects the ones already
//! loaded). ecomm treats a table as append-only; after edits, reload it with `--replace`.
//! `line` in the rejects file is the row's primary key, or its 1-based position in the read.
//!
//! The SQL here is the source's, never the store's: it reads the user's server, nothing else.

use super::records::{render, Records};
use crate::domain::mapping::Value;
use crate::ingest::IngestError;
use std::borrow::Cow;

/// A table URL, parsed.
#[derive(Clone, Debug)]
pub struct TableUrl {
    /// `mysql` or `postgres`.
    pub engine: Engine,
    /// The connection URL without `table`/`query`.
    conn: String,
    /// What to read: a table name or a query.
    what: What,
    /// The URL as shown and hashed: password removed.
    pub shown: String,
}

/// The server kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// MySQL or MariaDB.
    Mysql,
    /// PostgreSQL.
    Postgres,
}

#[derive(Clone, Debug)]
enum What {
    Table(String),
    Query(String),
}

/// The state of a table in one snapshot (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    rows: i64,
    max_time: Option<String>,
    max_key: Option<i64>,
}

impl State {
    /// The text stored as the ingest log's content hash.
    pub fn text(&self) -> String {
        format!(
            "rows={};max_time={};max_key={}",
            self.rows,
            self.max_time.as_deref().unwrap_or(""),
            self.max_key.map(|k| k.to_string()).unwrap_or_default()
        )
    }

    /// Parses [`State::text`].
    pub fn parse(s: &str) -> Option<State> {
        let mut st = State { rows: 0, max_time: None, max_key: None };
        for part in s.split(';') {
            let (k, v) = part.split_once('=')?;
            match k {
                "rows" => st.rows = v.parse().ok()?,
                "max_time" => st.max_time = (!v.is_empty()).then(|| v.to_string()),
                "max_key" => st.max_key = if v.is_empty() { None } else { Some(v.parse().ok()?) },
                _ => return None,
            }
        }
        Some(st)
    }
}

impl TableUrl {
    /// Whether an input names a table rather than a file.
    pub fn is_url(s: &str) -> bool {
        let l = s.to_ascii_lowercase();
        ["mysql://", "mariadb://", "postgres://", "postgresql://"].iter().any(|p| l.starts_with(p))
    }

    /// Parses `s` (see the module doc).
    pub fn parse(s: &str) -> Result<TableUrl, IngestError> {
        let bad = |why: &str| IngestError::Input(format!("{}: {why} / 数据库地址无效", redact(s)));
        let mut url = url::Url::parse(s).map_err(|e| bad(&format!("not a URL ({e})")))?;
        let engine = match url.scheme() {
            "mysql" | "mariadb" => Engine::Mysql,
            _ => Engine::Postgres,
        };
        if engine == Engine::Mysql && url.scheme() == "mariadb" {
            url.set_scheme("mysql").map_err(|_| bad("cannot use it as mysql://"))?;
        }
        let mut what = None;
        let mut rest: Vec<(String, String)> = Vec::new();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "table" => what = Some(What::Table(v.into_owned())),
                "query" => what = Some(What::Query(v.into_owned())),
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        let what = what.ok_or_else(|| bad("say what to read with ?table=NAME or ?query=SELECT…"))?;
        if let What::Table(t) = &what {
            if t.is_empty() || !t.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$') {
                return Err(bad("a table name is letters, digits, _ and an optional schema. prefix"));
            }
        }
        url.set_query(None);
        if !rest.is_empty() {
            url.query_pairs_mut().extend_pairs(rest);
        }
        let conn = url.to_string();
        Ok(TableUrl { engine, conn, what, shown: redact(s) })
    }

    /// The key that identifies this table across ingests.
    pub fn key(&self) -> String {
        format!("table:{:016x}", xxhash_rust::xxh3::xxh3_64(self.shown.as_bytes()))
    }

    /// The relation read: a table name (quoted) or the query as a subquery.
    fn relation(&self) -> String {
        match &self.what {
            What::Table(t) => t.split('.').map(|p| quote(self.engine, p)).collect::<Vec<_>>().join("."),
            What::Query(q) => format!("({}) AS ecomm_q", q.trim().trim_end_matches(';')),
        }
    }

    fn fail(&self, e: impl std::fmt::Display) -> IngestError {
        IngestError::Input(format!("{}: {e}; check the URL, the server and the table / 无法读取数据库表", self.shown))
    }
}

/// The URL with its password removed.
pub fn redact(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(None);
            }
            u.to_string()
        }
        Err(_) => s.split('@').next_back().unwrap_or(s).to_string(),
    }
}

/// How a selected column comes back.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Int,
    Float,
    Text,
    /// Milliseconds since 1970 of an instant.
    InstantMs,
    /// Milliseconds since 1970 of a wall-clock time.
    LocalMs,
}

/// A column of the relation: its name and how to select it.
#[derive(Clone, Debug)]
struct Column {
    name: String,
    kind: Kind,
}

fn kind_of(type_name: &str) -> Kind {
    let t = type_name.to_ascii_lowercase();
    if t.contains("int") || t == "year" || t == "bit" {
        Kind::Int
    } else if t.contains("float") || t.contains("double") || t == "real" {
        Kind::Float
    } else if t == "timestamptz" || t == "timestamp with time zone" {
        Kind::InstantMs
    } else if t.starts_with("timestamp") || t == "datetime" || t == "date" {
        Kind::LocalMs
    } else {
        Kind::Text
    }
}

/// An identifier quoted for the engine (a quote inside it doubled).
fn quote(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
        Engine::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The select expression of a column for its kind.
fn select(engine: Engine, c: &Column) -> String {
    let q = quote(engine, &c.name);
    match (engine, c.kind) {
        (Engine::Postgres, Kind::Int) => format!("{q}::int8"),
        (Engine::Postgres, Kind::Float) => format!("{q}::float8"),
        (Engine::Postgres, Kind::Text) => format!("{q}::text"),
        (Engine::Postgres, Kind::InstantMs | Kind::LocalMs) => format!("(extract(epoch from {q}) * 1000)::int8"),
        (Engine::Mysql, Kind::Int) => format!("CAST({q} AS SIGNED)"),
        (Engine::Mysql, Kind::Float) => format!("CAST({q} AS DOUBLE)"),
        (Engine::Mysql, Kind::Text) => format!("CAST({q} AS CHAR)"),
        // With the session in UTC, UNIX_TIMESTAMP reads a TIMESTAMP as the instant it is and a
        // DATETIME as if it were UTC: its wall-clock time.
        (Engine::Mysql, Kind::InstantMs | Kind::LocalMs) => format!("CAST(ROUND(UNIX_TIMESTAMP({q}) * 1000) AS SIGNED)"),
    }
}

/// A connection to either server, inside its snapshot transaction.
enum Conn {
    Mysql(mysql::Conn),
    Postgres(Box<postgres::Client>),
}

/// A row value as the server returned it.
#[derive(Debug)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Conn {
    fn open(t: &TableUrl) -> Result<Conn, IngestError> {
        Ok(match t.engine {
            Engine::Mysql => {
                let opts = mysql::Opts::from_url(&t.conn).map_err(|e| t.fail(e))?;
                let opts =
                    mysql::OptsBuilder::from_opts(opts).prefer_socket(false).tcp_connect_timeout(Some(std::time::Duration::from_secs(10)));
                let mut c = mysql::Conn::new(opts).map_err(|e| t.fail(e))?;
                use mysql::prelude::Queryable;
                c.query_drop("SET time_zone = '+00:00'").map_err(|e| t.fail(e))?;
                c.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ").map_err(|e| t.fail(e))?;
                c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY").map_err(|e| t.fail(e))?;
                Conn::Mysql(c)
            }
            Engine::Postgres => {
                let mut c = postgres::Client::connect(&t.conn, postgres::NoTls).map_err(|e| t.fail(e))?;
                c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").map_err(|e| t.fail(e))?;
                Conn::Postgres(Box::new(c))
            }
        })
    }

    /// The relation's columns with their types.
    fn columns(&mut self, t: &TableUrl) -> Result<Vec<(String, String)>, IngestError> {
        let sql = format!("SELECT * FROM {} LIMIT 0", t.relation());
        match self {
            Conn::Mysql(c) => {
                use mysql::prelude::Queryable;
                let stmt = c.prep(&sql).map_err(|e| t.fail(e))?;
                Ok(stmt.columns().iter().map(|col| (col.name_str().into_owned(), mysql_type(col.column_type()).to_string())).collect())
            }
            Conn::Postgres(c) => {
                let stmt = c.prepare(&sql).map_err(|e| t.fail(e))?;
                Ok(stmt.columns().iter().map(|col| (col.name().to_string(), col.type_().name().to_string())).collect())
            }
        }
    }

    /// Runs `sql` and calls `each` with every row's cells, streaming.
    fn stream(&mut self, t: &TableUrl, sql: &str, each: &mut dyn FnMut(Vec<Cell>) -> Result<(), IngestError>) -> Result<(), IngestError> {
        match self {
            Conn::Mysql(c) => {
                use mysql::prelude::Queryable;
                let result = c.exec_iter(sql, ()).map_err(|e| t.fail(e))?;
                for row in result {
                    let row = row.map_err(|e| t.fail(e))?;
                    let cells = row
                        .unwrap()
                        .into_iter()
                        .map(|v| match v {
                            mysql::Value::NULL => Cell::Null,
                            mysql::Value::Int(i) => Cell::Int(i),
                            mysql::Value::UInt(u) => i64::try_from(u).map_or_else(|_| Cell::Text(u.to_string()), Cell::Int),
                            mysql::Value::Float(f) => Cell::Float(f as f64),
                            mysql::Value::Double(f) => Cell::Float(f),
                            mysql::Value::Bytes(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
                            other => Cell::Text(other.as_sql(true)),
                        })
                        .collect();
                    each(cells)?;
                }
                Ok(())
            }
            Conn::Postgres(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                let mut rows = c.query_raw(sql, std::iter::empty::<&dyn postgres::types::ToSql>()).map_err(|e| t.fail(e))?;
                while let Some(row) = rows.next().map_err(|e| t.fail(e))? {
                    let cells = (0..row.len())
                        .map(|i| match row.columns()[i].type_().name() {
                            "int8" => row.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
                            "float8" => row.get::<_, Option<f64>>(i).map_or(Cell::Null, Cell::Float),
                            _ => row.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text),
                        })
                        .collect();
                    each(cells)?;
                }
                Ok(())
            }
        }
    }
}

fn mysql_type(t: mysql::consts::ColumnType) -> &'static str {
    use mysql::consts::ColumnType::*;
    match t {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR => "int",
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => "double",
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => "timestamptz",
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 | MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "datetime",
        _ => "text",
    }
}

/// The one integer primary-key column of a table, if it has one.
fn primary_key(conn: &mut Conn, t: &TableUrl, cols: &[(String, String)]) -> Option<String> {
    let What::Table(name) = &t.what else { return None };
    let (schema, table) = match name.split_once('.') {
        Some((s, n)) => (Some(s.to_string()), n.to_string()),
        None => (None, name.clone()),
    };
    let esc = |s: &str| s.replace('\'', "''");
    let sql = match conn {
        Conn::Mysql(_) => format!(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA = {} AND TABLE_NAME = '{}'",
            schema.map_or("DATABASE()".to_string(), |s| format!("'{}'", esc(&s))),
            esc(&table)
        ),
        Conn::Postgres(_) => format!(
            "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND i.indrelid = '{}'::regclass",
            esc(&t.relation())
        ),
    };
    let mut names = Vec::new();
    conn.stream(t, &sql, &mut |cells| {
        if let Some(Cell::Text(n)) = cells.into_iter().next() {
            names.push(n);
        }
        Ok(())
    })
    .ok()?;
    match names.as_slice() {
        [one] if cols.iter().any(|(n, ty)| n == one && kind_of(ty) == Kind::Int) => Some(one.clone()),
        _ => None,
    }
}

/// The table's state now (its own short snapshot), to tell whether anything changed.
pub fn probe(t: &TableUrl, time_field: &crate::domain::mapping::ColumnMap) -> Result<State, IngestError> {
    let mut conn = Conn::open(t)?;
    let plan = Plan::new(&mut conn, t, time_field)?;
    plan.state(&mut conn, t)
}

/// The columns to select, in [`crate::domain::mapping::FIELDS`] order, and the key.
struct Plan {
    cols: [Column; 5],
    key: Option<String>,
}

impl Plan {
    fn new(conn: &mut Conn, t: &TableUrl, map: &crate::domain::mapping::ColumnMap) -> Result<Plan, IngestError> {
        let cols = conn.columns(t)?;
        let names: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
        let idx = map.resolve(Some(&names), names.len()).map_err(|e| super::mapping_error(&t.shown, e, !map.is_default()))?;
        let key = primary_key(conn, t, &cols);
        let cols = idx.map(|i| Column { name: cols[i].0.clone(), kind: kind_of(&cols[i].1) });
        Ok(Plan { cols, key })
    }

    fn state(&self, conn: &mut Conn, t: &TableUrl) -> Result<State, IngestError> {
        let time = quote(t.engine, &self.cols[4].name);
        let as_text = |e: String| match t.engine {
            Engine::Mysql => format!("CAST({e} AS CHAR)"),
            Engine::Postgres => format!("({e})::text"),
        };
        let key = self.key.as_ref().map_or("NULL".to_string(), |k| format!("MAX({})", quote(t.engine, k)));
        let key = match t.engine {
            Engine::Mysql => format!("CAST({key} AS SIGNED)"),
            Engine::Postgres => format!("({key})::int8"),
        };
        let count = match t.engine {
            Engine::Mysql => "CAST(COUNT(*) AS SIGNED)",
            Engine::Postgres => "COUNT(*)::int8",
        };
        let sql = format!("SELECT {count}, {}, {key} FROM {}", as_text(format!("MAX({time})")), t.relation());
        let mut st = State { rows: 0, max_time: None, max_key: None };
        conn.stream(t, &sql, &mut |cells| {
            let mut it = cells.into_iter();
            if let Some(Cell::Int(n)) = it.next() {
                st.rows = n;
            }
            if let Some(Cell::Text(m)) = it.next() {
                st.max_time = Some(m);
            }
            if let Some(Cell::Int(k)) = it.next() {
                st.max_key = Some(k);
            }
            Ok(())
        })?;
        Ok(st)
    }

    /// The SELECT of the rows past `since`.
    fn rows_sql(&self, t: &TableUrl, since: Option<&State>) -> String {
        let mut exprs: Vec<String> = self.cols.iter().map(|c| select(t.engine, c)).collect();
        if let Some(k) = &self.key {
            exprs.push(select(t.engine, &Column { name: k.clone(), kind: Kind::Int }));
        }
        let mut sql = format!("SELECT {} FROM {}", exprs.join(", "), t.relation());
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match (since, &self.key) {
            (Some(State { max_key: Some(k), .. }), Some(key)) => sql += &format!(" WHERE {} > {k}", quote(t.engine, key)),
            (Some(State { max_time: Some(m), .. }), _) => sql += &format!(" WHERE {} >= {}", quote(t.engine, &self.cols[4].name), lit(m)),
            _ => {}
        }
        if let Some(k) = &self.key {
            sql += &format!(" ORDER BY {}", quote(t.engine, k));
        }
        sql
    }
}

fn time_ms(kind: Kind, ms: i64) -> Value<'static> {
    if kind == Kind::InstantMs {
        Value::InstantMs(ms)
    } else {
        chrono::DateTime::from_timestamp_millis(ms).map_or(Value::Null, |d| Value::Local(d.naive_utc()))
    }
}

fn value(kind: Kind, c: &Cell) -> Value<'_> {
    match (kind, c) {
        (_, Cell::Null) => Value::Null,
        (Kind::InstantMs | Kind::LocalMs, Cell::Int(ms)) => time_ms(kind, *ms),
        (Kind::InstantMs | Kind::LocalMs, Cell::Text(s)) => s.trim().parse::<i64>().map_or(Value::Null, |ms| time_ms(kind, ms)),
        (_, Cell::Int(i)) => Value::Int(*i),
        (_, Cell::Float(f)) => Value::Float(*f),
        (_, Cell::Text(s)) => Value::Text(Cow::Borrowed(s)),
    }
}

/// Reads the rows of `t` past `since` into `out`, in one snapshot; returns the snapshot's state
/// (as [`State::text`], the ingest log's content hash).
pub(crate) fn read(t: &TableUrl, since: Option<&State>, mut out: Records<'_>) -> Result<String, IngestError> {
    let mut conn = Conn::open(t)?;
    let plan = Plan::new(&mut conn, t, &out.mapping().columns)?;
    let state = plan.state(&mut conn, t)?;
    let sql = plan.rows_sql(t, since);
    let kinds = plan.cols.clone().map(|c| c.kind);
    let mut n = 0u64;
    conn.stream(t, &sql, &mut |cells| {
        n += 1;
        let line = match cells.get(5) {
            Some(Cell::Int(k)) if *k > 0 => *k as u64,
            _ => n,
        };
        let vals: [Value<'_>; 5] = std::array::from_fn(|i| value(kinds[i], &cells[i]));
        out.push(line, &vals, &|| render(&vals))
    })?;
    out.finish()?;
    Ok(state.text())
}
