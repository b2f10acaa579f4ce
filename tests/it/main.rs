//! Leadboard's integration tests, one module per concern, in one binary (the app is linked once).
//! They run real servers on loopback ports; support code is in `crates/testkit`.

mod api;
mod appwrite_accounts;
mod appwrite_claims;
mod appwrite_faults;
mod authz;
mod crash;
mod events;
mod fuzz_inputs;
mod intake;
mod layout;
mod linearizable;
mod ops;
mod transfer;
