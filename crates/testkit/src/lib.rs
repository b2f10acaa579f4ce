//! Test support shared by the integration tests (`tests/it`) and the benchmark (`benches/bench`):
//! - `server`: a Leadboard server on a loopback port with a fresh SQLite file, and clients;
//! - `appwrite`: the Appwrite mode in-process: the test server, `appwrite setup`, replicas;
//! - `load`: a recorded mixed load for the linearizability checker.

pub mod appwrite;
pub mod load;
pub mod server;
