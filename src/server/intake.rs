//! How leads get onto the board: each one validated (`NewLead`), created through the store port
//! with its `created` event, so every open board receives it.

use super::store::LeadStore;
use crate::domain::{LeadId, NewLead, UserInfo};
use crate::error::ApiError;
use std::sync::Arc;

pub struct LeadIntake {
    store: Arc<dyn LeadStore>,
}

impl LeadIntake {
    pub fn new(store: Arc<dyn LeadStore>) -> Self {
        Self { store }
    }

    /// Adds one lead; an ID that is taken is a conflict (nothing is overwritten).
    pub async fn add_one(&self, by: &UserInfo, lead: NewLead) -> Result<LeadId, ApiError> {
        let id = lead.id.clone();
        match self.store.add_leads(vec![lead], &by.username).await? {
            0 => Err(ApiError::Conflict { message: format!("lead {id} already exists"), lead: None }),
            _ => Ok(id),
        }
    }
}
