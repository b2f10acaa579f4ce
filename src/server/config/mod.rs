//! Settings, layered: defaults, then the `[app]`, `[store]` and `[security]` tables of
//! `Leptos.toml` (or the file `LEADBOARD_CONFIG` names), then `LEADBOARD_*` variables (`env`),
//! merged by figment and deserialized once, so each setting is spelled once: its field here.
//! Values are checked while they are read (`values`), and an error names the key, the variable
//! and where the value came from. cargo-leptos's build settings live in Cargo.toml.

mod appwrite;
mod env;
mod values;

pub use appwrite::{AppwriteConfig, AssigneeForm, LeadsMapping, OptionalField};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub app: AppConfig,
    pub store: StoreConfig,
    pub security: SecurityConfig,
}

/// `[app]`: the site itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub site_addr: SocketAddr,
    /// A `tracing` filter, e.g. `info` or `leadboard=debug,info`.
    pub log: String,
    /// Mark the session cookie `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    /// Seed demo accounts and leads into an empty store on start.
    pub demo_data: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            site_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            log: "info".into(),
            secure_cookies: false,
            demo_data: true,
        }
    }
}

/// `[security]`: rate limits, counted in memory per replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Failed sign-ins per account within `login_window_secs` before it is refused (429).
    #[serde(deserialize_with = "values::positive")]
    pub login_failures_per_account: u32,
    /// Failed sign-ins per client IP within `login_window_secs`.
    #[serde(deserialize_with = "values::positive")]
    pub login_failures_per_ip: u32,
    #[serde(deserialize_with = "values::positive")]
    pub login_window_secs: u64,
    /// Claim attempts per user per minute.
    #[serde(deserialize_with = "values::positive")]
    pub claims_per_minute: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            login_window_secs: 900,
            claims_per_minute: 120,
        }
    }
}

/// Where leads live.
// Built once at start-up: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite {
        path: PathBuf,
    },
    /// An Appwrite project (`store.kind = "appwrite"`, the `[store.appwrite]` table).
    Appwrite(AppwriteConfig),
}

impl StoreConfig {
    pub fn kind(&self) -> StoreKind {
        match self {
            StoreConfig::Sqlite { .. } => StoreKind::Sqlite,
            StoreConfig::Appwrite(_) => StoreKind::Appwrite,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum StoreKind {
    Sqlite,
    Appwrite,
}

/// The settings as the layers spell them.
#[derive(Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    app: AppConfig,
    store: StoreSection,
    security: SecurityConfig,
}

#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreSection {
    kind: StoreKind,
    sqlite: SqliteSection,
    #[serde(skip_serializing)]
    appwrite: Option<AppwriteConfig>,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self { kind: StoreKind::Sqlite, sqlite: SqliteSection::default(), appwrite: None }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SqliteSection {
    path: PathBuf,
}

impl Default for SqliteSection {
    fn default() -> Self {
        Self { path: "data/leadboard.db".into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// `var`: the environment variable that sets `key`, where one does.
    #[error("{key}{}: {message}{origin}", var.as_ref().map(|v| format!(" ({v})")).unwrap_or_default())]
    Invalid { key: String, var: Option<String>, message: String, origin: String },
}

impl ConfigError {
    fn from_figment(e: figment::Error) -> Self {
        let e = e.into_iter().next().expect("a figment error holds at least one error");
        let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
        let origin = e
            .metadata
            .as_ref()
            .map(|m| match &m.source {
                Some(source) => format!(" (in {source})"),
                None => format!(" (from the {})", m.name),
            })
            .unwrap_or_default();
        let key = if path.is_empty() { "settings".to_owned() } else { path.join(".") };
        // An unknown key has no variable; naming one would suggest it exists.
        let var = (!matches!(e.kind, figment::error::Kind::UnknownField(..))).then(|| env::var_name(&path));
        ConfigError::Invalid { var, key, message: e.kind.to_string(), origin }
    }
}

/// The keys of a flat section, from its defaults.
fn keys_of(section: &impl Serialize) -> Vec<String> {
    match figment::value::Value::serialize(section) {
        Ok(figment::value::Value::Dict(_, d)) => d.into_keys().collect(),
        _ => Vec::new(),
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
        if !required && !path.exists() {
            return Self::from_layers(Toml::string(""));
        }
        if let Err(source) = std::fs::metadata(path) {
            return Err(ConfigError::Read { path: path.into(), source });
        }
        Self::from_layers(Toml::file_exact(path))
    }

    /// Defaults, then `file`, then the environment.
    fn from_layers(file: impl figment::Provider) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let environment =
            env::Environment::new(vec![("app", keys_of(&defaults.app)), ("security", keys_of(&defaults.security))]);
        let settings: Settings = Figment::from(Serialized::defaults(defaults))
            .merge(file)
            .merge(environment)
            .extract_lossy()
            .map_err(ConfigError::from_figment)?;
        let store = match (settings.store.kind, settings.store.appwrite) {
            (StoreKind::Sqlite, _) => StoreConfig::Sqlite { path: settings.store.sqlite.path },
            (StoreKind::Appwrite, Some(aw)) => StoreConfig::Appwrite(aw),
            (StoreKind::Appwrite, None) => return Err(ConfigError::Invalid {
                key: "store.appwrite".into(),
                var: Some("LEADBOARD_APPWRITE_*".into()),
                message:
                    "store.kind = \"appwrite\" needs the Appwrite settings (see the README's \"Running on Appwrite\")"
                        .into(),
                origin: String::new(),
            }),
        };
        Ok(Config { app: settings.app, store, security: settings.security })
    }
}

#[cfg(test)]
mod tests;
