//! The layers, their order, and the errors a typo or a bad value gets.

use super::*;
use secrecy::ExposeSecret;

/// Every test reads the process environment (the top layer), and one sets it: they take turns.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn env_turn() -> std::sync::MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn load(toml: &str) -> Result<Config, ConfigError> {
    let _turn = env_turn();
    Config::from_layers(Toml::string(toml))
}

#[test]
fn the_file_is_read_and_typos_are_rejected() {
    let cfg = load("[app]\nsite_addr = \"127.0.0.1:4000\"\n[store.sqlite]\npath = \"x.db\"").unwrap();
    assert_eq!(cfg.app.site_addr.port(), 4000);
    assert!(matches!(cfg.store, StoreConfig::Sqlite(ref s) if s.path == Path::new("x.db") && s.retention_days == 90.0));
    let typo = load("[app]\nsite_adr = \"x\"").unwrap_err().to_string();
    assert!(typo.contains("site_adr"), "{typo}");
    let bad = load("[app]\nsite_addr = \"nowhere\"").unwrap_err().to_string();
    assert!(bad.contains("app.site_addr") && bad.contains("LEADBOARD_SITE_ADDR"), "{bad}");
    let cfg = load("[security]\nclaims_per_minute = 30").unwrap();
    assert_eq!((cfg.security.claims_per_minute, cfg.security.login_failures_per_account), (30, 5));
    let zero = load("[security]\nlogin_window_secs = 0").unwrap_err().to_string();
    assert!(zero.contains("security.login_window_secs"), "{zero}");
}

const APPWRITE: &str = "[store]\nkind = \"appwrite\"\n[store.appwrite]\nendpoint = \"https://aw.example.com/v1/\"\n\
                        project = \"p1\"\napi_key = \"sekret-key-123\"\nservice_email = \"bridge@example.com\"\n\
                        service_password = \"pass-word-9\"\n";

#[test]
fn appwrite_settings_are_checked_and_the_secrets_stay_out_of_debug() {
    let cfg = load(APPWRITE).unwrap();
    let StoreConfig::Appwrite(aw) = &cfg.store else { panic!("not appwrite") };
    assert_eq!(aw.endpoint, "https://aw.example.com/v1");
    assert_eq!(aw.realtime_url(), "wss://aw.example.com/v1/realtime");
    assert_eq!((aw.database.as_str(), aw.reconcile_secs), ("leadboard", 30));
    assert_eq!((aw.retention_days, aw.prune_every_secs), (90.0, 3600));
    let zero = load(&format!("{APPWRITE}retention_days = 0\n")).unwrap_err().to_string();
    assert!(zero.contains("retention_days"), "{zero}");
    assert_eq!(aw.api_key.expose_secret(), "sekret-key-123");
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("sekret-key-123") && !debug.contains("pass-word-9"), "{debug}");
    assert!(load(&APPWRITE.replace("project", "projct")).unwrap_err().to_string().contains("projct"));
    let missing =
        load("[store]\nkind = \"appwrite\"\n[store.appwrite]\nendpoint = \"https://x/v1\"").unwrap_err().to_string();
    assert!(missing.contains("project"), "{missing}");
    let scheme = load(&APPWRITE.replace("https://", "ftp://")).unwrap_err().to_string();
    assert!(scheme.contains("https://") && scheme.contains("LEADBOARD_APPWRITE_ENDPOINT"), "{scheme}");
    let short = load(&APPWRITE.replace("pass-word-9", "short")).unwrap_err().to_string();
    assert!(short.contains("at least 8"), "{short}");
    let none = load("[store]\nkind = \"appwrite\"").unwrap_err().to_string();
    assert!(none.contains("store.appwrite"), "{none}");
}

/// The one test that changes the process environment, in its turn (`env_turn`).
#[test]
fn the_environment_wins_over_the_file_and_text_becomes_numbers() {
    let vars = [
        ("LEADBOARD_SITE_ADDR", "127.0.0.1:4100"),
        ("LEADBOARD_CLAIMS_PER_MINUTE", "7"),
        ("LEADBOARD_CLAIMS_LEASE_MINUTES", "0.5"),
        ("LEADBOARD_CLAIMS_MAX_HELD", "3"),
        ("LEADBOARD_STORE", "appwrite"),
        ("LEADBOARD_APPWRITE_SERVICE_PASSWORD", "12345678"),
        ("LEADBOARD_APPWRITE_TIMEOUT_MS", "2500"),
        ("LEADBOARD_PASSWORD", "not a setting"),
    ];
    let result = {
        let _turn = env_turn();
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        let result = Config::from_layers(Toml::string(&APPWRITE.replace("kind = \"appwrite\"", "kind = \"sqlite\"")));
        for (k, _) in vars {
            std::env::remove_var(k);
        }
        result
    };
    let cfg = result.unwrap();
    assert_eq!(cfg.app.site_addr.port(), 4100);
    assert_eq!(cfg.security.claims_per_minute, 7);
    assert_eq!((cfg.claims.lease_minutes, cfg.claims.max_held, cfg.claims.max_extensions), (0.5, 3, 2));
    let StoreConfig::Appwrite(aw) = &cfg.store else { panic!("LEADBOARD_STORE should win") };
    assert_eq!(aw.service_password.expose_secret(), "12345678", "a numeric password stays text");
    assert_eq!(aw.timeout_ms, 2500);
}

#[test]
fn claim_terms_have_defaults_and_refuse_negative_times() {
    let cfg = load("").unwrap();
    let terms = cfg.claims.terms();
    assert_eq!((terms.lease_ms, terms.remind_ms), (Some(30 * 60_000), 5 * 60_000));
    assert_eq!((terms.default_cap, terms.max_extensions), (Some(5), 2));
    assert_eq!((cfg.claims.expiry_every_secs, terms.next_order), (5.0, NextOrder::Oldest));
    let by_value = load("[claims]\nnext_order = \"highest_value\"").unwrap().claims.terms();
    assert_eq!(by_value.next_order, NextOrder::HighestValue);
    assert!(load("[claims]\nnext_order = \"newest\"").unwrap_err().to_string().contains("next_order"));
    let off = load("[claims]\nlease_minutes = 0\nmax_held = 0").unwrap().claims.terms();
    assert_eq!((off.lease_ms, off.default_cap), (None, None));
    let short = load("[claims]\nlease_minutes = 0.01\nexpiry_every_secs = 0.2").unwrap();
    assert_eq!(short.claims.terms().lease_ms, Some(600));
    assert_eq!(short.claims.expiry_every(), std::time::Duration::from_millis(200));
    let negative = load("[claims]\nlease_minutes = -1").unwrap_err().to_string();
    assert!(
        negative.contains("claims.lease_minutes") && negative.contains("LEADBOARD_CLAIMS_LEASE_MINUTES"),
        "{negative}"
    );
    let never = load("[claims]\nexpiry_every_secs = 0").unwrap_err().to_string();
    assert!(never.contains("claims.expiry_every_secs"), "{never}");
    assert!(load("[claims]\nlease_mins = 3").unwrap_err().to_string().contains("lease_mins"));
}
