//! Settings from `Leptos.toml` (the `[app]` and `[store]` tables), each overridable by an
//! environment variable. cargo-leptos's build settings live in Cargo.toml, not here.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    /// A `tracing` filter, e.g. `info` or `leadboard=debug,info`.
    pub log: String,
    /// Mark the session cookie `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    /// Seed demo accounts and leads into an empty store on start.
    pub demo_data: bool,
    pub store: StoreConfig,
}

#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite { path: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    app: AppSection,
    #[serde(default)]
    store: StoreSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AppSection {
    site_addr: Option<String>,
    log: Option<String>,
    secure_cookies: Option<bool>,
    demo_data: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    kind: Option<String>,
    #[serde(default)]
    sqlite: SqliteSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SqliteSection {
    path: Option<String>,
}

/// The environment variable wins over the file, the file over the default.
fn pick(var: &'static str, file: Option<String>, default: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.is_empty()).or(file).unwrap_or_else(|| default.to_owned())
}

fn parse_bool(name: &'static str, s: &str) -> Result<bool, ConfigError> {
    match s {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Invalid { name, message: format!("expected true or false, got {s:?}") }),
    }
}

impl Config {
    /// Reads `LEADBOARD_CONFIG` (default `Leptos.toml`; a missing default file means defaults).
    pub fn load() -> Result<Self, ConfigError> {
        match std::env::var("LEADBOARD_CONFIG") {
            Ok(path) => Self::from_file(Path::new(&path), true),
            Err(_) => Self::from_file(Path::new("Leptos.toml"), false),
        }
    }

    fn from_file(path: &Path, required: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Read { path: path.into(), source }),
        };
        let file: File = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.into(), source: Box::new(source) })?;
        Self::resolve(file)
    }

    fn resolve(file: File) -> Result<Self, ConfigError> {
        let addr = pick("LEADBOARD_SITE_ADDR", file.app.site_addr, "127.0.0.1:3000");
        let site_addr = addr.parse().map_err(|e| ConfigError::Invalid {
            name: "site_addr (LEADBOARD_SITE_ADDR)",
            message: format!("{addr:?}: {e}"),
        })?;
        let bool_setting = |var, file: Option<bool>, default: bool| {
            parse_bool(var, &pick(var, file.map(|b| b.to_string()), &default.to_string()))
        };
        let store = match pick("LEADBOARD_STORE", file.store.kind, "sqlite").as_str() {
            "sqlite" => StoreConfig::Sqlite {
                path: pick("LEADBOARD_SQLITE_PATH", file.store.sqlite.path, "data/leadboard.db").into(),
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "store.kind (LEADBOARD_STORE)",
                    message: format!("unknown store {other:?} (expected \"sqlite\")"),
                })
            }
        };
        Ok(Config {
            site_addr,
            log: pick("LEADBOARD_LOG", file.app.log, "info"),
            secure_cookies: bool_setting("LEADBOARD_SECURE_COOKIES", file.app.secure_cookies, false)?,
            demo_data: bool_setting("LEADBOARD_DEMO_DATA", file.app.demo_data, true)?,
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_and_typos_are_rejected() {
        let file: File = toml::from_str("[app]\nsite_addr = \"127.0.0.1:4000\"\n[store.sqlite]\npath = \"x.db\"").unwrap();
        let cfg = Config::resolve(file).unwrap();
        assert_eq!(cfg.site_addr.port(), 4000);
        assert!(matches!(cfg.store, StoreConfig::Sqlite { ref path } if path == Path::new("x.db")));
        assert!(toml::from_str::<File>("[app]\nsite_adr = \"x\"").is_err());
        let bad: File = toml::from_str("[app]\nsite_addr = \"nowhere\"").unwrap();
        assert!(Config::resolve(bad).is_err());
    }
}
