//! The test server's integration tests, one binary (one link of the server and its
//! dependencies), a module per concern.

mod common;

mod cache;
mod faults;
mod realtime;
mod rest;
mod transactions;
mod users;
mod versions;
