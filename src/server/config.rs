//! Settings from `Leptos.toml` (the `[app]`, `[store]` and `[security]` tables), each
//! overridable by an environment variable. cargo-leptos's build settings live in Cargo.toml.

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
    pub security: SecurityConfig,
}

/// Rate limits (the `[security]` table). Counted in memory, per replica.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// Failed sign-ins per account within `login_window_secs` before it is refused (429).
    pub login_failures_per_account: u32,
    /// Failed sign-ins per client IP within `login_window_secs`.
    pub login_failures_per_ip: u32,
    pub login_window_secs: u64,
    /// Claim attempts per user per minute.
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

/// A secret setting (API key, password): kept out of Debug output and logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, to put into a request header or body. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to reach an Appwrite project. Every key has a `LEADBOARD_APPWRITE_*` variable.
#[derive(Debug, Clone)]
pub struct AppwriteConfig {
    /// The REST endpoint, e.g. `https://cloud.appwrite.io/v1`.
    pub endpoint: String,
    /// The Realtime endpoint; derived from `endpoint` (`wss://HOST/v1/realtime`) unless set.
    pub realtime_endpoint: String,
    pub project: String,
    /// A server API key (see the README for its scopes). Stays on the server.
    pub api_key: Secret,
    /// The database holding Leadboard's collections (default `leadboard`).
    pub database: String,
    /// The service user the Realtime bridge signs in as (an API key has no rights on the socket).
    pub service_user_id: String,
    pub service_email: String,
    pub service_password: Secret,
    /// The Appwrite team whose members are Leadboard managers (default `leadboard-managers`).
    pub managers_team: String,
    /// The email domain of users created from Leadboard (`<username>@<domain>`): Appwrite signs
    /// users in by email. Users made in Appwrite keep their own addresses.
    pub email_domain: String,
    /// How often every replica re-reads the leads and repairs half-done or foreign writes.
    pub reconcile_secs: u64,
    /// Timeout of one REST request, in milliseconds.
    pub timeout_ms: u64,
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
    #[serde(default)]
    security: SecuritySection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SecuritySection {
    login_failures_per_account: Option<u64>,
    login_failures_per_ip: Option<u64>,
    login_window_secs: Option<u64>,
    claims_per_minute: Option<u64>,
}

impl SecurityConfig {
    fn resolve(f: SecuritySection) -> Result<Self, ConfigError> {
        let d = SecurityConfig::default();
        let count = |name, var, file, default: u32| {
            number(name, var, file, default.into(), 1).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        Ok(SecurityConfig {
            login_failures_per_account: count(
                "security.login_failures_per_account (LEADBOARD_LOGIN_FAILURES_PER_ACCOUNT)",
                "LEADBOARD_LOGIN_FAILURES_PER_ACCOUNT",
                f.login_failures_per_account,
                d.login_failures_per_account,
            )?,
            login_failures_per_ip: count(
                "security.login_failures_per_ip (LEADBOARD_LOGIN_FAILURES_PER_IP)",
                "LEADBOARD_LOGIN_FAILURES_PER_IP",
                f.login_failures_per_ip,
                d.login_failures_per_ip,
            )?,
            login_window_secs: number(
                "security.login_window_secs (LEADBOARD_LOGIN_WINDOW_SECS)",
                "LEADBOARD_LOGIN_WINDOW_SECS",
                f.login_window_secs,
                d.login_window_secs,
                1,
            )?,
            claims_per_minute: count(
                "security.claims_per_minute (LEADBOARD_CLAIMS_PER_MINUTE)",
                "LEADBOARD_CLAIMS_PER_MINUTE",
                f.claims_per_minute,
                d.claims_per_minute,
            )?,
        })
    }
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
    #[serde(default)]
    appwrite: AppwriteSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SqliteSection {
    path: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AppwriteSection {
    endpoint: Option<String>,
    realtime_endpoint: Option<String>,
    project: Option<String>,
    api_key: Option<String>,
    database: Option<String>,
    service_user_id: Option<String>,
    service_email: Option<String>,
    service_password: Option<String>,
    managers_team: Option<String>,
    email_domain: Option<String>,
    reconcile_secs: Option<u64>,
    timeout_ms: Option<u64>,
}

/// An Appwrite ID: 1-36 of `a-z A-Z 0-9 . - _`, not starting with a special character.
fn appwrite_id(name: &'static str, s: &str) -> Result<String, ConfigError> {
    let ok = (1..=36).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ConfigError::Invalid {
            name,
            message: format!(
                "{s:?} is not an Appwrite ID (1-36 of a-z A-Z 0-9 . - _, starting with a letter or digit)"
            ),
        })
    }
}

fn required(name: &'static str, value: String) -> Result<String, ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::Invalid { name, message: "is required when store.kind = \"appwrite\"".into() })
    } else {
        Ok(value.trim().to_owned())
    }
}

fn number(
    name: &'static str,
    var: &'static str,
    file: Option<u64>,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let text = pick(var, file.map(|n| n.to_string()), &default.to_string());
    match text.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            message: format!("expected a whole number of at least {min}, got {text:?}"),
        }),
    }
}

impl AppwriteConfig {
    fn resolve(f: AppwriteSection) -> Result<Self, ConfigError> {
        let endpoint = required(
            "store.appwrite.endpoint (LEADBOARD_APPWRITE_ENDPOINT)",
            pick("LEADBOARD_APPWRITE_ENDPOINT", f.endpoint, ""),
        )?
        .trim_end_matches('/')
        .to_owned();
        let derived = if let Some(rest) = endpoint.strip_prefix("https://") {
            format!("wss://{rest}/realtime")
        } else if let Some(rest) = endpoint.strip_prefix("http://") {
            format!("ws://{rest}/realtime")
        } else {
            return Err(ConfigError::Invalid {
                name: "store.appwrite.endpoint (LEADBOARD_APPWRITE_ENDPOINT)",
                message: format!("{endpoint:?} must start with https:// (or http:// for a local test server), e.g. https://cloud.appwrite.io/v1"),
            });
        };
        let realtime_endpoint = pick("LEADBOARD_APPWRITE_REALTIME_ENDPOINT", f.realtime_endpoint, &derived);
        if !(realtime_endpoint.starts_with("wss://") || realtime_endpoint.starts_with("ws://")) {
            return Err(ConfigError::Invalid {
                name: "store.appwrite.realtime_endpoint (LEADBOARD_APPWRITE_REALTIME_ENDPOINT)",
                message: format!("{realtime_endpoint:?} must start with wss:// or ws://"),
            });
        }
        let project = required(
            "store.appwrite.project (LEADBOARD_APPWRITE_PROJECT)",
            pick("LEADBOARD_APPWRITE_PROJECT", f.project, ""),
        )?;
        let api_key = required(
            "store.appwrite.api_key (LEADBOARD_APPWRITE_API_KEY, recommended over the file)",
            pick("LEADBOARD_APPWRITE_API_KEY", f.api_key, ""),
        )?;
        let database = appwrite_id(
            "store.appwrite.database (LEADBOARD_APPWRITE_DATABASE)",
            &pick("LEADBOARD_APPWRITE_DATABASE", f.database, "leadboard"),
        )?;
        let service_user_id = appwrite_id(
            "store.appwrite.service_user_id (LEADBOARD_APPWRITE_SERVICE_USER_ID)",
            &pick("LEADBOARD_APPWRITE_SERVICE_USER_ID", f.service_user_id, "leadboard-bridge"),
        )?;
        let service_email = required(
            "store.appwrite.service_email (LEADBOARD_APPWRITE_SERVICE_EMAIL)",
            pick("LEADBOARD_APPWRITE_SERVICE_EMAIL", f.service_email, ""),
        )?;
        if !service_email.contains('@') {
            return Err(ConfigError::Invalid {
                name: "store.appwrite.service_email (LEADBOARD_APPWRITE_SERVICE_EMAIL)",
                message: format!("{service_email:?} is not an email address"),
            });
        }
        let service_password = pick("LEADBOARD_APPWRITE_SERVICE_PASSWORD", f.service_password, "");
        if service_password.chars().count() < 8 {
            return Err(ConfigError::Invalid {
                name: "store.appwrite.service_password (LEADBOARD_APPWRITE_SERVICE_PASSWORD)",
                message: "is required and must have at least 8 characters (Appwrite's minimum)".into(),
            });
        }
        let managers_team = appwrite_id(
            "store.appwrite.managers_team (LEADBOARD_APPWRITE_MANAGERS_TEAM)",
            &pick("LEADBOARD_APPWRITE_MANAGERS_TEAM", f.managers_team, "leadboard-managers"),
        )?;
        let email_domain = pick("LEADBOARD_APPWRITE_EMAIL_DOMAIN", f.email_domain, "users.leadboard.invalid");
        if email_domain.is_empty() || !email_domain.contains('.') || email_domain.contains(['@', ' ']) {
            return Err(ConfigError::Invalid {
                name: "store.appwrite.email_domain (LEADBOARD_APPWRITE_EMAIL_DOMAIN)",
                message: format!("{email_domain:?} is not a domain name"),
            });
        }
        Ok(AppwriteConfig {
            endpoint,
            realtime_endpoint,
            project,
            api_key: Secret::new(api_key),
            database,
            service_user_id,
            service_email,
            service_password: Secret::new(service_password),
            managers_team,
            email_domain,
            reconcile_secs: number(
                "store.appwrite.reconcile_secs (LEADBOARD_APPWRITE_RECONCILE_SECS)",
                "LEADBOARD_APPWRITE_RECONCILE_SECS",
                f.reconcile_secs,
                30,
                1,
            )?,
            timeout_ms: number(
                "store.appwrite.timeout_ms (LEADBOARD_APPWRITE_TIMEOUT_MS)",
                "LEADBOARD_APPWRITE_TIMEOUT_MS",
                f.timeout_ms,
                10_000,
                100,
            )?,
        })
    }
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
            "appwrite" => StoreConfig::Appwrite(AppwriteConfig::resolve(file.store.appwrite)?),
            other => {
                return Err(ConfigError::Invalid {
                    name: "store.kind (LEADBOARD_STORE)",
                    message: format!("unknown store {other:?} (expected \"sqlite\" or \"appwrite\")"),
                })
            }
        };
        Ok(Config {
            site_addr,
            log: pick("LEADBOARD_LOG", file.app.log, "info"),
            secure_cookies: bool_setting("LEADBOARD_SECURE_COOKIES", file.app.secure_cookies, false)?,
            demo_data: bool_setting("LEADBOARD_DEMO_DATA", file.app.demo_data, true)?,
            store,
            security: SecurityConfig::resolve(file.security)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_and_typos_are_rejected() {
        let file: File =
            toml::from_str("[app]\nsite_addr = \"127.0.0.1:4000\"\n[store.sqlite]\npath = \"x.db\"").unwrap();
        let cfg = Config::resolve(file).unwrap();
        assert_eq!(cfg.site_addr.port(), 4000);
        assert!(matches!(cfg.store, StoreConfig::Sqlite { ref path } if path == Path::new("x.db")));
        assert!(toml::from_str::<File>("[app]\nsite_adr = \"x\"").is_err());
        let bad: File = toml::from_str("[app]\nsite_addr = \"nowhere\"").unwrap();
        assert!(Config::resolve(bad).is_err());
        let limits: File = toml::from_str("[security]\nclaims_per_minute = 30").unwrap();
        let cfg = Config::resolve(limits).unwrap();
        assert_eq!((cfg.security.claims_per_minute, cfg.security.login_failures_per_account), (30, 5));
        let zero: File = toml::from_str("[security]\nlogin_window_secs = 0").unwrap();
        assert!(Config::resolve(zero).unwrap_err().to_string().contains("login_window_secs"));
    }

    #[test]
    fn appwrite_settings_are_checked_and_the_secrets_stay_out_of_debug() {
        let text = "[store]\nkind = \"appwrite\"\n[store.appwrite]\nendpoint = \"https://aw.example.com/v1/\"\n\
                    project = \"p1\"\napi_key = \"sekret-key-123\"\nservice_email = \"bridge@example.com\"\n\
                    service_password = \"pass-word-9\"\n";
        let cfg = Config::resolve(toml::from_str(text).unwrap()).unwrap();
        let StoreConfig::Appwrite(aw) = &cfg.store else { panic!("not appwrite") };
        assert_eq!(aw.endpoint, "https://aw.example.com/v1");
        assert_eq!(aw.realtime_endpoint, "wss://aw.example.com/v1/realtime");
        assert_eq!(aw.database, "leadboard");
        assert_eq!(aw.reconcile_secs, 30);
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("sekret-key-123") && !debug.contains("pass-word-9"), "{debug}");
        assert!(toml::from_str::<File>("[store.appwrite]\napi_kee = \"x\"").is_err());
        let missing: File =
            toml::from_str("[store]\nkind = \"appwrite\"\n[store.appwrite]\nendpoint = \"https://x/v1\"").unwrap();
        let err = Config::resolve(missing).unwrap_err().to_string();
        assert!(err.contains("store.appwrite.project"), "{err}");
        let bad: File = toml::from_str(&text.replace("https://", "ftp://")).unwrap();
        assert!(Config::resolve(bad).unwrap_err().to_string().contains("https://"));
    }
}
