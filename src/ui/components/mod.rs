//! Parts the pages share: the page chrome, the gates that wait for data or a session, the lead
//! table with its rows, pager and keyboard shortcuts, "Next lead", and formatting.

mod format;
mod gate;
mod header;
mod lead_row;
mod lead_table;
mod message;
mod next_lead;
mod pager;
mod shortcuts;

pub use format::{clock, day_time, duration, money, time_left, viewing};
pub use gate::{CurrentUser, Loaded, ManagersOnly, SignedIn};
pub use header::{go, Header};
pub use lead_row::report as report_failure;
pub use lead_table::{ExportLink, LeadFilters, LeadTable};
pub use message::MessagePage;
pub use next_lead::NextLead;
