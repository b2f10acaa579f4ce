//! Leadboard's integration tests, one module per concern, in one binary (the app is linked once).
//! They run real servers on loopback ports; support code is in `crates/testkit`.

/// One test per Appwrite profile: `per_version!(name, [V1_5, V1_9_6])` turns `async fn
/// name(v: Version)` into the tests `name::V1_5` and `name::V1_9_6`.
macro_rules! per_version {
    ($name:ident, [$($v:ident),+ $(,)?]) => {
        #[allow(non_snake_case)]
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $v() {
                    super::$name(leadboard_testkit::appwrite::Version::$v).await
                }
            )+
        }
    };
}

mod api;
mod appwrite_accounts;
mod appwrite_adopt;
mod appwrite_cache;
mod appwrite_claims;
mod appwrite_faults;
mod appwrite_intake;
mod appwrite_leases;
mod appwrite_sessions;
mod appwrite_versions;
mod authz;
mod crash;
mod events;
mod first_run;
mod fuzz_inputs;
mod guessing;
mod hygiene;
mod intake;
mod layout;
mod leases;
mod linearizable;
mod next_lead;
mod ops;
mod outcomes;
mod presence;
mod process;
mod retention;
mod sessions;
mod slow_clients;
mod transfer;
