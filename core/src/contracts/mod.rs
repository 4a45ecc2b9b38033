//! The response contracts: what a successful gateway answer must look like
//! before the bridge passes it to the model. Checks are strict, as the Node
//! bridge's are: an unknown key anywhere in an envelope fails the answer,
//! so a field the gateway should never send (a credential, a path) cannot
//! slip through. Connector `output` stays opaque: the connector owns it and
//! the gateway redacts it.
//!
//! A failure says which field broke the contract, never its value, so it
//! can be logged without leaking what the gateway sent.

mod connector;
mod json;
mod vault;

use serde_json::Value;

pub use connector::STATUSES as CONNECTOR_STATUSES;
pub use vault::ACTIONS as VAULT_ACTIONS;

/// Which contract an answer must meet, with the identity it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contract {
    /// `GET /api/mcp/connector-targets`.
    Targets,
    /// `GET /api/mcp/connector-help`.
    Help,
    /// `GET /api/mcp/connector-actions`.
    Actions,
    /// `POST /api/mcp/connector-actions/call`: a recorded request for this
    /// target and action, or the `stopped` shape.
    ActionCall {
        target_ref: String,
        action_name: String,
    },
    /// `GET /api/mcp/connector-action-requests/{id}`: that request.
    ActionRead { request_id: u64 },
    /// `GET /api/mcp/vault-items`.
    VaultItems,
    /// `POST /api/mcp/vault-actions/call`: a recorded Vault request for
    /// this action, or the `stopped` shape.
    VaultCall { action_name: String },
    /// `GET /api/mcp/vault-action-requests/{id}`: that request.
    VaultRead { request_id: u64 },
    /// `POST /api/mcp/vault-action-requests/{id}/cancel`: that request,
    /// now `canceled`.
    VaultCancel { request_id: u64 },
}

/// Why an answer broke its contract: the path of the offending field and
/// the rule, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub rule: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

/// A number a contract accepts as an integer: a JSON integer, or a float
/// with no fraction, from 0 to 2^53 - 1.
pub fn whole_number(value: &Value) -> Option<u64> {
    json::integer(value, "$", 0, json::MAX_SAFE_INTEGER).ok()
}

/// Checks a success answer against its contract.
pub fn check(contract: &Contract, value: &Value) -> Result<(), Violation> {
    match contract {
        Contract::Targets => connector::targets(value),
        Contract::Help => connector::help(value),
        Contract::Actions => connector::actions(value),
        Contract::ActionCall {
            target_ref,
            action_name,
        } => connector::call(value, target_ref, action_name),
        Contract::ActionRead { request_id } => connector::read(value, *request_id),
        Contract::VaultItems => vault::items(value),
        Contract::VaultCall { action_name } => vault::call(value, action_name),
        Contract::VaultRead { request_id } => vault::read(value, *request_id, None),
        Contract::VaultCancel { request_id } => vault::read(value, *request_id, Some("canceled")),
    }
}

impl Contract {
    /// Whether a success answer's `status` decides whether the call failed:
    /// true for calls, whose recorded outcome may be a failure; reading a
    /// failed request is a successful read.
    pub fn status_marks_errors(&self) -> bool {
        matches!(
            self,
            Contract::ActionCall { .. } | Contract::VaultCall { .. }
        )
    }
}

#[cfg(test)]
mod tests;
