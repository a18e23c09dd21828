//! Dashboard accounts: users with a role and an argon2id password hash, and login sessions,
//! stored in the app database ([`crate::appdb::AppDb`]).
//!
//! Roles, each including the one before: `viewer` (the dashboard and its data), `analyst` (also
//! runs insights and exports the PDF), `admin` (also manages users).
//!
//! Sessions: a login returns a random 256-bit token (the cookie); the app DB keeps only its
//! SHA-256, so a copy of the file opens no session. Changing an account's password or role ends
//! its sessions (all of them from the CLI; all but the caller's own from the dashboard).

use super::AppDb;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

/// What the app DB stores of a session token.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the dashboard.
    Viewer,
    /// Also runs insights and exports PDFs.
    Analyst,
    /// Also manages users.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "analyst" => Role::Analyst,
            _ => Role::Viewer,
        }
    }
}

/// Account errors.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The app DB.
    #[error("app database: {0}")]
    Db(#[from] rusqlite::Error),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

/// Session lifetime.
pub const SESSION_SECS: i64 = 12 * 3600;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Adds (or replaces the password and role of) a user. Replacing ends the user's sessions, except
/// the one whose token is `keep` (the caller's own, when an admin changes their own account).
pub fn add_user(app: &AppDb, name: &str, role: Role, password: &str, keep: Option<&str>) -> Result<(), AccountError> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c)) {
        return Err(AccountError::Invalid(format!("user name '{name}': use 1-64 letters, digits, '.', '_', '-' or '@'")));
    }
    if password.chars().count() < 8 {
        return Err(AccountError::Invalid("the password needs at least 8 characters / 密码至少 8 个字符".into()));
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| AccountError::Invalid(e.to_string()))?.to_string();
    app.conn().execute(
        "INSERT INTO users VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
        params![name, role.as_str(), hash, chrono::Utc::now().to_rfc3339()],
    )?;
    app.conn().execute(
        "DELETE FROM login_sessions WHERE name = ?1 AND token_hash <> ?2",
        params![name, keep.map(token_hash).unwrap_or_default()],
    )?;
    Ok(())
}

/// Removes a user and their sessions; false if there was no such user.
pub fn remove_user(app: &AppDb, name: &str) -> Result<bool, AccountError> {
    app.conn().execute("DELETE FROM login_sessions WHERE name = ?1", [name])?;
    Ok(app.conn().execute("DELETE FROM users WHERE name = ?1", [name])? > 0)
}

/// (name, role) of every user, by name.
pub fn list_users(app: &AppDb) -> Result<Vec<(String, Role)>, AccountError> {
    let mut st = app.conn().prepare("SELECT name, role FROM users ORDER BY name")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, Role::parse(&r.get::<_, String>(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks a password; on success opens a session and returns its token and the role.
pub fn login(app: &AppDb, name: &str, password: &str) -> Result<Option<(String, Role)>, AccountError> {
    let row: Option<(String, String)> =
        app.conn().query_row("SELECT role, password_hash FROM users WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let Some((role, hash)) = row else {
        // Same work as a real check, so a missing user is not faster to detect.
        let _ = Argon2::default().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng));
        return Ok(None);
    };
    let parsed = PasswordHash::new(&hash).map_err(|e| AccountError::Invalid(e.to_string()))?;
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Ok(None);
    }
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    app.conn().execute("DELETE FROM login_sessions WHERE expires_at < ?1", [now()])?;
    app.conn().execute("INSERT INTO login_sessions VALUES (?1, ?2, ?3)", params![token_hash(&token), name, now() + SESSION_SECS])?;
    Ok(Some((token, Role::parse(&role))))
}

/// The user and role of a live session.
pub fn session(app: &AppDb, token: &str) -> Result<Option<(String, Role)>, AccountError> {
    Ok(app
        .conn()
        .query_row(
            "SELECT s.name, u.role FROM login_sessions s JOIN users u ON u.name = s.name WHERE s.token_hash = ?1 AND s.expires_at >= ?2",
            params![token_hash(token), now()],
            |r| Ok((r.get::<_, String>(0)?, Role::parse(&r.get::<_, String>(1)?))),
        )
        .optional()?)
}

/// Ends a session.
pub fn logout(app: &AppDb, token: &str) -> Result<(), AccountError> {
    app.conn().execute("DELETE FROM login_sessions WHERE token_hash = ?1", [token_hash(token)])?;
    Ok(())
}
