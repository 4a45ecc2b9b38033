//! Contracts of the Vault routes. None of them may ever carry a secret
//! value: the lists say so with `secret_values_returned: false`, and the
//! strict shapes leave no room for a `value` field anywhere.

use serde_json::Value;

use super::connector::{MAX_RETRY_AFTER_SECONDS, stopped};
use super::json::{Checked, MAX_SAFE_INTEGER, Strict, array, violation};

/// Statuses of a Vault action request.
const STATUSES: [&str; 8] = [
    "approval_pending",
    "running",
    "completed",
    "failed",
    "declined",
    "stale",
    "canceled",
    "expired",
];

/// The Vault actions the bridge can call.
pub const ACTIONS: [&str; 2] = ["generate_item", "restart_session_with_environment"];

const ID: (u64, u64) = (1, MAX_SAFE_INTEGER);

pub fn items(value: &Value) -> Checked<()> {
    let list = Strict::new(
        value,
        "$",
        &["items", "count", "truncated", "secret_values_returned"],
    )?;
    list.integer("count", 0, MAX_SAFE_INTEGER)?;
    if !list.required("truncated")?.is_boolean() {
        return Err(violation("$.truncated", "must be a boolean"));
    }
    list.literal("secret_values_returned", &Value::Bool(false))?;
    array(list.required("items")?, "$.items", |item, path| {
        let i = Strict::new(
            item,
            path,
            &[
                "vault_ref",
                "item_id",
                "project_ref",
                "source_project_id",
                "name",
                "secret_type",
                "status",
                "expires_at",
                "value_version",
                "metadata_revision",
            ],
        )?;
        for key in ["vault_ref", "project_ref", "name", "secret_type", "status"] {
            i.string(key)?;
        }
        i.optional_string("expires_at")?;
        for key in [
            "item_id",
            "source_project_id",
            "value_version",
            "metadata_revision",
        ] {
            i.integer(key, ID.0, ID.1)?;
        }
        Ok(())
    })
}

/// A call answer: the `stopped` shape, or a recorded request for the
/// requested action.
pub fn call(value: &Value, action_name: &str) -> Checked<()> {
    if value.get("status").and_then(Value::as_str) == Some("stopped") {
        return stopped(value);
    }
    let r = recorded(value)?;
    if r.string("action_name")? != action_name {
        return Err(violation("$.action_name", "is not the requested action"));
    }
    Ok(())
}

/// A read or cancel answer: the request with the requested id, and for a
/// cancel, the `canceled` status.
pub fn read(value: &Value, request_id: u64, status: Option<&str>) -> Checked<()> {
    let r = recorded(value)?;
    if r.integer("request_id", ID.0, ID.1)? != request_id {
        return Err(violation("$.request_id", "is not the requested request"));
    }
    if let Some(status) = status
        && r.string("status")? != status
    {
        return Err(violation("$.status", "is not the expected status"));
    }
    Ok(())
}

fn recorded(value: &Value) -> Checked<Strict<'_>> {
    let r = Strict::new(
        value,
        "$",
        &[
            "status",
            "request_id",
            "project_ref",
            "action_name",
            "input",
            "reason",
            "created_at",
            "expires_at",
            "secret_values_returned",
            "output",
            "output_withheld",
            "error",
            "retry_after_seconds",
            "assistant_hint",
        ],
    )?;
    r.one_of("status", &STATUSES)?;
    r.integer("request_id", ID.0, ID.1)?;
    r.non_empty_string("project_ref")?;
    for key in [
        "reason",
        "created_at",
        "expires_at",
        "error",
        "assistant_hint",
    ] {
        r.optional_string(key)?;
    }
    r.literal("secret_values_returned", &Value::Bool(false))?;
    r.optional_integer("retry_after_seconds", 0, MAX_RETRY_AFTER_SECONDS)?;
    if r.has("output_withheld") {
        r.literal("output_withheld", &Value::Bool(true))?;
        if r.has("output") {
            return Err(violation(
                "$.output",
                "must be absent when output is withheld",
            ));
        }
    }

    // Input and output are bound to the action that produced them.
    match r.one_of("action_name", &ACTIONS)? {
        "generate_item" => {
            if let Some(input) = r.get("input") {
                generate_input(input)?;
            }
            if let Some(output) = r.get("output") {
                generate_output(output)?;
            }
        }
        _ => {
            if let Some(input) = r.get("input") {
                session_input(input)?;
            }
            if let Some(output) = r.get("output") {
                session_output(output)?;
            }
        }
    }
    Ok(r)
}

fn generate_input(value: &Value) -> Checked<()> {
    let i = Strict::new(
        value,
        "$.input",
        &[
            "name",
            "secret_type",
            "generator_kind",
            "provider",
            "environment",
            "description",
            "expires_at",
            "expiry_warning_days",
            "tags",
            "usage_notes",
            "shared_project_ids",
        ],
    )?;
    i.string("name")?;
    i.string("generator_kind")?;
    for key in [
        "secret_type",
        "provider",
        "environment",
        "description",
        "expires_at",
    ] {
        i.optional_string(key)?;
    }
    i.optional_integer("expiry_warning_days", 0, MAX_SAFE_INTEGER)?;
    i.optional_strings("tags")?;
    if let Some(notes) = i.get("usage_notes") {
        array(notes, "$.input.usage_notes", |note, path| {
            let n = Strict::new(note, path, &["location", "notes"])?;
            n.string("location")?;
            n.optional_string("notes")?;
            Ok(())
        })?;
    }
    if let Some(ids) = i.get("shared_project_ids") {
        array(ids, "$.input.shared_project_ids", |id, path| {
            super::json::integer(id, path, ID.0, ID.1).map(|_| ())
        })?;
    }
    Ok(())
}

fn generate_output(value: &Value) -> Checked<()> {
    let o = Strict::new(value, "$.output", &["item", "secret_returned"])?;
    o.literal("secret_returned", &Value::Bool(false))?;
    let item = Strict::new(
        o.required("item")?,
        "$.output.item",
        &[
            "vault_ref",
            "item_id",
            "project_id",
            "name",
            "secret_type",
            "status",
            "expires_at",
            "value_version",
            "metadata_revision",
        ],
    )?;
    // `expires_at` is required here, though it may be empty.
    for key in ["vault_ref", "name", "secret_type", "status", "expires_at"] {
        item.string(key)?;
    }
    for key in [
        "item_id",
        "project_id",
        "value_version",
        "metadata_revision",
    ] {
        item.integer(key, ID.0, ID.1)?;
    }
    Ok(())
}

fn session_input(value: &Value) -> Checked<()> {
    let i = Strict::new(value, "$.input", &["target_ref", "items"])?;
    i.string("target_ref")?;
    array(i.required("items")?, "$.input.items", |item, path| {
        let it = Strict::new(
            item,
            path,
            &["item_id", "source_project_id", "replace_existing"],
        )?;
        it.integer("item_id", ID.0, ID.1)?;
        it.integer("source_project_id", ID.0, ID.1)?;
        it.optional_bool("replace_existing")?;
        Ok(())
    })
}

fn session_output(value: &Value) -> Checked<()> {
    let o = Strict::new(
        value,
        "$.output",
        &[
            "session_id",
            "session_generation",
            "runtime_id",
            "status",
            "environment_names",
            "expires_at",
        ],
    )?;
    // Identifiers the gateway may give as numbers or strings.
    for key in ["session_id", "session_generation"] {
        let id = o.required(key)?;
        if !(id.is_string() || id.is_u64()) {
            return Err(violation(&o.path(key), "must be a number or a string"));
        }
    }
    o.integer("runtime_id", ID.0, ID.1)?;
    o.string("status")?;
    o.string("expires_at")?;
    super::json::strings(
        o.required("environment_names")?,
        "$.output.environment_names",
    )
}
