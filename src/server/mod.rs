//! Everything that runs only on the server: the store port and its adapters, the claim service,
//! the event fan-out, sign-in, configuration and the HTTP wiring.

pub mod activity;
pub mod admin;
pub mod auth;
pub mod claims;
pub mod config;
pub mod fanout;
pub mod http;
pub mod intake;
pub mod metrics;
#[cfg(feature = "bench")]
pub mod noop;
pub mod security;
pub mod seed;
pub mod store;
pub mod transfer;

use crate::domain::Millis;
use crate::error::ApiError;
use activity::Activity;
use admin::AccountAdmin;
use claims::Claims;
use config::{Config, StoreConfig};
use fanout::Hub;
use intake::tokens::Tokens;
use intake::LeadIntake;
use leptos::prelude::*;
use metrics::Metrics;
use std::sync::Arc;
use store::{AccountStore, ErrorKind, LeadStore, Metered, StoreError, TokenStore};
use transfer::Importer;

pub fn now_ms() -> Millis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
}

/// What every handler and server function shares.
#[derive(Clone)]
pub struct AppState {
    pub leads: Arc<dyn LeadStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub claims: Arc<Claims>,
    pub activity: Arc<Activity>,
    pub admin: Arc<AccountAdmin>,
    pub intake: Arc<LeadIntake>,
    pub importer: Arc<Importer>,
    /// Intake API tokens.
    pub tokens: Arc<Tokens>,
    pub hub: Arc<Hub>,
    /// What `GET /metrics` reports; this server's own.
    pub metrics: Arc<Metrics>,
    pub limits: Arc<security::Limits>,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// Opens the configured store and wires the services around it.
    pub fn open(config: Config, leptos: LeptosOptions) -> Result<Self, StoreError> {
        let metrics = Arc::new(Metrics::new(matches!(config.store, StoreConfig::Appwrite(_))));
        let hub = Arc::new(Hub::with_metrics(metrics.clone()));
        type Stores = (Arc<dyn LeadStore>, Arc<dyn AccountStore>, Arc<dyn TokenStore>);
        let (leads, accounts, tokens): Stores = match &config.store {
            StoreConfig::Sqlite(cfg) => {
                let store = Arc::new(store::sqlite::SqliteStore::open_with(cfg, hub.clone())?);
                (store.clone(), store.clone(), store)
            }
            StoreConfig::Appwrite(cfg) => {
                let bridge = metrics.bridge.clone().unwrap_or_default();
                let store = Arc::new(store::appwrite::AppwriteStore::open(cfg, hub.clone(), bridge)?);
                (store.clone(), store.clone(), store)
            }
        };
        let leads: Arc<dyn LeadStore> = Arc::new(Metered::new(leads, metrics.clone()));
        let accounts: Arc<dyn AccountStore> = Arc::new(Metered::new(accounts, metrics.clone()));
        let terms = config.claims.terms();
        if matches!(config.store, StoreConfig::Appwrite(_)) && terms.default_cap.is_some() {
            tracing::warn!("[claims] asks for a cap: {}", store::appwrite::CAPS_UNKEPT);
        }
        let claims = Arc::new(Claims::new(
            leads.clone(),
            metrics.clone(),
            security::RateLimiter::new(config.security.claims_per_minute, std::time::Duration::from_secs(60)),
            terms,
        ));
        // Tools that open a store outside a runtime (the CLI's import, say) run no expiry pass.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(claims::expiry_loop(Arc::downgrade(&claims), config.claims.expiry_every()));
        }
        Ok(Self {
            claims,
            activity: Arc::new(Activity::new(leads.clone())),
            admin: Arc::new(AccountAdmin::new(accounts.clone(), hub.clone())),
            intake: Arc::new(LeadIntake::new(leads.clone(), tokens.clone())),
            importer: Arc::new(Importer::new(leads.clone())),
            tokens: Arc::new(Tokens::new(tokens)),
            leads,
            accounts,
            hub,
            metrics,
            limits: Arc::new(security::Limits::new(&config.security)),
            config: Arc::new(config),
            leptos,
        })
    }

    /// The state inside a server function (provided as context by the router).
    pub fn current() -> Result<Self, ApiError> {
        use_context::<AppState>().ok_or_else(|| ApiError::Internal("server state missing".into()))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match (e.kind(), e) {
            (ErrorKind::NotFound, _) => ApiError::NotFound(message),
            (ErrorKind::Forbidden, _) => ApiError::Forbidden(message),
            (ErrorKind::Conflict, StoreError::Rejected { current, .. }) => {
                ApiError::Conflict { message, lead: Some(current) }
            }
            (ErrorKind::Conflict, _) => ApiError::Conflict { message, lead: None },
            (ErrorKind::Invalid, StoreError::Invalid(m)) => ApiError::BadRequest(m),
            (ErrorKind::Invalid, _) => ApiError::BadRequest(message),
            (ErrorKind::Unavailable, _) => ApiError::Unavailable(message),
            (ErrorKind::Internal, _) => {
                tracing::error!(error = %message, "store failure");
                ApiError::Internal("internal error".into())
            }
        }
    }
}
