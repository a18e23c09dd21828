//! `ecomm user add|list|remove`: dashboard accounts in the app database beside the DB.

use crate::appdb::accounts;
use crate::appdb::{path_for, AppDb};
use crate::cli::{UserAction, UserArgs};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};

/// Reads a line from stdin with the terminal's echo off (when it is a terminal).
fn read_password(prompt: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        // SAFETY: fd 0 is a terminal; `old` is a valid out-pointer and restored below.
        unsafe {
            libc::tcgetattr(0, &mut old);
            let mut quiet = old;
            quiet.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &quiet);
        }
    }
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    if tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &old) };
        eprintln!();
    }
    r.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs `ecomm user`.
pub fn run(a: UserArgs) -> Result<()> {
    let open = |db: &std::path::Path| -> Result<AppDb> {
        if !db.exists() {
            bail!("no database at {}: accounts belong to a DB; run `ecomm ingest FILE --db {}` first", db.display(), db.display());
        }
        AppDb::open(&path_for(db)).with_context(|| format!("cannot open {}", path_for(db).display()))
    };
    match a.action {
        UserAction::Add { name, role, db, password_stdin } => {
            let app = open(&db)?;
            let pw = if password_stdin {
                read_password("")?
            } else {
                let p1 = read_password(&format!("password for {name} / 密码: "))?;
                let p2 = read_password("again / 再输一次: ")?;
                if p1 != p2 {
                    bail!("the two passwords differ / 两次输入的密码不一致");
                }
                p1
            };
            accounts::add_user(&app, &name, role, &pw, None)?;
            crate::outln!("user {name} ({}) saved in {}", role.as_str(), path_for(&db).display());
        }
        UserAction::List { db } => {
            for (name, role) in accounts::list_users(&open(&db)?)? {
                crate::outln!("{name}\t{}", role.as_str());
            }
        }
        UserAction::Remove { name, db } => {
            if !accounts::remove_user(&open(&db)?, &name)? {
                bail!("no user {name}");
            }
            crate::outln!("user {name} removed");
        }
    }
    Ok(())
}
