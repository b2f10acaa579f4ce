//! Settings, layered: defaults, then the `[app]`, `[store]`, `[security]` and `[claims]` tables of
//! `Leptos.toml` (or the file `LEADBOARD_CONFIG` names), then `LEADBOARD_*` variables (`env`),
//! merged by figment and deserialized once, so each setting is spelled once: its field here.
//! Values are checked while they are read (`values`), and an error names the key, the variable
//! and where the value came from. cargo-leptos's build settings live in Cargo.toml.

mod appwrite;
mod env;
mod values;

pub use appwrite::{AppwriteConfig, AssigneeForm, LeadsMapping, OptionalField};

use crate::domain::{ClaimTerms, Millis, NextOrder};
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
    pub claims: ClaimsConfig,
}

/// `[app]`: the site itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub site_addr: SocketAddr,
    /// A `tracing` filter, e.g. `info` or `leadboard=debug,info`.
    pub log: String,
    /// Mark the session cookie `Secure` (and name it `__Host-lb_session`), for sites served over
    /// HTTPS. Unset: on unless `site_addr` is a loopback address.
    pub secure_cookies: Option<bool>,
    /// The host names the site answers to (the `Host` header, port aside); any other gets 421,
    /// so a page on a rebinding domain cannot reach it. IP addresses and `localhost` always pass.
    #[serde(deserialize_with = "values::host_names")]
    pub allowed_hosts: Vec<String>,
    /// Serve `/metrics` on this address only (say, an internal interface), not on the site's.
    pub metrics_addr: Option<SocketAddr>,
    /// Seed demo accounts and leads (with a published password) into an empty store on start.
    /// Off unless asked for: a fresh install must not have an account anyone knows the password of.
    pub demo_data: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            site_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            log: "info".into(),
            secure_cookies: None,
            allowed_hosts: Vec::new(),
            metrics_addr: None,
            demo_data: false,
        }
    }
}

impl AppConfig {
    /// Whether the session cookie is `Secure`: as set, or when the site is not on loopback.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies.unwrap_or(!self.site_addr.ip().is_loopback())
    }
}

/// `[security]`: who the clients are, and rate limits, counted in memory per replica (see
/// `security::limits` for how the sign-in limits fit together).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Failed sign-ins per account and client within `login_window_secs` before that pair is
    /// refused (429); past as many failures from anywhere, the account's sign-ins are slowed.
    #[serde(deserialize_with = "values::positive")]
    pub login_failures_per_account: u32,
    /// Failed sign-ins per client (an IPv4 address or an IPv6 network) within the window.
    #[serde(deserialize_with = "values::positive")]
    pub login_failures_per_ip: u32,
    /// Failed sign-ins on this replica within the window past which clients that failed are refused.
    #[serde(deserialize_with = "values::positive")]
    pub login_failures_global: u32,
    #[serde(deserialize_with = "values::positive")]
    pub login_window_secs: u64,
    /// The longest an account's sign-ins are slowed down after failures from anywhere.
    pub login_max_delay_ms: u64,
    /// Claim attempts per user per minute.
    #[serde(deserialize_with = "values::positive")]
    pub claims_per_minute: u32,
    /// Proxies (addresses or networks) whose `Forwarded` / `X-Forwarded-For` names the client.
    /// Empty: the TCP peer is the client and those headers are ignored.
    #[serde(deserialize_with = "values::ip_networks")]
    pub trusted_proxies: Vec<String>,
    /// IPv6 clients are counted per network of this many leading bits.
    #[serde(deserialize_with = "values::ipv6_prefix")]
    pub ipv6_prefix: u8,
    /// How long a client may take to send a request's head; also how long an idle kept-alive
    /// connection stays open.
    #[serde(deserialize_with = "values::positive")]
    pub header_timeout_secs: u64,
    /// How long an API request's whole body may take to arrive (408 after).
    #[serde(deserialize_with = "values::positive")]
    pub body_timeout_secs: u64,
    /// Connections open at once, boards included (keep it under the open-file limit); past it new
    /// connections wait in the listen queue.
    #[serde(deserialize_with = "values::positive")]
    pub max_connections: usize,
    /// Connections open at once from one client address (not counting trusted proxies); past it
    /// a new one is closed at once.
    #[serde(deserialize_with = "values::positive")]
    pub max_connections_per_address: usize,
    /// Boards (websockets) one user may have open on this replica.
    #[serde(deserialize_with = "values::positive")]
    pub max_boards_per_user: usize,
    /// Boards open at once from one client (an address, or an IPv6 network).
    #[serde(deserialize_with = "values::positive")]
    pub max_boards_per_address: usize,
    /// Full snapshots one user's boards may ask for per minute (by resuming from too far back or
    /// from another stream); past it the board is closed (1008) and must wait to reconnect.
    #[serde(deserialize_with = "values::positive")]
    pub snapshots_per_minute: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            login_failures_global: 500,
            login_window_secs: 900,
            login_max_delay_ms: 2000,
            claims_per_minute: 120,
            trusted_proxies: Vec::new(),
            ipv6_prefix: 64,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 10_000,
            max_connections_per_address: 500,
            max_boards_per_user: 20,
            max_boards_per_address: 500,
            snapshots_per_minute: 20,
        }
    }
}

/// `[claims]`: the terms a claim is held on: a lease that gives the lead back to the pool when it
/// runs out, and how many leads one person may hold at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimsConfig {
    /// How long a claim is held before the lead goes back to the pool by itself (minutes,
    /// fractions allowed; 0: leases off, claims are held until released).
    #[serde(deserialize_with = "values::non_negative")]
    pub lease_minutes: f64,
    /// How long before its lease runs out the holder is reminded (minutes).
    #[serde(deserialize_with = "values::non_negative")]
    pub remind_minutes: f64,
    /// How many times the holder may extend one claim's lease (each extension starts a full lease).
    pub max_extensions: u32,
    /// Leads one person may hold at once, unless a manager set a cap of their own (0: no cap).
    pub max_held: u32,
    /// How often the expiry pass gives leads whose lease ran out back to the pool (seconds).
    #[serde(deserialize_with = "values::interval")]
    pub expiry_every_secs: f64,
    /// Which open lead "Next lead" claims: `oldest` or `highest_value`.
    pub next_order: NextOrder,
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        Self {
            lease_minutes: 30.0,
            remind_minutes: 5.0,
            max_extensions: 2,
            max_held: 5,
            expiry_every_secs: 5.0,
            next_order: NextOrder::Oldest,
        }
    }
}

impl ClaimsConfig {
    /// No leases and no cap: claims as they were before leases.
    pub fn unlimited() -> Self {
        Self { lease_minutes: 0.0, max_held: 0, ..Self::default() }
    }

    /// The terms every claim is made on.
    pub fn terms(&self) -> ClaimTerms {
        let ms = |minutes: f64| (minutes * 60_000.0).round() as Millis;
        ClaimTerms {
            lease_ms: (self.lease_minutes > 0.0).then(|| ms(self.lease_minutes).max(1)),
            remind_ms: ms(self.remind_minutes),
            max_extensions: self.max_extensions,
            default_cap: (self.max_held > 0).then_some(self.max_held),
            next_order: self.next_order,
        }
    }

    pub fn expiry_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.expiry_every_secs)
    }
}

/// Where leads live.
// Built once at start-up: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite(SqliteConfig),
    /// An Appwrite project (`store.kind = "appwrite"`, the `[store.appwrite]` table).
    Appwrite(AppwriteConfig),
}

impl StoreConfig {
    pub fn kind(&self) -> StoreKind {
        match self {
            StoreConfig::Sqlite(_) => StoreKind::Sqlite,
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
    claims: ClaimsConfig,
}

#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreSection {
    kind: StoreKind,
    sqlite: SqliteConfig,
    #[serde(skip_serializing)]
    appwrite: Option<AppwriteConfig>,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self { kind: StoreKind::Sqlite, sqlite: SqliteConfig::default(), appwrite: None }
    }
}

/// How long either store keeps its event log, claim attempts and idempotency keys (days).
pub(super) const RETENTION_DAYS: f64 = 90.0;
/// How often either store prunes what is older (seconds).
pub(super) const PRUNE_EVERY_SECS: u64 = 3600;

/// `[store.sqlite]`: the embedded store's file, how long it keeps its logs, and how large it may grow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteConfig {
    pub path: PathBuf,
    /// How long the event log and the claim attempts are kept (days; fractions allowed). Older
    /// rows are pruned in the background; a board resuming from before that gets a snapshot.
    #[serde(deserialize_with = "values::positive")]
    pub retention_days: f64,
    /// How often the pruning runs.
    #[serde(deserialize_with = "values::positive")]
    pub prune_every_secs: u64,
    /// The largest the database file may grow (MB; 0: no limit). Past it writes are refused (503)
    /// and `/readyz` says so, as on a full disk, before the disk itself is full.
    pub max_size_mb: f64,
}

impl SqliteConfig {
    /// The defaults, for the file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), ..Self::default() }
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            path: "data/leadboard.db".into(),
            retention_days: RETENTION_DAYS,
            prune_every_secs: PRUNE_EVERY_SECS,
            max_size_mb: 0.0,
        }
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
            (StoreKind::Sqlite, _) => StoreConfig::Sqlite(settings.store.sqlite),
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
        Ok(Config { app: settings.app, store, security: settings.security, claims: settings.claims })
    }
}

#[cfg(test)]
mod tests;
