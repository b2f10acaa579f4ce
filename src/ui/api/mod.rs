//! The server functions: the browser's only way to read or change anything. Each is a session
//! check plus one call to a service; their paths, inputs and outputs are the public HTTP API.

mod accounts;
mod activity;
mod leads;
mod session;
mod tokens;

pub use accounts::{add_user, list_users, update_user};
pub use activity::{lead_page, recent_activity, team_outcomes};
pub use leads::{add_lead, claim, extend, list_leads, next_lead, reassign, record_outcome, release};
pub use session::{change_password, login, logout, me};
pub use tokens::{create_token, list_tokens, revoke_token};
