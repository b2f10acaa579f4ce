//! Getting leads in and out as CSV: reading uploads (`read`, with the `formula` guard undone and
//! `time`s read), the import service (`import`), writing exports (`write`) and the endpoints
//! the import page and the manager's board use (`routes`).

pub mod formula;
pub mod import;
pub mod read;
pub mod routes;
pub mod time;
pub mod write;

pub use import::Importer;
