//! `ecomm alert add|list|remove`: alert rules in the app database beside the DB (see
//! `crate::alert`).

use crate::alert;
use crate::appdb::alerts as rows;
use crate::appdb::{path_for, AppDb};
use crate::cli::{AlertAction, AlertArgs, AlertFormat};
use crate::domain::alert::{Destination, Rule};
use crate::i18n::{prose, Lang};
use crate::store::OpenOptions;
use anyhow::{bail, Result};
use std::path::Path;

/// Rules belong to a DB: refuses a path where there is none.
fn require_db(db: &Path) -> Result<()> {
    if !db.exists() {
        bail!(
            "no database at {}: alert rules belong to a DB; run `ecomm ingest FILE --db {}` first / 数据库不存在",
            db.display(),
            db.display()
        );
    }
    Ok(())
}

fn app(db: &Path) -> Result<AppDb> {
    require_db(db)?;
    Ok(AppDb::open(&path_for(db))?)
}

/// Runs `ecomm alert`.
pub fn run(a: AlertArgs) -> Result<()> {
    match a.action {
        AlertAction::Add { name, metric, condition, over, destination, db, format, lang } => {
            let rule = Rule { name, metric, condition, over, destination };
            let open = OpenOptions { memory_limit: db.memory_limit.clone(), threads: db.threads };
            add(&db.db, &open, &rule, format, lang)
        }
        AlertAction::List { db, format, firings } => list(&db.db, format, firings),
        AlertAction::Remove { name, db, lang } => {
            if !rows::remove(&app(&db.db)?, &name)? {
                bail!("no alert rule named '{name}' in {}; `ecomm alert list` shows them / 没有该告警规则", db.db.display());
            }
            eprintln!("{}", prose::fill(lang, &prose::ALERT_REMOVED, &[("rule", name)]));
            Ok(())
        }
    }
}

fn add(db: &Path, open: &OpenOptions, rule: &Rule, format: AlertFormat, lang: Lang) -> Result<()> {
    require_db(db)?;
    if let Destination::File(p) = &rule.destination {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!("--to file:{}: the folder {} does not exist; create it first / 目录不存在", p.display(), parent.display());
        }
    }
    let value = alert::add(db, open, rule, &whoami())?;
    match format {
        AlertFormat::Json => crate::outln!("{}", serde_json::json!({ "name": rule.name, "value": value })),
        AlertFormat::Text => {
            let args = [
                ("rule", rule.name.clone()),
                ("metric", rule.metric.to_string()),
                ("condition", rule.condition.to_string()),
                ("over", rule.over.to_string()),
                ("destination", rule.destination.redacted()),
                ("value", value.map(|v| v.to_string()).unwrap_or_else(|| "—".into())),
            ];
            crate::outln!("{}", prose::fill(lang, &prose::ALERT_ADDED, &args))
        }
    }
    Ok(())
}

/// The local account name, recorded as a rule's maker.
fn whoami() -> String {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into())
}

fn list(db: &Path, format: AlertFormat, n: u32) -> Result<()> {
    let app = app(db)?;
    let rules = rows::rules(&app)?;
    let firings = rows::firings(&app, n)?;
    match format {
        AlertFormat::Json => {
            let firings: Vec<_> = firings
                .iter()
                .map(|f| {
                    let mut v = serde_json::to_value(f).unwrap_or_default();
                    v["payload"] = serde_json::from_str(&f.payload).unwrap_or_default();
                    v
                })
                .collect();
            crate::outln!("{}", serde_json::to_string_pretty(&serde_json::json!({ "rules": rules, "firings": firings }))?)
        }
        AlertFormat::Text => {
            if rules.is_empty() {
                crate::outln!("no alert rules; add one with `ecomm alert add` / 尚无告警规则");
            }
            for r in &rules {
                let value = r.last_value.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
                crate::outln!("{}  {} {} ({}) → {}  [{}, value {value}]", r.name, r.metric, r.condition, r.over, r.destination, r.state);
            }
            for f in &firings {
                let text =
                    serde_json::from_str::<serde_json::Value>(&f.payload).ok().and_then(|p| p["text"]["en"].as_str().map(str::to_string));
                let error = f.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                crate::outln!(
                    "#{} {} {}: {} [{}, {} attempts{error}]",
                    f.id,
                    f.fired_at,
                    f.rule,
                    text.unwrap_or_default(),
                    f.status,
                    f.attempts
                );
            }
        }
    }
    Ok(())
}
