//! One module per page. Pages never import each other: what two pages share lives in
//! `components`, the server functions in `api`, the live board state in `sync`.

pub mod account;
pub mod board;
pub mod data;
pub mod lead;
pub mod login;
pub mod manager;
pub mod not_found;
