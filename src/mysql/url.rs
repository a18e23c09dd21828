//! Where the MySQL URL comes from (flag, then `ECOMM_MYSQL_URL`, then a config file) and how it is shown.

use std::path::PathBuf;

/// The environment variable holding the URL.
pub const ENV: &str = "ECOMM_MYSQL_URL";

/// Config files searched, in order: `./ecomm.toml`, `$XDG_CONFIG_HOME/ecomm/config.toml`,
/// `~/.config/ecomm/config.toml`. The key is `mysql_url = "mysql://..."`.
pub fn config_files() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("ecomm.toml")];
    if let Ok(x) = std::env::var("XDG_CONFIG_HOME") {
        v.push(PathBuf::from(x).join("ecomm/config.toml"));
    }
    if let Ok(h) = std::env::var("HOME") {
        v.push(PathBuf::from(h).join(".config/ecomm/config.toml"));
    }
    v
}

/// Reads `mysql_url = "..."` from a config file's text.
pub fn from_config_text(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        if k.trim() != "mysql_url" {
            return None;
        }
        Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// The URL and where it came from.
pub fn resolve(flag: Option<String>) -> Result<(String, String), String> {
    if let Some(u) = flag {
        return Ok((u, "--mysql".into()));
    }
    if let Ok(u) = std::env::var(ENV) {
        if !u.trim().is_empty() {
            return Ok((u, ENV.into()));
        }
    }
    for f in config_files() {
        if let Ok(text) = std::fs::read_to_string(&f) {
            if let Some(u) = from_config_text(&text) {
                return Ok((u, f.display().to_string()));
            }
        }
    }
    Err(format!(
        "no MySQL URL: pass --mysql mysql://user:pass@127.0.0.1:3306/ecommerce_analysis, set {ENV}, or put mysql_url = \"...\" in ./ecomm.toml / 请提供 MySQL 连接地址"
    ))
}

/// The URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.rsplit_once('@') {
            let user = creds.split(':').next().unwrap_or("");
            let masked = if creds.contains(':') { format!("{user}:***") } else { user.to_string() };
            return format!("{scheme}://{masked}@{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn redacts_and_reads_config() {
        assert_eq!(redact("mysql://bob:s3cr@t@db:3306/x"), "mysql://bob:***@db:3306/x");
        assert_eq!(redact("mysql://root@127.0.0.1/x"), "mysql://root@127.0.0.1/x");
        assert_eq!(from_config_text("# c\nmysql_url = \"mysql://a:b@h/d\"\n"), Some("mysql://a:b@h/d".into()));
    }
}
