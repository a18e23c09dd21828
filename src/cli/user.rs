//! `ecomm user`'s arguments.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `ecomm user`
#[derive(Args, Debug)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UserAction,
}

/// `ecomm user` actions.
#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Add a user, or change an existing user's role and password.
    Add {
        /// User name.
        name: String,
        /// viewer: the dashboard; analyst: also insights and PDF export; admin: also users.
        #[arg(long, value_enum)]
        role: crate::appdb::accounts::Role,
        /// The DuckDB file whose dashboard the account is for (accounts live beside it).
        #[arg(long, default_value = "local.duckdb")]
        db: PathBuf,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and roles.
    List {
        /// The DuckDB file.
        #[arg(long, default_value = "local.duckdb")]
        db: PathBuf,
    },
    /// Remove a user and end their sessions.
    Remove {
        /// User name.
        name: String,
        /// The DuckDB file.
        #[arg(long, default_value = "local.duckdb")]
        db: PathBuf,
    },
}
